//! `#[tars_interface]` end to end: the generated proxy calls the generated servant over
//! loopback, and both speak TarsCpp's bytes exactly.

mod common;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::interop::{
    check_oneway_and_timeout, check_round_trips, HelloProxy, HelloServant, InteropImp,
    InteropProxy, InteropServant,
};
use common::{hex, unhex};
use futures::{SinkExt, StreamExt};
use tars_rpc::client::{Communicator, TypedProxy};
use tars_rpc::framing::FrameCodec;
use tars_rpc::packet::{Context, ReturnCode};
use tars_rpc::server::Server;
use tars_rpc::{tars_interface, Current, Error, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tokio_util::codec::Framed;

const INTEROP: &str = "Interop.RpcServer.InteropObj";
const HELLO: &str = "TestApp.HelloServer.HelloObj";
const EXTRAS: &str = "Test.RustServer.ExtrasObj";
const WAIT: Duration = Duration::from_secs(5);

/// What only a Rust servant can show: the request context, and a panicking handler.
#[tars_interface]
trait Extras {
    async fn connection_of(&self, current: &Current, echo: String, tag: &mut String)
        -> Result<i64>;
    async fn context_value(&self, current: &Current, key: String) -> Result<String>;
    async fn panics(&self) -> Result<()>;
}

struct ExtrasImp;

impl Extras for ExtrasImp {
    async fn connection_of(
        &self,
        current: &Current,
        echo: String,
        tag: &mut String,
    ) -> Result<i64> {
        *tag = format!("{echo}@{}", current.func_name());
        let mut context = Context::new();
        context.insert("seen".into(), current.request_id().to_string());
        current.set_response_context(context);
        Ok(current.connection_id() as i64)
    }

    async fn context_value(&self, current: &Current, key: String) -> Result<String> {
        Ok(current.context().get(&key).cloned().unwrap_or_default())
    }

    async fn panics(&self) -> Result<()> {
        panic!("handler panicked on purpose")
    }
}

async fn start_server() -> Server {
    Server::builder()
        .servant(
            INTEROP,
            "tcp -h 127.0.0.1 -p 0 -t 60000",
            InteropServant::new(InteropImp::default()),
        )
        .servant(
            HELLO,
            "tcp -h 127.0.0.1 -p 0 -t 60000",
            HelloServant::new(InteropImp::default()),
        )
        .servant(
            EXTRAS,
            "tcp -h 127.0.0.1 -p 0 -t 60000",
            ExtrasServant::new(ExtrasImp),
        )
        .start()
        .await
        .expect("the server starts")
}

fn proxy<P: TypedProxy>(communicator: &Communicator, server: &Server, servant: &str) -> P {
    let address = server.local_addr(servant).expect("bound");
    communicator
        .string_to_proxy(&format!("{servant}@tcp -h 127.0.0.1 -p {}", address.port()))
        .expect("a valid proxy string")
}

#[tokio::test]
async fn every_shape_of_method_round_trips() {
    let server = start_server().await;
    let communicator = Communicator::new();
    let interop: InteropProxy = proxy(&communicator, &server, INTEROP);
    let hello: HelloProxy = proxy(&communicator, &server, HELLO);

    check_round_trips(&hello, &interop).await;
    assert_eq!(timeout(WAIT, interop.slow(1)).await.unwrap().unwrap(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn errors_carry_the_servants_code_and_description() {
    let server = start_server().await;
    let communicator = Communicator::new();
    let interop: InteropProxy = proxy(&communicator, &server, INTEROP);
    let extras: ExtrasProxy = proxy(&communicator, &server, EXTRAS);

    let error = timeout(WAIT, interop.fail_with(1234))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(error, Error::new(ReturnCode(1234), "failed on purpose"));

    let raw = interop.proxy();
    let reply = timeout(WAIT, raw.invoke_raw("noSuchFunction", &[]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.ret, ReturnCode::SERVER_NO_FUNC);
    assert!(
        reply.result_desc.contains("noSuchFunction"),
        "{}",
        reply.result_desc
    );

    // `mixed` needs `a` at tag 1: an empty buffer does not decode
    let reply = timeout(WAIT, raw.invoke_raw("mixed", &[]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.ret, ReturnCode::SERVER_DECODE_ERR);
    assert!(reply.result_desc.contains("tag 1"), "{}", reply.result_desc);

    let error = timeout(WAIT, extras.panics()).await.unwrap().unwrap_err();
    assert_eq!(error.code(), ReturnCode::SERVER_UNKNOWN_ERR);
    assert!(error.message().contains("panicked on purpose"), "{error}");
    // the connection survived the panic
    timeout(WAIT, interop.nothing()).await.unwrap().unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn oneway_timeout_and_context() {
    let server = start_server().await;
    let communicator = Communicator::new();
    let interop: InteropProxy = proxy(&communicator, &server, INTEROP);
    let extras: ExtrasProxy = proxy(&communicator, &server, EXTRAS);

    check_oneway_and_timeout(&interop).await;

    let context = Context::from([("trace".to_string(), "abc".to_string())]);
    let value = timeout(
        WAIT,
        extras.with_context(context).context_value("trace".into()),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(value, "abc");

    // Current: one connection id for the calls of one proxy, another for another communicator
    let (first, tag) = timeout(WAIT, extras.connection_of("x".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tag, "x@connectionOf");
    let (second, _) = timeout(WAIT, extras.connection_of("y".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first, second);
    let other: ExtrasProxy = proxy(&Communicator::new(), &server, EXTRAS);
    let (third, _) = timeout(WAIT, other.connection_of("z".into()))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(first, third);
    server.shutdown().await;
}

/// The testHello request of TarsCpp's QuickStartDemo client, captured: request id 1, 3 s timeout.
const TARSCPP_HELLO_REQUEST: &str = "0000004710012c3c4001561c546573744170702e48656c6c6f5365727665722e48656c6c6f4f626a66097465737448656c6c6f7d000009160568656c6c6f2600810bb8980ca80c";
/// The reply of TarsCpp's QuickStartDemo server to it.
const TARSCPP_HELLO_REPLY: &str = "0000001910012c30014c5c6d0000080c260568656c6c6f780c";

#[tokio::test]
async fn the_generated_proxy_sends_tarscpp_bytes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let fake_server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let expected = unhex(TARSCPP_HELLO_REQUEST);
        let mut request = vec![0; expected.len()];
        socket.read_exact(&mut request).await.unwrap();
        // answer as the C++ server does, so the call completes
        socket.write_all(&unhex(TARSCPP_HELLO_REPLY)).await.unwrap();
        request
    });
    let hello: HelloProxy = Communicator::new()
        .string_to_proxy(&format!("{HELLO}@tcp -h 127.0.0.1 -p {port}"))
        .unwrap();
    let (ret, s_rsp) = timeout(WAIT, hello.test_hello("hello".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((ret, s_rsp.as_str()), (0, "hello"));
    let request = timeout(WAIT, fake_server).await.unwrap().unwrap();
    assert_eq!(hex(&request), TARSCPP_HELLO_REQUEST);
}

#[tokio::test]
async fn the_generated_servant_replies_tarscpp_bytes() {
    let server = start_server().await;
    let address = server.local_addr(HELLO).unwrap();
    let mut socket = TcpStream::connect(address).await.unwrap();
    socket
        .write_all(&unhex(TARSCPP_HELLO_REQUEST))
        .await
        .unwrap();
    let mut framed = Framed::new(socket, FrameCodec::default());
    let body = timeout(WAIT, framed.next())
        .await
        .unwrap()
        .expect("a reply")
        .unwrap();
    let mut reply = BytesMut::new();
    FrameCodec::default()
        .write_frame(&mut reply, |buf| buf.extend_from_slice(&body))
        .unwrap();
    assert_eq!(hex(&reply), TARSCPP_HELLO_REPLY);

    // and a request it cannot parse closes only that connection
    framed
        .send(Bytes::from_static(b"\x01\x02\x03"))
        .await
        .unwrap();
    assert!(timeout(WAIT, framed.next())
        .await
        .unwrap()
        .is_none_or(|item| item.is_err()));
    let hello: HelloProxy = proxy(&Communicator::new(), &server, HELLO);
    assert_eq!(
        timeout(WAIT, hello.test_hello("still up".into()))
            .await
            .unwrap()
            .unwrap()
            .1,
        "still up"
    );
    server.shutdown().await;
}
