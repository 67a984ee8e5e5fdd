//! The codec layer of TUP and JSON (issue 13): TARS type names, `UniAttribute` in TUP 2 and 3,
//! and TARS values as JSON.
//!
//! * Byte for byte against the Node package `@tars/stream` (`tests/node/uni_attribute.js`,
//!   whose header lists the values): Rust writes what Node writes, and each reads the other's.
//! * Property tests: every codec type goes through a `UniAttribute` of either version and
//!   through JSON unchanged; arbitrary bytes never make decoding panic.
//! * Expectations written from TarsCpp's sources (`servant/tup/TarsType.h`, `TarsJson.h`,
//!   `tools/tars2cpp`), each saying where it comes from.
//!
//! Node.js must be installed; a missing `node` fails the interop tests rather than skipping
//! them.

mod common;

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use proptest::prelude::*;
use tars_rpc::codec::json::serde_json::json;
use tars_rpc::codec::json::Value;
use tars_rpc::codec::{json, DecodeError, JsonError, TarsType, TupVersion, UniAttribute};
use tars_rpc::{TarsEnum, TarsStruct};

use common::{describe, ensure_node, hex, run_in_node_dir, unhex};

/// `Interop.Inner` of `tests/node/interop_types.js`, whose generated code writes every field.
#[derive(TarsStruct, Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
#[tars(name = "Interop.Inner")]
struct Inner {
    #[tars(tag = 0)]
    id: i32,
    #[tars(tag = 1)]
    name: String,
}

fn inner(id: i32, name: &str) -> Inner {
    Inner {
        id,
        name: name.into(),
    }
}

/// The attribute `uni_attribute.js` builds (see its header), put in another order: the
/// encoding sorts the names.
fn canonical(version: TupVersion) -> UniAttribute {
    let mut attr = UniAttribute::new(version);
    attr.put("u8", &200u8);
    attr.put("u32", &4_000_000_000u32);
    attr.put("u16", &60_000u16);
    attr.put(
        "scores",
        &BTreeMap::from([("alice".to_string(), 1), ("bob".to_string(), 100_000)]),
    );
    attr.put("s", &"h\u{e9}llo w\u{f6}rld".to_string());
    attr.put(
        "nested",
        &BTreeMap::from([
            ("a".to_string(), vec!["x".to_string(), "y".to_string()]),
            ("b".to_string(), vec![]),
        ]),
    );
    attr.put("ints", &vec![1i32, -2, 300_000]);
    attr.put("inners", &vec![inner(1, "one"), inner(2, "")]);
    attr.put("inner", &inner(7, "seven"));
    attr.put("i8", &-5i8);
    attr.put("i64", &-(1i64 << 40));
    attr.put("i32", &-70_000i32);
    attr.put("i16", &-300i16);
    attr.put("f", &1.5f32);
    attr.put("d", &-2.25f64);
    attr.put("blob", &vec![0u8, 1, 2, 255]);
    attr.put("b", &true);
    attr.put("", &0i32);
    attr
}

/// Checks every canonical value of `attr`.
fn assert_canonical(attr: &UniAttribute) {
    assert_eq!(attr.len(), 18);
    assert_eq!(attr.get::<i32>("").unwrap(), 0);
    assert!(attr.get::<bool>("b").unwrap());
    assert_eq!(attr.get::<Vec<u8>>("blob").unwrap(), [0, 1, 2, 255]);
    assert_eq!(
        attr.get::<Bytes>("blob").unwrap(),
        Bytes::from_static(&[0, 1, 2, 255])
    );
    assert_eq!(attr.get::<f64>("d").unwrap(), -2.25);
    assert_eq!(attr.get::<f32>("f").unwrap(), 1.5);
    assert_eq!(attr.get::<i16>("i16").unwrap(), -300);
    assert_eq!(attr.get::<i32>("i32").unwrap(), -70_000);
    assert_eq!(attr.get::<i64>("i64").unwrap(), -(1 << 40));
    assert_eq!(attr.get::<i8>("i8").unwrap(), -5);
    assert_eq!(attr.get::<Inner>("inner").unwrap(), inner(7, "seven"));
    assert_eq!(
        attr.get::<Vec<Inner>>("inners").unwrap(),
        [inner(1, "one"), inner(2, "")]
    );
    assert_eq!(attr.get::<Vec<i32>>("ints").unwrap(), [1, -2, 300_000]);
    assert_eq!(
        attr.get::<BTreeMap<String, Vec<String>>>("nested").unwrap(),
        BTreeMap::from([
            ("a".to_string(), vec!["x".to_string(), "y".to_string()]),
            ("b".to_string(), vec![]),
        ])
    );
    assert_eq!(attr.get::<String>("s").unwrap(), "h\u{e9}llo w\u{f6}rld");
    assert_eq!(
        attr.get::<HashMap<String, i32>>("scores").unwrap(),
        HashMap::from([("alice".to_string(), 1), ("bob".to_string(), 100_000)])
    );
    assert_eq!(attr.get::<u16>("u16").unwrap(), 60_000);
    assert_eq!(attr.get::<u32>("u32").unwrap(), 4_000_000_000);
    assert_eq!(attr.get::<u8>("u8").unwrap(), 200);
}

/// `node uni_attribute.js encode <version> [node-names]`.
fn node_encode(version: TupVersion, node_names: bool) -> Vec<u8> {
    ensure_node();
    let version = version.value().to_string();
    let mut args = vec!["uni_attribute.js", "encode", &version];
    if node_names {
        args.push("node-names");
    }
    let output = run_in_node_dir("node", &args);
    assert!(
        output.status.success(),
        "node encode failed: {}",
        describe(&output)
    );
    unhex(
        String::from_utf8(output.stdout)
            .expect("node prints hex")
            .trim(),
    )
}

/// `node uni_attribute.js decode <version> <hex>`: Node reads every canonical value.
fn assert_node_decodes(version: TupVersion, bytes: &[u8]) {
    ensure_node();
    let version = version.value().to_string();
    let output = run_in_node_dir(
        "node",
        &["uni_attribute.js", "decode", &version, &hex(bytes)],
    );
    assert!(
        output.status.success(),
        "node rejects TUP {version} {}: {}",
        hex(bytes),
        describe(&output)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "ok");
}

#[test]
fn tup3_bytes_are_nodes_and_each_reads_the_other() {
    let ours = canonical(TupVersion::V3).encode();
    let node = node_encode(TupVersion::V3, false);
    assert_eq!(
        hex(&ours),
        hex(&node),
        "TUP 3: Rust (left) and Node (right)"
    );
    assert_node_decodes(TupVersion::V3, &ours);
    assert_canonical(&UniAttribute::decode(&node, TupVersion::V3).unwrap());
}

#[test]
fn tup2_bytes_are_nodes_with_tarscpp_type_names_and_each_reads_the_other() {
    let ours = canonical(TupVersion::V2).encode();
    // uni_attribute.js names its lists as TarsCpp does ("list<int32>"), not as @tars/stream
    // does ("List<int32>"): with that, the bytes are the same
    let node = node_encode(TupVersion::V2, false);
    assert_eq!(
        hex(&ours),
        hex(&node),
        "TUP 2: Rust (left) and Node (right)"
    );
    assert_node_decodes(TupVersion::V2, &ours);
    let read = UniAttribute::decode_bytes(&Bytes::from(node), TupVersion::V2).unwrap();
    assert_canonical(&read);
}

#[test]
fn tup2_reads_what_tars_stream_writes_with_its_own_list_names() {
    let node = node_encode(TupVersion::V2, true);
    assert!(
        node.windows(b"List<int32>".len())
            .any(|w| w == b"List<int32>"),
        "@tars/stream names lists List<...>"
    );
    assert_canonical(&UniAttribute::decode(&node, TupVersion::V2).unwrap());
}

#[test]
fn tup2_keys_each_value_by_its_tars_type_name() {
    let mut attr = UniAttribute::new(TupVersion::V2);
    attr.put("req", &inner(1, "a"));
    // map(tag 0) of 1: "req" -> map(tag 1) of 1: "Interop.Inner" -> bytes of the struct at tag 0
    let mut expected =
        b"\x08\x00\x01\x06\x03req\x18\x00\x01\x06\x0dInterop.Inner\x1d\x00\x00\x07".to_vec();
    expected.extend_from_slice(b"\x0a\x00\x01\x16\x01a\x0b");
    assert_eq!(hex(&attr.encode()), hex(&expected));

    // the same name as another type is an error naming both
    let error = attr.get::<String>("req").unwrap_err();
    assert_eq!(
        error,
        DecodeError::AttributeTypeMismatch {
            name: "req".into(),
            expected: "string".into(),
            found: vec!["Interop.Inner".into()],
        }
    );
    assert_eq!(
        error.to_string(),
        r#"attribute "req" is not a string; it holds ["Interop.Inner"]"#
    );
}

#[test]
fn tup2_picks_the_entry_of_the_type_asked_for() {
    // a TUP 2 value with two type entries, as a hand-made peer might send: int32 5, string "x"
    let bytes = b"\x08\x00\x01\x06\x01v\x18\x00\x02\x06\x05int32\x1d\x00\x00\x02\x00\x05\x06\x06string\x1d\x00\x00\x03\x06\x01x";
    let attr = UniAttribute::decode(bytes, TupVersion::V2).unwrap();
    assert_eq!(attr.get::<i32>("v").unwrap(), 5);
    assert_eq!(attr.get::<String>("v").unwrap(), "x");
    assert!(matches!(
        attr.get::<bool>("v").unwrap_err(),
        DecodeError::AttributeTypeMismatch { found, .. } if found == ["int32", "string"]
    ));
}

#[test]
fn tup3_holds_each_value_by_name_alone() {
    let mut attr = UniAttribute::default();
    assert_eq!(attr.version(), TupVersion::V3);
    attr.put("a", &5i32);
    attr.put("a", &6i32); // replaces
    assert_eq!(
        hex(&attr.encode()),
        "080001060161 1d0000 02 0006".replace(' ', "")
    );
    assert!(attr.contains("a") && !attr.contains("b"));
    assert_eq!(attr.names().collect::<Vec<_>>(), ["a"]);

    // a string read as an int: the error names the attribute
    let mut attr = UniAttribute::new(TupVersion::V3);
    attr.put("s", &"x".to_string());
    let error = attr.get::<i32>("s").unwrap_err();
    assert!(
        matches!(error, DecodeError::InAttribute { ref name, .. } if name == "s"),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        r#"attribute "s": type mismatch: expected int, found string1"#
    );
}

#[test]
fn a_missing_name_is_an_error_naming_it_and_defaults_apply_only_to_it() {
    let mut attr = UniAttribute::new(TupVersion::V2);
    attr.put("s", &"x".to_string());
    let error = attr.get::<i32>("nope").unwrap_err();
    assert_eq!(
        error,
        DecodeError::MissingAttribute {
            name: "nope".into()
        }
    );
    assert_eq!(error.to_string(), r#"no attribute named "nope""#);
    assert_eq!(attr.get_or("nope", 7i32).unwrap(), 7);
    assert_eq!(
        attr.get_or_default::<Vec<i32>>("nope").unwrap(),
        Vec::<i32>::new()
    );
    // present but of another type: an error, not the default
    assert!(attr.get_or("s", 7i32).is_err());
    assert!(attr.remove("s") && !attr.remove("s") && attr.is_empty());
}

#[test]
fn malformed_attributes_are_errors() {
    // no map at tag 0
    let error = UniAttribute::decode(b"", TupVersion::V3).unwrap_err();
    assert!(
        matches!(error, DecodeError::MissingField { tag: 0, .. }),
        "{error}"
    );
    // fields before tag 0 are skipped, as TarsCpp's skipToTag does
    let attr = UniAttribute::decode(b"\x10\x05\x08\x0c", TupVersion::V3).unwrap();
    assert!(attr.is_empty());
    // a map claiming 2^31-1 entries in 5 bytes
    let error = UniAttribute::decode(b"\x08\x02\x7f\xff\xff\xff", TupVersion::V3).unwrap_err();
    assert!(matches!(error, DecodeError::SizeTooLarge { .. }), "{error}");
    // a value claiming more bytes than there are
    let error = UniAttribute::decode(b"\x08\x00\x01\x06\x01a\x1d\x00\x02\x10\x00", TupVersion::V3)
        .unwrap_err();
    assert!(
        matches!(error.root_cause(), DecodeError::UnexpectedEof { .. }),
        "{error}"
    );
    // TUP 2 bytes read as TUP 3: the inner map is not bytes
    let v2 = canonical(TupVersion::V2).encode();
    assert!(UniAttribute::decode(&v2, TupVersion::V3).is_err());
    // a value that is not at tag 0 of its buffer
    let mut attr = UniAttribute::new(TupVersion::V3);
    attr.put("x", &1i32);
    let mut bytes = attr.encode().to_vec();
    let last = bytes.len() - 2;
    bytes[last] = 0x10; // the int at tag 1
    let error = UniAttribute::decode(&bytes, TupVersion::V3)
        .unwrap()
        .get::<i32>("x")
        .unwrap_err();
    assert!(
        matches!(error.root_cause(), DecodeError::MissingField { tag: 0, .. }),
        "{error}"
    );
}

#[test]
fn versions_are_the_packets_i_version() {
    assert_eq!(TupVersion::V2.value(), 2);
    assert_eq!(TupVersion::V3.value(), 3);
    assert_eq!(TupVersion::from_value(2), Some(TupVersion::V2));
    assert_eq!(TupVersion::from_value(3), Some(TupVersion::V3));
    assert_eq!(TupVersion::from_value(1), None);
    assert_eq!(TupVersion::from_value(5), None);
}

/// TarsCpp `servant/tup/TarsType.h`, `TarsClass<T>::name()`: "bool", "char", "short",
/// "float", "double", "int32", "int64"; UInt8/16/32 as "short", "int32", "int64";
/// "string"; `"list<" + T + ">"`; `"map<" + K + "," + V + ">"`; structs by `className()`,
/// which tars2cpp makes `"Module.Struct"` (`Tars2Cpp::generateH`).
#[test]
fn type_names_are_tarscpps() {
    assert_eq!(bool::tars_type_name(), "bool");
    assert_eq!(i8::tars_type_name(), "char");
    assert_eq!(i16::tars_type_name(), "short");
    assert_eq!(i32::tars_type_name(), "int32");
    assert_eq!(i64::tars_type_name(), "int64");
    assert_eq!(u8::tars_type_name(), "short");
    assert_eq!(u16::tars_type_name(), "int32");
    assert_eq!(u32::tars_type_name(), "int64");
    assert_eq!(f32::tars_type_name(), "float");
    assert_eq!(f64::tars_type_name(), "double");
    assert_eq!(String::tars_type_name(), "string");
    // vector<tars::Char>
    assert_eq!(<Vec<u8>>::tars_type_name(), "list<char>");
    assert_eq!(<Vec<i8>>::tars_type_name(), "list<char>");
    assert_eq!(Bytes::tars_type_name(), "list<char>");
    assert_eq!(<Vec<Vec<i16>>>::tars_type_name(), "list<list<short>>");
    assert_eq!(
        <BTreeMap<String, Vec<Inner>>>::tars_type_name(),
        "map<string,list<Interop.Inner>>"
    );
    assert_eq!(<HashMap<i64, u8>>::tars_type_name(), "map<int64,short>");
    assert_eq!(<Option<Inner>>::tars_type_name(), "Interop.Inner");
    assert_eq!(<Box<f32>>::tars_type_name(), "float");
    // an enum is written as an int32 (@tars/stream's Tars.Enum: "int32")
    assert_eq!(Color::tars_type_name(), "int32");
    // a struct without #[tars(name)] is named as in Rust
    assert_eq!(Plain::tars_type_name(), "Plain");
}

#[derive(TarsEnum, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
enum Color {
    #[default]
    Red,
    Green,
    Blue = 5,
}

#[derive(TarsStruct, Debug, Clone, PartialEq, Default)]
struct Plain {
    #[tars(tag = 0)]
    user_id: i64,
    #[tars(tag = 1, optional)]
    s_note: String,
    #[tars(tag = 2, default = 18)]
    age: i32,
    #[tars(tag = 3)]
    maybe: Option<Inner>,
    #[tars(tag = 4, name = "the_color")]
    color: Color,
    #[tars(tag = 5, optional)]
    inners: Vec<Inner>,
    #[tars(tag = 6, optional)]
    ratio: f64,
}

// ---------------------------------------------------------------------------------------------
// JSON, from TarsCpp's sources. "TarsJson.h" is servant/tup/TarsJson.h of TarsCpp 3.x (the
// std::enable_if version); "tars2cpp" is tools/tars2cpp/tars2cpp.cpp.
// ---------------------------------------------------------------------------------------------

/// TarsJson.h, `JsonOutput::writeJson` for `is_integral<T>`: `JsonValueNum((int64_t)b, true)`,
/// written by `TC_Json::writeNum` from its `int64_t lvalue`, so 64-bit integers are exact;
/// `JsonInput::readJson` reads `lvalue` back.
#[test]
fn json_integers_are_exact_over_64_bits() {
    assert_eq!(json::to_string(&i64::MAX).unwrap(), "9223372036854775807");
    assert_eq!(json::to_string(&i64::MIN).unwrap(), "-9223372036854775808");
    assert_eq!(
        json::from_str::<i64>("9007199254740993").unwrap(),
        9_007_199_254_740_993
    );
    assert_eq!(json::to_string(&4_000_000_000u32).unwrap(), "4000000000");
    assert_eq!(json::to_string(&200u8).unwrap(), "200");
    assert_eq!(json::to_string(&-5i8).unwrap(), "-5");
    // a whole number written with a fraction reads exactly
    assert_eq!(json::from_str::<i32>("3.0").unwrap(), 3);
    // where TarsCpp casts (`(T)lvalue`), out-of-range or fractional numbers are errors here
    let error = json::from_str::<i8>("300").unwrap_err();
    assert!(
        matches!(
            error,
            JsonError::OutOfRange {
                expected: "byte",
                ..
            }
        ),
        "{error}"
    );
    assert!(json::from_str::<u32>("-1").is_err());
    assert!(json::from_str::<i32>("1.5").is_err());
    // readJson for integers wants eJsonTypeNum
    let error = json::from_str::<i32>(r#""7""#).unwrap_err();
    assert_eq!(
        error.to_string(),
        "type mismatch: expected int, found string"
    );
}

/// TarsJson.h: `writeJson` for `is_same<T, bool>` writes a `JsonValueBoolean`, and `readJson`
/// accepts `eJsonTypeBoolean` only.
#[test]
fn json_bools_are_booleans_only() {
    assert_eq!(json::to_value(&true).unwrap(), json!(true));
    assert!(!json::from_str::<bool>("false").unwrap());
    assert!(matches!(
        json::from_str::<bool>("1").unwrap_err(),
        JsonError::TypeMismatch {
            found: "number",
            ..
        }
    ));
}

/// TarsJson.h: floats are `JsonValueNum(b, false)`; `TC_Json::writeNum` writes NaN as `null`,
/// and `readJson` for `is_floating_point` reads `null` as `quiet_NaN`.
#[test]
fn json_floats_are_numbers_and_nan_is_null() {
    assert_eq!(json::to_string(&-2.25f64).unwrap(), "-2.25");
    assert_eq!(json::to_string(&0.1f32).unwrap(), "0.1");
    assert_eq!(json::to_value(&f64::NAN).unwrap(), Value::Null);
    assert_eq!(json::to_value(&f32::INFINITY).unwrap(), Value::Null);
    assert!(json::from_str::<f64>("null").unwrap().is_nan());
    assert_eq!(json::from_str::<f32>("1").unwrap(), 1.0);
}

/// TarsJson.h: `vector<tars::Char>` goes through the generic `vector<T>` overload, each `Char`
/// an integral: an array of signed numbers, byte 0xff as -1.
#[test]
fn json_byte_lists_are_arrays_of_signed_numbers() {
    assert_eq!(
        json::to_string(&vec![0u8, 1, 0x7f, 0x80, 0xff]).unwrap(),
        "[0,1,127,-128,-1]"
    );
    assert_eq!(
        json::to_string(&Bytes::from_static(&[0xfe])).unwrap(),
        "[-2]"
    );
    assert_eq!(json::to_string(&vec![-1i8, 5]).unwrap(), "[-1,5]");
    // read back from signed or unsigned numbers
    assert_eq!(
        json::from_str::<Vec<u8>>("[-1,255,0]").unwrap(),
        [255, 255, 0]
    );
    assert_eq!(json::from_str::<Vec<i8>>("[255]").unwrap(), [-1]);
    let error = json::from_str::<Bytes>("[1,256]").unwrap_err();
    assert_eq!(error.to_string(), "[1]: 256 is not a valid byte");
    // a vector of unsigned bytes is not a byte list: u16 as TARS int32 elements
    assert_eq!(json::to_string(&vec![65535u16]).unwrap(), "[65535]");
}

/// TarsJson.h, `writeJson(const std::map<string, V>&)` and the `is_integral<K>`, `is_enum<K>`
/// and `TarsStructBase` key overloads: string keys as they are, numbers by `TC_Common::tostr`,
/// bool by `tostr<bool>` ("1"/"0", tc_common.cpp), struct keys by `writeToJsonString()`.
#[test]
fn json_maps_are_objects_keyed_as_tarscpp_keys_them() {
    let by_string = BTreeMap::from([("a".to_string(), 1i32)]);
    assert_eq!(json::to_value(&by_string).unwrap(), json!({"a": 1}));
    let by_int = BTreeMap::from([(-7i64, "x".to_string()), (10, "y".to_string())]);
    assert_eq!(
        json::to_value(&by_int).unwrap(),
        json!({"-7": "x", "10": "y"})
    );
    assert_eq!(
        json::from_value::<BTreeMap<i64, String>>(&json!({"-7": "x", "10": "y"})).unwrap(),
        by_int
    );
    let by_bool = BTreeMap::from([(true, 1i8), (false, 0)]);
    assert_eq!(json::to_value(&by_bool).unwrap(), json!({"1": 1, "0": 0}));
    assert_eq!(
        json::from_value::<BTreeMap<bool, i8>>(&json!({"1": 1, "0": 0})).unwrap(),
        by_bool
    );
    let by_enum = BTreeMap::from([(Color::Blue, 1u8)]);
    assert_eq!(json::to_value(&by_enum).unwrap(), json!({"5": 1}));
    assert_eq!(
        json::from_value::<BTreeMap<Color, u8>>(&json!({"5": 1})).unwrap(),
        by_enum
    );
    let by_struct = BTreeMap::from([(inner(1, "a"), 2i32)]);
    assert_eq!(
        json::to_value(&by_struct).unwrap(),
        json!({r#"{"id":1,"name":"a"}"#: 2})
    );
    assert_eq!(
        json::from_value::<BTreeMap<Inner, i32>>(&json!({r#"{"id":1,"name":"a"}"#: 2})).unwrap(),
        by_struct
    );
    // a key that is not a number
    let error = json::from_value::<BTreeMap<i32, i32>>(&json!({"x": 1})).unwrap_err();
    assert_eq!(error.to_string(), r#"["x"]: map key "x" is not a int"#);
}

/// tars2cpp, `Tars2Cpp::writeToJson`: every field under its IDL name, "for json, don't check
/// defaults" (`if (true || ...)`), enums as `writeJson((tars::Int32)e)`. Names here: the Rust
/// name in lowerCamelCase, or `#[tars(name)]`. An `Option` that is `None` is left out.
#[test]
fn json_structs_write_every_field_by_name() {
    let plain = Plain {
        user_id: 1 << 60,
        color: Color::Blue,
        ..Plain::default()
    };
    assert_eq!(
        json::to_value(&plain).unwrap(),
        json!({
            "userId": 1_152_921_504_606_846_976i64,
            "sNote": "",
            "age": 0,
            "the_color": 5,
            "inners": [],
            "ratio": 0.0,
        })
    );
    let with_inner = Plain {
        maybe: Some(inner(3, "c")),
        ..plain.clone()
    };
    assert_eq!(
        json::to_value(&with_inner).unwrap()["maybe"],
        json!({"id": 3, "name": "c"})
    );
}

/// tars2cpp, `Tars2Cpp::readFromJson`: `resetDefautlt()`, then each field by name with
/// `isRequire` true only for required fields; TarsJson.h's `readJson` then skips an optional
/// field that is absent or of the wrong JSON type, and throws for a required one. Other
/// names are not looked at.
#[test]
fn json_structs_read_fields_by_name_with_tarscpps_presence() {
    let read: Plain = json::from_value(&json!({
        "userId": 5,
        "the_color": 1,
        "sNote": 17,          // optional, wrong type: keeps its default
        "ratio": null,        // optional float: null is NaN
        "unknown": [1, 2, 3], // ignored
    }))
    .unwrap();
    assert_eq!(read.user_id, 5);
    assert_eq!(read.color, Color::Green);
    assert_eq!(read.s_note, "");
    assert_eq!(
        read.age, 18,
        "an absent optional field takes its declared default"
    );
    assert_eq!(read.maybe, None);
    assert!(read.ratio.is_nan());

    let error = json::from_value::<Plain>(&json!({"the_color": 0})).unwrap_err();
    assert!(
        matches!(
            error,
            JsonError::MissingField {
                ty: "Plain",
                field: "userId"
            }
        ),
        "{error}"
    );
    assert_eq!(error.to_string(), "Plain.userId: required field is missing");

    // a required field of the wrong type, and errors deep inside optional fields, are errors
    let error = json::from_value::<Plain>(&json!({"userId": "1", "the_color": 0})).unwrap_err();
    assert_eq!(
        error.to_string(),
        "Plain.userId: type mismatch: expected long, found string"
    );
    let error = json::from_value::<Plain>(&json!({
        "userId": 1, "the_color": 0, "inners": [{"id": 1, "name": "a"}, {"name": "b"}],
    }))
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "Plain.inners: [1]: Inner.id: required field is missing"
    );
    assert!(matches!(
        error.root_cause(),
        JsonError::MissingField { field: "id", .. }
    ));

    // enums: a value with no variant is an error (TarsCpp casts it)
    let error = json::from_value::<Plain>(&json!({"userId": 1, "the_color": 2})).unwrap_err();
    assert_eq!(
        error.to_string(),
        "Plain.the_color: Color: unknown enum value 2"
    );

    // not an object at all
    let error = json::from_str::<Inner>("[]").unwrap_err();
    assert_eq!(
        error.to_string(),
        "type mismatch: expected object, found array"
    );
    assert!(matches!(
        json::from_str::<Inner>("{").unwrap_err(),
        JsonError::Syntax(_)
    ));
}

// ---------------------------------------------------------------------------------------------
// Property tests: every codec type through UniAttribute (both versions) and JSON.
// ---------------------------------------------------------------------------------------------

/// One field of every codec type.
#[derive(TarsStruct, Debug, Clone, PartialEq, Default)]
#[tars(name = "Prop.Every")]
struct Every {
    #[tars(tag = 0)]
    b: bool,
    #[tars(tag = 1)]
    i8v: i8,
    #[tars(tag = 2)]
    i16v: i16,
    #[tars(tag = 3)]
    i32v: i32,
    #[tars(tag = 4)]
    i64v: i64,
    #[tars(tag = 5)]
    u8v: u8,
    #[tars(tag = 6)]
    u16v: u16,
    #[tars(tag = 7)]
    u32v: u32,
    #[tars(tag = 8)]
    f32v: f32,
    #[tars(tag = 9)]
    f64v: f64,
    #[tars(tag = 10)]
    s: String,
    #[tars(tag = 11)]
    blob: Vec<u8>,
    #[tars(tag = 12)]
    signed_blob: Vec<i8>,
    #[tars(tag = 13)]
    bytes: Bytes,
    #[tars(tag = 14)]
    strs: Vec<String>,
    #[tars(tag = 15)]
    by_name: BTreeMap<String, i32>,
    #[tars(tag = 16)]
    by_long: BTreeMap<i64, Vec<u8>>,
    #[tars(tag = 17)]
    hashed: HashMap<u16, String>,
    #[tars(tag = 18)]
    by_bool: BTreeMap<bool, u32>,
    #[tars(tag = 19)]
    by_color: BTreeMap<Color, i8>,
    #[tars(tag = 20)]
    by_inner: BTreeMap<Inner, i16>,
    #[tars(tag = 21)]
    inner: Inner,
    #[tars(tag = 22)]
    inners: Vec<Inner>,
    #[tars(tag = 23)]
    maybe: Option<Inner>,
    #[tars(tag = 24)]
    maybe_int: Option<i64>,
    #[tars(tag = 25)]
    color: Color,
    #[tars(tag = 26)]
    boxed: Box<Inner>,
    #[tars(tag = 27)]
    nested: Vec<Vec<String>>,
}

fn color() -> impl Strategy<Value = Color> {
    prop_oneof![Just(Color::Red), Just(Color::Green), Just(Color::Blue)]
}

fn arb_inner() -> impl Strategy<Value = Inner> {
    (any::<i32>(), ".{0,8}").prop_map(|(id, name)| Inner { id, name })
}

/// Finite floats: NaN reads back as NaN (not equal to itself) and infinities as NaN.
fn finite_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(-0.0),
        proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL
    ]
}

fn finite_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        Just(0.0f32),
        proptest::num::f32::NORMAL | proptest::num::f32::SUBNORMAL
    ]
}

fn every() -> impl Strategy<Value = Every> {
    let scalars = (
        any::<bool>(),
        any::<i8>(),
        any::<i16>(),
        any::<i32>(),
        any::<i64>(),
        any::<u8>(),
        any::<u16>(),
        any::<u32>(),
        finite_f32(),
        finite_f64(),
        ".{0,12}",
    );
    let lists = (
        prop::collection::vec(any::<u8>(), 0..8),
        prop::collection::vec(any::<i8>(), 0..8),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(Bytes::from),
        prop::collection::vec(".{0,4}", 0..4),
        prop::collection::vec(prop::collection::vec(".{0,3}", 0..3), 0..3),
    );
    let maps = (
        prop::collection::btree_map(".{0,4}", any::<i32>(), 0..4),
        prop::collection::btree_map(any::<i64>(), prop::collection::vec(any::<u8>(), 0..3), 0..4),
        prop::collection::hash_map(any::<u16>(), ".{0,4}", 0..4),
        prop::collection::btree_map(any::<bool>(), any::<u32>(), 0..3),
        prop::collection::btree_map(color(), any::<i8>(), 0..3),
        prop::collection::btree_map(arb_inner(), any::<i16>(), 0..3),
    );
    let structs = (
        arb_inner(),
        prop::collection::vec(arb_inner(), 0..3),
        prop::option::of(arb_inner()),
        prop::option::of(any::<i64>()),
        color(),
        arb_inner(),
    );
    (scalars, lists, maps, structs).prop_map(
        |(
            (b, i8v, i16v, i32v, i64v, u8v, u16v, u32v, f32v, f64v, s),
            (blob, signed_blob, bytes, strs, nested),
            (by_name, by_long, hashed, by_bool, by_color, by_inner),
            (inner, inners, maybe, maybe_int, color, boxed),
        )| Every {
            b,
            i8v,
            i16v,
            i32v,
            i64v,
            u8v,
            u16v,
            u32v,
            f32v,
            f64v,
            s,
            blob,
            signed_blob,
            bytes,
            strs,
            by_name,
            by_long,
            hashed,
            by_bool,
            by_color,
            by_inner,
            inner,
            inners,
            maybe,
            maybe_int,
            color,
            boxed: Box::new(boxed),
            nested,
        },
    )
}

/// Puts every field of `value` under its own name (and the whole under "all"), encodes,
/// decodes and gets each back; the re-encoding is the same bytes.
macro_rules! round_trip_fields {
    ($value:expr, $version:expr, $($field:ident: $ty:ty),* $(,)?) => {{
        let value = &$value;
        let mut attr = UniAttribute::new($version);
        $( attr.put(stringify!($field), &value.$field); )*
        attr.put("all", value);
        let bytes = attr.encode();
        let read = UniAttribute::decode(&bytes, $version).map_err(|e| TestCaseError::fail(e.to_string()))?;
        $(
            let got: $ty = read.get(stringify!($field)).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&got, &value.$field, "field {}", stringify!($field));
        )*
        let all: Every = read.get("all").map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&all, value);
        prop_assert_eq!(read.encode(), bytes);
    }};
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn uni_attribute_round_trips_every_type(value in every()) {
        for version in [TupVersion::V2, TupVersion::V3] {
            round_trip_fields!(value, version,
                b: bool, i8v: i8, i16v: i16, i32v: i32, i64v: i64, u8v: u8, u16v: u16,
                u32v: u32, f32v: f32, f64v: f64, s: String, blob: Vec<u8>,
                signed_blob: Vec<i8>, bytes: Bytes, strs: Vec<String>,
                by_name: BTreeMap<String, i32>, by_long: BTreeMap<i64, Vec<u8>>,
                hashed: HashMap<u16, String>, by_bool: BTreeMap<bool, u32>,
                by_color: BTreeMap<Color, i8>, by_inner: BTreeMap<Inner, i16>, inner: Inner,
                inners: Vec<Inner>, maybe: Option<Inner>, maybe_int: Option<i64>, color: Color,
                boxed: Box<Inner>, nested: Vec<Vec<String>>,
            );
        }
    }

    #[test]
    fn json_round_trips_every_type(value in every()) {
        let text = json::to_string(&value).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let read: Every = json::from_str(&text).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
        prop_assert_eq!(read, value);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        for version in [TupVersion::V2, TupVersion::V3] {
            if let Ok(attr) = UniAttribute::decode(&bytes, version) {
                let names: Vec<String> = attr.names().map(str::to_owned).collect();
                for name in names {
                    let _ = attr.get::<Every>(&name);
                    let _ = attr.get::<Vec<String>>(&name);
                    let _ = attr.get::<i64>(&name);
                }
                let again = UniAttribute::decode(&attr.encode(), version);
                prop_assert_eq!(again, Ok(attr));
            }
        }
    }

    #[test]
    fn damaged_attributes_are_errors_or_values_never_panics(
        v2 in any::<bool>(),
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let version = if v2 { TupVersion::V2 } else { TupVersion::V3 };
        let mut bytes = canonical(version).encode().to_vec();
        for (at, byte) in flips {
            let at = at.index(bytes.len());
            bytes[at] = byte;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        if let Ok(attr) = UniAttribute::decode(&bytes, version) {
            let names: Vec<String> = attr.names().map(str::to_owned).collect();
            for name in names {
                let _ = attr.get::<Vec<Inner>>(&name);
                let _ = attr.get::<BTreeMap<String, Vec<String>>>(&name);
                let _ = attr.get::<Bytes>(&name);
                let _ = attr.get::<f64>(&name);
            }
        }
    }

    #[test]
    fn arbitrary_json_never_panics(text in "[\\[\\]{}\":,0-9a-z.\\- ]{0,40}") {
        let _ = json::from_str::<Every>(&text);
        let _ = json::from_str::<BTreeMap<i32, Vec<u8>>>(&text);
    }
}
