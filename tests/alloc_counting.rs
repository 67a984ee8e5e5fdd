//! What the codec allocates, counted exactly by a counting global allocator.
//!
//! - Decoding allocates once per non-empty owned buffer it returns (each `String`, each `Vec`,
//!   each `HashMap`) and nothing else; `decode_bytes` hands out `Bytes` fields that share the
//!   input, so they cost nothing.
//! - A borrowed view (a struct with a lifetime) allocates only its containers: its strings and
//!   byte lists point into the input.
//! - Encoding into a reused `BytesMut` allocates nothing once the buffer has grown, and neither
//!   does framing a packet with `FrameCodec`.
//!
//! The counter is thread-local: the test harness runs each test on its own thread, so the
//! tests cannot see each other's allocations.

use std::collections::{BTreeMap, HashMap};

use bytes::{Bytes, BytesMut};
use tars_rpc::framing::FrameCodec;
use tars_rpc::packet::{RequestPacket, RequestPacketRef, ResponsePacket, ReturnCode};
use tars_rpc::{TarsStruct, TarsStructRef};
use tokio_util::codec::{Decoder, Encoder};

#[path = "common/thread_allocations.rs"]
mod thread_allocations;

use thread_allocations::{allocations, CountingAllocator};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Runs `f` and returns its result with the number of allocations it made on this thread.
/// The result is dropped by the caller, outside the count.
fn counting<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = allocations();
    let out = f();
    let after = allocations();
    (out, (after - before) as usize)
}

#[derive(TarsStruct, Debug, Clone, PartialEq)]
struct Item {
    #[tars(tag = 0)]
    id: i32,
    #[tars(tag = 1)]
    name: String,
}

#[derive(TarsStruct, Debug, Clone, PartialEq)]
struct Record {
    #[tars(tag = 0)]
    id: i64,
    #[tars(tag = 1)]
    small: i8,
    #[tars(tag = 2)]
    ratio: f64,
    #[tars(tag = 3)]
    flag: bool,
    #[tars(tag = 4)]
    name: String,
    #[tars(tag = 5)]
    description: String,
    #[tars(tag = 6, optional)]
    empty_text: String,
    #[tars(tag = 7)]
    numbers: Vec<i32>,
    #[tars(tag = 8)]
    words: Vec<String>,
    #[tars(tag = 9)]
    scores: HashMap<i32, i32>,
    #[tars(tag = 10)]
    blob: Vec<u8>,
    #[tars(tag = 11)]
    item: Item,
    #[tars(tag = 12)]
    items: Vec<Item>,
    #[tars(tag = 13)]
    note: Option<String>,
    #[tars(tag = 14)]
    missing_note: Option<String>,
    #[tars(tag = 15, optional)]
    empty_list: Vec<i64>,
    #[tars(tag = 16)]
    empty_map: HashMap<String, i64>,
}

fn record() -> Record {
    Record {
        id: 9_007_199_254_740_993,
        small: -3,
        ratio: 0.25,
        flag: true,
        name: "alice".into(),
        description: "a description somewhat longer than the name".into(),
        empty_text: String::new(),
        numbers: (0..50).map(|i| i * 1_000).collect(),
        words: ["alpha", "beta", "gamma", "delta"].map(String::from).into(),
        scores: (0..20).map(|i| (i, i * i)).collect(),
        blob: (0..=255).collect(),
        item: Item {
            id: 1,
            name: "first".into(),
        },
        items: (2..7)
            .map(|id| Item {
                id,
                name: format!("item {id}"),
            })
            .collect(),
        note: Some("note".into()),
        missing_note: None,
        empty_list: Vec::new(),
        empty_map: HashMap::new(),
    }
}

/// One allocation for a non-empty `String`, `Vec` or `HashMap` (its one table), none for an
/// empty one: decoding allocates exactly with the size it read, so nothing is reallocated.
fn buffer(non_empty: bool) -> usize {
    usize::from(non_empty)
}

fn item_allocations(item: &Item) -> usize {
    buffer(!item.name.is_empty())
}

/// The allocations decoding `record` takes, computed from the value.
fn record_allocations(record: &Record) -> usize {
    buffer(!record.name.is_empty())
        + buffer(!record.description.is_empty())
        + buffer(!record.empty_text.is_empty())
        + buffer(!record.numbers.is_empty())
        // the Vec, then each String in it
        + buffer(!record.words.is_empty())
        + record.words.iter().map(|w| buffer(!w.is_empty())).sum::<usize>()
        // ints in a HashMap live in its one table
        + buffer(!record.scores.is_empty())
        + buffer(!record.blob.is_empty())
        + item_allocations(&record.item)
        + buffer(!record.items.is_empty())
        + record.items.iter().map(item_allocations).sum::<usize>()
        + record.note.as_ref().map_or(0, |n| buffer(!n.is_empty()))
        + record.missing_note.as_ref().map_or(0, |n| buffer(!n.is_empty()))
        + buffer(!record.empty_list.is_empty())
        + buffer(!record.empty_map.is_empty())
}

#[test]
fn decoding_allocates_once_per_owned_buffer() {
    let value = record();
    let wire = value.to_bytes();

    let expected = record_allocations(&value);
    // name, description, numbers, words + 4 strings, scores, blob, item.name,
    // items + 5 names, note: the empty string, list and map and the `None` cost nothing
    assert_eq!(expected, 18);

    let (decoded, allocations) = counting(|| Record::decode_from(&wire).unwrap());
    assert_eq!(decoded, value);
    assert_eq!(allocations, expected);

    // the zero-copy entry point makes no difference for a struct without `Bytes` fields
    let (decoded, allocations) = counting(|| Record::decode_bytes(&wire).unwrap());
    assert_eq!(decoded, value);
    assert_eq!(allocations, expected);
}

#[derive(TarsStruct, Debug, PartialEq)]
struct ItemRef<'a> {
    #[tars(tag = 0)]
    id: i32,
    #[tars(tag = 1)]
    name: &'a str,
}

/// [`Record`] as a borrowed view: its strings and blob read in place.
#[derive(TarsStruct, Debug)]
struct RecordRef<'a> {
    #[tars(tag = 4)]
    name: &'a str,
    #[tars(tag = 5)]
    description: &'a str,
    #[tars(tag = 6, optional)]
    empty_text: &'a str,
    #[tars(tag = 7)]
    numbers: Vec<i32>,
    #[tars(tag = 8)]
    words: Vec<&'a str>,
    #[tars(tag = 9)]
    scores: HashMap<i32, i32>,
    #[tars(tag = 10)]
    blob: &'a [u8],
    #[tars(tag = 11)]
    item: ItemRef<'a>,
    #[tars(tag = 12)]
    items: Vec<ItemRef<'a>>,
    #[tars(tag = 13)]
    note: Option<&'a str>,
    #[tars(tag = 16)]
    empty_map: HashMap<&'a str, i64>,
}

#[test]
fn a_borrowed_view_allocates_only_its_containers() {
    let value = record();
    let wire = value.to_bytes();
    // numbers, words, scores, items: the strings, the blob and the nested item cost nothing
    let (view, allocations) = counting(|| RecordRef::decode_from(&wire).unwrap());
    assert_eq!(allocations, 4);
    assert_eq!(
        (view.name, view.description, view.empty_text),
        ("alice", &*value.description, "")
    );
    assert_eq!(view.words, ["alpha", "beta", "gamma", "delta"]);
    assert_eq!(
        (view.blob, view.item.name, view.note),
        (&value.blob[..], "first", Some("note"))
    );
    assert_eq!(
        view.items.iter().map(|item| item.id).collect::<Vec<_>>(),
        [2, 3, 4, 5, 6]
    );
    assert_eq!(view.items[4].name, "item 6");
    assert_eq!(
        (view.numbers.len(), view.scores.len(), view.empty_map.len()),
        (50, 20, 0)
    );

    // a request's names and body in place; its two-entry context is one tree node
    let request = RequestPacket {
        servant_name: "Test.HelloServer.HelloObj".into(),
        func_name: "testHello".into(),
        buffer: Bytes::from(vec![7; 100]),
        context: [("trace", "4bf92f3577b34da6"), ("caller", "gateway")]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into(),
        ..RequestPacket::default()
    };
    let wire = request.to_bytes();
    let (view, allocations) = counting(|| RequestPacketRef::decode_from(&wire).unwrap());
    assert_eq!(allocations, 1);
    assert_eq!(
        (view.func_name, view.buffer.len(), view.context["caller"]),
        ("testHello", 100, "gateway")
    );
}

#[derive(TarsStruct, Debug, Clone, PartialEq)]
struct Blob {
    #[tars(tag = 0)]
    id: i32,
    #[tars(tag = 1)]
    payload: Bytes,
    #[tars(tag = 2)]
    label: String,
}

/// Whether `inner` lies inside `outer`'s memory.
fn points_into(inner: &[u8], outer: &[u8]) -> bool {
    let outer = outer.as_ptr_range();
    let inner = inner.as_ptr_range();
    outer.start <= inner.start && inner.end <= outer.end
}

#[test]
fn decode_bytes_shares_bytes_fields() {
    let value = Blob {
        id: 7,
        payload: Bytes::from(vec![0xab; 1000]),
        label: "label".into(),
    };
    let wire = value.to_bytes();
    // `to_bytes` freezes a `Vec`-backed buffer. When that buffer is exactly full, the bytes
    // crate allocates its shared header on the first clone rather than at freezing (once per
    // buffer); clone once so that the counts below cover decoding alone. Frames read by
    // `FrameCodec` are shared already (see `response_frames_decode_without_allocating`).
    drop(wire.clone());

    // only the label is allocated; the payload points into `wire`
    let (decoded, allocations) = counting(|| Blob::decode_bytes(&wire).unwrap());
    assert_eq!(decoded, value);
    assert_eq!(allocations, 1);
    assert!(points_into(&decoded.payload, &wire));

    // decoding from a slice has to copy the payload: one more allocation
    let (decoded, allocations) = counting(|| Blob::decode_from(&wire).unwrap());
    assert_eq!(decoded, value);
    assert_eq!(allocations, 2);
    assert!(!points_into(&decoded.payload, &wire));
}

#[test]
fn encoding_into_a_reused_buffer_allocates_nothing() {
    let value = record();
    let mut buf = BytesMut::new();
    value.write_fields(&mut buf); // grows the buffer
    let expected = buf.clone();

    let ((), allocations) = counting(|| {
        for _ in 0..100 {
            buf.clear();
            value.write_fields(&mut buf);
        }
    });
    assert_eq!(allocations, 0);
    assert_eq!(buf, expected);
}

fn request() -> RequestPacket {
    RequestPacket {
        request_id: 42,
        servant_name: "Test.HelloServer.HelloObj".into(),
        func_name: "sayHello".into(),
        buffer: record().to_bytes(),
        timeout: 3000,
        context: BTreeMap::from([("trace".to_string(), "abc".to_string())]),
        ..RequestPacket::default()
    }
}

#[test]
fn framing_a_request_into_a_reused_buffer_allocates_nothing() {
    let request = request();
    let mut codec = FrameCodec::default();
    let mut wire = BytesMut::new();
    codec.encode(&request, &mut wire).unwrap(); // grows the buffer
    let expected = wire.clone();

    let ((), allocations) = counting(|| {
        for _ in 0..100 {
            wire.clear();
            codec.encode(&request, &mut wire).unwrap();
        }
    });
    assert_eq!(allocations, 0);
    assert_eq!(wire, expected);
}

#[test]
fn response_frames_decode_without_allocating() {
    let response = ResponsePacket {
        request_id: 42,
        ret: ReturnCode::SUCCESS,
        buffer: record().to_bytes(),
        ..ResponsePacket::default()
    };
    // empty status and context maps, empty result_desc: nothing to allocate but the sBuffer,
    // which `decode_bytes` shares with the frame
    assert!(response.status.is_empty() && response.context.is_empty());
    assert!(response.result_desc.is_empty());

    let mut codec = FrameCodec::default();
    let mut wire = BytesMut::new();
    for _ in 0..4 {
        codec.encode(&response, &mut wire).unwrap();
    }

    // the first frame split off the read buffer moves it to a shared allocation (inside the
    // bytes crate, once per buffer); every later frame shares it
    let first = codec.decode(&mut wire).unwrap().unwrap();
    assert_eq!(ResponsePacket::decode_bytes(&first).unwrap(), response);

    for _ in 0..3 {
        let ((frame, decoded), allocations) = counting(|| {
            let frame = codec.decode(&mut wire).unwrap().unwrap();
            let decoded = ResponsePacket::decode_bytes(&frame).unwrap();
            (frame, decoded)
        });
        assert_eq!(allocations, 0);
        assert_eq!(decoded, response);
        assert!(points_into(&decoded.buffer, &frame));
    }
    assert!(wire.is_empty());

    // decoding from a slice copies the sBuffer: exactly one allocation
    let frame = first;
    let (decoded, allocations) = counting(|| ResponsePacket::decode_from(&frame).unwrap());
    assert_eq!(allocations, 1);
    assert_eq!(decoded, response);
}
