//! TARS codec against bincode 2 (through serde, `config::standard()`) on the same Rust values.
//!
//! Run with `cargo bench --bench codec`; `BENCHMARKS.md` records the results.
//!
//! One realistic value, an order record (ints small and large, short and ~100-byte strings,
//! ten nested lines, an eight-entry string map, a 256-byte blob), derives both `TarsStruct`
//! and serde's traits, so both codecs see identical data. Each comparison is one criterion
//! group, so TARS and bincode run in the same process back to back.
//!
//! Fairness notes:
//! - TARS writes into a reused, cleared `BytesMut` through `write_fields`; bincode writes into
//!   a reused slice (`encode_into_slice`, its fastest writer) and, for reference, into a reused
//!   `Vec` (`encode_into_std_write`).
//! - The blob is a `Vec<u8>` on both sides. Without `serde_bytes` serde treats it as a sequence
//!   of `u8`; bincode writes the same bytes as it would for `serialize_bytes` (a varint length,
//!   then one byte per element) but reads and writes them one element at a time. TARS copies
//!   the blob with one `memcpy` each way. The `bincode_serde_bytes` benchmarks take that
//!   handicap away: their blob is a [`Blob`], which goes through serde as bytes (what
//!   `serde_bytes` does, in a few lines here); the wire bytes are the same.
//! - `decode/tars_bytes` decodes the same wire bytes into `Order<Bytes>`, whose blob shares the
//!   input buffer instead of being copied.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tars_rpc::codec::{Head, TarsDecode, TarsEncode, TarsReader, TarsType};
use tars_rpc::packet::{MessageType, PacketType, RequestPacket, RequestPacketRef, Version};
use tars_rpc::{DecodeError, TarsStruct, TarsStructRef};

/// A byte blob that serde sees as bytes rather than as a sequence of `u8`, as `serde_bytes`
/// would make it; TARS sees a `vector<byte>`, like `Vec<u8>`.
#[derive(Debug, Clone, PartialEq)]
struct Blob(Vec<u8>);

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BlobVisitor;
        impl serde::de::Visitor<'_> for BlobVisitor {
            type Value = Blob;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<Blob, E> {
                Ok(Blob(bytes.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, bytes: Vec<u8>) -> Result<Blob, E> {
                Ok(Blob(bytes))
            }
        }
        deserializer.deserialize_byte_buf(BlobVisitor)
    }
}

impl TarsType for Blob {}

impl TarsEncode for Blob {
    fn write_field(&self, tag: u8, buf: &mut BytesMut) {
        self.0.write_field(tag, buf);
    }
}

impl<'de> TarsDecode<'de> for Blob {
    fn read_field(reader: &mut TarsReader<'de>, head: Head) -> Result<Self, DecodeError> {
        Vec::<u8>::read_field(reader, head).map(Blob)
    }
}

/// One line of an order.
#[derive(TarsStruct, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct OrderLine {
    #[tars(tag = 0)]
    sku_id: i64,
    #[tars(tag = 1)]
    quantity: i32,
    #[tars(tag = 2)]
    unit_price_cents: i64,
    #[tars(tag = 3)]
    title: String,
}

/// An order record. `B` is the blob's type: `Vec<u8>` for both codecs, [`Blob`] for bincode
/// with the blob as serde bytes, `Bytes` for TARS' zero-copy decoding (the same wire bytes
/// each time; serde is not implemented for `Order<Bytes>`).
#[derive(TarsStruct, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Order<B> {
    #[tars(tag = 0)]
    order_id: i64,
    #[tars(tag = 1)]
    user_id: i64,
    #[tars(tag = 2)]
    status: i32,
    #[tars(tag = 3)]
    created_at_ms: i64,
    #[tars(tag = 4)]
    total_cents: i64,
    #[tars(tag = 5)]
    paid: bool,
    #[tars(tag = 6)]
    currency: String,
    #[tars(tag = 7)]
    buyer_name: String,
    #[tars(tag = 8)]
    shipping_address: String,
    #[tars(tag = 9)]
    lines: Vec<OrderLine>,
    #[tars(tag = 10)]
    attributes: BTreeMap<String, String>,
    #[tars(tag = 11)]
    signature: B,
    #[tars(tag = 12)]
    coupon: Option<String>,
}

/// [`OrderLine`] as a borrowed view (`TarsStructRef`): its title is read in place.
#[derive(TarsStruct)]
#[allow(dead_code)] // decoded to be measured, never read
struct OrderLineRef<'a> {
    #[tars(tag = 0)]
    sku_id: i64,
    #[tars(tag = 1)]
    quantity: i32,
    #[tars(tag = 2)]
    unit_price_cents: i64,
    #[tars(tag = 3)]
    title: &'a str,
}

/// [`Order`] as a borrowed view: its strings and blob point into the input, as bincode's
/// `borrow_decode_from_slice` reads `&str` and `&[u8]`; it allocates only its containers (the
/// lines, the map's entries and its node).
#[derive(TarsStruct)]
#[allow(dead_code)] // decoded to be measured, never read
struct OrderRef<'a> {
    #[tars(tag = 0)]
    order_id: i64,
    #[tars(tag = 1)]
    user_id: i64,
    #[tars(tag = 2)]
    status: i32,
    #[tars(tag = 3)]
    created_at_ms: i64,
    #[tars(tag = 4)]
    total_cents: i64,
    #[tars(tag = 5)]
    paid: bool,
    #[tars(tag = 6)]
    currency: &'a str,
    #[tars(tag = 7)]
    buyer_name: &'a str,
    #[tars(tag = 8)]
    shipping_address: &'a str,
    #[tars(tag = 9)]
    lines: Vec<OrderLineRef<'a>>,
    #[tars(tag = 10)]
    attributes: BTreeMap<&'a str, &'a str>,
    #[tars(tag = 11)]
    signature: &'a [u8],
    #[tars(tag = 12)]
    coupon: Option<&'a str>,
}

/// The bincode counterpart of [`RequestPacket`]: the same fields, with the bincode-encoded
/// order as its buffer (`B` as in [`Order`]).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct SerdeRequestPacket<B> {
    version: i16,
    packet_type: i8,
    message_type: i32,
    request_id: i32,
    servant_name: String,
    func_name: String,
    buffer: B,
    timeout: i32,
    context: BTreeMap<String, String>,
    status: BTreeMap<String, String>,
}

/// The same packet decoded with borrowed strings and buffer, bincode's zero-copy path
/// (`borrow_decode_from_slice`), the closest match to TARS' `decode_bytes`.
#[derive(Deserialize)]
#[allow(dead_code)] // decoded to be measured, never read
struct SerdeRequestPacketRef<'a> {
    version: i16,
    packet_type: i8,
    message_type: i32,
    request_id: i32,
    servant_name: &'a str,
    func_name: &'a str,
    buffer: &'a [u8],
    timeout: i32,
    context: BTreeMap<&'a str, &'a str>,
    status: BTreeMap<&'a str, &'a str>,
}

fn sample_order() -> Order<Vec<u8>> {
    let lines = (0..10)
        .map(|i| OrderLine {
            sku_id: 880_000_000_000 + i * 7919,
            quantity: (i as i32 % 4) + 1,
            unit_price_cents: 1_999 + i * 250,
            title: format!("Stainless steel water bottle, 750 ml, model {i:02}"),
        })
        .collect();
    let attributes = [
        ("channel", "mobile-app"),
        ("device", "android-14"),
        ("locale", "zh-CN"),
        ("promo", "SPRING2024"),
        ("referrer", "https://example.com/landing/spring"),
        ("risk_score", "0.0312"),
        ("warehouse", "SZX-03"),
        ("ab_bucket", "checkout-v2-b"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Order {
        order_id: 9_007_199_254_740_993,
        user_id: 48_213_337,
        status: 3,
        created_at_ms: 1_718_035_200_123,
        total_cents: 45_280,
        paid: true,
        currency: "CNY".to_string(),
        buyer_name: "Li Wei".to_string(),
        shipping_address:
            "Room 1203, Building 7, 88 Keyuan Road, Nanshan District, Shenzhen, Guangdong 518057, China"
                .to_string(),
        lines,
        attributes,
        signature: (0..=255u8).map(|b| b.wrapping_mul(31) ^ 0x5a).collect(),
        coupon: Some("WELCOME10".to_string()),
    }
}

fn bincode_config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Encodes with bincode into a new `Vec` (setup only; the benchmarks reuse their buffers).
fn bincode_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    bincode::serde::encode_to_vec(value, bincode_config()).expect("bincode encodes")
}

fn tars_request(buffer: Bytes) -> RequestPacket {
    RequestPacket {
        version: Version::TARS,
        packet_type: PacketType::NORMAL,
        message_type: MessageType::NULL,
        request_id: 12_345,
        servant_name: "Shop.OrderServer.OrderObj".to_string(),
        func_name: "submitOrder".to_string(),
        buffer,
        timeout: 3_000,
        context: [
            ("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"),
            ("caller", "gateway"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        status: BTreeMap::new(),
    }
}

fn serde_request<B>(request: &RequestPacket, buffer: B) -> SerdeRequestPacket<B> {
    SerdeRequestPacket {
        version: request.version.0,
        packet_type: request.packet_type.0,
        message_type: request.message_type.0,
        request_id: request.request_id,
        servant_name: request.servant_name.clone(),
        func_name: request.func_name.clone(),
        buffer,
        timeout: request.timeout,
        context: request.context.clone(),
        status: request.status.clone(),
    }
}

/// The same order with its blob as another type.
fn with_blob<B>(order: &Order<Vec<u8>>, blob: impl FnOnce(Vec<u8>) -> B) -> Order<B> {
    Order {
        order_id: order.order_id,
        user_id: order.user_id,
        status: order.status,
        created_at_ms: order.created_at_ms,
        total_cents: order.total_cents,
        paid: order.paid,
        currency: order.currency.clone(),
        buyer_name: order.buyer_name.clone(),
        shipping_address: order.shipping_address.clone(),
        lines: order.lines.clone(),
        attributes: order.attributes.clone(),
        signature: blob(order.signature.clone()),
        coupon: order.coupon.clone(),
    }
}

fn bincode_decode<T: serde::de::DeserializeOwned>(wire: &[u8]) -> T {
    let (value, read) = bincode::serde::decode_from_slice(wire, bincode_config()).unwrap();
    assert_eq!(read, wire.len());
    value
}

fn codec(c: &mut Criterion) {
    let order = sample_order();
    let blob_order = with_blob(&order, Blob);
    let tars_wire = order.to_bytes();
    let bincode_wire = bincode_bytes(&order);

    // check the setup once: every variant round-trips the value, and the blob's two serde
    // forms give the same bincode bytes (as the Vec and Bytes forms give the same TARS bytes)
    assert_eq!(Order::<Vec<u8>>::decode_from(&tars_wire).unwrap(), order);
    assert_eq!(bincode_decode::<Order<Vec<u8>>>(&bincode_wire), order);
    assert_eq!(bincode_bytes(&blob_order), bincode_wire);
    assert_eq!(bincode_decode::<Order<Blob>>(&bincode_wire), blob_order);
    assert_eq!(
        Order::<Bytes>::decode_bytes(&tars_wire).unwrap().signature,
        order.signature
    );
    let borrowed = OrderRef::decode_from(&tars_wire).unwrap();
    assert_eq!(
        (
            borrowed.shipping_address,
            borrowed.signature,
            borrowed.coupon
        ),
        (
            order.shipping_address.as_str(),
            &order.signature[..],
            order.coupon.as_deref()
        )
    );
    assert!(borrowed
        .lines
        .iter()
        .map(|line| line.title)
        .eq(order.lines.iter().map(|line| line.title.as_str())));
    assert!(borrowed.attributes.into_iter().eq(order
        .attributes
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))));
    println!(
        "wire size of the order: tars {} bytes, bincode {} bytes",
        tars_wire.len(),
        bincode_wire.len()
    );
    // as `../shared/peers/tarscpp/codecbench` prints them, for a diff: the same bytes
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    println!("order_hex={}", hex(&tars_wire));
    println!(
        "request_hex={}",
        hex(&tars_request(tars_wire.clone()).to_bytes())
    );

    let mut group = c.benchmark_group("encode");
    let mut buf = BytesMut::with_capacity(4096);
    group.bench_function("tars", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&order).write_fields(&mut buf);
            black_box(buf.len())
        })
    });
    let mut slice = vec![0u8; 4096];
    group.bench_function("bincode", |b| {
        b.iter(|| {
            bincode::serde::encode_into_slice(black_box(&order), &mut slice, bincode_config())
                .unwrap()
        })
    });
    group.bench_function("bincode_serde_bytes", |b| {
        b.iter(|| {
            bincode::serde::encode_into_slice(black_box(&blob_order), &mut slice, bincode_config())
                .unwrap()
        })
    });
    let mut vec = Vec::with_capacity(4096);
    group.bench_function("bincode_vec", |b| {
        b.iter(|| {
            vec.clear();
            bincode::serde::encode_into_std_write(black_box(&order), &mut vec, bincode_config())
                .unwrap()
        })
    });
    group.finish();

    let mut group = c.benchmark_group("decode");
    group.bench_function("tars", |b| {
        b.iter(|| Order::<Vec<u8>>::decode_from(black_box(&tars_wire[..])).unwrap())
    });
    group.bench_function("tars_bytes", |b| {
        b.iter(|| Order::<Bytes>::decode_bytes(black_box(&tars_wire)).unwrap())
    });
    group.bench_function("tars_borrowed", |b| {
        b.iter(|| OrderRef::decode_from(black_box(&tars_wire[..])).unwrap())
    });
    group.bench_function("bincode", |b| {
        b.iter(|| {
            bincode::serde::decode_from_slice::<Order<Vec<u8>>, _>(
                black_box(&bincode_wire[..]),
                bincode_config(),
            )
            .unwrap()
        })
    });
    group.bench_function("bincode_serde_bytes", |b| {
        b.iter(|| {
            bincode::serde::decode_from_slice::<Order<Blob>, _>(
                black_box(&bincode_wire[..]),
                bincode_config(),
            )
            .unwrap()
        })
    });
    group.finish();

    let request = tars_request(tars_wire.clone());
    let serde_request_vec = serde_request(&request, bincode_wire.clone());
    let serde_request_blob = serde_request(&request, Blob(bincode_wire.clone()));
    let request_wire = request.to_bytes();
    let serde_request_wire = bincode_bytes(&serde_request_vec);
    assert_eq!(RequestPacket::decode_bytes(&request_wire).unwrap(), request);
    let borrowed = RequestPacketRef::decode_from(&request_wire).unwrap();
    assert_eq!(
        (
            borrowed.servant_name,
            borrowed.buffer,
            borrowed.context.len()
        ),
        (request.servant_name.as_str(), &request.buffer[..], 2)
    );
    assert_eq!(bincode_bytes(&serde_request_blob), serde_request_wire);
    assert_eq!(
        bincode_decode::<SerdeRequestPacket<Vec<u8>>>(&serde_request_wire),
        serde_request_vec
    );
    assert_eq!(
        bincode_decode::<SerdeRequestPacket<Blob>>(&serde_request_wire),
        serde_request_blob
    );
    println!(
        "wire size of the request packet: tars {} bytes, bincode {} bytes",
        request_wire.len(),
        serde_request_wire.len()
    );

    let mut group = c.benchmark_group("request_packet/encode");
    group.bench_function("tars", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&request).write_fields(&mut buf);
            black_box(buf.len())
        })
    });
    group.bench_function("bincode", |b| {
        b.iter(|| {
            bincode::serde::encode_into_slice(
                black_box(&serde_request_vec),
                &mut slice,
                bincode_config(),
            )
            .unwrap()
        })
    });
    group.bench_function("bincode_serde_bytes", |b| {
        b.iter(|| {
            bincode::serde::encode_into_slice(
                black_box(&serde_request_blob),
                &mut slice,
                bincode_config(),
            )
            .unwrap()
        })
    });
    group.finish();

    let mut group = c.benchmark_group("request_packet/decode");
    group.bench_function("tars", |b| {
        b.iter(|| RequestPacket::decode_bytes(black_box(&request_wire)).unwrap())
    });
    group.bench_function("tars_copy", |b| {
        b.iter(|| RequestPacket::decode_from(black_box(&request_wire[..])).unwrap())
    });
    group.bench_function("tars_borrowed", |b| {
        b.iter(|| RequestPacketRef::decode_from(black_box(&request_wire[..])).unwrap())
    });
    group.bench_function("bincode", |b| {
        b.iter(|| {
            bincode::serde::decode_from_slice::<SerdeRequestPacket<Vec<u8>>, _>(
                black_box(&serde_request_wire[..]),
                bincode_config(),
            )
            .unwrap()
        })
    });
    group.bench_function("bincode_serde_bytes", |b| {
        b.iter(|| {
            bincode::serde::decode_from_slice::<SerdeRequestPacket<Blob>, _>(
                black_box(&serde_request_wire[..]),
                bincode_config(),
            )
            .unwrap()
        })
    });
    group.bench_function("bincode_borrowed", |b| {
        b.iter(|| {
            bincode::serde::borrow_decode_from_slice::<SerdeRequestPacketRef<'_>, _>(
                black_box(&serde_request_wire[..]),
                bincode_config(),
            )
            .unwrap()
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = codec
}
criterion_main!(benches);
