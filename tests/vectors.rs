//! Every byte vector in `tests/data/` (copied from `shared/vectors/`): what TarsCpp writes must
//! be reproduced byte for byte, and what `@tars/stream` writes must decode to the value its
//! name says. Each vector needs a case here; a vector without one fails the test.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;

use bytes::{Bytes, BytesMut};
use tars_rpc::codec::{TarsDecode, TarsReader, TarsType};
use tars_rpc::framing::FrameCodec;
use tars_rpc::packet::{
    Context, MessageType, PacketType, RequestPacket, RequestPacketRef, ResponsePacket, ReturnCode,
    Version,
};
use tars_rpc::push::PushFrame;
use tars_rpc::{TarsStruct, TarsStructRef};
use tokio_util::codec::{Decoder, Encoder};

struct Vector {
    name: String,
    bytes: Vec<u8>,
}

/// Lines are `name<TAB>hex`; a few names contain a tab themselves, so the hex is the last
/// whitespace-separated token and the name is everything before it.
fn load(tsv: &str) -> Vec<Vector> {
    tsv.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| {
            let line = line.trim_end();
            let split = line
                .rfind(char::is_whitespace)
                .expect("a vector line has a name and hex");
            let (name, hex) = (&line[..split], &line[split + 1..]);
            Vector {
                name: name.trim().replace('\t', "|"),
                bytes: unhex(hex),
            }
        })
        .collect()
}

fn unhex(hex: &str) -> Vec<u8> {
    assert!(hex.len() % 2 == 0, "odd hex {hex}");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or_else(|_| panic!("bad hex {hex}")))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn encode_at<T: TarsType>(value: &T, tag: u8) -> Vec<u8> {
    let mut buf = BytesMut::new();
    value.write_field(tag, &mut buf);
    buf.to_vec()
}

fn decode_at<T: TarsType>(bytes: &[u8], tag: u8) -> T {
    let mut reader = TarsReader::new(bytes);
    let head = reader.read_head().expect("head");
    assert_eq!(head.tag, tag, "tag");
    let value = T::read_field(&mut reader, head).expect("decodes");
    assert!(reader.is_at_end(), "{} bytes left over", reader.remaining());
    value
}

/// What a case checks.
#[derive(Clone, Copy, PartialEq)]
enum Check {
    /// TarsCpp wrote it: encoding must give these bytes, and they must decode to the value.
    EncodeAndDecode,
    /// Another writer wrote it: the bytes must decode to the value.
    Decode,
}

fn value_at<T: TarsType + PartialEq + Debug>(
    name: &str,
    bytes: &[u8],
    check: Check,
    value: T,
    tag: u8,
) {
    if check == Check::EncodeAndDecode {
        assert_eq!(hex(&encode_at(&value, tag)), hex(bytes), "encoding {name}");
    }
    assert_eq!(decode_at::<T>(bytes, tag), value, "decoding {name}");
}

fn top_level<T: TarsStruct + PartialEq + Debug>(name: &str, bytes: &[u8], check: Check, value: T) {
    if check == Check::EncodeAndDecode {
        assert_eq!(hex(&value.to_bytes()), hex(bytes), "encoding {name}");
    }
    assert_eq!(T::decode_from(bytes).expect(name), value, "decoding {name}");
}

fn framed<T: TarsStruct + PartialEq + Debug>(name: &str, bytes: &[u8], check: Check, value: T) {
    let mut codec = FrameCodec::default();
    if check == Check::EncodeAndDecode {
        let mut wire = BytesMut::new();
        codec.encode(&value, &mut wire).expect("encodes");
        assert_eq!(hex(&wire), hex(bytes), "encoding {name}");
    }
    let mut wire = BytesMut::from(bytes);
    let body = codec
        .decode(&mut wire)
        .expect("frame")
        .expect("a whole frame");
    assert!(wire.is_empty());
    assert_eq!(
        T::decode_bytes(&body).expect(name),
        value,
        "decoding {name}"
    );
}

fn context(pairs: &[(&str, &str)]) -> Context {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// testHello's parameters as the TarsCpp client writes them: `sReq` at 1, the out `sRsp` at 2.
#[derive(TarsStruct, Debug, PartialEq)]
struct TestHelloArgs {
    #[tars(tag = 1)]
    s_req: String,
    #[tars(tag = 2)]
    s_rsp: String,
}

/// A return value at tag 0 and a string out-parameter at `TAG`.
#[derive(TarsStruct, Debug, PartialEq)]
struct RetAndString {
    #[tars(tag = 0)]
    ret: i32,
    #[tars(tag = 1, optional)]
    at1: String,
    #[tars(tag = 2, optional)]
    at2: String,
}

#[derive(TarsStruct, Debug, PartialEq)]
struct SmallStruct {
    #[tars(tag = 0)]
    id: i32,
    #[tars(tag = 1)]
    name: String,
}

#[derive(TarsStruct, Debug, PartialEq)]
struct OnlyRet {
    #[tars(tag = 0)]
    ret: i32,
}

fn hello_request(request_id: i32, servant: &str, buffer: &[u8], timeout: i32) -> RequestPacket {
    RequestPacket {
        version: Version::TARS,
        packet_type: PacketType::NORMAL,
        message_type: MessageType::NULL,
        request_id,
        servant_name: servant.into(),
        func_name: "testHello".into(),
        buffer: Bytes::copy_from_slice(buffer),
        timeout,
        context: Context::new(),
        status: Context::new(),
    }
}

fn reply(request_id: i32, ret: i32, buffer: &[u8]) -> ResponsePacket {
    ResponsePacket {
        request_id,
        ret: ReturnCode(ret),
        buffer: Bytes::copy_from_slice(buffer),
        ..ResponsePacket::default()
    }
}

fn check_tarscpp(v: &Vector) {
    let (name, b, c) = (v.name.as_str(), v.bytes.as_slice(), Check::EncodeAndDecode);
    let register_push = RequestPacket {
        request_id: 1,
        servant_name: "TestApp.PushCallbackServer.PushObj".into(),
        func_name: "registerPush".into(),
        timeout: 5000,
        ..RequestPacket::default()
    };
    let hello_args = TestHelloArgs {
        s_req: "hello".into(),
        s_rsp: String::new(),
    };
    let hello = hello_request(
        1,
        "TestApp.HelloServer.HelloObj",
        &hello_args.to_bytes(),
        3000,
    );
    let oneway = RequestPacket {
        packet_type: PacketType::ONEWAY,
        request_id: 42,
        servant_name: "A.B.C".into(),
        func_name: "f".into(),
        context: context(&[("k", "v")]),
        status: context(&[("s", "t")]),
        ..RequestPacket::default()
    };
    let push_body = RetAndString {
        ret: 0,
        at1: "push message".into(),
        at2: String::new(),
    };
    let push = ResponsePacket {
        buffer: push_body.to_bytes(),
        status: context(&[("TARS_FUNC", "pushMsg")]),
        ..ResponsePacket::default()
    };
    let hello_reply_body = RetAndString {
        ret: 0,
        at1: String::new(),
        at2: "hello".into(),
    };
    let hello_reply = reply(1, 0, &hello_reply_body.to_bytes());
    let no_func = ResponsePacket {
        result_desc: "no func".into(),
        ..reply(7, ReturnCode::SERVER_NO_FUNC.0, &[])
    };
    match name {
        "int32 0 @0" => value_at(name, b, c, 0i32, 0),
        "int32 1 @0" => value_at(name, b, c, 1i32, 0),
        "int32 -1 @0" => value_at(name, b, c, -1i32, 0),
        "int32 127 @0" => value_at(name, b, c, 127i32, 0),
        "int32 128 @0" => value_at(name, b, c, 128i32, 0),
        "int32 300 @1" => value_at(name, b, c, 300i32, 1),
        "int32 -32769 @2" => value_at(name, b, c, -32769i32, 2),
        "int32 70000 @3" => value_at(name, b, c, 70000i32, 3),
        "int64 1099511627776 @4" => value_at(name, b, c, 1099511627776i64, 4),
        "int64 -2147483649 @4" => value_at(name, b, c, -2147483649i64, 4),
        "short 5000 @8" => value_at(name, b, c, 5000i16, 8),
        "bool true @5" => value_at(name, b, c, true, 5),
        "float 1.5 @6" => value_at(name, b, c, 1.5f32, 6),
        "double 1.5 @6" => value_at(name, b, c, 1.5f64, 6),
        "int32 7 @15" => value_at(name, b, c, 7i32, 15),
        "int32 7 @16" => value_at(name, b, c, 7i32, 16),
        "int32 7 @200" => value_at(name, b, c, 7i32, 200),
        "string \"\" @2" => value_at(name, b, c, String::new(), 2),
        "string \"hello\" @1" => value_at(name, b, c, "hello".to_string(), 1),
        "vector<char>{1,2,3} @7" => {
            value_at(name, b, c, vec![1u8, 2, 3], 7);
            value_at(name, b, c, vec![1i8, 2, 3], 7);
            value_at(name, b, c, Bytes::from_static(&[1, 2, 3]), 7);
        }
        "vector<char>{} @7" => {
            value_at(name, b, c, Vec::<u8>::new(), 7);
            value_at(name, b, c, Bytes::new(), 7);
        }
        "vector<int32>{1,2} @0" => value_at(name, b, c, vec![1i32, 2], 0),
        "vector<string>{\"a\",\"bc\"} @1" => value_at(name, b, c, vec!["a".to_string(), "bc".into()], 1),
        "map<string,string>{} @9" => {
            value_at(name, b, c, BTreeMap::<String, String>::new(), 9);
            value_at(name, b, c, HashMap::<String, String>::new(), 9);
        }
        "map<string,string>{a:b} @9" => {
            value_at(name, b, c, context(&[("a", "b")]), 9);
            let map: HashMap<String, String> = context(&[("a", "b")]).into_iter().collect();
            value_at(name, b, c, map, 9);
        }
        "map<string,int32>{k:1,z:300} @0" => {
            let map: BTreeMap<String, i32> = [("k".to_string(), 1), ("z".to_string(), 300)].into();
            value_at(name, b, c, map, 0);
        }
        "RequestPacket registerPush (as PushCallbackClient sends) [body]" => top_level(name, b, c, register_push),
        "RequestPacket registerPush (as PushCallbackClient sends) [framed]" => framed(name, b, c, register_push),
        "RequestPacket testHello(sReq=\"hello\", out sRsp) reqid=1 timeout=3000 [sBuffer]" => {
            top_level(name, b, c, hello_args)
        }
        "RequestPacket testHello(sReq=\"hello\", out sRsp) reqid=1 timeout=3000 [body]" => top_level(name, b, c, hello),
        "RequestPacket testHello(sReq=\"hello\", out sRsp) reqid=1 timeout=3000 [framed]" => framed(name, b, c, hello),
        "RequestPacket with context{k:v} status{s:t}, iRequestId=42, cPacketType=1 (oneway) [body]" => {
            top_level(name, b, c, oneway)
        }
        "RequestPacket with context{k:v} status{s:t}, iRequestId=42, cPacketType=1 (oneway) [framed]" => {
            framed(name, b, c, oneway)
        }
        "ResponsePacket push: iRequestId=0 status{TARS_FUNC:pushMsg} sBuffer=[int 0 @0, \"push message\" @1] [sBuffer]" => {
            top_level(name, b, c, push_body)
        }
        "ResponsePacket push: iRequestId=0 status{TARS_FUNC:pushMsg} sBuffer=[int 0 @0, \"push message\" @1] [body]" => {
            assert!(push.is_push() && push.push_function() == Some("pushMsg"));
            top_level(name, b, c, push)
        }
        "ResponsePacket push: iRequestId=0 status{TARS_FUNC:pushMsg} sBuffer=[int 0 @0, \"push message\" @1] [framed]" => {
            // what a server sends with PushFrame, TarsCpp's sendPushResponse
            let frame = PushFrame::new("pushMsg", &push_body, &Context::new());
            assert_eq!(hex(frame.as_bytes()), hex(b), "PushFrame");
            framed(name, b, c, push)
        }
        "ResponsePacket testHello reply: iRequestId=1 sBuffer=[int 0 @0, \"hello\" @2] [body]" => {
            top_level(name, b, c, hello_reply)
        }
        "ResponsePacket testHello reply: iRequestId=1 sBuffer=[int 0 @0, \"hello\" @2] [framed]" => {
            framed(name, b, c, hello_reply)
        }
        "ResponsePacket error: iRequestId=7 iRet=-3 (TARSSERVERNOFUNCERR) sResultDesc=\"no func\" [body]" => {
            top_level(name, b, c, no_func)
        }
        "ResponsePacket error: iRequestId=7 iRet=-3 (TARSSERVERNOFUNCERR) sResultDesc=\"no func\" [framed]" => {
            framed(name, b, c, no_func)
        }
        "tars_ping request reply as the C++ server answers it (iRequestId 1) [framed]" => framed(name, b, c, reply(1, 0, &[])),
        "registerPush reply from the C++ PushCallbackServer (ret 0) [framed]" => {
            framed(name, b, c, reply(1, 0, &OnlyRet { ret: 0 }.to_bytes()))
        }
        other => panic!("no case for the TarsCpp vector {other:?}"),
    }
}

fn check_node(v: &Vector) {
    let (name, b) = (v.name.as_str(), v.bytes.as_slice());
    // where Node writes what TarsCpp writes, our encoding must match too
    let same = Check::EncodeAndDecode;
    let decode = Check::Decode;
    let long_a = "a".repeat(300);
    match name {
        "int32 0" => value_at(name, b, same, 0i32, 0),
        "int32 -1" => value_at(name, b, same, -1i32, 0),
        "int32 127" => value_at(name, b, same, 127i32, 0),
        "int32 128" => value_at(name, b, same, 128i32, 0),
        "int32 32768" => value_at(name, b, same, 32768i32, 0),
        "int32 2147483647" => value_at(name, b, same, i32::MAX, 0),
        "int32 -2147483648" => value_at(name, b, same, i32::MIN, 0),
        "int64 2^40" => value_at(name, b, same, 1i64 << 40, 0),
        "int64 -2^40" => value_at(name, b, same, -(1i64 << 40), 0),
        "int64 2^63-1 (string api)" => value_at(name, b, same, i64::MAX, 0),
        "int8 -128" => value_at(name, b, same, -128i8, 0),
        "bool true" => value_at(name, b, same, true, 0),
        "bool false" => value_at(name, b, same, false, 0),
        "float 1.5" => value_at(name, b, same, 1.5f32, 0),
        "double 1.5" => value_at(name, b, same, 1.5f64, 0),
        "float 0.0" => value_at(name, b, decode, 0.0f32, 0),
        "double 0.0" => value_at(name, b, decode, 0.0f64, 0),
        "string empty" => value_at(name, b, same, String::new(), 0),
        "string 'hello' tag1" => value_at(name, b, same, "hello".to_string(), 1),
        "string 300 x 'a'" => value_at(name, b, same, long_a, 0),
        "string 300x'a' (head|type+u32 len):" => {
            // only the head and length of the string above
            assert!(encode_at(&long_a, 0).starts_with(b), "{name}");
            let mut reader = TarsReader::new(b);
            let head = reader.read_head().unwrap();
            assert!(
                String::read_field(&mut reader, head).is_err(),
                "a truncated string is an error"
            );
        }
        "map<string,string> {a:b}" => value_at(name, b, same, context(&[("a", "b")]), 0),
        "map<string,string> {} tag9" => value_at(name, b, same, Context::new(), 9),
        "vector<int32> [1,2,3]" => value_at(name, b, same, vec![1i32, 2, 3], 0),
        "vector<byte> [1,2,3] (SIMPLE_LIST)" => value_at(name, b, same, vec![1u8, 2, 3], 0),
        "vector<byte> [] (SIMPLE_LIST)" => value_at(name, b, same, Bytes::new(), 0),
        "List<Int8> [1,2,3] (generic LIST, NOT what tars2node emits for vector<byte>)" => {
            value_at(name, b, decode, vec![1u8, 2, 3], 0);
            value_at(name, b, decode, Bytes::from_static(&[1, 2, 3]), 0);
            value_at(name, b, same, vec![1i32, 2, 3], 0);
        }
        "int32 1 at tag 15" => value_at(name, b, same, 1i32, 15),
        "int32 1 at tag 200" => value_at(name, b, same, 1i32, 200),
        "string 'x' at tag 20" => value_at(name, b, same, "x".to_string(), 20),
        "struct{0:int 300,1:string 'n'} at tag 2" => value_at(
            name,
            b,
            same,
            SmallStruct {
                id: 300,
                name: "n".into(),
            },
            2,
        ),
        "struct{0:int 0,1:string ''} at tag 0" => value_at(
            name,
            b,
            same,
            SmallStruct {
                id: 0,
                name: String::new(),
            },
            0,
        ),
        "sBuffer (testHello args|string 'hello' at tag 1):" => {
            #[derive(TarsStruct, Debug, PartialEq)]
            struct Args {
                #[tars(tag = 1)]
                s_req: String,
            }
            top_level(
                name,
                b,
                same,
                Args {
                    s_req: "hello".into(),
                },
            )
        }
        "RequestPacket body (no length prefix, no struct begin/end)" => top_level(
            name,
            b,
            same,
            hello_request(7, "Test.HelloServer.HelloObj", b"\x16\x05hello", 3000),
        ),
        "RequestPacket on wire (Node client compose)" => framed(
            name,
            b,
            same,
            hello_request(7, "Test.HelloServer.HelloObj", b"\x16\x05hello", 3000),
        ),
        "testHello response sBuffer (ret 0 at tag0, sRsp 'hello' at tag2)" => top_level(
            name,
            b,
            same,
            RetAndString {
                ret: 0,
                at1: String::new(),
                at2: "hello".into(),
            },
        ),
        // Node writes the optional tags 8 and 9 even when empty; TarsCpp leaves them off
        "ResponsePacket on wire (Node server, iRet 0)" => {
            framed(name, b, decode, reply(7, 0, b"\x0c\x26\x05hello"))
        }
        "ResponsePacket on wire (Node server, unknown func iRet -3)" => {
            framed(name, b, decode, reply(7, -3, &[]))
        }
        other => panic!("no case for the @tars/stream vector {other:?}"),
    }
}

#[test]
fn tarscpp_vectors_are_reproduced_byte_for_byte() {
    let vectors = load(include_str!("data/tarscpp.tsv"));
    assert_eq!(vectors.len(), 42);
    for vector in &vectors {
        check_tarscpp(vector);
    }
}

/// Every request TarsCpp and the Node packages wrote reads the same as a view
/// (`RequestPacketRef`, in place) as owned (`RequestPacket`).
#[test]
fn recorded_requests_read_the_same_in_place() {
    let mut seen = 0;
    for vector in (load(include_str!("data/tarscpp.tsv")).iter())
        .chain(&load(include_str!("data/tars-stream-node.tsv")))
    {
        if !vector.name.starts_with("RequestPacket") || !vector.name.contains("[body]") {
            continue;
        }
        let owned = RequestPacket::decode_from(&vector.bytes).unwrap();
        let view = RequestPacketRef::decode_from(&vector.bytes).unwrap();
        assert_eq!(
            (view.version, view.packet_type, view.message_type),
            (owned.version, owned.packet_type, owned.message_type),
            "{}",
            vector.name
        );
        assert_eq!(
            (
                view.request_id,
                view.servant_name,
                view.func_name,
                view.timeout
            ),
            (
                owned.request_id,
                owned.servant_name.as_str(),
                owned.func_name.as_str(),
                owned.timeout
            ),
            "{}",
            vector.name
        );
        assert_eq!(view.buffer, &owned.buffer[..], "{}", vector.name);
        let as_owned = |map: &std::collections::BTreeMap<&str, &str>| -> Context {
            map.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(as_owned(&view.context), owned.context, "{}", vector.name);
        assert_eq!(as_owned(&view.status), owned.status, "{}", vector.name);
        seen += 1;
    }
    assert!(seen >= 3, "{seen} request vectors");
}

#[test]
fn tars_stream_node_vectors_decode() {
    let vectors = load(include_str!("data/tars-stream-node.tsv"));
    assert_eq!(vectors.len(), 38);
    for vector in &vectors {
        check_node(vector);
    }
}
