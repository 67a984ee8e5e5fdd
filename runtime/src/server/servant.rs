//! [`Servant`]: what the server dispatches a servant's requests to.

use bytes::Bytes;
use futures::future::BoxFuture;

use super::Current;
use crate::error::Result;

/// A servant: decodes a request's parameters, runs the function, and encodes the reply's
/// `sBuffer` (the return value at tag 0, the out-parameters at their tags).
///
/// `#[tars_interface]` implements it for `{Trait}Servant<T>`; implement it by hand to serve
/// requests without a trait, e.g. as a gateway.
///
/// An `Err` becomes the reply's `iRet` and `sResultDesc`: return
/// [`ReturnCode::SERVER_NO_FUNC`](crate::packet::ReturnCode::SERVER_NO_FUNC) for an unknown
/// function and [`ReturnCode::SERVER_DECODE_ERR`](crate::packet::ReturnCode::SERVER_DECODE_ERR)
/// for parameters that do not decode.
///
/// ```
/// use bytes::Bytes;
/// use futures::future::BoxFuture;
/// use tars_rpc::server::{Current, Servant};
///
/// /// Answers every function with an empty buffer.
/// struct Echo;
///
/// impl Servant for Echo {
///     fn dispatch<'a>(&'a self, _current: &'a Current, params: Bytes) -> BoxFuture<'a, tars_rpc::Result<Bytes>> {
///         Box::pin(async move { Ok(params) })
///     }
/// }
/// ```
pub trait Servant: Send + Sync + 'static {
    /// Handles one request whose parameters (`sBuffer`) are `params`.
    fn dispatch<'a>(&'a self, current: &'a Current, params: Bytes) -> BoxFuture<'a, Result<Bytes>>;
}

impl<S: Servant + ?Sized> Servant for std::sync::Arc<S> {
    fn dispatch<'a>(&'a self, current: &'a Current, params: Bytes) -> BoxFuture<'a, Result<Bytes>> {
        (**self).dispatch(current, params)
    }
}
