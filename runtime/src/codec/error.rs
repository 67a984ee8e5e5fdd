//! Decoding errors.

use super::WireType;

/// Why bytes could not be decoded into the requested value.
///
/// Errors inside a struct field are wrapped in [`DecodeError::InField`], and errors in the
/// parameters of a `#[tars_interface]` or `#[tars_push]` function in
/// [`DecodeError::InFunction`] and [`DecodeError::InParameter`], so the message names every
/// function, parameter, struct, field and tag on the way down
/// (`Hello.testHello: parameter sReq (tag 1): Login.user (tag 0): ...`):
///
/// ```
/// use tars_rpc::{codec::DecodeError, TarsStruct};
///
/// #[derive(TarsStruct, Debug)]
/// struct Login {
///     #[tars(tag = 0)]
///     user: String,
/// }
///
/// // an int at tag 0 where a string is expected
/// let err = Login::decode_from(&[0x00, 0x05]).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "Login.user (tag 0): type mismatch: expected string, found int1"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended in the middle of a value.
    #[error("unexpected end of input: {needed} more bytes needed, {remaining} left")]
    UnexpectedEof {
        /// How many bytes the value needed.
        needed: usize,
        /// How many were left.
        remaining: usize,
    },
    /// A head carries a type code TARS does not define (14 or 15).
    #[error("unknown wire type code {0}")]
    UnknownWireType(u8),
    /// The wire type cannot be read as the requested Rust type.
    #[error("type mismatch: expected {expected}, found {found}")]
    TypeMismatch {
        /// The TARS type the reader wanted.
        expected: &'static str,
        /// What the input has.
        found: WireType,
    },
    /// An integer does not fit the requested Rust type.
    #[error("integer {value} out of range for {expected}")]
    OutOfRange {
        /// The Rust type the reader wanted.
        expected: &'static str,
        /// The value on the wire.
        value: i64,
    },
    /// A list, map or byte-list size is negative.
    #[error("negative size {0}")]
    NegativeSize(i64),
    /// A size announces more elements than the input could possibly hold.
    #[error("size {size} exceeds the {remaining} bytes left")]
    SizeTooLarge {
        /// The announced size.
        size: u64,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// The size of a list or map is not written at tag 0 as TARS requires.
    #[error("size of a list or map must be at tag 0, found tag {0}")]
    BadSizeTag(u8),
    /// A string is not valid UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// Structs, lists and maps are nested deeper than the reader allows
    /// ([`MAX_DEPTH`](super::MAX_DEPTH) by default).
    #[error("structs, lists and maps nested too deep")]
    TooDeep,
    /// A struct end marker where none was open.
    #[error("struct end marker outside a struct")]
    UnexpectedStructEnd,
    /// A required field is absent.
    #[error("{ty}.{field}: required field (tag {tag}) is missing")]
    MissingField {
        /// The struct.
        ty: &'static str,
        /// The Rust field name.
        field: &'static str,
        /// Its tag.
        tag: u8,
    },
    /// A TARS enum value with no matching variant.
    #[error("{ty}: unknown enum value {value}")]
    UnknownEnumValue {
        /// The enum.
        ty: &'static str,
        /// The value on the wire.
        value: i32,
    },
    /// Bytes are left over after a complete value was read.
    #[error("{0} trailing bytes after the value")]
    TrailingBytes(usize),
    /// An error inside a struct field.
    #[error("{ty}.{field} (tag {tag}): {source}")]
    InField {
        /// The struct.
        ty: &'static str,
        /// The Rust field name.
        field: &'static str,
        /// Its tag.
        tag: u8,
        /// What went wrong inside the field.
        source: Box<DecodeError>,
    },
    /// An error decoding the parameters of a function of a `#[tars_interface]` or `#[tars_push]`
    /// trait: a request's on the server, a reply's or a push's on the client. It wraps a
    /// [`DecodeError::InParameter`] or [`DecodeError::MissingParameter`] when the error is in one
    /// parameter, and the bare error when it is not (a malformed field head, an unknown field
    /// that does not skip).
    #[error("{function}: {source}")]
    InFunction {
        /// The trait and the function's wire name, `Hello.testHello`.
        function: &'static str,
        /// What went wrong.
        source: Box<DecodeError>,
    },
    /// An error inside a parameter of a function (see [`DecodeError::InFunction`]).
    #[error("{} (tag {tag}): {source}", ParameterLabel(*.parameter))]
    InParameter {
        /// The parameter's wire name, or `None` for the return value (tag 0).
        parameter: Option<&'static str>,
        /// Its tag.
        tag: u8,
        /// What went wrong inside the parameter.
        source: Box<DecodeError>,
    },
    /// A required parameter of a function is absent: an input in a request, the return value
    /// in a reply (see [`DecodeError::InFunction`]).
    #[error("{} (tag {tag}) is missing", ParameterLabel(*.parameter))]
    MissingParameter {
        /// The parameter's wire name, or `None` for the return value (tag 0).
        parameter: Option<&'static str>,
        /// Its tag.
        tag: u8,
    },
    /// A [`UniAttribute`](super::UniAttribute) has no value under this name.
    #[error("no attribute named {name:?}")]
    MissingAttribute {
        /// The name asked for.
        name: String,
    },
    /// A TUP 2 [`UniAttribute`](super::UniAttribute) holds the name, but not as the type asked
    /// for: TUP 2 keys each value by its TARS type name.
    #[error("attribute {name:?} is not a {expected}; it holds {found:?}")]
    AttributeTypeMismatch {
        /// The attribute's name.
        name: String,
        /// The TARS type name asked for.
        expected: String,
        /// The type names the attribute holds.
        found: Vec<String>,
    },
    /// An error decoding the value of a [`UniAttribute`](super::UniAttribute) entry.
    #[error("attribute {name:?}: {source}")]
    InAttribute {
        /// The attribute's name.
        name: String,
        /// What went wrong inside the value.
        source: Box<DecodeError>,
    },
    /// Any other error, with its message (for hand-written [`TarsType`](super::TarsType) impls).
    #[error("{0}")]
    Custom(String),
}

impl DecodeError {
    /// Wraps this error as the error of a struct field.
    #[cold]
    pub fn in_field(self, ty: &'static str, field: &'static str, tag: u8) -> Self {
        Self::InField {
            ty,
            field,
            tag,
            source: Box::new(self),
        }
    }

    /// Wraps this error as the error of a parameter: `None` names the return value (tag 0).
    #[cold]
    pub fn in_parameter(self, parameter: Option<&'static str>, tag: u8) -> Self {
        Self::InParameter {
            parameter,
            tag,
            source: Box::new(self),
        }
    }

    /// Wraps this error as an error decoding the parameters of `function`
    /// (`Interface.function`).
    #[cold]
    pub fn in_function(self, function: &'static str) -> Self {
        Self::InFunction {
            function,
            source: Box::new(self),
        }
    }

    /// The innermost error, beneath any [`DecodeError::InField`], [`DecodeError::InParameter`],
    /// [`DecodeError::InFunction`] and [`DecodeError::InAttribute`] wrappers.
    pub fn root_cause(&self) -> &DecodeError {
        match self {
            Self::InField { source, .. }
            | Self::InParameter { source, .. }
            | Self::InFunction { source, .. }
            | Self::InAttribute { source, .. } => source.root_cause(),
            other => other,
        }
    }
}

/// `parameter sReq`, or `return value` for `None`.
struct ParameterLabel(Option<&'static str>);

impl std::fmt::Display for ParameterLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(name) => write!(f, "parameter {name}"),
            None => f.write_str("return value"),
        }
    }
}
