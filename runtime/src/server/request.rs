//! A request packet as the server reads it: [`RequestPacket`]'s fields, with the servant's and
//! the function's names shared rather than allocated for every request.
//!
//! A server sees the same few names over and over (TarsCpp's async proxy sends thousands of
//! `testHello`s to one servant): each worker thread keeps the last [`NAMES_PER_THREAD`] names
//! it has read, and a request whose names it knows costs no allocation for them.

use std::cell::RefCell;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::codec::{DecodeError, Head, TarsDecode, TarsEncode, TarsReader, TarsType};
use crate::packet::{Context, MessageType, PacketType, RequestPacket, Version};
use crate::TarsStruct;

/// The most names a worker thread keeps: a new name takes the place of the oldest, so the table
/// stays bounded whatever the peers send, and a peer making names up cannot keep the real
/// ones out of it once it stops.
const NAMES_PER_THREAD: usize = 64;

/// The longest name kept: a longer one is allocated for its request alone.
const MAX_KEPT_NAME: usize = 128;

thread_local! {
    /// The names this thread has read, oldest first.
    static NAMES: RefCell<Vec<Arc<str>>> = const { RefCell::new(Vec::new()) };
}

/// A servant's or a function's name, shared by every request that carries it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Name(Option<Arc<str>>);

impl Name {
    /// The shared copy of `name`, made (and kept, while there is room) the first time.
    fn intern(name: &str) -> Self {
        if name.is_empty() {
            return Self(None);
        }
        if name.len() > MAX_KEPT_NAME {
            return Self(Some(name.into()));
        }
        let shared = NAMES
            .try_with(|names| {
                let mut names = names.borrow_mut();
                if let Some(known) = names.iter().rev().find(|known| ***known == *name) {
                    return known.clone();
                }
                let shared: Arc<str> = name.into();
                if names.len() == NAMES_PER_THREAD {
                    names.remove(0);
                }
                names.push(shared.clone());
                shared
            })
            // the thread is going away: no table to keep it in
            .unwrap_or_else(|_| name.into());
        Self(Some(shared))
    }

    pub(crate) fn as_str(&self) -> &str {
        self.0.as_deref().unwrap_or("")
    }
}

impl From<String> for Name {
    fn from(name: String) -> Self {
        if name.is_empty() {
            Self(None)
        } else {
            Self(Some(name.into()))
        }
    }
}

impl TarsType for Name {}

impl TarsEncode for Name {
    fn write_field(&self, tag: u8, buf: &mut BytesMut) {
        crate::codec::writer::write_string(buf, tag, self.as_str().as_bytes());
    }

    fn is_default_value(&self) -> bool {
        self.0.is_none()
    }
}

impl<'de> TarsDecode<'de> for Name {
    fn read_field(reader: &mut TarsReader<'de>, head: Head) -> Result<Self, DecodeError> {
        reader.read_str(head).map(Self::intern)
    }
}

/// `RequestPacket` (`tup/RequestF.tars`) with shared names: the same tags, read the same way.
#[derive(TarsStruct, Debug, Default)]
#[tars(crate = "crate")]
pub(crate) struct IncomingRequest {
    #[tars(tag = 1)]
    pub(crate) version: Version,
    #[tars(tag = 2)]
    pub(crate) packet_type: PacketType,
    #[tars(tag = 3)]
    pub(crate) message_type: MessageType,
    #[tars(tag = 4)]
    pub(crate) request_id: i32,
    #[tars(tag = 5)]
    pub(crate) servant_name: Name,
    #[tars(tag = 6)]
    pub(crate) func_name: Name,
    #[tars(tag = 7)]
    pub(crate) buffer: Bytes,
    #[tars(tag = 8)]
    pub(crate) timeout: i32,
    #[tars(tag = 9)]
    pub(crate) context: Context,
    #[tars(tag = 10)]
    pub(crate) status: Context,
}

impl From<RequestPacket> for IncomingRequest {
    fn from(request: RequestPacket) -> Self {
        Self {
            version: request.version,
            packet_type: request.packet_type,
            message_type: request.message_type,
            request_id: request.request_id,
            servant_name: request.servant_name.into(),
            func_name: request.func_name.into(),
            buffer: request.buffer,
            timeout: request.timeout,
            context: request.context,
            status: request.status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(servant: &str, function: &str) -> Bytes {
        RequestPacket {
            request_id: 7,
            servant_name: servant.into(),
            func_name: function.into(),
            buffer: Bytes::from_static(b"\x16\x02hi"),
            context: Context::from([("k".to_string(), "v".to_string())]),
            ..RequestPacket::default()
        }
        .to_bytes()
    }

    #[test]
    fn reads_what_a_request_packet_reads() {
        let bytes = wire("App.Server.Obj", "f");
        let incoming = IncomingRequest::decode_bytes(&bytes).unwrap();
        let packet = RequestPacket::decode_bytes(&bytes).unwrap();
        assert_eq!(incoming.servant_name.as_str(), packet.servant_name);
        assert_eq!(incoming.func_name.as_str(), packet.func_name);
        assert_eq!(incoming.request_id, packet.request_id);
        assert_eq!(incoming.buffer, packet.buffer);
        assert_eq!(incoming.context, packet.context);
        // and writes it back the same
        assert_eq!(incoming.to_bytes(), bytes);
    }

    #[test]
    fn a_name_read_again_is_shared() {
        let first = IncomingRequest::decode_bytes(&wire("App.Server.SharedObj", "g")).unwrap();
        let again = IncomingRequest::decode_bytes(&wire("App.Server.SharedObj", "g")).unwrap();
        let (Some(a), Some(b)) = (&first.servant_name.0, &again.servant_name.0) else {
            panic!("names expected");
        };
        assert!(Arc::ptr_eq(a, b));
    }

    #[test]
    fn the_table_is_bounded() {
        // on a thread of its own, so that the table starts empty
        std::thread::spawn(|| {
            for i in 0..NAMES_PER_THREAD * 3 {
                let name = format!("made.up.name{i}");
                assert_eq!(Name::intern(&name).as_str(), name);
            }
            assert_eq!(NAMES.with(|names| names.borrow().len()), NAMES_PER_THREAD);
            let long = "x".repeat(MAX_KEPT_NAME + 1);
            assert_eq!(Name::intern(&long).as_str(), long);
            assert_eq!(NAMES.with(|names| names.borrow().len()), NAMES_PER_THREAD);
            // after a flood of made-up names, a real one is kept again and shared
            let (Name(Some(first)), Name(Some(again))) = (
                Name::intern("App.Server.Obj"),
                Name::intern("App.Server.Obj"),
            ) else {
                panic!("names expected");
            };
            assert!(Arc::ptr_eq(&first, &again));
        })
        .join()
        .unwrap();
    }
}
