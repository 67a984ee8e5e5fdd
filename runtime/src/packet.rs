//! The TARS request and response packets (`tup/RequestF.tars`) and the protocol constants of
//! `servant/BaseF.tars`, as typed Rust items.
//!
//! ```
//! use tars_rpc::packet::{RequestPacket, ResponsePacket, ReturnCode};
//! use tars_rpc::TarsStruct;
//!
//! let request = RequestPacket {
//!     request_id: 1,
//!     servant_name: "TestApp.HelloServer.HelloObj".into(),
//!     func_name: "testHello".into(),
//!     timeout: 3000,
//!     ..RequestPacket::default()
//! };
//! let decoded = RequestPacket::decode_from(&request.to_bytes()).unwrap();
//! assert_eq!(decoded, request);
//!
//! let reply = ResponsePacket::reply_to(&request, ReturnCode::SERVER_NO_FUNC);
//! assert_eq!(reply.request_id, 1);
//! ```

use std::collections::BTreeMap;
use std::fmt;

use bytes::{Bytes, BytesMut};

use crate::codec::{DecodeError, Head, TarsDecode, TarsEncode, TarsReader, TarsType};
use crate::TarsStruct;

/// A request or response context: string pairs, sorted by key as TarsCpp's `std::map` writes them.
pub type Context = BTreeMap<String, String>;

/// The status key whose value names the function of a push, as TarsCpp's `Current::sendPushResponse` writes it.
pub const STATUS_PUSH_FUNC: &str = "TARS_FUNC";

/// The status key of a TUP reply holding its result code in decimal, as TarsCpp's
/// `Current::sendResponse` writes it when the code is not 0 (`tup::STATUS_RESULT_CODE`). A TUP
/// reply is shaped as a [`RequestPacket`] and has no `iRet` of its own.
pub const STATUS_RESULT_CODE: &str = "STATUS_RESULT_CODE";

/// The status key of a TUP reply holding its result description, when there is one
/// (`tup::STATUS_RESULT_DESC`).
pub const STATUS_RESULT_DESC: &str = "STATUS_RESULT_DESC";

/// The `sResultDesc` of TarsGo's graceful-shutdown packet (request id 0): the server is going
/// away, reconnect.
pub const RECONNECT_MESSAGE: &str = "_reconnect_";

/// Implements `TarsType` for an integer newtype by delegating to the integer.
macro_rules! int_newtype {
    ($name:ident($int:ty)) => {
        impl TarsType for $name {}

        impl TarsEncode for $name {
            #[inline]
            fn write_field(&self, tag: u8, buf: &mut BytesMut) {
                self.0.write_field(tag, buf);
            }
            #[inline]
            fn is_default_value(&self) -> bool {
                self.0 == 0
            }
        }

        impl<'de> TarsDecode<'de> for $name {
            #[inline]
            fn read_field(reader: &mut TarsReader<'de>, head: Head) -> Result<Self, DecodeError> {
                <$int>::read_field(reader, head).map(Self)
            }
        }

        impl From<$int> for $name {
            fn from(value: $int) -> Self {
                Self(value)
            }
        }

        impl From<$name> for $int {
            fn from(value: $name) -> Self {
                value.0
            }
        }
    };
}

/// The protocol version of a packet (`iVersion`).
///
/// ```
/// use tars_rpc::packet::Version;
/// assert_eq!(Version::default(), Version::TARS);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Version(pub i16);

impl Version {
    /// The TARS binary protocol (`TARSVERSION`), what every RPC uses.
    pub const TARS: Self = Self(0x01);
    /// The TUP protocol (`TUPVERSION`): parameters in a name-keyed map.
    pub const TUP: Self = Self(0x03);
    /// The older TUP shape (`TUP_COMPLEX` of `@tars/stream`): each value keyed by its type
    /// name as well.
    pub const TUP2: Self = Self(0x02);
    /// XML-encoded parameters (`XMLVERSION`).
    pub const XML: Self = Self(0x04);
    /// JSON-encoded parameters (`JSONVERSION`).
    pub const JSON: Self = Self(0x05);
}

impl Default for Version {
    fn default() -> Self {
        Self::TARS
    }
}
int_newtype!(Version(i16));

/// The packet type (`cPacketType`).
///
/// ```
/// use tars_rpc::packet::PacketType;
/// assert!(PacketType::ONEWAY.is_oneway());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PacketType(pub i8);

impl PacketType {
    /// A call that expects a reply (`TARSNORMAL`); pushes carry it too.
    pub const NORMAL: Self = Self(0x00);
    /// A call that gets no reply (`TARSONEWAY`).
    pub const ONEWAY: Self = Self(0x01);

    /// Whether the caller expects no reply.
    pub fn is_oneway(self) -> bool {
        self == Self::ONEWAY
    }
}
int_newtype!(PacketType(i8));

/// Message-type bits (`iMessageType`); they combine with `|`.
///
/// ```
/// use tars_rpc::packet::MessageType;
/// let bits = MessageType::HASH | MessageType::DYED;
/// assert!(bits.contains(MessageType::DYED));
/// assert!(!bits.contains(MessageType::GRID));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MessageType(pub i32);

impl MessageType {
    /// No bits (`TARSMESSAGETYPENULL`).
    pub const NULL: Self = Self(0x00);
    /// Hash routing (`TARSMESSAGETYPEHASH`).
    pub const HASH: Self = Self(0x01);
    /// Grey release (`TARSMESSAGETYPEGRID`).
    pub const GRID: Self = Self(0x02);
    /// Dyed (traced) message (`TARSMESSAGETYPEDYED`).
    pub const DYED: Self = Self(0x04);
    /// Statistics sample (`TARSMESSAGETYPESAMPLE`).
    pub const SAMPLE: Self = Self(0x08);
    /// Asynchronous call (`TARSMESSAGETYPEASYNC`).
    pub const ASYNC: Self = Self(0x10);
    /// Routed by set name (`TARSMESSAGETYPESETNAME`).
    pub const SETNAME: Self = Self(0x80);
    /// Call-chain tracking (`TARSMESSAGETYPETRACK`).
    pub const TRACK: Self = Self(0x100);

    /// Whether every bit of `other` is set.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for MessageType {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}
int_newtype!(MessageType(i32));

/// A TARS return code (`iRet`): 0 for success, the framework's negative codes, or whatever a
/// servant returns.
///
/// ```
/// use tars_rpc::packet::ReturnCode;
/// assert_eq!(ReturnCode(-3), ReturnCode::SERVER_NO_FUNC);
/// assert_eq!(ReturnCode::SERVER_NO_FUNC.to_string(), "-3 (TARSSERVERNOFUNCERR)");
/// assert_eq!(ReturnCode(17).name(), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ReturnCode(pub i32);

macro_rules! return_codes {
    ($($(#[$doc:meta])* $name:ident = $value:literal, $tars:literal;)*) => {
        impl ReturnCode {
            $($(#[$doc])* pub const $name: Self = Self($value);)*

            /// The name BaseF.tars gives this code, if it is one of the framework's.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some($tars),)*
                    _ => None,
                }
            }
        }
    };
}

return_codes! {
    /// Success (`TARSSERVERSUCCESS`).
    SUCCESS = 0, "TARSSERVERSUCCESS";
    /// The server could not decode the request (`TARSSERVERDECODEERR`).
    SERVER_DECODE_ERR = -1, "TARSSERVERDECODEERR";
    /// The server could not encode the reply (`TARSSERVERENCODEERR`).
    SERVER_ENCODE_ERR = -2, "TARSSERVERENCODEERR";
    /// The servant has no such function (`TARSSERVERNOFUNCERR`).
    SERVER_NO_FUNC = -3, "TARSSERVERNOFUNCERR";
    /// The server has no such servant (`TARSSERVERNOSERVANTERR`).
    SERVER_NO_SERVANT = -4, "TARSSERVERNOSERVANTERR";
    /// Grey-release state mismatch (`TARSSERVERRESETGRID`).
    SERVER_RESET_GRID = -5, "TARSSERVERRESETGRID";
    /// The request waited too long in the server's queue (`TARSSERVERQUEUETIMEOUT`).
    SERVER_QUEUE_TIMEOUT = -6, "TARSSERVERQUEUETIMEOUT";
    /// The call timed out (`TARSINVOKETIMEOUT`, also `TARSASYNCCALLTIMEOUT`).
    INVOKE_TIMEOUT = -7, "TARSINVOKETIMEOUT";
    /// The proxy could not connect (`TARSPROXYCONNECTERR`).
    PROXY_CONNECT_ERR = -8, "TARSPROXYCONNECTERR";
    /// The server is overloaded (`TARSSERVEROVERLOAD`).
    SERVER_OVERLOAD = -9, "TARSSERVEROVERLOAD";
    /// No endpoint to call (`TARSADAPTERNULL`).
    ADAPTER_NULL = -10, "TARSADAPTERNULL";
    /// The call broke the set rules (`TARSINVOKEBYINVALIDESET`).
    INVOKE_BY_INVALID_SET = -11, "TARSINVOKEBYINVALIDESET";
    /// The client could not decode the reply (`TARSCLIENTDECODEERR`).
    CLIENT_DECODE_ERR = -12, "TARSCLIENTDECODEERR";
    /// The request could not be sent (`TARSSENDREQUESTERR`).
    SEND_REQUEST_ERR = -13, "TARSSENDREQUESTERR";
    /// The server failed in an unknown way, e.g. a panicking handler (`TARSSERVERUNKNOWNERR`).
    SERVER_UNKNOWN_ERR = -99, "TARSSERVERUNKNOWNERR";
}

impl ReturnCode {
    /// The timeout code under its other BaseF.tars name.
    pub const ASYNC_CALL_TIMEOUT: Self = Self::INVOKE_TIMEOUT;

    /// Whether this is [`ReturnCode::SUCCESS`].
    pub fn is_success(self) -> bool {
        self == Self::SUCCESS
    }
}

impl fmt::Display for ReturnCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{} ({name})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}
int_newtype!(ReturnCode(i32));

/// A request (`tars::RequestPacket`). Every field is required on the wire.
#[derive(TarsStruct, Debug, Clone, PartialEq, Default)]
#[tars(crate = "crate")]
pub struct RequestPacket {
    /// `iVersion`.
    #[tars(tag = 1)]
    pub version: Version,
    /// `cPacketType`.
    #[tars(tag = 2)]
    pub packet_type: PacketType,
    /// `iMessageType`.
    #[tars(tag = 3)]
    pub message_type: MessageType,
    /// `iRequestId`: matches the reply to the call; never 0, which marks a push.
    #[tars(tag = 4)]
    pub request_id: i32,
    /// `sServantName`, e.g. `TestApp.HelloServer.HelloObj`.
    #[tars(tag = 5)]
    pub servant_name: String,
    /// `sFuncName`, e.g. `testHello`.
    #[tars(tag = 6)]
    pub func_name: String,
    /// `sBuffer`: the parameters, a top-level struct with the inputs at tags 1, 2, ...
    #[tars(tag = 7)]
    pub buffer: Bytes,
    /// `iTimeout` in milliseconds.
    #[tars(tag = 8)]
    pub timeout: i32,
    /// `context`: the caller's key-value pairs.
    #[tars(tag = 9)]
    pub context: Context,
    /// `status`: the framework's key-value pairs.
    #[tars(tag = 10)]
    pub status: Context,
}

/// A request read in place (see [`TarsStructRef`](crate::codec::TarsStructRef)): its names,
/// parameters and maps point into the bytes it was read from. What a gateway or router reads to
/// route a request by its names without copying its body, and forward it (`to_bytes` writes
/// what [`RequestPacket`] writes for the same values).
///
/// ```
/// use tars_rpc::packet::{RequestPacket, RequestPacketRef};
/// use tars_rpc::{TarsStruct, TarsStructRef};
///
/// let request = RequestPacket {
///     servant_name: "Test.HelloServer.HelloObj".into(),
///     func_name: "testHello".into(),
///     buffer: bytes::Bytes::from_static(b"\x16\x05hello"),
///     ..RequestPacket::default()
/// };
/// let wire = request.to_bytes();
/// let view = RequestPacketRef::decode_from(&wire).unwrap();
/// assert_eq!((view.servant_name, view.func_name), ("Test.HelloServer.HelloObj", "testHello"));
/// assert_eq!(view.buffer, b"\x16\x05hello");
/// assert_eq!(view.to_bytes(), wire);
/// ```
#[derive(TarsStruct, Debug, Clone, PartialEq)]
#[tars(crate = "crate")]
pub struct RequestPacketRef<'a> {
    /// `iVersion`.
    #[tars(tag = 1)]
    pub version: Version,
    /// `cPacketType`.
    #[tars(tag = 2)]
    pub packet_type: PacketType,
    /// `iMessageType`.
    #[tars(tag = 3)]
    pub message_type: MessageType,
    /// `iRequestId`.
    #[tars(tag = 4)]
    pub request_id: i32,
    /// `sServantName`.
    #[tars(tag = 5)]
    pub servant_name: &'a str,
    /// `sFuncName`.
    #[tars(tag = 6)]
    pub func_name: &'a str,
    /// `sBuffer`, in the input.
    #[tars(tag = 7)]
    pub buffer: &'a [u8],
    /// `iTimeout` in milliseconds.
    #[tars(tag = 8)]
    pub timeout: i32,
    /// `context`.
    #[tars(tag = 9)]
    pub context: BTreeMap<&'a str, &'a str>,
    /// `status`.
    #[tars(tag = 10)]
    pub status: BTreeMap<&'a str, &'a str>,
}

/// A reply or a push (`tars::ResponsePacket`).
#[derive(TarsStruct, Debug, Clone, PartialEq, Default)]
#[tars(crate = "crate")]
pub struct ResponsePacket {
    /// `iVersion`.
    #[tars(tag = 1)]
    pub version: Version,
    /// `cPacketType`.
    #[tars(tag = 2)]
    pub packet_type: PacketType,
    /// `iRequestId`: the call's id, or 0 for a push.
    #[tars(tag = 3)]
    pub request_id: i32,
    /// `iMessageType`.
    #[tars(tag = 4)]
    pub message_type: MessageType,
    /// `iRet`.
    #[tars(tag = 5)]
    pub ret: ReturnCode,
    /// `sBuffer`: the return value at tag 0 and the out-parameters at their tags.
    #[tars(tag = 6)]
    pub buffer: Bytes,
    /// `status`: for a push, `TARS_FUNC` names the function.
    #[tars(tag = 7)]
    pub status: Context,
    /// `sResultDesc`: why a call failed. Left off the wire when empty, as TarsCpp does.
    #[tars(tag = 8, optional)]
    pub result_desc: String,
    /// `context`. Left off the wire when empty.
    #[tars(tag = 9, optional)]
    pub context: Context,
}

impl ResponsePacket {
    /// An empty reply to `request` with the return code `ret`: same version, packet type,
    /// request id and message type.
    pub fn reply_to(request: &RequestPacket, ret: ReturnCode) -> Self {
        Self {
            version: request.version,
            packet_type: request.packet_type,
            request_id: request.request_id,
            message_type: request.message_type,
            ret,
            ..Self::default()
        }
    }

    /// The reply a TUP server sends, shaped as a request packet (TarsCpp's
    /// `Current::sendResponse` for `iVersion` 3, `@tars/rpc`'s `composeTUP` for 2 and 3), as a
    /// response: `iRet` from the status [`STATUS_RESULT_CODE`] (0 when absent),
    /// `sResultDesc` from [`STATUS_RESULT_DESC`].
    ///
    /// ```
    /// use tars_rpc::packet::{RequestPacket, ResponsePacket, ReturnCode, Version};
    ///
    /// let tup = RequestPacket {
    ///     version: Version::TUP,
    ///     request_id: 9,
    ///     status: [("STATUS_RESULT_CODE".to_string(), "-3".to_string())].into(),
    ///     ..RequestPacket::default()
    /// };
    /// let reply = ResponsePacket::from_tup_reply(tup).unwrap();
    /// assert_eq!((reply.request_id, reply.ret), (9, ReturnCode::SERVER_NO_FUNC));
    /// ```
    ///
    /// # Errors
    /// The status value when [`STATUS_RESULT_CODE`] is not a decimal `i32`.
    pub fn from_tup_reply(packet: RequestPacket) -> Result<Self, String> {
        let ret = match packet.status.get(STATUS_RESULT_CODE) {
            None => ReturnCode::SUCCESS,
            Some(code) => code.trim().parse().map(ReturnCode).map_err(|_| {
                format!("the TUP reply's {STATUS_RESULT_CODE} `{code}` is not a number")
            })?,
        };
        let result_desc = packet
            .status
            .get(STATUS_RESULT_DESC)
            .cloned()
            .unwrap_or_default();
        Ok(Self {
            version: packet.version,
            packet_type: packet.packet_type,
            request_id: packet.request_id,
            message_type: packet.message_type,
            ret,
            buffer: packet.buffer,
            status: packet.status,
            result_desc,
            context: packet.context,
        })
    }

    /// Whether this packet is a push rather than a reply: request id 0.
    pub fn is_push(&self) -> bool {
        self.request_id == 0
    }

    /// The function a push is for: `status["TARS_FUNC"]`.
    pub fn push_function(&self) -> Option<&str> {
        self.status.get(STATUS_PUSH_FUNC).map(String::as_str)
    }
}
