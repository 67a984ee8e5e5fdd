//! Parameters that do not decode: the error that reaches the peer names the interface, the
//! function's wire name and the parameter's, on the server (a request), on the client (a reply)
//! and for a push. Also: parameter wire names, functions with more parameters than the runtime's
//! largest tuple, and the `Debug` and `Clone` of what the macros generate.

mod common;

use std::fmt::Debug;
use std::time::Duration;

use bytes::Bytes;
use common::tars_client::TarsClient;
use futures::{SinkExt, StreamExt};
use tars_rpc::client::{Communicator, TypedProxy};
use tars_rpc::framing::FrameCodec;
use tars_rpc::packet::{Context, RequestPacket, ResponsePacket, ReturnCode};
use tars_rpc::push::PushFrame;
use tars_rpc::server::Server;
use tars_rpc::{tars_interface, tars_push, Current, Result, TarsStruct};
use tokio::net::TcpListener;
use tokio::time::timeout;
use tokio_util::codec::Framed;

const HELLO: &str = "Test.DecodeServer.HelloObj";
const WAIT: Duration = Duration::from_secs(5);

#[tars_interface]
trait Hello {
    async fn test_hello(&self, s_req: String, s_rsp: &mut String) -> Result<i32>;

    async fn renamed(
        &self,
        current: &Current,
        #[tars(name = "iCount")] count: i32,
        #[tars(name = "vsOut")] out: &mut Vec<String>,
    ) -> Result<()>;

    /// 18 parameters: more than the runtime's largest tuple, so they nest.
    #[allow(clippy::too_many_arguments)]
    async fn wide(
        &self,
        p1: i32,
        p2: String,
        p3: i64,
        p4: &mut i32,
        p5: i8,
        p6: i16,
        p7: bool,
        p8: Vec<u8>,
        p9: u32,
        p10: String,
        p11: i32,
        p12: i32,
        p13: i32,
        p14: i32,
        p15: i32,
        p16: String,
        p17: &mut String,
        p18: i64,
    ) -> Result<i64>;
}

#[tars_push]
trait Events {
    async fn push_msg(&self, ret: i32, s_rsp: String);
}

#[derive(Debug)]
struct HelloImp;

impl Hello for HelloImp {
    async fn test_hello(&self, s_req: String, s_rsp: &mut String) -> Result<i32> {
        *s_rsp = s_req;
        Ok(0)
    }

    async fn renamed(&self, _current: &Current, count: i32, out: &mut Vec<String>) -> Result<()> {
        out.push(count.to_string());
        Ok(())
    }

    async fn wide(
        &self,
        p1: i32,
        p2: String,
        p3: i64,
        p4: &mut i32,
        _p5: i8,
        _p6: i16,
        _p7: bool,
        _p8: Vec<u8>,
        _p9: u32,
        _p10: String,
        _p11: i32,
        _p12: i32,
        _p13: i32,
        _p14: i32,
        p15: i32,
        p16: String,
        p17: &mut String,
        p18: i64,
    ) -> Result<i64> {
        *p4 = p1 + p15;
        *p17 = format!("{p2}{p16}");
        Ok(p3 + p18)
    }
}

async fn start_server() -> Server {
    Server::builder()
        .servant(
            HELLO,
            "tcp -h 127.0.0.1 -p 0 -t 60000",
            HelloServant::new(HelloImp),
        )
        .start()
        .await
        .expect("the server starts")
}

/// The reply of the server to a request of `func` whose `sBuffer` is `params`.
async fn reply_to(
    client: &mut TarsClient,
    func: &str,
    params: &'static [u8],
) -> (ReturnCode, String) {
    let reply = client.call(HELLO, func, Bytes::from_static(params)).await;
    (reply.ret, reply.result_desc)
}

#[tokio::test]
async fn the_server_names_the_parameter_that_does_not_decode() {
    let server = start_server().await;
    let mut client = TarsClient::connect(server.local_addr(HELLO).unwrap()).await;
    let decode_error = |message: &str| (ReturnCode::SERVER_DECODE_ERR, message.to_string());

    // sReq (tag 1) is a string; here it is an int
    assert_eq!(
        reply_to(&mut client, "testHello", b"\x10\x05").await,
        decode_error(
            "Hello.testHello: parameter sReq (tag 1): type mismatch: expected string, found int1"
        )
    );
    // a required input left out; the out-parameter sRsp may be left out
    assert_eq!(
        reply_to(&mut client, "testHello", b"").await,
        decode_error("Hello.testHello: parameter sReq (tag 1) is missing")
    );
    // the string ends early
    assert_eq!(
        reply_to(&mut client, "testHello", b"\x16\x05hel").await,
        decode_error("Hello.testHello: parameter sReq (tag 1): unexpected end of input: 5 more bytes needed, 3 left")
    );
    // an unknown field that does not skip belongs to no parameter
    assert_eq!(
        reply_to(&mut client, "testHello", b"\x16\x02hi\x36\x05ab").await,
        decode_error("Hello.testHello: unexpected end of input: 5 more bytes needed, 2 left")
    );
    // wire names from #[tars(name = "...")], out-parameters too
    assert_eq!(
        reply_to(&mut client, "renamed", b"\x16\x01x").await,
        decode_error(
            "Hello.renamed: parameter iCount (tag 1): type mismatch: expected int, found string1"
        )
    );
    assert_eq!(
        reply_to(&mut client, "renamed", b"\x10\x01\x20\x01").await,
        decode_error(
            "Hello.renamed: parameter vsOut (tag 2): type mismatch: expected list, found int1"
        )
    );
    // past the runtime's largest tuple: p17 at tag 17, in the nested part
    // p18 (tag 18) reads, p1 is missing
    assert_eq!(
        reply_to(&mut client, "wide", b"\xf0\x12\x07").await,
        decode_error("Hello.wide: parameter p1 (tag 1) is missing")
    );
    let mut wide = wide_request(1, 2);
    wide.extend_from_slice(b"\xf0\x11\x07");
    let reply = client.call(HELLO, "wide", Bytes::from(wide)).await;
    assert_eq!(
        (reply.ret, reply.result_desc.as_str()),
        (
            ReturnCode::SERVER_DECODE_ERR,
            "Hello.wide: parameter p17 (tag 17): type mismatch: expected string, found int1"
        )
    );
    // the connection stays up and a good request goes through
    let reply = client
        .call_ok(HELLO, "testHello", Bytes::from_static(b"\x16\x02hi"))
        .await;
    assert_eq!(&reply.buffer[..], b"\x0c\x26\x02hi");
    server.shutdown().await;
}

/// A `wide` request with p1 = `p1`, p15 = `p15`, every other input at its default, and no
/// field after tag 16.
fn wide_request(p1: i32, p15: i32) -> Vec<u8> {
    #[derive(TarsStruct)]
    struct Wide {
        #[tars(tag = 1)]
        p1: i32,
        #[tars(tag = 2)]
        p2: String,
        #[tars(tag = 3)]
        p3: i64,
        #[tars(tag = 5)]
        p5: i8,
        #[tars(tag = 6)]
        p6: i16,
        #[tars(tag = 7)]
        p7: bool,
        #[tars(tag = 8)]
        p8: Vec<u8>,
        #[tars(tag = 9)]
        p9: u32,
        #[tars(tag = 10)]
        p10: String,
        #[tars(tag = 11)]
        p11: i32,
        #[tars(tag = 12)]
        p12: i32,
        #[tars(tag = 13)]
        p13: i32,
        #[tars(tag = 14)]
        p14: i32,
        #[tars(tag = 15)]
        p15: i32,
        #[tars(tag = 16)]
        p16: String,
    }
    let wide = Wide {
        p1,
        p2: String::new(),
        p3: 0,
        p5: 0,
        p6: 0,
        p7: false,
        p8: Vec::new(),
        p9: 0,
        p10: String::new(),
        p11: 0,
        p12: 0,
        p13: 0,
        p14: 0,
        p15,
        p16: String::new(),
    };
    wide.to_bytes().to_vec()
}

#[tokio::test]
async fn a_function_with_more_parameters_than_a_tuple_round_trips() {
    let server = start_server().await;
    let address = server.local_addr(HELLO).unwrap();
    let proxy: HelloProxy = Communicator::new()
        .string_to_proxy(&format!("{HELLO}@tcp -h 127.0.0.1 -p {}", address.port()))
        .unwrap();
    let call = proxy.wide(
        1,
        "a".into(),
        10,
        0,
        0,
        false,
        vec![1],
        0,
        String::new(),
        0,
        0,
        0,
        0,
        2,
        "b".into(),
        20,
    );
    let (ret, p4, p17) = timeout(WAIT, call).await.unwrap().unwrap();
    assert_eq!((ret, p4, p17.as_str()), (30, 3, "ab"));
    assert_eq!(
        timeout(WAIT, proxy.renamed(5)).await.unwrap().unwrap(),
        ["5"]
    );
    server.shutdown().await;
}

/// A fake server: answers the first request on its first connection with `buffer` as the
/// reply's `sBuffer`, after pushing `push` if there is one.
async fn fake_server(
    buffer: &'static [u8],
    push: Option<PushFrame>,
) -> (u16, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let mut framed = Framed::new(socket, FrameCodec::default());
        let body = framed.next().await.expect("a request").expect("a frame");
        let request = RequestPacket::decode_bytes(&body).expect("a request packet");
        if let Some(push) = push {
            // the codec writes its own length prefix
            framed.send(push.into_bytes().slice(4..)).await.unwrap();
        }
        let reply = ResponsePacket {
            buffer: Bytes::from_static(buffer),
            ..ResponsePacket::reply_to(&request, ReturnCode::SUCCESS)
        };
        framed.send(&reply).await.unwrap();
        // hold the connection until the client is done with it
        let _ = framed.next().await;
    });
    (port, task)
}

async fn proxy_to(port: u16) -> HelloProxy {
    Communicator::new()
        .string_to_proxy(&format!("{HELLO}@tcp -h 127.0.0.1 -p {port}"))
        .unwrap()
}

#[tokio::test]
async fn the_client_names_the_return_value_or_out_parameter_that_does_not_decode() {
    for (buffer, message) in [
        (
            &b"\x06\x01x"[..],
            "Hello.testHello: return value (tag 0): type mismatch: expected int, found string1",
        ),
        (
            &b"\x0c\x20\x05"[..],
            "Hello.testHello: parameter sRsp (tag 2): type mismatch: expected string, found int1",
        ),
        (
            &b"\x26\x02hi"[..],
            "Hello.testHello: return value (tag 0) is missing",
        ),
    ] {
        let (port, server) = fake_server(buffer, None).await;
        let proxy = proxy_to(port).await;
        let error = timeout(WAIT, proxy.test_hello("hi".into()))
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(error.code(), ReturnCode::CLIENT_DECODE_ERR);
        assert_eq!(error.message(), message);
        drop(proxy);
        timeout(WAIT, server).await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn a_push_that_does_not_decode_names_the_push_and_its_value() {
    // sRsp (tag 1) as an int
    let push = PushFrame::from_buffer(
        "pushMsg",
        Bytes::from_static(b"\x0c\x10\x05"),
        &Context::new(),
    );
    let (port, server) = fake_server(b"\x0c\x26\x02hi", Some(push)).await;
    let proxy = proxy_to(port).await;
    let mut events = proxy.push_stream().events::<EventsEvent>();
    let (ret, s_rsp) = timeout(WAIT, proxy.test_hello("hi".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((ret, s_rsp.as_str()), (0, "hi"));
    let error = timeout(WAIT, events.next())
        .await
        .unwrap()
        .expect("a push")
        .unwrap_err();
    assert_eq!(error.code(), ReturnCode::CLIENT_DECODE_ERR);
    assert_eq!(
        error.message(),
        "Events.pushMsg: parameter sRsp (tag 1): type mismatch: expected string, found int1"
    );
    drop((events, proxy));
    timeout(WAIT, server).await.unwrap().unwrap();
}

#[tokio::test]
async fn generated_types_are_debug_and_the_handles_clone() {
    fn debug_clone<T: Debug + Clone>(value: &T) -> String {
        format!("{:?}", value.clone())
    }
    let servant = HelloServant::new(HelloImp);
    assert_eq!(debug_clone(&servant), "HelloServant(HelloImp)");
    let proxy = proxy_to(1).await;
    assert!(debug_clone(&proxy).starts_with("HelloProxy {"), "{proxy:?}");
    let event = EventsEvent::PushMsg {
        ret: 0,
        s_rsp: "x".into(),
    };
    assert_eq!(format!("{event:?}"), "PushMsg { ret: 0, s_rsp: \"x\" }");
    #[derive(Debug)]
    struct Printer;
    impl Events for Printer {
        async fn push_msg(&self, _ret: i32, _s_rsp: String) {}
    }
    assert_eq!(
        format!("{:?}", EventsCallback(Printer)),
        "EventsCallback(Printer)"
    );
    // a sender needs a Current: `Clone + Debug` is checked at compile time
    fn sender_traits<T: Debug + Clone>() {}
    sender_traits::<EventsSender>();
    let _ = proxy.proxy();
}
