//! Borrowed views (`#[derive(TarsStruct)]` on a struct with a lifetime): they read what the
//! owned struct writes and write what it writes, point into the input instead of copying it,
//! and refuse bad input with the same errors as owned decoding, never a panic.

use std::borrow::Cow;
use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use tars_rpc::codec::{DecodeError, TarsDecode, TarsEncode, TarsReader, WireType};
use tars_rpc::{TarsStruct, TarsStructRef};

#[derive(TarsStruct, Debug, Clone, PartialEq, Default)]
struct Line {
    #[tars(tag = 0)]
    sku: i64,
    #[tars(tag = 1)]
    title: String,
}

#[derive(TarsStruct, Debug, Clone, PartialEq, Default)]
struct Order {
    #[tars(tag = 0)]
    id: i64,
    #[tars(tag = 1)]
    buyer: String,
    #[tars(tag = 2, optional)]
    lines: Vec<Line>,
    #[tars(tag = 3, optional)]
    attributes: BTreeMap<String, String>,
    #[tars(tag = 4, optional)]
    signature: Vec<u8>,
    #[tars(tag = 5)]
    coupon: Option<String>,
    #[tars(tag = 6, optional)]
    tags: Vec<String>,
    #[tars(tag = 7, optional)]
    owned_lines: Vec<Line>,
}

#[derive(TarsStruct, Debug, PartialEq)]
struct LineRef<'a> {
    #[tars(tag = 0)]
    sku: i64,
    #[tars(tag = 1)]
    title: &'a str,
}

/// [`Order`] as a view: the same tags; `owned_lines` stays owned inside the view.
#[derive(TarsStruct, Debug, PartialEq)]
struct OrderRef<'a> {
    #[tars(tag = 0)]
    id: i64,
    #[tars(tag = 1)]
    buyer: &'a str,
    #[tars(tag = 2, optional)]
    lines: Vec<LineRef<'a>>,
    #[tars(tag = 3, optional)]
    attributes: BTreeMap<&'a str, &'a str>,
    #[tars(tag = 4, optional)]
    signature: &'a [u8],
    #[tars(tag = 5)]
    coupon: Option<Cow<'a, str>>,
    #[tars(tag = 6, optional)]
    tags: Vec<&'a str>,
    #[tars(tag = 7, optional)]
    owned_lines: Vec<Line>,
}

/// Whether `text` lies inside `input`: read in place, not copied.
fn points_into(input: &[u8], text: &[u8]) -> bool {
    text.is_empty() || input.as_ptr_range().contains(&text.as_ptr())
}

fn check_view(order: &Order, wire: &[u8]) -> Result<(), TestCaseError> {
    let view = OrderRef::decode_from(wire).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(view.id, order.id);
    prop_assert_eq!(view.buyer, order.buyer.as_str());
    prop_assert!(points_into(wire, view.buyer.as_bytes()));
    prop_assert_eq!(view.lines.len(), order.lines.len());
    for (line, owned) in view.lines.iter().zip(&order.lines) {
        prop_assert_eq!(line.sku, owned.sku);
        prop_assert_eq!(line.title, owned.title.as_str());
        prop_assert!(points_into(wire, line.title.as_bytes()));
    }
    let attributes: Vec<(&str, &str)> = view.attributes.iter().map(|(k, v)| (*k, *v)).collect();
    let expected: Vec<(&str, &str)> = (order.attributes.iter())
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    prop_assert_eq!(attributes, expected);
    prop_assert_eq!(view.signature, &order.signature[..]);
    prop_assert!(points_into(wire, view.signature));
    prop_assert_eq!(view.coupon.as_deref(), order.coupon.as_deref());
    prop_assert!(matches!(view.coupon, None | Some(Cow::Borrowed(_))));
    prop_assert_eq!(&view.tags, &order.tags);
    prop_assert_eq!(&view.owned_lines, &order.owned_lines);
    Ok(())
}

fn any_line() -> impl Strategy<Value = Line> {
    (any::<i64>(), ".{0,40}").prop_map(|(sku, title)| Line { sku, title })
}

fn any_order() -> impl Strategy<Value = Order> {
    (
        any::<i64>(),
        ".{0,300}",
        prop::collection::vec(any_line(), 0..6),
        prop::collection::btree_map(".{0,10}", ".{0,20}", 0..8),
        prop::collection::vec(any::<u8>(), 0..300),
        prop::option::of(".{0,20}"),
        prop::collection::vec(".{0,8}", 0..5),
        prop::collection::vec(any_line(), 0..3),
    )
        .prop_map(
            |(id, buyer, lines, attributes, signature, coupon, tags, owned_lines)| Order {
                id,
                buyer,
                lines,
                attributes,
                signature,
                coupon,
                tags,
                owned_lines,
            },
        )
}

proptest! {
    /// What the owned struct writes, the view reads field for field, its strings and bytes in
    /// place; nested in another struct it reads the same.
    #[test]
    fn a_view_reads_and_writes_what_the_owned_struct_does(order in any_order()) {
        let wire = order.to_bytes();
        check_view(&order, &wire)?;

        // written back, at the top level and nested, a view gives the owned struct's bytes
        let view = OrderRef::decode_from(&wire).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(view.to_bytes(), wire.clone());
        let (mut owned_nested, mut view_nested) = (BytesMut::new(), BytesMut::new());
        order.write_field(9, &mut owned_nested);
        view.write_field(9, &mut view_nested);
        prop_assert_eq!(owned_nested, view_nested);

        let mut nested = BytesMut::new();
        order.write_field(3, &mut nested);
        let mut reader = TarsReader::new(&nested);
        let head = reader.read_head().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let view = OrderRef::read_field(&mut reader, head)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(reader.is_at_end());
        prop_assert_eq!(view.buyer, order.buyer.as_str());
    }

    /// Every strict prefix of a valid struct, and any byte flipped, is an error or a value,
    /// never a panic; what the view accepts the owned decode accepts too, and the reverse.
    #[test]
    fn a_view_fails_where_the_owned_decode_fails(
        order in any_order(),
        flip in any::<prop::sample::Index>(),
        to in any::<u8>(),
    ) {
        let wire = order.to_bytes().to_vec();
        for end in 0..wire.len() {
            prop_assert_eq!(
                OrderRef::decode_from(&wire[..end]).is_ok(),
                Order::decode_from(&wire[..end]).is_ok(),
                "prefix of {} bytes", end
            );
        }
        if !wire.is_empty() {
            let mut mutated = wire.clone();
            mutated[flip.index(wire.len())] = to;
            prop_assert_eq!(
                OrderRef::decode_from(&mutated).is_ok(),
                Order::decode_from(&mutated).is_ok()
            );
        }
    }
}

#[test]
fn decode_bytes_shares_bytes_fields_and_borrows_the_rest() {
    #[derive(TarsStruct)]
    struct Mixed<'a> {
        #[tars(tag = 0)]
        name: &'a str,
        #[tars(tag = 1)]
        body: Bytes,
    }
    let mut wire = BytesMut::new();
    "ada".to_string().write_field(0, &mut wire);
    vec![7u8; 64].write_field(1, &mut wire);
    let wire = wire.freeze();
    let mixed = Mixed::decode_bytes(&wire).unwrap();
    assert_eq!(mixed.name, "ada");
    assert_eq!(&mixed.body[..], &[7; 64]);
    // shared, not copied: the same memory as the input
    assert!(wire.as_ptr_range().contains(&mixed.body.as_ptr()));
}

/// TarsCpp, TarsGo and the Node packages write `vector<byte>` as a simple list; a generic list
/// of one-byte ints is valid TARS too. `&[u8]` cannot point at it and says so; `Cow<[u8]>`
/// collects it.
#[test]
fn a_generic_byte_list_is_an_error_for_a_slice_and_owned_for_a_cow() {
    let bytes: Vec<i32> = vec![1, 2, 255];
    let mut wire = BytesMut::new();
    bytes.write_field(0, &mut wire);

    let mut reader = TarsReader::new(&wire);
    let head = reader.read_head().unwrap();
    assert_eq!(head.wire_type, WireType::List);
    let error = <&[u8]>::read_field(&mut reader, head).unwrap_err();
    assert!(
        matches!(
            error,
            DecodeError::TypeMismatch {
                found: WireType::List,
                ..
            }
        ),
        "{error}"
    );

    let mut reader = TarsReader::new(&wire);
    let head = reader.read_head().unwrap();
    let cow = Cow::<[u8]>::read_field(&mut reader, head).unwrap();
    assert!(matches!(cow, Cow::Owned(_)));
    assert_eq!(&cow[..], &[1, 2, 255]);

    let mut simple = BytesMut::new();
    vec![1u8, 2, 255].write_field(0, &mut simple);
    let mut reader = TarsReader::new(&simple);
    let head = reader.read_head().unwrap();
    let cow = Cow::<[u8]>::read_field(&mut reader, head).unwrap();
    assert!(matches!(cow, Cow::Borrowed(_)));
    assert_eq!(&cow[..], &[1, 2, 255]);
}

#[test]
fn bad_input_gets_the_owned_decodes_errors() {
    // a string that is not UTF-8
    let mut wire = BytesMut::new();
    0i64.write_field(0, &mut wire);
    wire.extend_from_slice(&[0x16, 2, 0xff, 0xfe]);
    let error = OrderRef::decode_from(&wire).unwrap_err();
    assert_eq!(error.root_cause(), &DecodeError::InvalidUtf8);
    assert_eq!(
        error.to_string(),
        "OrderRef.buyer (tag 1): string is not valid UTF-8"
    );
    assert_eq!(
        Order::decode_from(&wire).unwrap_err().root_cause(),
        &DecodeError::InvalidUtf8
    );

    // a required field missing, named
    let mut wire = BytesMut::new();
    0i64.write_field(0, &mut wire);
    let error = OrderRef::decode_from(&wire).unwrap_err();
    assert_eq!(
        error,
        DecodeError::MissingField {
            ty: "OrderRef",
            field: "buyer",
            tag: 1
        }
    );

    // a string whose length runs past the input: no allocation, no panic
    let mut wire = BytesMut::new();
    0i64.write_field(0, &mut wire);
    wire.extend_from_slice(&[0x17, 0x7f, 0xff, 0xff, 0xff, b'a']);
    let error = OrderRef::decode_from(&wire).unwrap_err();
    assert!(
        matches!(error.root_cause(), DecodeError::UnexpectedEof { .. }),
        "{error}"
    );
}

#[test]
fn nesting_past_the_readers_limit_is_an_error() {
    #[derive(TarsStruct, Debug, Default)]
    struct Chain {
        #[tars(tag = 0)]
        name: String,
        #[tars(tag = 1, optional)]
        next: Vec<Chain>,
    }
    #[derive(TarsStruct, Debug)]
    struct ChainRef<'a> {
        #[tars(tag = 0)]
        name: &'a str,
        #[tars(tag = 1, optional)]
        next: Vec<ChainRef<'a>>,
    }

    // ten links, within the limit: read whole
    let mut chain = Chain::default();
    for level in 0..10 {
        chain = Chain {
            name: format!("link {level}"),
            next: vec![chain],
        };
    }
    let wire = chain.to_bytes();
    let mut view = &ChainRef::decode_from(&wire).unwrap();
    let mut names = vec![view.name];
    while let Some(next) = view.next.first() {
        names.push(next.name);
        view = next;
    }
    assert_eq!(names.len(), 11);
    assert_eq!((names[0], names[9], names[10]), ("link 9", "link 0", ""));

    // 200 structs, each in a one-element list in the previous, never closed: far beyond it
    let mut wire = Vec::new();
    for _ in 0..200 {
        wire.extend_from_slice(&[0x06, 1, b'x', 0x19, 0x00, 0x01, 0x0a]);
    }
    let error = ChainRef::decode_from(&wire).unwrap_err();
    assert_eq!(error.root_cause(), &DecodeError::TooDeep);
}
