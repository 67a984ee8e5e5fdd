//! Procedural macros of `tars-rpc`. Use them through the `tars-rpc` crate, which documents them.
//!
//! Each macro goes through three stages: `parse` reads the Rust item and its `#[tars(...)]`
//! attributes, `model` checks them and builds a description of what to generate, `generate`
//! writes the code, which calls into the runtime through `tars_rpc::__private`.

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

mod generate;
mod model;
mod parse;

/// Derives the TARS encoding of a struct: `TarsEncode`, `TarsDecode`, `TarsType` and
/// `TarsStruct`; or, for a struct with a lifetime parameter, a borrowed view read in place
/// (`TarsEncode`, `TarsDecode` and `TarsStructRef`; see below).
///
/// Every field carries `#[tars(tag = N)]` with its own tag from 0 to 255. Fields go on the
/// wire in ascending tag order whatever their order in the struct.
///
/// | field attribute | on write | when absent on read |
/// |---|---|---|
/// | `tag = N` (required) | always written | a `DecodeError::MissingField` error |
/// | `tag = N, optional` | left off when zero or empty | `Default::default()` |
/// | `tag = N, default = VALUE` (optional) | left off when equal to `VALUE` | `VALUE` |
/// | an `Option<T>` field (optional) | left off when `None` | `None` |
///
/// `#[tars(crate = "path")]` on the struct names this crate when it is not `::tars_rpc`
/// (renamed in Cargo.toml, or re-exported). Unknown tags on the wire are skipped.
///
/// `#[tars(name = "Module.Struct")]` on the struct gives its TARS type name, the key of its
/// values in TUP 2 (tars2cpp's `className()`); it defaults to the Rust name. A field's name in
/// JSON is its Rust name in lowerCamelCase (`user_id` is `userId`), or `#[tars(tag = N, name =
/// "...")]`.
///
/// ```
/// use tars_rpc::TarsStruct;
///
/// #[derive(TarsStruct, Debug, PartialEq, Default)]
/// #[tars(name = "Demo.User")]
/// struct User {
///     #[tars(tag = 1)]
///     name: String,
///     #[tars(tag = 0)] // written first
///     id: i32,
///     #[tars(tag = 2, default = 18)]
///     age: i32,
/// }
///
/// let user = User { name: "ann".into(), id: 1, age: 18 };
/// assert_eq!(&user.to_bytes()[..], b"\x00\x01\x16\x03ann");
/// assert_eq!(User::decode_from(b"\x00\x01\x16\x03ann").unwrap(), user);
/// ```
///
/// # Borrowed views
///
/// A struct with a lifetime parameter is a view of the bytes it is read from: its `&'a str`,
/// `&'a [u8]`, `Cow<'a, str>` and `Cow<'a, [u8]>` fields, in lists and maps too, point into the
/// input instead of being copied, as serde's and bincode's borrowed `&str` are. It may also hold
/// any owned TARS type and other views. The tags and attributes mean the same, and it writes
/// the bytes the owned struct writes (`TarsStructRef::decode_from`, `to_bytes`). It has no JSON
/// form or TUP type name, which belong to the owned struct (`name` is an error on a view).
///
/// ```
/// use tars_rpc::{TarsStruct, TarsStructRef};
/// # #[derive(TarsStruct, Debug, PartialEq, Default)]
/// # struct User {
/// #     #[tars(tag = 1)]
/// #     name: String,
/// #     #[tars(tag = 0)]
/// #     id: i32,
/// #     #[tars(tag = 2, default = 18)]
/// #     age: i32,
/// # }
///
/// #[derive(TarsStruct, Debug, PartialEq)]
/// struct UserRef<'a> {
///     #[tars(tag = 1)]
///     name: &'a str,
///     #[tars(tag = 0)]
///     id: i32,
/// }
///
/// let bytes = User { name: "ann".into(), id: 1, age: 30 }.to_bytes();
/// // unknown tags (the age) are skipped, as by the owned struct
/// let view = UserRef::decode_from(&bytes).unwrap();
/// assert_eq!(view, UserRef { name: "ann", id: 1 });
/// // written, the view is the owned struct without its age
/// assert_eq!(view.to_bytes(), User { name: "ann".into(), id: 1, age: 18 }.to_bytes());
/// ```
#[proc_macro_derive(TarsStruct, attributes(tars))]
pub fn derive_tars_struct(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    parse::derive::parse_struct(&input)
        .and_then(model::derive::StructModel::build)
        .map(|model| generate::derive::struct_impl(&model))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Derives `TarsType` and `TarsEnum` for an enum without fields: an `int`
/// on the wire, numbered as in TARS IDL (from 0, or one more than the previous variant).
/// In TUP 2 its type name is `int32`, and in JSON it is its value.
///
/// ```
/// use tars_rpc::{codec::TarsEnum as _, TarsEnum};
///
/// #[derive(TarsEnum, Debug, Clone, Copy, PartialEq)]
/// enum State { Idle, Busy = 10, Gone }
/// assert_eq!(State::Gone.value(), 11);
/// ```
#[proc_macro_derive(TarsEnum, attributes(tars))]
pub fn derive_tars_enum(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    parse::derive::parse_enum(&input)
        .and_then(model::derive::EnumModel::build)
        .map(|model| generate::derive::enum_impl(&model))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Turns a trait of `async fn`s into a TARS interface: the trait itself (for the server's
/// implementation), a server adapter `{Trait}Servant<T>`, and a client proxy `{Trait}Proxy`.
///
/// ```
/// use tars_rpc::{tars_interface, Current};
///
/// #[tars_interface]
/// pub trait Hello {
///     /// `int testHello(string sReq, out string sRsp);`
///     async fn test_hello(&self, s_req: String, s_rsp: &mut String) -> tars_rpc::Result<i32>;
///
///     /// A method that wants the request context takes `&Current` (not a wire parameter).
///     async fn who_am_i(&self, current: &Current) -> tars_rpc::Result<String>;
///
///     /// `void rename(long iUid, string sName);`: wire names other than the lowerCamelCase
///     /// of the Rust names.
///     #[tars(name = "rename")]
///     async fn set_name(&self, #[tars(name = "iUid")] uid: i64, s_name: String) -> tars_rpc::Result<()>;
/// }
///
/// struct HelloImp;
///
/// impl Hello for HelloImp {
///     async fn test_hello(&self, s_req: String, s_rsp: &mut String) -> tars_rpc::Result<i32> {
///         *s_rsp = s_req;
///         Ok(0)
///     }
///
///     async fn who_am_i(&self, current: &Current) -> tars_rpc::Result<String> {
///         Ok(current.peer_addr().to_string())
///     }
///
///     async fn set_name(&self, _uid: i64, _s_name: String) -> tars_rpc::Result<()> {
///         Ok(())
///     }
/// }
///
/// // server: HelloServant::new(HelloImp) is a `Servant`
/// let _servant = HelloServant::new(HelloImp);
///
/// // client: out-parameters come back after the return value
/// async fn call(proxy: HelloProxy) -> tars_rpc::Result<()> {
///     let (ret, s_rsp) = proxy.test_hello("hello".into()).await?;
///     assert_eq!((ret, s_rsp.as_str()), (0, "hello"));
///     Ok(())
/// }
/// ```
///
/// # The wire
///
/// * A method's wire name is its name in lowerCamelCase (`test_hello` → `testHello`), or
///   `#[tars(name = "...")]` on the method. A parameter's wire name, which errors give (and
///   which TUP, which calls by name, will need), is made the same way (`s_req` → `sReq`), or
///   `#[tars(name = "...")]` on the parameter.
/// * As in tars2cpp, the return value travels at tag 0 and the parameters at tags 1, 2, ...
///   in declaration order, out-parameters included; `&Current` takes no tag. A method has at
///   most 255 parameters on the wire.
/// * A parameter taken by value is an input; `&mut T` is an out-parameter (its type must
///   implement `Default`): the server's implementation fills it in, the client receives it.
///   The client also sends out-parameters, empty, as TarsCpp does.
/// * Methods return `tars_rpc::Result<T>` (`()` for a `void` method). An `Err` makes the
///   server reply with its code (`iRet`) and message (`sResultDesc`); a client call returns
///   such an error as `Err` too.
/// * A request whose parameters do not decode gets the reply -1 (`SERVER_DECODE_ERR`), a reply
///   that does not decode fails the call with -12 (`CLIENT_DECODE_ERR`); either description
///   names the interface, the function and the parameter by their wire names:
///   `Hello.testHello: parameter sReq (tag 1): type mismatch: expected string, found int1`,
///   `Hello.testHello: return value (tag 0) is missing`.
///
/// # What is generated
///
/// * The trait, with `Send + Sync + 'static` supertraits and each `async fn` declared as
///   `fn ... -> impl Future<Output = ...> + Send`, so that the server can run handlers on any
///   thread. Implement it with plain `async fn`s.
/// * `{Trait}Servant<T>`: a `Servant` dispatching requests by wire name to `T`'s methods
///   (unknown function: -3; parameters that do not decode: -1).
/// * `{Trait}Proxy`: a typed client. Each method takes the inputs and returns
///   `Result<ret>`, `Result<(ret, out1, ...)>`, `Result<out1>` or `Result<()>`; a
///   `{method}_oneway` variant sends the request one-way. It is a `TypedProxy`, whose methods
///   give it the rest: `with_timeout` and `with_context` return a proxy that calls with other
///   options; `on_connect`, `on_close`, `set_push_handler`, `push_stream`, `connect`.
/// * Servant and proxy are `Clone` (they share what they hold) and `Debug` (the servant when
///   `T` is). A method's docs and `#[allow(...)]` attributes are repeated on its proxy methods.
/// * Per method, a hidden type named `__Tars{Trait}_{method}`, through which the runtime
///   encodes and decodes the method's parameters.
///
/// `#[tars_interface(crate = "path")]` names the `tars-rpc` crate when it is not
/// `::tars_rpc`.
#[proc_macro_attribute]
pub fn tars_interface(args: TokenStream, item: TokenStream) -> TokenStream {
    expand_interface(args.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

fn expand_interface(
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> syn::Result<proc_macro2::TokenStream> {
    let args = parse::interface::parse_args(args, "tars_interface")?;
    let item: syn::ItemTrait = syn::parse2(item)?;
    let parsed = parse::interface::parse_trait(item)?;
    let model = model::interface::InterfaceModel::build(args, parsed)?;
    Ok(generate::interface::interface(&model))
}

/// Turns a trait of `async fn`s into a TARS push interface, TarsCpp's push callback: the server
/// pushes with a generated `{Trait}Sender` on a saved `Current`, the client implements the
/// trait and installs it on a proxy.
///
/// ```
/// use tars_rpc::{tars_interface, tars_push, Current};
/// use tars_rpc::push::Subscribers;
///
/// #[tars_interface]
/// pub trait Hello {
///     /// `int registerPush();`
///     async fn register_push(&self, current: &Current) -> tars_rpc::Result<i32>;
/// }
///
/// #[tars_push]
/// pub trait Push {
///     /// `int pushMsg(out string sRsp);`: the return value comes first, named `ret`.
///     async fn push_msg(&self, ret: i32, s_rsp: String);
/// }
///
/// // server: keep the Current, push later
/// struct HelloImp { subscribers: Subscribers }
///
/// impl Hello for HelloImp {
///     async fn register_push(&self, current: &Current) -> tars_rpc::Result<i32> {
///         self.subscribers.add(current); // removed by itself when the connection closes
///         PushSender::new(current).push_msg(0, "welcome".into()).await?;
///         Ok(0)
///     }
/// }
///
/// fn push_to_all(subscribers: &Subscribers) {
///     // encoded once, queued on every connection
///     let report = subscribers.broadcast(&PushSender::push_msg_frame(0, "push message".into()));
///     println!("{} delivered", report.delivered);
/// }
///
/// // client: implement the trait and install it on the proxy
/// use tars_rpc::client::TypedProxy;
///
/// struct Printer;
///
/// impl Push for Printer {
///     async fn push_msg(&self, ret: i32, s_rsp: String) {
///         println!("{ret}, {s_rsp}");
///     }
/// }
///
/// async fn client(proxy: HelloProxy) -> tars_rpc::Result<()> {
///     proxy.set_push_handler(PushCallback(Printer));
///     // register after every connect and reconnect; connect now
///     proxy.on_connect(|proxy: HelloProxy, _endpoint| async move {
///         let _ = proxy.register_push().await;
///     });
///     proxy.connect().await
/// }
/// ```
///
/// # The wire
///
/// A push is what TarsCpp's `Current::sendPushResponse` writes: a `ResponsePacket` with request
/// id 0 and status `TARS_FUNC` = the method's wire name (lowerCamelCase, or
/// `#[tars(name = "...")]`). Its `sBuffer` holds a first parameter named `ret` at tag 0 (the
/// IDL's return value; leave it out for a `void` push) and the other parameters (the IDL's
/// out-parameters) at tags 1, 2, ... Every value is written, defaults included; a value missing
/// from a push received reads as its `Default`, so pushed types implement `Default`. A push that
/// does not decode is an error naming the trait, the function and the value, e.g.
/// `Push.pushMsg: parameter sRsp (tag 1): type mismatch: expected string, found int1`
/// (parameter wire names as for `#[tars_interface]`, `#[tars(name = "...")]` included).
///
/// # The push itself
///
/// A callback method may also take `push: &PushMessage`, anywhere among its parameters: the
/// whole push, not on the wire, as `&Current` is for a servant. Its `origin()` is the endpoint
/// that sent it, which tells apart the instances of a service a client registered with; its
/// `context` is the push's context.
///
/// ```
/// use tars_rpc::client::PushMessage;
/// use tars_rpc::tars_push;
///
/// #[tars_push]
/// pub trait Push {
///     async fn push_msg(&self, ret: i32, s_rsp: String, push: &PushMessage);
/// }
///
/// struct Printer;
///
/// impl Push for Printer {
///     async fn push_msg(&self, ret: i32, s_rsp: String, push: &PushMessage) {
///         let from = push.origin().map(ToString::to_string).unwrap_or_default();
///         println!("{ret}, {s_rsp} from {from}");
///     }
/// }
/// ```
///
/// # What is generated
///
/// * The trait, with `Send + Sync + 'static` supertraits and each `async fn` made `Send`.
///   Implement it with plain `async fn`s that return nothing.
/// * `{Trait}Sender`: `{Trait}Sender::new(&current).method(values...).await` queues a push on
///   the client's connection, waiting for room in its outgoing queue if it has none
///   (`Current::push`); `try_method(values...)` fails at once instead (`Current::try_push`).
///   Both fail with a `PushError` that hands the frame back; `?` in a handler turns it into the
///   reply's error. `with_context` attaches a context; `{Trait}Sender::method_frame(values...)`
///   encodes a push once for `Subscribers::broadcast` or `Current::push_timeout`.
/// * `{Trait}Event`: one variant per method, a `FromPush`: `proxy.push_stream().events::<{Trait}Event>()`
///   is a stream of them. It derives `Debug`, so pushed types implement `Debug`; not `Clone`,
///   which would copy every payload.
/// * `{Trait}Callback<T>`: the `PushHandler` running `T`'s methods, for
///   `proxy.set_push_handler({Trait}Callback(implementation))` (`Debug` when `T` is).
/// * The sender is `Clone` and `Debug`. Per method, a hidden type named `__Tars{Trait}_{method}`
///   through which pushes are encoded and decoded.
#[proc_macro_attribute]
pub fn tars_push(args: TokenStream, item: TokenStream) -> TokenStream {
    expand_push(args.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

fn expand_push(
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> syn::Result<proc_macro2::TokenStream> {
    let args = parse::interface::parse_args(args, "tars_push")?;
    let item: syn::ItemTrait = syn::parse2(item)?;
    let parsed = parse::interface::parse_trait(item)?;
    let model = model::push::PushModel::build(args, parsed)?;
    Ok(generate::push::push(&model))
}

/// Expansion snapshots: the generated code for the sample inputs in `tests/expand/*.rs` is
/// checked in beside them as `*.expanded.rs` (formatted by rustfmt), so that any change to
/// what the macros generate shows up in review. `UPDATE_EXPANSIONS=1 cargo test -p
/// tars-rpc-macros` rewrites them.
#[cfg(test)]
mod expansion_snapshots {
    use std::io::Write;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};

    use quote::ToTokens;

    fn expand(item: syn::Item) -> proc_macro2::TokenStream {
        match item {
            syn::Item::Trait(mut item) => {
                let position = item
                    .attrs
                    .iter()
                    .position(|attr| {
                        attr.path().is_ident("tars_interface") || attr.path().is_ident("tars_push")
                    })
                    .expect("a sample trait carries #[tars_interface] or #[tars_push]");
                let attr = item.attrs.remove(position);
                let is_push = attr.path().is_ident("tars_push");
                let args = match attr.meta {
                    syn::Meta::List(list) => list.tokens,
                    _ => proc_macro2::TokenStream::new(),
                };
                let expand = if is_push {
                    super::expand_push
                } else {
                    super::expand_interface
                };
                expand(args, item.into_token_stream()).expect("the sample expands")
            }
            syn::Item::Struct(item) => {
                let input: syn::DeriveInput = item.into();
                let parsed = super::parse::derive::parse_struct(&input).expect("the sample parses");
                let model =
                    super::model::derive::StructModel::build(parsed).expect("the sample is valid");
                super::generate::derive::struct_impl(&model)
            }
            other => panic!("no expansion for {}", other.into_token_stream()),
        }
    }

    fn rustfmt(code: &str) -> String {
        let mut child = Command::new("rustfmt")
            .args(["--edition", "2021", "--emit", "stdout"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("rustfmt is installed (rustup component add rustfmt)");
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(code.as_bytes())
            .expect("rustfmt reads its input");
        let output = child.wait_with_output().expect("rustfmt runs");
        assert!(output.status.success(), "rustfmt failed on:\n{code}");
        String::from_utf8(output.stdout).expect("rustfmt writes UTF-8")
    }

    fn samples() -> Vec<PathBuf> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expand");
        let mut samples: Vec<_> = std::fs::read_dir(&dir)
            .expect("tests/expand exists")
            .map(|entry| entry.expect("readable directory").path())
            .filter(|path| {
                path.extension().is_some_and(|ext| ext == "rs")
                    && !path.to_string_lossy().ends_with(".expanded.rs")
            })
            .collect();
        samples.sort();
        samples
    }

    #[test]
    fn generated_code_matches_the_checked_in_expansions() {
        let update = std::env::var_os("UPDATE_EXPANSIONS").is_some();
        let samples = samples();
        assert!(samples.len() >= 2, "samples found: {samples:?}");
        for sample in samples {
            let source = std::fs::read_to_string(&sample).expect("readable sample");
            let file = syn::parse_file(&source).expect("the sample is Rust");
            let expanded: proc_macro2::TokenStream = file.items.into_iter().map(expand).collect();
            let header =
                "// @generated by the expansion_snapshots test of tars-rpc-macros; do not edit.\n";
            let actual = format!("{header}{}", rustfmt(&expanded.to_string()));
            let snapshot = sample.with_extension("expanded.rs");
            if update {
                std::fs::write(&snapshot, &actual).expect("writable snapshot");
                continue;
            }
            let expected = std::fs::read_to_string(&snapshot).unwrap_or_default();
            assert!(
                expected == actual,
                "the expansion of {} changed; review it and rerun with UPDATE_EXPANSIONS=1 to accept it.\n--- expected\n{expected}\n--- actual\n{actual}",
                sample.display()
            );
        }
    }
}
