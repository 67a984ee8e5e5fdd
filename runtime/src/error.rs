//! The error of a call or a handler: a TARS return code and a description.

use std::fmt;

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    code: ReturnCode,
    message: String,
}

impl Error {
    /// An error with a return code and a description.
    pub fn new(code: impl Into<ReturnCode>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
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
        Self::new(ReturnCode::SERVER_DECODE_ERR, error.to_string())
    }

    /// The client could not decode the reply ([`ReturnCode::CLIENT_DECODE_ERR`], -12).
    pub fn client_decode(error: &DecodeError) -> Self {
        Self::new(ReturnCode::CLIENT_DECODE_ERR, error.to_string())
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

impl std::error::Error for Error {}
