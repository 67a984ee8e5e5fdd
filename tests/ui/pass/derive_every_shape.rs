use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use tars_rpc::{TarsEnum, TarsStruct};

#[derive(TarsEnum, Debug, Clone, Copy, PartialEq)]
enum Sign {
    Minus = -1,
    Zero,
    Plus,
}

#[derive(TarsEnum, Debug, Clone, Copy, PartialEq)]
enum Empty {}

#[derive(TarsStruct, Debug, PartialEq, Default)]
struct Unit;

#[derive(TarsStruct, Debug, PartialEq)]
struct Tuple(#[tars(tag = 1)] i32, #[tars(tag = 0, optional)] String);

#[derive(TarsStruct, Debug, PartialEq)]
struct Generic<T> {
    #[tars(tag = 0)]
    items: Vec<T>,
}

#[derive(TarsStruct, Debug, PartialEq)]
#[tars(name = "Shapes.Everything")]
struct Everything {
    #[tars(tag = 0, name = "bFlag")]
    flag: bool,
    #[tars(tag = 1, require)]
    small: i8,
    #[tars(tag = 2)]
    unsigned: u8,
    #[tars(tag = 3, optional)]
    short: i16,
    #[tars(tag = 4, default = 7)]
    int: i32,
    #[tars(tag = 5, default = "none")]
    text: String,
    #[tars(tag = 6, default = 1.5)]
    ratio: f32,
    #[tars(tag = 7)]
    maybe: Option<u32>,
    #[tars(tag = 8)]
    blob: Bytes,
    #[tars(tag = 9)]
    map: HashMap<String, Vec<Tuple>>,
    #[tars(tag = 10)]
    sorted: BTreeMap<i64, Generic<u16>>,
    #[tars(tag = 11)]
    sign: Sign,
    #[tars(tag = 255)]
    boxed: Option<Box<Everything>>,
    #[tars(tag = 12)]
    unit: Unit,
    #[tars(tag = 13)]
    double: f64,
}

fn main() {
    use tars_rpc::codec::TarsEnum as _;
    assert_eq!(Sign::Plus.value(), 1);
    let value = Generic { items: vec![1u16, 2] };
    assert_eq!(Generic::<u16>::decode_from(&value.to_bytes()).unwrap(), value);
    let tuple = Tuple(5, "x".into());
    assert_eq!(Tuple::decode_from(&tuple.to_bytes()).unwrap(), tuple);
    let _ = Everything::decode_from(&[]);

    use tars_rpc::codec::{json, TarsType};
    assert_eq!(Everything::tars_type_name(), "Shapes.Everything");
    assert_eq!(Sign::tars_type_name(), "int32");
    assert_eq!(<Generic<u16>>::tars_type_name(), "Generic");
    assert_eq!(json::to_string(&tuple).unwrap(), r#"{"0":5,"1":"x"}"#);
    assert_eq!(json::from_str::<Tuple>(r#"{"1":"x","0":5}"#).unwrap(), tuple);
    assert_eq!(json::to_string(&Sign::Minus).unwrap(), "-1");
    assert!(json::from_str::<Everything>("{}").is_err());
}
