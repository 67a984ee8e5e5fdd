//! Why a config file, a lookup path or a typed value was refused.

use std::path::PathBuf;

use crate::endpoint::EndpointError;

/// Why a TARS config could not be read, parsed or turned into a
/// [`ServerConfig`](super::ServerConfig).
///
/// Parse errors give the line (from 1) and the domain path they happened in (`/tars/application`,
/// `/` for the top level); typed-value errors give the domain path and the key in TarsCpp's
/// lookup syntax (`/tars/application/server<logsize>`), so that the message alone says where to
/// look. An error about a file ([`Config::from_file`](super::Config::from_file),
/// [`ServerConfig::from_args`](super::ServerConfig::from_args)) comes wrapped in
/// [`InFile`](ConfigError::InFile), which names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be opened or read.
    #[error("cannot read config file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Another error, about this file.
    #[error("config file {}: {source}", path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// The error found in it.
        source: Box<ConfigError>,
    },
    /// The text is over [`Config::MAX_SIZE`](super::Config::MAX_SIZE) bytes.
    #[error("the config is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// Its size in bytes (at least `limit + 1` when read from a file that kept growing).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The file is not UTF-8.
    #[error("line {line}: not UTF-8 text")]
    NotUtf8 {
        /// The first line with bytes that are not UTF-8.
        line: usize,
    },
    /// A domain opened with `<name>` has no `</name>` before the end of the text.
    #[error("line {line}: domain {path} is opened here and never closed")]
    UnclosedDomain {
        /// The line of its `<name>`.
        line: usize,
        /// The domain's path.
        path: String,
    },
    /// A `</name>` does not name the domain it would close.
    #[error("line {line}: </{found}> does not close {path}, the domain open here")]
    MismatchedClose {
        /// The line of the `</name>`.
        line: usize,
        /// The path of the domain that is open.
        path: String,
        /// The name in the closing tag.
        found: String,
    },
    /// A `</name>` at the top level, where no domain is open.
    #[error("line {line}: </{found}> closes no open domain")]
    UnopenedClose {
        /// The line of the `</name>`.
        line: usize,
        /// The name in the closing tag.
        found: String,
    },
    /// A line starting with `<` has no `>`.
    #[error("line {line} in {path}: a domain tag without `>`: {text:?}")]
    UnterminatedTag {
        /// The line.
        line: usize,
        /// The path of the domain the line is in.
        path: String,
        /// The line's text.
        text: String,
    },
    /// A `\` in a key or value that is not one of TarsCpp's escapes (`\\`, `\r`, `\n`, `\t`,
    /// `\=`).
    #[error("line {line} in {path}: {reason} in {text:?}")]
    BadEscape {
        /// The line.
        line: usize,
        /// The path of the domain the line is in.
        path: String,
        /// The line's text.
        text: String,
        /// What is wrong with the escape.
        reason: String,
    },
    /// Domains nested deeper than [`Config::MAX_DEPTH`](super::Config::MAX_DEPTH).
    #[error("line {line}: domains nested deeper than {limit} levels, in {path}")]
    TooDeep {
        /// The line of the domain one level too deep.
        line: usize,
        /// The path of the domain it would open in.
        path: String,
        /// The limit.
        limit: usize,
    },
    /// More than [`Config::MAX_ENTRIES`](super::Config::MAX_ENTRIES) keys and domains.
    #[error("line {line}: more than {limit} keys and domains")]
    TooManyEntries {
        /// The line of the entry one over the limit.
        line: usize,
        /// The limit.
        limit: usize,
    },
    /// A lookup path is not `/domain/.../domain<key>` (or, for a domain, `/domain/.../domain`).
    #[error("bad config path {path:?}: {reason}")]
    BadPath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A key the typed view needs is missing or empty.
    #[error("{path}<{key}> is missing")]
    Missing {
        /// The domain path.
        path: String,
        /// The key.
        key: String,
    },
    /// A value is not of the type its key needs.
    #[error("{path}<{key}>: expected {expected}, found {found:?}")]
    BadValue {
        /// The domain path.
        path: String,
        /// The key.
        key: String,
        /// What the key needs, e.g. `a number`.
        expected: &'static str,
        /// The value found.
        found: String,
    },
    /// A value is not a TARS endpoint (`tcp -h HOST -p PORT`) or proxy string
    /// (`App.Server.Obj@tcp -h HOST -p PORT`).
    #[error("{path}<{key}>: {source}")]
    BadEndpoint {
        /// The domain path.
        path: String,
        /// The key.
        key: String,
        /// Why the endpoint parser refused it.
        source: EndpointError,
    },
    /// `--config` is the last argument, or `--config=` has no file name.
    #[error("`--config` needs a file name (`--config=FILE` or `--config FILE`)")]
    MissingArgument,
}

impl ConfigError {
    /// Wraps `self` in [`InFile`](ConfigError::InFile) (unless it already names a file).
    pub(super) fn in_file(self, path: &std::path::Path) -> ConfigError {
        match self {
            ConfigError::Io { .. } | ConfigError::InFile { .. } => self,
            other => ConfigError::InFile {
                path: path.to_path_buf(),
                source: Box::new(other),
            },
        }
    }
}
