//! The error of a call or a handler: a TARS return code and a description.

use std::fmt;
use std::sync::Arc;

use crate::codec::DecodeError;
use crate::packet::ReturnCode;

/// A result whose error is an RPC [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An RPC error: the TARS return code (`iRet`) and a description (`sResultDesc`).
///
/// A handler returns it to make the server reply with that code and description; a client
/// call returns it when the call failed, whether on the server (the reply's code and
/// description) or on the way (timeout, connection lost: the framework's codes).
///
/// ```
/// use tars_rpc::{Error, packet::ReturnCode};
///
/// let error = Error::new(ReturnCode(1001), "user not found");
/// assert_eq!(error.code(), ReturnCode(1001));
/// assert_eq!(error.to_string(), "TARS error 1001: user not found");
/// assert!(Error::timeout("3000 ms").is_timeout());
/// ```
#[derive(Debug, Clone)]
pub struct Error {
    code: ReturnCode,
    message: String,
    /// What caused it on this side (an I/O error, a decode error), for
    /// [`source`](std::error::Error::source); never sent to a peer.
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

/// Errors are equal when their codes and descriptions are: the source is a local detail.
impl PartialEq for Error {
    fn eq(&self, other: &Self) -> bool {
        self.code == other.code && self.message == other.message
    }
}

impl Eq for Error {}

impl Error {
    /// An error with a return code and a description.
    pub fn new(code: impl Into<ReturnCode>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            source: None,
        }
    }

    /// An error with a return code and a description, caused by `source` (kept for
    /// [`source`](std::error::Error::source), as the error that tells why).
    ///
    /// ```
    /// use std::error::Error as _;
    /// use tars_rpc::{Error, packet::ReturnCode};
    ///
    /// let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    /// let error = Error::with_source(ReturnCode::PROXY_CONNECT_ERR, "cannot connect", refused);
    /// let source = error.source().and_then(|source| source.downcast_ref::<std::io::Error>());
    /// assert_eq!(source.map(|io| io.kind()), Some(std::io::ErrorKind::ConnectionRefused));
    /// ```
    pub fn with_source(
        code: impl Into<ReturnCode>,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            source: Some(Arc::new(source)),
            ..Self::new(code, message)
        }
    }

    /// The TARS return code.
    pub fn code(&self) -> ReturnCode {
        self.code
    }

    /// The description (`sResultDesc`).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The call timed out ([`ReturnCode::INVOKE_TIMEOUT`], -7).
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(ReturnCode::INVOKE_TIMEOUT, message)
    }

    /// Whether the call timed out.
    pub fn is_timeout(&self) -> bool {
        self.code == ReturnCode::INVOKE_TIMEOUT
    }

    /// The connection could not be made or was lost ([`ReturnCode::PROXY_CONNECT_ERR`], -8).
    pub fn connect(message: impl Into<String>) -> Self {
        Self::new(ReturnCode::PROXY_CONNECT_ERR, message)
    }

    /// The server could not decode the request ([`ReturnCode::SERVER_DECODE_ERR`], -1).
    pub fn server_decode(error: &DecodeError) -> Self {
        Self::with_source(
            ReturnCode::SERVER_DECODE_ERR,
            error.to_string(),
            error.clone(),
        )
    }

    /// The client could not decode the reply ([`ReturnCode::CLIENT_DECODE_ERR`], -12).
    pub fn client_decode(error: &DecodeError) -> Self {
        Self::with_source(
            ReturnCode::CLIENT_DECODE_ERR,
            error.to_string(),
            error.clone(),
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code.name() {
            Some(name) => write!(f, "TARS error {} ({name}): {}", self.code.0, self.message),
            None => write!(f, "TARS error {}: {}", self.code.0, self.message),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}
