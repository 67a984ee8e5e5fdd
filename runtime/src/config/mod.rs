//! The TARS config file: the file a TARS platform's tarsnode writes for every service and passes
//! as `BINARY --config=FILE`, read as [`Config`], and the typed view of its
//! `<tars><application>` part, [`ServerConfig`].
//!
//! # The format
//!
//! ```text
//! # a comment: a line whose first non-blank character is `#`
//! <tars>
//!   <application>
//!     enableset = n
//!     <server>
//!       app=TestApp
//!       node=tars.tarsnode.ServerObj@tcp -h 127.0.0.1 -p 19386 -t 60000
//!       <TestApp.HelloServer.HelloObjAdapter>
//!         allow
//!         endpoint=tcp -h 127.0.0.1 -p 18015 -t 60000
//!       </TestApp.HelloServer.HelloObjAdapter>
//!     </server>
//!   </application>
//! </tars>
//! ```
//!
//! As TarsCpp's `TC_Config` (`util/src/tc_config.cpp`) reads it:
//!
//! * Lines are trimmed of spaces, tabs, `\r` and `\n` (not of other Unicode spaces); blank lines
//!   and lines starting with `#` are skipped. A `#` later in a line is part of the value.
//! * `<name>` opens a domain and `</name>` closes it; the name is the text up to the first `>`,
//!   and text after it on the line is ignored. A `</name>` must name the open domain, and every
//!   domain must be closed.
//! * Any other line is a parameter: `key = value` splits at the first `=` (so a value may hold
//!   `=`), both sides trimmed; a line without `=` is a key with the value `""` (tarsnode writes
//!   an empty `allow` that way).
//! * In keys and values `\\`, `\r`, `\n`, `\t` and `\=` are escapes (`\=` is an `=` that does
//!   not split); any other `\` is an error, as in TarsCpp.
//! * A key written twice in a domain keeps its last value, placed at its last line; a domain
//!   written twice in the same parent is one domain, at its first place, holding both parts.
//! * Lookups use TarsCpp's paths: `/tars/application/server<app>` for a value,
//!   `/tars/application/server` for a domain, `/` for the top level.
//!
//! # Where this differs from TarsCpp and `@tars/utils`
//!
//! TarsCpp's `TC_Config` is followed, except on points of detail where it is inconsistent:
//!
//! * Domain names are trimmed in `<name>` and `</name>` alike; TarsCpp trims the name it keeps
//!   but not the one it looks up by or the closing one (so `< a >` ... `</ a >` fails there).
//! * A UTF-8 byte-order mark at the start is dropped (TarsCpp reads it as part of the first
//!   line); files must be UTF-8.
//! * `</>` at the top level is an error (in TarsCpp it closes the root itself).
//! * Bounds TarsCpp does not have: [`Config::MAX_SIZE`] bytes, [`Config::MAX_DEPTH`] levels and
//!   [`Config::MAX_ENTRIES`] keys and domains.
//!
//! The Node parser, `@tars/utils`' `tars-config-parser.js`, reads the files tarsnode writes the
//! same way (`tests/config_interop.rs` checks it on real templates), but differs on edge cases,
//! where this module follows TarsCpp:
//!
//! * a key without `=` is `undefined` there, `""` here;
//! * no escapes there: `\=` stays as written;
//! * a repeated key keeps the place of its first line there (a JavaScript object), of its last
//!   here; keys that look like integers (`1 = x`) come first there, in numeric order;
//! * a key and a domain of the same name in one domain are one entry there (the domain is
//!   lost, or parsing fails);
//! * `</name>` is not checked there, nor an unclosed domain; text after `>` is an error there
//!   (TarsCpp ignores it);
//! * lines are also split at a lone `\r` there, and trimmed of every Unicode space.
//!
//! [`ServerConfig`] reads its keys with TarsCpp's defaults (`Application.cpp`,
//! `Communicator.cpp`); where TarsCpp reads a bad number as 0, it gives an error naming the key.

mod document;
mod error;
mod server;

pub use document::{Config, Domain};
pub use error::ConfigError;
pub use server::{AdapterConfig, ClientConfig, ServerConfig};
