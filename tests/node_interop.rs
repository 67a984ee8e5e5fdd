//! Interop with the official Node package `@tars/stream`: `tests/node/codec_interop.js`
//! encodes and checks a canonical value of the `Interop::AllTypes` IDL (see that file's
//! header), and the Rust mirror below must agree with it in both directions.
//!
//! Node.js must be installed; the `@tars/stream` package is installed on first use with
//! `npm ci` in `tests/node`. A missing `node` fails these tests rather than skipping them.

mod common;

use common::*;
use tars_rpc::codec::TarsEnum as _;
use tars_rpc::TarsStruct;

/// `node codec_interop.js encode`: Node's encoding of the canonical value.
fn node_encode() -> Vec<u8> {
    ensure_node();
    let output = run_in_node_dir("node", &["codec_interop.js", "encode"]);
    assert!(
        output.status.success(),
        "node encode failed: {}",
        describe(&output)
    );
    let stdout = String::from_utf8(output.stdout).expect("node prints ASCII hex");
    unhex(stdout.trim())
}

/// `node codec_interop.js decode <hex>`: whether Node decodes `bytes` to the canonical value.
fn assert_node_decodes(bytes: &[u8], what: &str) {
    ensure_node();
    let output = run_in_node_dir("node", &["codec_interop.js", "decode", &hex(bytes)]);
    assert!(
        output.status.success(),
        "node rejects {what} ({}): {}",
        hex(bytes),
        describe(&output)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "ok",
        "node decode of {what}"
    );
}

/// The byte range of every top-level field of `bytes`, in order, found with the runtime's
/// reader (head, then skip the value).
fn top_level_fields(bytes: &[u8]) -> Vec<(u8, std::ops::Range<usize>)> {
    let mut reader = tars_rpc::codec::TarsReader::new(bytes);
    let mut fields = Vec::new();
    // every field takes at least one byte
    for _ in 0..bytes.len() {
        if reader.is_at_end() {
            break;
        }
        let start = reader.position();
        let head = reader.read_head().expect("a field head");
        reader.skip_value(head).expect("a field value");
        fields.push((head.tag, start..reader.position()));
    }
    assert!(reader.is_at_end(), "top-level fields did not end the input");
    fields
}

/// The positions where `needle` occurs in `haystack`.
fn occurrences(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, window)| *window == needle)
        .map(|(i, _)| i)
        .collect()
}

/// What TarsCpp (and this crate) write for the value Node wrote as `node`: Node's bytes
/// without the optional fields that hold their default, which tars2node always writes:
/// `AllTypes.optAbsent` (tag 18, `""`) and the empty `name` of the second element of
/// `inners` (tag 15); and with `zeroF` (tag 30) as a full 8-byte double, which TarsCpp
/// writes where `@tars/stream` writes a zero head for 0.0.
fn without_optional_defaults(node: &[u8]) -> Vec<u8> {
    // Inner { id: 2, name: "" } in a list: begin, id 2, name "", end
    const INNER_WITH_EMPTY_NAME: &[u8] = &[0x0a, 0x00, 0x02, 0x16, 0x00, 0x0b];
    const INNER_WITHOUT_NAME: &[u8] = &[0x0a, 0x00, 0x02, 0x0b];
    // an empty string1 at tag 18
    const EMPTY_OPT_ABSENT: &[u8] = &[0xf6, 0x12, 0x00];
    // 0.0 at tag 30: a zero head from Node, a double from TarsCpp
    const ZERO_HEAD_30: &[u8] = &[0xfc, 0x1e];
    const DOUBLE_ZERO_30: &[u8] = &[0xf5, 0x1e, 0, 0, 0, 0, 0, 0, 0, 0];

    let fields = top_level_fields(node);
    let tags: Vec<u8> = fields.iter().map(|(tag, _)| *tag).collect();
    assert_eq!(
        tags,
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 30],
        "node writes every field, optional ones included"
    );
    let mut expected = Vec::with_capacity(node.len());
    for (tag, range) in fields {
        let field = &node[range];
        match tag {
            18 => assert_eq!(field, EMPTY_OPT_ABSENT, "node's optAbsent field"),
            30 => {
                assert_eq!(field, ZERO_HEAD_30, "node's zeroF field");
                expected.extend_from_slice(DOUBLE_ZERO_30);
            }
            15 => {
                let at = occurrences(field, INNER_WITH_EMPTY_NAME);
                assert_eq!(
                    at.len(),
                    1,
                    "Inner {{ id: 2, name: \"\" }} in {}",
                    hex(field)
                );
                expected.extend_from_slice(&field[..at[0]]);
                expected.extend_from_slice(INNER_WITHOUT_NAME);
                expected.extend_from_slice(&field[at[0] + INNER_WITH_EMPTY_NAME.len()..]);
            }
            _ => expected.extend_from_slice(field),
        }
    }
    expected
}

#[test]
fn rust_mirror_of_the_color_enum() {
    assert_eq!(Color::from_value(0), Some(Color::Red));
    assert_eq!(Color::from_value(1), Some(Color::Green));
    assert_eq!(Color::from_value(5), Some(Color::Blue));
    assert_eq!(Color::from_value(2), None);
}

#[test]
fn rust_decodes_what_node_encodes() {
    let node = node_encode();
    let checked_in = std::fs::read_to_string(node_dir().join("alltypes_node.hex"))
        .expect("tests/node/alltypes_node.hex");
    assert_eq!(
        hex(&node),
        checked_in.trim(),
        "node's encoding differs from tests/node/alltypes_node.hex"
    );
    let decoded = AllTypes::decode_from(&node).expect("node's bytes decode");
    assert_eq!(decoded, canonical());
    assert_eq!(
        decoded.f32v.to_bits(),
        1.5f32.to_bits(),
        "f32 exact after decoding"
    );
}

#[test]
fn node_decodes_what_rust_encodes() {
    let rust = canonical().to_bytes();
    assert_node_decodes(&rust, "Rust's encoding of the canonical value");
}

#[test]
fn rust_reencodes_node_bytes_like_tarscpp() {
    let node = node_encode();
    let reencoded = AllTypes::decode_from(&node)
        .expect("node's bytes decode")
        .to_bytes();
    let expected = without_optional_defaults(&node);
    assert_eq!(hex(&reencoded), hex(&expected));
    assert_eq!(
        reencoded.len(),
        node.len() - 3 - 2 + 8,
        "the two optional defaults left off, the zero double written in full"
    );
    assert_eq!(hex(&canonical().to_bytes()), hex(&expected));
    assert_node_decodes(&reencoded, "Rust's re-encoding of node's bytes");
}
