//! Property tests of the codec, the packets and the framing: round trips of every supported
//! type at every tag, minimal integer widths, forward compatibility between struct versions,
//! robustness against arbitrary and mutated input, and deterministic adversarial inputs.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use tars_rpc::codec::{DecodeError, Head, TarsDecode, TarsEncode, TarsReader, TarsType, WireType};
use tars_rpc::framing::{FrameCodec, FrameError, DEFAULT_MAX_FRAME_LEN, LENGTH_PREFIX};
use tars_rpc::packet::{
    Context, MessageType, PacketType, RequestPacket, ResponsePacket, ReturnCode, Version,
};
use tars_rpc::{TarsEnum, TarsStruct};
use tokio_util::codec::{Decoder, Encoder};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn encode_at<T: TarsType>(value: &T, tag: u8) -> BytesMut {
    let mut buf = BytesMut::new();
    value.write_field(tag, &mut buf);
    buf
}

/// Reads one field that must fill `bytes`: its tag and value.
fn decode_at<T: TarsType>(bytes: &[u8]) -> Result<(u8, T), DecodeError> {
    let mut reader = TarsReader::new(bytes);
    let head = reader.read_head()?;
    let value = T::read_field(&mut reader, head)?;
    if !reader.is_at_end() {
        return Err(DecodeError::TrailingBytes(reader.remaining()));
    }
    Ok((head.tag, value))
}

/// Encodes `value` at `tag`, decodes it back, and checks tag and value.
fn roundtrip<T: TarsType + PartialEq + Debug>(value: &T, tag: u8) -> Result<(), TestCaseError> {
    let bytes = encode_at(value, tag);
    let (read_tag, decoded) =
        decode_at::<T>(&bytes).map_err(|e| TestCaseError::fail(format!("decode: {e}")))?;
    prop_assert_eq!(read_tag, tag);
    prop_assert_eq!(&decoded, value);
    Ok(())
}

/// A string of arbitrary unicode, long enough to need a four-byte length now and then.
fn any_string(max_chars: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..max_chars).prop_map(String::from_iter)
}

/// Short strings for map keys and names.
fn short_string() -> impl Strategy<Value = String> {
    any_string(12)
}

fn any_context() -> impl Strategy<Value = Context> {
    prop::collection::btree_map(short_string(), short_string(), 0..5)
}

/// Interesting integers: anything, plus values around every power of two and their negations.
fn edgy_i64() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        (0u32..63, -2i64..=2).prop_map(|(shift, delta)| (1i64 << shift).wrapping_add(delta)),
        (0u32..63, -2i64..=2).prop_map(|(shift, delta)| (-(1i64 << shift)).wrapping_add(delta)),
        Just(i64::MIN),
        Just(i64::MAX),
        Just(0),
    ]
}

// ---------------------------------------------------------------------------------------------
// Types under test
// ---------------------------------------------------------------------------------------------

#[derive(TarsEnum, Debug, Clone, Copy, PartialEq)]
enum Kind {
    Plain,
    Fancy = 3,
    Fanciest,
    Negative = -7,
}

fn any_kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Plain),
        Just(Kind::Fancy),
        Just(Kind::Fanciest),
        Just(Kind::Negative),
    ]
}

#[derive(TarsStruct, Debug, Clone, PartialEq)]
struct WithOption {
    #[tars(tag = 0)]
    id: i32,
    #[tars(tag = 5)]
    maybe: Option<i32>,
}

#[derive(TarsStruct, Debug, Clone, PartialEq)]
struct Leaf {
    #[tars(tag = 0)]
    id: i64,
    #[tars(tag = 1, optional)]
    name: String,
    #[tars(tag = 2)]
    kind: Kind,
    #[tars(tag = 3, optional)]
    blob: Vec<u8>,
}

fn any_leaf() -> impl Strategy<Value = Leaf> {
    (
        edgy_i64(),
        short_string(),
        any_kind(),
        prop::collection::vec(any::<u8>(), 0..8),
    )
        .prop_map(|(id, name, kind, blob)| Leaf {
            id,
            name,
            kind,
            blob,
        })
}

#[derive(TarsStruct, Debug, Clone, PartialEq)]
struct Tree {
    #[tars(tag = 0)]
    leaves: Vec<Leaf>,
    #[tars(tag = 1)]
    by_name: BTreeMap<String, Leaf>,
    #[tars(tag = 2)]
    maybe: Option<Leaf>,
    #[tars(tag = 3)]
    kind: Kind,
    #[tars(tag = 4, default = 7)]
    with_default: i32,
    #[tars(tag = 200)]
    far: Leaf,
    #[tars(tag = 15, optional)]
    boundary_tag: Vec<Vec<i32>>,
}

fn any_tree() -> impl Strategy<Value = Tree> {
    (
        prop::collection::vec(any_leaf(), 0..4),
        prop::collection::btree_map(short_string(), any_leaf(), 0..3),
        prop::option::of(any_leaf()),
        any_kind(),
        prop_oneof![Just(7), any::<i32>()],
        any_leaf(),
        prop::collection::vec(prop::collection::vec(any::<i32>(), 0..4), 0..3),
    )
        .prop_map(
            |(leaves, by_name, maybe, kind, with_default, far, boundary_tag)| Tree {
                leaves,
                by_name,
                maybe,
                kind,
                with_default,
                far,
                boundary_tag,
            },
        )
}

#[derive(TarsStruct, Debug, Clone, PartialEq)]
struct Forest {
    #[tars(tag = 1)]
    trees: Vec<Tree>,
    #[tars(tag = 2)]
    main: Tree,
    #[tars(tag = 3)]
    spare: Option<Tree>,
}

/// A struct with a field of every kind, as target of the robustness properties.
#[derive(TarsStruct, Debug, Clone, PartialEq)]
struct Everything {
    #[tars(tag = 0)]
    b: bool,
    #[tars(tag = 1)]
    i8v: i8,
    #[tars(tag = 2)]
    u8v: u8,
    #[tars(tag = 3)]
    i16v: i16,
    #[tars(tag = 4)]
    u16v: u16,
    #[tars(tag = 5)]
    i32v: i32,
    #[tars(tag = 6)]
    u32v: u32,
    #[tars(tag = 7)]
    i64v: i64,
    #[tars(tag = 8)]
    f32v: f32,
    #[tars(tag = 9)]
    f64v: f64,
    #[tars(tag = 10)]
    s: String,
    #[tars(tag = 11, optional)]
    strs: Vec<String>,
    #[tars(tag = 12, optional)]
    blob: Bytes,
    #[tars(tag = 13, optional)]
    scores: HashMap<String, i64>,
    #[tars(tag = 14)]
    tree: Option<Tree>,
    #[tars(tag = 15, optional)]
    signed_bytes: Vec<i8>,
    #[tars(tag = 16, optional)]
    nested: BTreeMap<i32, Vec<String>>,
    #[tars(tag = 17)]
    kind: Option<Kind>,
    #[tars(tag = 30, default = "dflt")]
    with_default: String,
}

fn any_everything() -> impl Strategy<Value = Everything> {
    (
        (
            any::<bool>(),
            any::<i8>(),
            any::<u8>(),
            any::<i16>(),
            any::<u16>(),
            any::<i32>(),
            any::<u32>(),
            edgy_i64(),
            prop::num::f32::NORMAL | prop::num::f32::ZERO | prop::num::f32::SUBNORMAL,
            prop::num::f64::NORMAL | prop::num::f64::ZERO | prop::num::f64::INFINITE,
        ),
        (
            any_string(40),
            prop::collection::vec(short_string(), 0..4),
            prop::collection::vec(any::<u8>(), 0..16).prop_map(Bytes::from),
            prop::collection::hash_map(short_string(), edgy_i64(), 0..4),
            prop::option::of(any_tree()),
            prop::collection::vec(any::<i8>(), 0..8),
            prop::collection::btree_map(
                any::<i32>(),
                prop::collection::vec(short_string(), 0..3),
                0..3,
            ),
            prop::option::of(any_kind()),
            prop_oneof![Just("dflt".to_string()), short_string()],
        ),
    )
        .prop_map(
            |(
                (b, i8v, u8v, i16v, u16v, i32v, u32v, i64v, f32v, f64v),
                (s, strs, blob, scores, tree, signed_bytes, nested, kind, with_default),
            )| Everything {
                b,
                i8v,
                u8v,
                i16v,
                u16v,
                i32v,
                u32v,
                i64v,
                f32v,
                f64v,
                s,
                strs,
                blob,
                scores,
                tree,
                signed_bytes,
                nested,
                kind,
                with_default,
            },
        )
}

fn any_request() -> impl Strategy<Value = RequestPacket> {
    (
        (
            any::<i16>(),
            any::<i8>(),
            any::<i32>(),
            any::<i32>(),
            any_string(40),
        ),
        (
            any_string(300),
            prop::collection::vec(any::<u8>(), 0..300),
            any::<i32>(),
            any_context(),
            any_context(),
        ),
    )
        .prop_map(
            |(
                (version, packet_type, message_type, request_id, servant_name),
                (func_name, buffer, timeout, context, status),
            )| RequestPacket {
                version: Version(version),
                packet_type: PacketType(packet_type),
                message_type: MessageType(message_type),
                request_id,
                servant_name,
                func_name,
                buffer: Bytes::from(buffer),
                timeout,
                context,
                status,
            },
        )
}

fn any_response() -> impl Strategy<Value = ResponsePacket> {
    (
        (any::<i16>(), any::<i8>(), any::<i32>(), any::<i32>()),
        (
            any::<i32>(),
            prop::collection::vec(any::<u8>(), 0..300),
            any_context(),
            any_string(300),
            any_context(),
        ),
    )
        .prop_map(
            |(
                (version, packet_type, request_id, message_type),
                (ret, buffer, status, result_desc, context),
            )| ResponsePacket {
                version: Version(version),
                packet_type: PacketType(packet_type),
                request_id,
                message_type: MessageType(message_type),
                ret: ReturnCode(ret),
                buffer: Bytes::from(buffer),
                status,
                result_desc,
                context,
            },
        )
}

// ---------------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn roundtrip_bool(tag in any::<u8>(), v in any::<bool>()) { roundtrip(&v, tag)?; }

    #[test]
    fn roundtrip_i8(tag in any::<u8>(), v in any::<i8>()) { roundtrip(&v, tag)?; }

    #[test]
    fn roundtrip_i16(tag in any::<u8>(), v in any::<i16>()) { roundtrip(&v, tag)?; }

    #[test]
    fn roundtrip_i32(tag in any::<u8>(), v in any::<i32>()) { roundtrip(&v, tag)?; }

    #[test]
    fn roundtrip_i64(tag in any::<u8>(), v in edgy_i64()) { roundtrip(&v, tag)?; }

    #[test]
    fn roundtrip_u8(tag in any::<u8>(), v in any::<u8>()) { roundtrip(&v, tag)?; }

    #[test]
    fn roundtrip_u16(tag in any::<u8>(), v in any::<u16>()) { roundtrip(&v, tag)?; }

    #[test]
    fn roundtrip_u32(tag in any::<u8>(), v in any::<u32>()) { roundtrip(&v, tag)?; }

    /// Bit for bit, NaN payloads, infinities and -0.0 included.
    #[test]
    fn roundtrip_f32_bits(tag in any::<u8>(), bits in any::<u32>()) {
        let bytes = encode_at(&f32::from_bits(bits), tag);
        let (read_tag, decoded) = decode_at::<f32>(&bytes)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(read_tag, tag);
        prop_assert_eq!(decoded.to_bits(), bits);
    }

    #[test]
    fn roundtrip_f64_bits(tag in any::<u8>(), bits in any::<u64>()) {
        let bytes = encode_at(&f64::from_bits(bits), tag);
        let (read_tag, decoded) = decode_at::<f64>(&bytes)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(read_tag, tag);
        prop_assert_eq!(decoded.to_bits(), bits);
    }

    #[test]
    fn roundtrip_string(tag in any::<u8>(), v in any_string(400)) { roundtrip(&v, tag)?; }

    #[test]
    fn roundtrip_byte_vec(tag in any::<u8>(), v in prop::collection::vec(any::<u8>(), 0..600)) {
        roundtrip(&v, tag)?;
    }

    #[test]
    fn roundtrip_signed_byte_vec(tag in any::<u8>(), v in prop::collection::vec(any::<i8>(), 0..600)) {
        roundtrip(&v, tag)?;
    }

    /// `Bytes` round-trips, and decoding through `decode_bytes` shares the input's memory.
    #[test]
    fn roundtrip_bytes(tag in any::<u8>(), v in prop::collection::vec(any::<u8>(), 0..600)) {
        let v = Bytes::from(v);
        roundtrip(&v, tag)?;
        let holder = Holder { data: v.clone() };
        let encoded = holder.to_bytes();
        let decoded = Holder::decode_bytes(&encoded)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&decoded.data, &v);
        if !v.is_empty() {
            let inside = encoded.as_ptr_range();
            prop_assert!(inside.contains(&decoded.data.as_ptr()), "decode_bytes copied the bytes");
        }
    }

    #[test]
    fn roundtrip_i32_vec(tag in any::<u8>(), v in prop::collection::vec(any::<i32>(), 0..100)) {
        roundtrip(&v, tag)?;
    }

    #[test]
    fn roundtrip_string_vec(tag in any::<u8>(), v in prop::collection::vec(any_string(20), 0..20)) {
        roundtrip(&v, tag)?;
    }

    #[test]
    fn roundtrip_hash_map(
        tag in any::<u8>(),
        v in prop::collection::hash_map(any_string(20), edgy_i64(), 0..20),
    ) {
        roundtrip(&v, tag)?;
    }

    /// A `BTreeMap` round-trips and writes its keys in ascending order.
    #[test]
    fn roundtrip_btree_map(
        tag in any::<u8>(),
        v in prop::collection::btree_map(any::<i32>(), any_string(20), 0..20),
    ) {
        roundtrip(&v, tag)?;
        let bytes = encode_at(&v, tag);
        let mut reader = TarsReader::new(&bytes);
        let head = reader.read_head().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(head.wire_type, WireType::Map);
        let size = reader.read_size(2).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut keys = Vec::with_capacity(size);
        for _ in 0..size {
            let key_head = reader.read_head().map_err(|e| TestCaseError::fail(e.to_string()))?;
            keys.push(reader.read_i32(key_head).map_err(|e| TestCaseError::fail(e.to_string()))?);
            let value_head = reader.read_head().map_err(|e| TestCaseError::fail(e.to_string()))?;
            reader.skip_value(value_head).map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        prop_assert_eq!(keys, v.keys().copied().collect::<Vec<_>>());
    }

    /// `Option` fields: `None` is left off the wire, `Some` (even `Some(0)`) is written.
    #[test]
    fn roundtrip_option_field(id in any::<i32>(), maybe in prop::option::of(any::<i32>())) {
        let value = WithOption { id, maybe };
        let bytes = value.to_bytes();
        prop_assert_eq!(WithOption::decode_from(&bytes), Ok(value.clone()));
        let id_only = WithOption { id, maybe: None }.to_bytes();
        match maybe {
            None => prop_assert_eq!(&bytes, &id_only),
            Some(v) => {
                prop_assert_eq!(&bytes[..id_only.len()], &id_only[..]);
                prop_assert_eq!(&bytes[id_only.len()..], &encode_at(&v, 5)[..]);
            }
        }
    }

    /// Top level and nested at any tag: `Vec<Struct>`, `BTreeMap<String, Struct>`,
    /// `Option<Struct>`, enums, struct fields at tags 15 and 200, `default = ...` fields.
    #[test]
    fn roundtrip_nested_structs(tree in any_tree(), tag in any::<u8>()) {
        let bytes = tree.to_bytes();
        prop_assert_eq!(Tree::decode_from(&bytes), Ok(tree.clone()));
        roundtrip(&tree, tag)?;
        if tree.with_default == 7 {
            let mut without = tree.clone();
            without.with_default = 8;
            prop_assert!(bytes.len() < without.to_bytes().len(), "a default value is written");
        }
    }

    #[test]
    fn roundtrip_forest(
        trees in prop::collection::vec(any_tree(), 0..3),
        main in any_tree(),
        spare in prop::option::of(any_tree()),
    ) {
        let forest = Forest { trees, main, spare };
        prop_assert_eq!(Forest::decode_from(&forest.to_bytes()), Ok(forest.clone()));
        roundtrip(&forest, 1)?;
    }

    #[test]
    fn roundtrip_everything(value in any_everything()) {
        prop_assert_eq!(Everything::decode_from(&value.to_bytes()), Ok(value.clone()));
        prop_assert_eq!(Everything::decode_bytes(&value.to_bytes()), Ok(value));
    }

    #[test]
    fn roundtrip_request_packet(packet in any_request()) {
        prop_assert_eq!(RequestPacket::decode_from(&packet.to_bytes()), Ok(packet.clone()));
        prop_assert_eq!(RequestPacket::decode_bytes(&packet.to_bytes()), Ok(packet));
    }

    #[test]
    fn roundtrip_response_packet(packet in any_response()) {
        prop_assert_eq!(ResponsePacket::decode_from(&packet.to_bytes()), Ok(packet.clone()));
        prop_assert_eq!(ResponsePacket::decode_bytes(&packet.to_bytes()), Ok(packet));
    }

    /// Packets framed with `FrameCodec` (as `&T` and as `Bytes` bodies), delivered in arbitrary
    /// chunks, come out as the same packets in order.
    #[test]
    fn roundtrip_framed_packets(
        request in any_request(),
        response in any_response(),
        chunk_sizes in prop::collection::vec(1usize..200, 1..40),
    ) {
        let mut codec = FrameCodec::default();
        let mut wire = BytesMut::new();
        codec.encode(&request, &mut wire).map_err(|e| TestCaseError::fail(e.to_string()))?;
        codec.encode(&response, &mut wire).map_err(|e| TestCaseError::fail(e.to_string()))?;
        codec
            .encode(request.to_bytes(), &mut wire)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let expected_len = 3 * LENGTH_PREFIX
            + 2 * request.to_bytes().len()
            + response.to_bytes().len();
        prop_assert_eq!(wire.len(), expected_len);

        let mut frames = Vec::new();
        let mut buf = BytesMut::new();
        let mut rest = &wire[..];
        for size in chunk_sizes.iter().cycle().take(wire.len()) {
            if rest.is_empty() {
                break;
            }
            let (chunk, tail) = rest.split_at((*size).min(rest.len()));
            buf.extend_from_slice(chunk);
            rest = tail;
            for _ in 0..3 {
                match codec.decode(&mut buf).map_err(|e| TestCaseError::fail(e.to_string()))? {
                    Some(frame) => frames.push(frame),
                    None => break,
                }
            }
        }
        prop_assert!(rest.is_empty());
        prop_assert!(buf.is_empty(), "{} bytes left undecoded", buf.len());
        prop_assert_eq!(frames.len(), 3);
        prop_assert_eq!(RequestPacket::decode_bytes(&frames[0]), Ok(request.clone()));
        prop_assert_eq!(ResponsePacket::decode_bytes(&frames[1]), Ok(response));
        prop_assert_eq!(RequestPacket::decode_bytes(&frames[2]), Ok(request));
    }
}

#[derive(TarsStruct, Debug, Clone, PartialEq)]
struct Holder {
    #[tars(tag = 0)]
    data: Bytes,
}

// ---------------------------------------------------------------------------------------------
// Minimal integer widths
// ---------------------------------------------------------------------------------------------

/// The TARS width of `v` computed from its bit length: how many bytes a two's-complement
/// representation needs, rounded up to 1, 2, 4 or 8, and no bytes at all for zero.
fn expected_int_payload(v: i64) -> usize {
    if v == 0 {
        return 0;
    }
    // bits needed including the sign bit
    let magnitude_bits = 64 - if v < 0 { !v } else { v }.leading_zeros() as usize;
    match magnitude_bits + 1 {
        0..=8 => 1,
        9..=16 => 2,
        17..=32 => 4,
        _ => 8,
    }
}

fn wire_type_for_payload(payload: usize) -> WireType {
    match payload {
        0 => WireType::Zero,
        1 => WireType::Int1,
        2 => WireType::Int2,
        4 => WireType::Int4,
        _ => WireType::Int8,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn integers_take_the_minimal_width(v in edgy_i64(), tag in any::<u8>()) {
        let head_len = if tag < 15 { 1 } else { 2 };
        let payload = expected_int_payload(v);
        let bytes = encode_at(&v, tag);
        prop_assert_eq!(bytes.len(), head_len + payload, "i64 {} at tag {}", v, tag);
        let mut reader = TarsReader::new(&bytes);
        let head = reader.read_head().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(head, Head { tag, wire_type: wire_type_for_payload(payload) });
        prop_assert_eq!(reader.remaining(), payload);
        prop_assert_eq!(&bytes[head_len..], &v.to_be_bytes()[8 - payload..]);

        // narrower types holding the same value take the same width
        if let Ok(v32) = i32::try_from(v) {
            prop_assert_eq!(encode_at(&v32, tag), bytes.clone());
        }
        if let Ok(v16) = i16::try_from(v) {
            prop_assert_eq!(encode_at(&v16, tag), bytes.clone());
        }
        if let Ok(v8) = i8::try_from(v) {
            prop_assert_eq!(encode_at(&v8, tag), bytes.clone());
        }
        if let Ok(u) = u32::try_from(v) {
            prop_assert_eq!(encode_at(&u, tag), bytes.clone());
        }
    }

    /// Any integer width holding a value decodes, as other writers may use wider ones; too
    /// large a value for the target type is an error, not a truncation.
    #[test]
    fn any_width_decodes_and_narrowing_is_checked(v in edgy_i64(), wide in 0usize..4) {
        let mut bytes = BytesMut::new();
        let (code, payload): (u8, Vec<u8>) = match wide {
            0 => (3, v.to_be_bytes().to_vec()),
            1 if i32::try_from(v).is_ok() => (2, (v as i32).to_be_bytes().to_vec()),
            2 if i16::try_from(v).is_ok() => (1, (v as i16).to_be_bytes().to_vec()),
            3 if i8::try_from(v).is_ok() => (0, (v as i8).to_be_bytes().to_vec()),
            _ => (3, v.to_be_bytes().to_vec()),
        };
        bytes.extend_from_slice(&[0x10 | code]);
        bytes.extend_from_slice(&payload);
        prop_assert_eq!(decode_at::<i64>(&bytes), Ok((1, v)));
        let as_i32 = decode_at::<i32>(&bytes);
        match i32::try_from(v) {
            Ok(v32) => prop_assert_eq!(as_i32, Ok((1, v32))),
            Err(_) => prop_assert!(
                matches!(as_i32, Err(DecodeError::OutOfRange { .. })),
                "{:?}", as_i32
            ),
        }
        let as_u16 = decode_at::<u16>(&bytes);
        match u16::try_from(v) {
            Ok(v16) => prop_assert_eq!(as_u16, Ok((1, v16))),
            Err(_) => prop_assert!(
                matches!(as_u16, Err(DecodeError::OutOfRange { .. })),
                "{:?}", as_u16
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Forward compatibility
// ---------------------------------------------------------------------------------------------

#[derive(TarsStruct, Debug, Clone, PartialEq)]
struct V1 {
    #[tars(tag = 0)]
    id: i32,
    #[tars(tag = 1)]
    name: String,
    #[tars(tag = 5, optional)]
    tags: Vec<String>,
    #[tars(tag = 9)]
    tail: i64,
}

/// V1 plus new optional fields of every wire type, at tags before, between and after V1's.
#[derive(TarsStruct, Debug, Clone, PartialEq, Default)]
struct V2 {
    #[tars(tag = 0)]
    id: i32,
    #[tars(tag = 1)]
    name: String,
    #[tars(tag = 2, optional)]
    new_int: i64,
    #[tars(tag = 3, optional)]
    new_string: String,
    #[tars(tag = 4, optional)]
    new_leaves: Vec<Leaf>,
    #[tars(tag = 5, optional)]
    tags: Vec<String>,
    #[tars(tag = 6, optional)]
    new_map: BTreeMap<String, Vec<i32>>,
    #[tars(tag = 7)]
    new_struct: Option<Tree>,
    #[tars(tag = 8, optional)]
    new_blob: Vec<u8>,
    #[tars(tag = 9)]
    tail: i64,
    #[tars(tag = 10, optional)]
    new_float: f32,
    #[tars(tag = 11, optional)]
    new_double: f64,
    #[tars(tag = 12)]
    new_bool: Option<bool>,
    #[tars(tag = 14, optional)]
    new_kind_map: HashMap<i32, Kind>,
    #[tars(tag = 99, optional)]
    new_far_strings: Vec<String>,
    #[tars(tag = 255)]
    new_last: Option<Leaf>,
}

fn any_v1() -> impl Strategy<Value = V1> {
    (
        any::<i32>(),
        any_string(300),
        prop::collection::vec(short_string(), 0..4),
        edgy_i64(),
    )
        .prop_map(|(id, name, tags, tail)| V1 {
            id,
            name,
            tags,
            tail,
        })
}

fn any_v2() -> impl Strategy<Value = V2> {
    (
        any_v1(),
        (
            edgy_i64(),
            any_string(300),
            prop::collection::vec(any_leaf(), 0..3),
            prop::collection::btree_map(
                short_string(),
                prop::collection::vec(any::<i32>(), 0..4),
                0..3,
            ),
            prop::option::of(any_tree()),
            prop::collection::vec(any::<u8>(), 0..20),
        ),
        (
            prop::num::f32::NORMAL | prop::num::f32::ZERO,
            prop::num::f64::NORMAL | prop::num::f64::ZERO,
            prop::option::of(any::<bool>()),
            prop::collection::hash_map(any::<i32>(), any_kind(), 0..3),
            prop::collection::vec(short_string(), 0..3),
            prop::option::of(any_leaf()),
        ),
    )
        .prop_map(
            |(
                v1,
                (new_int, new_string, new_leaves, new_map, new_struct, new_blob),
                (new_float, new_double, new_bool, new_kind_map, new_far_strings, new_last),
            )| V2 {
                id: v1.id,
                name: v1.name,
                tags: v1.tags,
                tail: v1.tail,
                new_int,
                new_string,
                new_leaves,
                new_map,
                new_struct,
                new_blob,
                new_float,
                new_double,
                new_bool,
                new_kind_map,
                new_far_strings,
                new_last,
            },
        )
}

proptest! {
    /// A newer writer's extra fields are skipped by an older reader.
    #[test]
    fn v2_bytes_decode_as_v1(v2 in any_v2()) {
        let bytes = v2.to_bytes();
        let v1 = V1::decode_from(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(
            v1,
            V1 { id: v2.id, name: v2.name.clone(), tags: v2.tags.clone(), tail: v2.tail }
        );
        prop_assert_eq!(V2::decode_from(&bytes), Ok(v2.clone()));

        // the same, nested: in a list and in a struct field at a two-byte tag
        let mut nested = BytesMut::new();
        vec![v2.clone(), v2.clone()].write_field(3, &mut nested);
        v2.write_field(40, &mut nested);
        let mut reader = TarsReader::new(&nested);
        let head = reader.read_head().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let list = Vec::<V1>::read_field(&mut reader, head)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(list.len(), 2);
        prop_assert_eq!(&list[0], &list[1]);
        prop_assert_eq!(list[0].id, v2.id);
        let head = reader.read_head().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(head.tag, 40);
        let single = V1::read_field(&mut reader, head)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&single, &list[0]);
        prop_assert!(reader.is_at_end());
    }

    /// An older writer's bytes decode with the newer fields at their defaults.
    #[test]
    fn v1_bytes_decode_as_v2(v1 in any_v1()) {
        let v2 = V2::decode_from(&v1.to_bytes()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(
            v2,
            V2 { id: v1.id, name: v1.name.clone(), tags: v1.tags.clone(), tail: v1.tail, ..V2::default() }
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Robustness: arbitrary and mutated input never panics
// ---------------------------------------------------------------------------------------------

/// Decodes `bytes` every way the tests know; any result is fine as long as nothing panics.
/// Packets that decode must re-encode to something that decodes to the same packet.
fn decode_every_way(bytes: &[u8]) -> Result<(), TestCaseError> {
    let _ = Everything::decode_from(bytes);
    let _ = Forest::decode_from(bytes);
    let _ = V2::decode_from(bytes);
    let shared = Bytes::copy_from_slice(bytes);
    let _ = Everything::decode_bytes(&shared);
    if let Ok(request) = RequestPacket::decode_from(bytes) {
        prop_assert_eq!(RequestPacket::decode_from(&request.to_bytes()), Ok(request));
    }
    if let Ok(response) = ResponsePacket::decode_from(bytes) {
        prop_assert_eq!(
            ResponsePacket::decode_from(&response.to_bytes()),
            Ok(response)
        );
    }
    if let Ok(request) = RequestPacket::decode_bytes(&shared) {
        prop_assert_eq!(
            RequestPacket::decode_bytes(&request.to_bytes()),
            Ok(request)
        );
    }
    if let Ok((tag, strings)) = decode_at::<Vec<String>>(bytes) {
        prop_assert_eq!(
            decode_at::<Vec<String>>(&encode_at(&strings, tag)),
            Ok((tag, strings))
        );
    }
    if let Ok((tag, map)) = decode_at::<HashMap<String, Vec<i32>>>(bytes) {
        prop_assert_eq!(
            decode_at::<HashMap<String, Vec<i32>>>(&encode_at(&map, tag)),
            Ok((tag, map))
        );
    }
    let _ = decode_at::<BTreeMap<i64, Bytes>>(bytes);
    let _ = decode_at::<Tree>(bytes);

    // skip every value, as a reader of unknown fields does; each step consumes a byte or fails
    let mut reader = TarsReader::new(bytes);
    for _ in 0..=bytes.len() {
        if reader.is_at_end() {
            break;
        }
        let before = reader.position();
        let Ok(head) = reader.read_head() else { break };
        if reader.skip_value(head).is_err() {
            break;
        }
        prop_assert!(reader.position() > before);
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, bit: u8 },
    Set { at: usize, byte: u8 },
    Insert { at: usize, byte: u8 },
    Delete { at: usize },
    Truncate { at: usize },
}

fn any_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Set { at, byte }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Delete { at }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for mutation in mutations {
        let len = bytes.len();
        match *mutation {
            Mutation::Flip { at, bit } if len > 0 => bytes[at % len] ^= 1 << bit,
            Mutation::Set { at, byte } if len > 0 => bytes[at % len] = byte,
            Mutation::Insert { at, byte } => bytes.insert(at % (len + 1), byte),
            Mutation::Delete { at } if len > 0 => {
                bytes.remove(at % len);
            }
            Mutation::Truncate { at } => bytes.truncate(at % (len + 1)),
            _ => {}
        }
    }
    bytes
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        decode_every_way(&bytes)?;
    }

    /// Arbitrary bytes that start like a struct or list, to get past the first head more often.
    #[test]
    fn arbitrary_bytes_behind_a_plausible_head_never_panic(
        first in prop::sample::select(vec![0x09u8, 0x08, 0x0a, 0x0d, 0x07, 0x19, 0x1a, 0x18, 0x4a]),
        bytes in prop::collection::vec(
            prop_oneof![any::<u8>(), prop::sample::select(vec![0x00u8, 0x01, 0x02, 0x09, 0x0a, 0x0b, 0x0c, 0x06])],
            0..256,
        ),
    ) {
        let mut input = vec![first];
        input.extend_from_slice(&bytes);
        decode_every_way(&input)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn mutated_structs_never_panic(
        value in any_everything(),
        mutations in prop::collection::vec(any_mutation(), 1..6),
    ) {
        let bytes = mutate(value.to_bytes().to_vec(), &mutations);
        decode_every_way(&bytes)?;
    }

    #[test]
    fn mutated_packets_never_panic(
        request in any_request(),
        response in any_response(),
        mutations in prop::collection::vec(any_mutation(), 1..6),
    ) {
        decode_every_way(&mutate(request.to_bytes().to_vec(), &mutations))?;
        decode_every_way(&mutate(response.to_bytes().to_vec(), &mutations))?;
        // and framed
        let mut codec = FrameCodec::default();
        let mut wire = BytesMut::new();
        codec.encode(&request, &mut wire).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mutated = mutate(wire.to_vec(), &mutations);
        frame_decode_checked(FrameCodec::default(), &mutated)?;
    }
}

/// Runs `codec.decode` over `input` until it wants more bytes or fails, checking that no frame
/// is larger than the input and that frames and the rest add up to the input.
fn frame_decode_checked(mut codec: FrameCodec, input: &[u8]) -> Result<(), TestCaseError> {
    let mut buf = BytesMut::from(input);
    let mut consumed = 0;
    for _ in 0..=input.len() / LENGTH_PREFIX + 1 {
        let before = buf.len();
        match codec.decode(&mut buf) {
            Ok(Some(frame)) => {
                prop_assert!(frame.len() <= input.len());
                prop_assert!(frame.len() + LENGTH_PREFIX <= codec.max_frame_len());
                prop_assert_eq!(before - buf.len(), frame.len() + LENGTH_PREFIX);
                consumed += frame.len() + LENGTH_PREFIX;
                let _ = RequestPacket::decode_bytes(&frame);
                let _ = ResponsePacket::decode_bytes(&frame);
            }
            Ok(None) => {
                prop_assert_eq!(buf.len(), before, "Ok(None) consumed bytes");
                break;
            }
            Err(_) => break,
        }
    }
    prop_assert_eq!(consumed + buf.len(), input.len());
    Ok(())
}

proptest! {
    #[test]
    fn frame_decoder_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        max in prop_oneof![Just(DEFAULT_MAX_FRAME_LEN), 0usize..600],
    ) {
        frame_decode_checked(FrameCodec::new(max), &bytes)?;
    }

    /// Small plausible lengths, so that whole frames come out of arbitrary input.
    #[test]
    fn frame_decoder_on_small_frames(
        frames in prop::collection::vec(
            (0u32..40, prop::collection::vec(any::<u8>(), 0..40)),
            0..8,
        ),
    ) {
        let mut input = Vec::new();
        for (len, body) in &frames {
            input.extend_from_slice(&len.to_be_bytes());
            input.extend_from_slice(body);
        }
        frame_decode_checked(FrameCodec::new(64), &input)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Adversarial inputs
// ---------------------------------------------------------------------------------------------

/// Runs `f`, checking it took well under a second (nothing proportional to a lying size).
fn quickly<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_secs(1), "{what} took {elapsed:?}");
    out
}

fn assert_size_too_large<T: Debug>(what: &str, result: Result<T, DecodeError>) {
    match result {
        Err(error) => assert!(
            matches!(error.root_cause(), DecodeError::SizeTooLarge { .. }),
            "{what}: {error}"
        ),
        Ok(value) => panic!("{what} decoded: {value:?}"),
    }
}

/// Strings of every length across the writer's and reader's short-copy cases (1..=3, 4..=7,
/// 8..=15, 16..=31, 32..=64, longer) and across the one-byte/four-byte length boundary, written
/// after 0 to 3 bytes already in the buffer: the exact bytes, and the same string read back.
#[test]
fn strings_of_every_length_are_written_and_read_exactly() {
    for len in 0..=300usize {
        let text: String = (0..len)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        for already in 0..4usize {
            let mut buf = BytesMut::with_capacity(already);
            buf.extend_from_slice(&vec![0xee; already]);
            text.write_field(3, &mut buf);
            let mut expected = vec![0xee; already];
            if len <= 255 {
                expected.extend_from_slice(&[0x36, len as u8]);
            } else {
                expected.push(0x37);
                expected.extend_from_slice(&(len as u32).to_be_bytes());
            }
            expected.extend_from_slice(text.as_bytes());
            assert_eq!(
                &buf[..],
                &expected[..],
                "length {len} after {already} bytes"
            );
            let (tag, read) = decode_at::<String>(&buf[already..]).expect("decodes");
            assert_eq!((tag, read.as_str()), (3, text.as_str()), "length {len}");
        }
    }
}

#[test]
fn huge_list_size_is_rejected_without_allocating() {
    // a list at tag 0 claiming i32::MAX elements, then three bytes
    let list = [0x09, 0x02, 0x7f, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00];
    assert_size_too_large(
        "Vec<i32>",
        quickly("Vec<i32>", || decode_at::<Vec<i32>>(&list)),
    );
    assert_size_too_large(
        "Vec<String>",
        quickly("Vec<String>", || decode_at::<Vec<String>>(&list)),
    );
    assert_size_too_large(
        "Vec<Leaf>",
        quickly("Vec<Leaf>", || decode_at::<Vec<Leaf>>(&list)),
    );
    assert_size_too_large(
        "Vec<Vec<u8>>",
        quickly("Vec<Vec<u8>>", || decode_at::<Vec<Vec<u8>>>(&list)),
    );
    // the same for a generic list read as vector<byte>
    assert_size_too_large(
        "Vec<u8> from a list",
        quickly("Vec<u8>", || decode_at::<Vec<u8>>(&list)),
    );
    // a map and a simple list
    let map = [0x08, 0x02, 0x7f, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00];
    assert_size_too_large(
        "HashMap",
        quickly("HashMap", || decode_at::<HashMap<String, i32>>(&map)),
    );
    assert_size_too_large(
        "BTreeMap",
        quickly("BTreeMap", || decode_at::<BTreeMap<i32, i32>>(&map)),
    );
    let simple = [0x0d, 0x00, 0x02, 0x7f, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00];
    assert_size_too_large(
        "simple list",
        quickly("Bytes", || decode_at::<Bytes>(&simple)),
    );
    // skipped as an unknown field, and inside a struct
    for input in [&list[..], &map[..], &simple[..]] {
        let mut reader = TarsReader::new(input);
        let head = reader.read_head().expect("a head");
        assert_size_too_large("skip_value", quickly("skip", || reader.skip_value(head)));
        assert_size_too_large(
            "a packet",
            quickly("packet", || RequestPacket::decode_from(input)),
        );
    }
    let mut in_struct = vec![0xb9]; // Everything.strs, tag 11, a list
    in_struct.extend_from_slice(&list[1..]);
    let error = Everything::decode_from(&in_struct).expect_err("a lying list size");
    assert!(
        matches!(error.root_cause(), DecodeError::SizeTooLarge { size, .. } if *size == i32::MAX as u64),
        "{error}"
    );
    assert!(
        error.to_string().contains("Everything.strs (tag 11)"),
        "{error}"
    );
}

#[test]
fn negative_list_size_is_rejected() {
    let list = [0x09, 0x00, 0xff];
    assert_eq!(
        decode_at::<Vec<i32>>(&list),
        Err(DecodeError::NegativeSize(-1))
    );
}

#[test]
fn huge_string_is_rejected() {
    // string4 at tag 0 claiming 4 GiB - 1, then a few bytes
    let input = [0x07, 0xff, 0xff, 0xff, 0xff, b'a', b'b', b'c'];
    let result = quickly("String", || decode_at::<String>(&input));
    assert!(
        matches!(result, Err(DecodeError::UnexpectedEof { needed, remaining: 3 }) if needed == u32::MAX as usize),
        "{result:?}"
    );
    let mut reader = TarsReader::new(&input);
    let head = reader.read_head().expect("a head");
    assert!(reader.skip_value(head).is_err());
    // the same inside a packet (servant name at tag 5)
    let mut packet = vec![0x10, 0x01, 0x2c, 0x3c, 0x40, 0x01, 0x57];
    packet.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, b'x']);
    let error = RequestPacket::decode_from(&packet).expect_err("a lying string length");
    assert!(
        matches!(error.root_cause(), DecodeError::UnexpectedEof { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("servant_name"), "{error}");
}

/// A recursive struct, to nest as deep as the input says.
#[derive(TarsStruct, Debug, PartialEq)]
struct Node {
    #[tars(tag = 0)]
    child: Option<Box<Node>>,
}

/// A recursive list type, with a hand-written `TarsType`.
#[derive(Debug, PartialEq)]
struct Nest(Vec<Nest>);

impl TarsType for Nest {}

impl TarsEncode for Nest {
    fn write_field(&self, tag: u8, buf: &mut BytesMut) {
        self.0.write_field(tag, buf);
    }
}

impl<'de> TarsDecode<'de> for Nest {
    fn read_field(reader: &mut TarsReader<'de>, head: Head) -> Result<Self, DecodeError> {
        Vec::<Nest>::read_field(reader, head).map(Nest)
    }
}

fn assert_too_deep<T: Debug>(what: &str, result: Result<T, DecodeError>) {
    match result {
        Err(error) => assert_eq!(error.root_cause(), &DecodeError::TooDeep, "{what}: {error}"),
        Ok(value) => panic!("{what} decoded: {value:?}"),
    }
}

#[test]
fn deeply_nested_structs_are_too_deep() {
    for depth in [200, 100_000] {
        let input = vec![0x0a; depth];
        assert_too_deep("Node", Node::decode_from(&input));
        // as an unknown field of a struct (InnerCount has only tag 3)
        assert_too_deep("InnerCount", InnerCount::decode_from(&input));
        assert_too_deep("Node field", decode_at::<Node>(&input));
        // as an unknown field, skipped (RequestPacket has no tag 0)
        assert_too_deep("RequestPacket", RequestPacket::decode_from(&input));
        assert_too_deep("ResponsePacket", ResponsePacket::decode_from(&input));
        let mut reader = TarsReader::new(&input);
        let head = reader.read_head().expect("a head");
        assert_too_deep("skip_value", reader.skip_value(head));
    }
    // well-formed nesting within the limit decodes
    let depth = usize::from(tars_rpc::codec::MAX_DEPTH) - 2;
    let mut node = Node { child: None };
    for _ in 0..depth {
        node = Node {
            child: Some(Box::new(node)),
        };
    }
    let bytes = node.to_bytes();
    assert_eq!(bytes.len(), depth * 2);
    assert_eq!(Node::decode_from(&bytes), Ok(node));

    // deeper data needs a reader with a higher limit
    let mut deep = Node { child: None };
    for _ in 0..60 {
        deep = Node {
            child: Some(Box::new(deep)),
        };
    }
    let bytes = deep.to_bytes();
    assert_too_deep("Node at the default limit", Node::decode_from(&bytes));
    let mut reader = TarsReader::new(&bytes).with_max_depth(64);
    assert_eq!(Node::read_fields(&mut reader), Ok(deep));
}

#[test]
fn deeply_nested_lists_are_too_deep() {
    for depth in [200, 100_000] {
        let input: Vec<u8> = [0x09, 0x00, 0x01].repeat(depth);
        assert_too_deep("Nest", decode_at::<Nest>(&input));
        assert_too_deep("Vec<Nest>", decode_at::<Vec<Nest>>(&input));
        let mut reader = TarsReader::new(&input);
        let head = reader.read_head().expect("a head");
        assert_too_deep("skip_value", reader.skip_value(head));
        assert_too_deep("RequestPacket", RequestPacket::decode_from(&input));
    }
    // and maps nested in maps, as an unknown field: `08 00 01` (map of one entry), key at 0
    let input: Vec<u8> = [0x08, 0x00, 0x01].repeat(200);
    let mut reader = TarsReader::new(&input);
    let head = reader.read_head().expect("a head");
    assert_too_deep("nested maps", reader.skip_value(head));
    // a nesting within the limit decodes
    let mut nest = Nest(vec![]);
    for _ in 0..usize::from(tars_rpc::codec::MAX_DEPTH) - 2 {
        nest = Nest(vec![nest]);
    }
    let bytes = encode_at(&nest, 0);
    assert_eq!(decode_at::<Nest>(&bytes), Ok((0, nest)));
}

#[test]
fn frame_longer_than_the_maximum_is_rejected_from_its_header() {
    let mut codec = FrameCodec::default();
    let mut src = BytesMut::from(&[0x7f, 0xff, 0xff, 0xff][..]);
    match codec.decode(&mut src) {
        Err(FrameError::TooLong { len, max }) => {
            assert_eq!(len, 0x7fff_ffff);
            assert_eq!(max, DEFAULT_MAX_FRAME_LEN);
        }
        other => panic!("expected TooLong, got {other:?}"),
    }
    // a small custom maximum: exactly the maximum passes, one more fails
    let mut codec = FrameCodec::new(16);
    let mut src = BytesMut::from(&[0, 0, 0, 16][..]);
    assert!(matches!(codec.decode(&mut src), Ok(None)));
    let mut src = BytesMut::from(&[0, 0, 0, 17][..]);
    assert!(matches!(
        codec.decode(&mut src),
        Err(FrameError::TooLong { len: 17, max: 16 })
    ));
}

#[test]
fn encoding_a_frame_over_the_maximum_fails_and_leaves_the_buffer() {
    let request = RequestPacket {
        servant_name: "x".repeat(100),
        ..RequestPacket::default()
    };
    let body_len = request.to_bytes().len();
    let mut codec = FrameCodec::new(LENGTH_PREFIX + body_len - 1);
    let mut dst = BytesMut::from(&b"earlier"[..]);
    assert!(matches!(
        codec.encode(&request, &mut dst),
        Err(FrameError::TooLong { len, .. }) if len == LENGTH_PREFIX + body_len
    ));
    assert_eq!(&dst[..], b"earlier");
    assert!(matches!(
        codec.encode(request.to_bytes(), &mut dst),
        Err(FrameError::TooLong { .. })
    ));
    assert_eq!(&dst[..], b"earlier");
    // exactly the maximum is fine
    let mut codec = FrameCodec::new(LENGTH_PREFIX + body_len);
    codec.encode(&request, &mut dst).expect("fits");
    assert_eq!(dst.len(), b"earlier".len() + LENGTH_PREFIX + body_len);
}

#[test]
fn frame_shorter_than_its_length_field_is_rejected() {
    let mut codec = FrameCodec::default();
    for len in 0u8..4 {
        let mut src = BytesMut::from(&[0, 0, 0, len, 1, 2, 3][..]);
        assert!(
            matches!(codec.decode(&mut src), Err(FrameError::TooShort(l)) if l == u32::from(len)),
            "length {len}"
        );
    }
    // exactly 4: an empty body
    let mut src = BytesMut::from(&[0, 0, 0, 4][..]);
    assert_eq!(codec.decode(&mut src).expect("a frame"), Some(Bytes::new()));
    assert!(src.is_empty());
}

#[test]
fn partial_frame_does_not_reserve_its_declared_length() {
    let mut codec = FrameCodec::default();
    let mut src = BytesMut::with_capacity(16);
    src.extend_from_slice(&(1u32 << 20).to_be_bytes());
    src.extend_from_slice(&[0xab; 6]);
    assert_eq!(src.len(), 10);
    assert!(matches!(codec.decode(&mut src), Ok(None)));
    assert_eq!(src.len(), 10, "nothing consumed");
    assert!(src.capacity() < 64 * 1024, "capacity {}", src.capacity());
    // feeding more, still short of the frame, reserves nothing either
    src.extend_from_slice(&[0xcd; 100]);
    assert!(matches!(codec.decode(&mut src), Ok(None)));
    assert!(src.capacity() < 64 * 1024, "capacity {}", src.capacity());
}

// ---------------------------------------------------------------------------------------------
// Error messages
// ---------------------------------------------------------------------------------------------

#[test]
fn missing_required_field_names_struct_field_and_tag() {
    // V1 with id and tail but no name (tag 1)
    let mut bytes = BytesMut::new();
    5i32.write_field(0, &mut bytes);
    9i64.write_field(9, &mut bytes);
    let error = V1::decode_from(&bytes).expect_err("name is required");
    assert_eq!(
        error,
        DecodeError::MissingField {
            ty: "V1",
            field: "name",
            tag: 1
        }
    );
    let message = error.to_string();
    assert!(message.contains("V1"), "{message}");
    assert!(message.contains("name"), "{message}");
    assert!(message.contains("tag 1"), "{message}");

    // missing in a nested struct: the outer field is named too
    let bytes = [0x2a, 0x0b]; // Forest.main (tag 2): an empty struct
    let error = Forest::decode_from(&bytes).expect_err("Tree.leaves is required");
    let message = error.to_string();
    assert!(message.contains("Forest.main (tag 2)"), "{message}");
    assert!(message.contains("Tree.leaves"), "{message}");
    assert!(message.contains("tag 0"), "{message}");
    assert!(
        matches!(
            error.root_cause(),
            DecodeError::MissingField {
                ty: "Tree",
                field: "leaves",
                tag: 0
            }
        ),
        "{error:?}"
    );
}

#[derive(TarsStruct, Debug, PartialEq)]
struct Outer {
    #[tars(tag = 0)]
    id: i32,
    #[tars(tag = 2)]
    inner: InnerCount,
}

#[derive(TarsStruct, Debug, PartialEq)]
struct InnerCount {
    #[tars(tag = 3)]
    count: i32,
}

#[test]
fn type_mismatch_in_a_nested_struct_names_both_fields() {
    // Outer { id: 1, inner: { count: "x" } }: a string where an int is expected
    let bytes = [0x00, 0x01, 0x2a, 0x36, 0x01, b'x', 0x0b];
    let error = Outer::decode_from(&bytes).expect_err("type mismatch");
    assert_eq!(
        error.to_string(),
        "Outer.inner (tag 2): InnerCount.count (tag 3): type mismatch: expected int, found string1"
    );
    assert_eq!(
        error.root_cause(),
        &DecodeError::TypeMismatch {
            expected: "int",
            found: WireType::String1
        }
    );
    // and inside a list element
    let mut bytes = BytesMut::new();
    vec![Leaf {
        id: 1,
        name: String::new(),
        kind: Kind::Fancy,
        blob: vec![],
    }]
    .write_field(0, &mut bytes);
    // corrupt the enum value (tag 2 of the element, written as `20 03`) to an unknown one
    let at = bytes
        .windows(2)
        .position(|w| w == [0x20, 0x03])
        .expect("the enum field");
    bytes[at + 1] = 0x02;
    // Tree.leaves is at tag 0
    let error = Tree::decode_from(&bytes).expect_err("unknown enum value");
    let message = error.to_string();
    assert!(message.contains("Tree.leaves (tag 0)"), "{message}");
    assert!(message.contains("Leaf.kind (tag 2)"), "{message}");
    assert_eq!(
        error.root_cause(),
        &DecodeError::UnknownEnumValue {
            ty: "Kind",
            value: 2
        }
    );
}
