//! The client against fake servers: raw TCP listeners that read `RequestPacket` frames and
//! write `ResponsePacket` frames by hand. Every wait is bounded, so a bug fails a test instead
//! of hanging it.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::join_all;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Mutex};

use tars_rpc::client::{Communicator, Proxy, TypedProxy};
use tars_rpc::packet::{
    Context, PacketType, RequestPacket, ResponsePacket, ReturnCode, STATUS_PUSH_FUNC,
};
use tars_rpc::Error;
use tars_rpc::TarsStruct;

const SERVANT: &str = "TestApp.HelloServer.HelloObj";

/// The longest any step may take before the test fails.
const WAIT: Duration = Duration::from_secs(5);

/// `testHello(string sReq, out string sRsp)`: TarsCpp writes the out-parameter too.
#[derive(TarsStruct, Debug, Clone, PartialEq)]
struct HelloArgs {
    #[tars(tag = 1)]
    s_req: String,
    #[tars(tag = 2)]
    s_rsp: String,
}

/// The reply of `testHello`: the return value at tag 0, `sRsp` at tag 2.
#[derive(TarsStruct, Debug, Clone, PartialEq)]
struct HelloResult {
    #[tars(tag = 0)]
    ret: i32,
    #[tars(tag = 2)]
    s_rsp: String,
}

/// A typed proxy as `#[tars_interface]` generates one.
#[derive(Clone)]
struct HelloProxy(Proxy);

impl TypedProxy for HelloProxy {
    fn from_proxy(proxy: Proxy) -> Self {
        Self(proxy)
    }
    fn proxy(&self) -> &Proxy {
        &self.0
    }
}

async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(WAIT, future).await.expect("timed out")
}

fn args(text: &str) -> HelloArgs {
    HelloArgs {
        s_req: text.to_string(),
        s_rsp: String::new(),
    }
}

/// Calls `func` with [`HelloArgs`] and returns the reply's `sRsp`.
async fn call(proxy: &Proxy, func: &str, text: &str) -> Result<String, Error> {
    let result: HelloResult = proxy.invoke(func, &args(text)).await?;
    assert_eq!(result.ret, 0);
    Ok(result.s_rsp)
}

async fn hello(proxy: &Proxy, text: &str) -> Result<String, Error> {
    call(proxy, "testHello", text).await
}

fn proxy_string(ports: &[u16]) -> String {
    let endpoints: Vec<String> = ports
        .iter()
        .map(|port| format!("tcp -h 127.0.0.1 -p {port}"))
        .collect();
    format!("{SERVANT}@{}", endpoints.join(":"))
}

fn proxy(ports: &[u16]) -> Proxy {
    Communicator::new().proxy(&proxy_string(ports)).unwrap()
}

/// Reads one request frame; `None` at the end of the stream.
async fn read_request(stream: &mut (impl AsyncRead + Unpin)) -> Option<RequestPacket> {
    let len = stream.read_u32().await.ok()? as usize;
    let mut body = vec![0; len.checked_sub(4)?];
    stream.read_exact(&mut body).await.ok()?;
    Some(RequestPacket::decode_from(&body).expect("a request packet"))
}

async fn write_packet(
    stream: &mut (impl AsyncWrite + Unpin),
    packet: &ResponsePacket,
) -> std::io::Result<()> {
    let body = packet.to_bytes();
    let mut frame = (body.len() as u32 + 4).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    stream.write_all(&frame).await
}

/// The reply of an echoing `testHello`: `sRsp` is the request's `sReq`.
fn echo_reply(request: &RequestPacket) -> ResponsePacket {
    let args = HelloArgs::decode_from(&request.buffer).expect("hello args");
    ResponsePacket {
        buffer: HelloResult {
            ret: 0,
            s_rsp: args.s_req,
        }
        .to_bytes(),
        ..ResponsePacket::reply_to(request, ReturnCode::SUCCESS)
    }
}

/// A push as TarsCpp's `Current::sendPushResponse` writes it: request id 0, the function in
/// the status.
fn push(function: &str) -> ResponsePacket {
    ResponsePacket {
        request_id: 0,
        buffer: Bytes::from_static(b"\x0c"),
        status: Context::from([(STATUS_PUSH_FUNC.to_string(), function.to_string())]),
        ..ResponsePacket::default()
    }
}

/// A listener whose connections the test handles itself.
struct Fake {
    port: u16,
    accepts: Arc<AtomicUsize>,
    connections: mpsc::UnboundedReceiver<TcpStream>,
}

impl Fake {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepts = Arc::new(AtomicUsize::new(0));
        let (sender, connections) = mpsc::unbounded_channel();
        let counter = accepts.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                if sender.send(stream).is_err() {
                    return;
                }
            }
        });
        Self {
            port,
            accepts,
            connections,
        }
    }

    async fn accept(&mut self) -> TcpStream {
        within(self.connections.recv())
            .await
            .expect("the listener runs")
    }

    fn accepts(&self) -> usize {
        self.accepts.load(Ordering::SeqCst)
    }
}

/// A server that records every request and answers by function: `testHello` echoes after
/// `delay`, `lateReply` echoes after 400 ms, `tars_ping` answers 0, `badBuffer` answers 0
/// with a buffer that is no `HelloResult`, `noReply` never answers; anything else gets -3
/// "no func". One-way requests get no answer.
struct Echo {
    port: u16,
    accepts: Arc<AtomicUsize>,
    requests: mpsc::UnboundedReceiver<RequestPacket>,
}

impl Echo {
    async fn start() -> Self {
        let mut fake = Fake::start().await;
        let (sender, requests) = mpsc::unbounded_channel();
        let (port, accepts) = (fake.port, fake.accepts.clone());
        tokio::spawn(async move {
            while let Some(stream) = fake.connections.recv().await {
                tokio::spawn(serve_echo(stream, sender.clone()));
            }
        });
        Self {
            port,
            accepts,
            requests,
        }
    }

    async fn next_request(&mut self) -> RequestPacket {
        within(self.requests.recv()).await.expect("the server runs")
    }

    /// The requests received so far and not yet taken.
    fn take_requests(&mut self) -> Vec<RequestPacket> {
        std::iter::from_fn(|| self.requests.try_recv().ok()).collect()
    }

    fn accepts(&self) -> usize {
        self.accepts.load(Ordering::SeqCst)
    }
}

async fn serve_echo(stream: TcpStream, requests: mpsc::UnboundedSender<RequestPacket>) {
    let (mut read, write) = stream.into_split();
    let write = Arc::new(Mutex::new(write));
    while let Some(request) = read_request(&mut read).await {
        let _ = requests.send(request.clone());
        if request.packet_type.is_oneway() {
            continue;
        }
        let reply = match request.func_name.as_str() {
            "testHello" => echo_reply(&request),
            "tars_ping" => ResponsePacket::reply_to(&request, ReturnCode::SUCCESS),
            "badBuffer" => ResponsePacket {
                buffer: Bytes::from_static(b"\x26\x05hello"),
                ..ResponsePacket::reply_to(&request, ReturnCode::SUCCESS)
            },
            "noReply" => continue,
            "lateReply" => {
                let write = write.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(400)).await;
                    let _ = write_packet(&mut *write.lock().await, &echo_reply(&request)).await;
                });
                continue;
            }
            _ => ResponsePacket {
                result_desc: "no func".into(),
                ..ResponsePacket::reply_to(&request, ReturnCode::SERVER_NO_FUNC)
            },
        };
        if write_packet(&mut *write.lock().await, &reply)
            .await
            .is_err()
        {
            return;
        }
    }
}

fn from_hex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

// 1
#[tokio::test]
async fn first_request_is_byte_exact_with_tarscpp() {
    // TarsCpp's testHello("hello") with request id 1 and timeout 3000
    const EXPECTED: &str =
        "0000004710012c3c4001561c546573744170702e48656c6c6f5365727665722e48656c6c6f4f626a\
                            66097465737448656c6c6f7d000009160568656c6c6f2600810bb8980ca80c";
    let mut fake = Fake::start().await;
    let proxy = proxy(&[fake.port]);
    let server = async {
        let mut stream = fake.accept().await;
        let mut got = vec![0; EXPECTED.len() / 2];
        stream.read_exact(&mut got).await.unwrap();
        let request = RequestPacket::decode_from(&got[4..]).unwrap();
        write_packet(&mut stream, &echo_reply(&request))
            .await
            .unwrap();
        (got, stream)
    };
    let (reply, (got, _stream)) =
        within(async { tokio::join!(hello(&proxy, "hello"), server) }).await;
    assert_eq!(to_hex(&got), EXPECTED);
    assert_eq!(got, from_hex(EXPECTED));
    assert_eq!(reply.unwrap(), "hello");
}

// 2
#[tokio::test]
async fn invoke_round_trips_and_reports_the_servants_errors() {
    let echo = Echo::start().await;
    let proxy = proxy(&[echo.port]);
    assert_eq!(
        within(hello(&proxy, "round trip")).await.unwrap(),
        "round trip"
    );

    let error = within(call(&proxy, "noSuchFunc", "x")).await.unwrap_err();
    assert_eq!(error.code(), ReturnCode(-3));
    assert_eq!(error.message(), "no func");

    let error = within(call(&proxy, "badBuffer", "x")).await.unwrap_err();
    assert_eq!(error.code(), ReturnCode::CLIENT_DECODE_ERR, "{error}");

    // the raw form returns the reply whatever its code
    let reply = within(proxy.invoke_raw("noSuchFunc", &args("x").to_bytes()))
        .await
        .unwrap();
    assert_eq!(
        (reply.ret, reply.result_desc.as_str()),
        (ReturnCode::SERVER_NO_FUNC, "no func")
    );
    assert_eq!(echo.accepts(), 1);
}

// 3
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_share_one_connection_and_get_their_own_replies() {
    const CALLS: usize = 100;
    let mut fake = Fake::start().await;
    let proxy = proxy(&[fake.port]);
    // spawned, so on both worker threads (and the call futures must be Send)
    let calls = join_all((0..CALLS).map(|i| {
        let proxy = proxy.clone();
        tokio::spawn(async move { hello(&proxy, &format!("call {i}")).await })
    }));
    let server = async {
        let mut stream = fake.accept().await;
        let mut requests = Vec::new();
        for _ in 0..CALLS {
            requests.push(read_request(&mut stream).await.expect("a request"));
        }
        for request in requests.iter().rev() {
            write_packet(&mut stream, &echo_reply(request))
                .await
                .unwrap();
        }
        (requests, stream)
    };
    let (results, (requests, _stream)) = within(async { tokio::join!(calls, server) }).await;
    for (i, result) in results.into_iter().enumerate() {
        assert_eq!(result.expect("the task ran").unwrap(), format!("call {i}"));
    }
    let mut ids: Vec<i32> = requests.iter().map(|request| request.request_id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), CALLS, "request ids are distinct");
    assert_eq!(fake.accepts(), 1);
}

// 4
#[tokio::test]
async fn a_call_times_out_and_the_connection_stays_usable() {
    let echo = Echo::start().await;
    let proxy = proxy(&[echo.port]);
    let quick = proxy.with_timeout(Duration::from_millis(200));

    let started = Instant::now();
    let error = within(call(&quick, "noReply", "x")).await.unwrap_err();
    assert_eq!(error.code(), ReturnCode::INVOKE_TIMEOUT, "{error}");
    assert!(started.elapsed() >= Duration::from_millis(200));

    // a reply that comes after its call timed out is dropped
    let error = within(call(&quick, "lateReply", "late")).await.unwrap_err();
    assert!(error.is_timeout(), "{error}");
    assert_eq!(within(hello(&proxy, "after")).await.unwrap(), "after");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        within(hello(&quick, "after the late reply")).await.unwrap(),
        "after the late reply"
    );
    assert_eq!(echo.accepts(), 1);
}

// 5
#[tokio::test]
async fn a_lost_connection_fails_calls_in_flight_at_once_and_the_next_call_reconnects() {
    let mut fake = Fake::start().await;
    let proxy = proxy(&[fake.port]);
    let calls = join_all((0..5).map(|i| {
        let proxy = proxy.clone();
        async move { hello(&proxy, &format!("call {i}")).await }
    }));
    let server = async {
        let mut stream = fake.accept().await;
        for _ in 0..5 {
            read_request(&mut stream).await.expect("a request");
        }
        // closes the connection with the calls unanswered
    };
    let (results, ()) = within(async { tokio::join!(calls, server) }).await;
    for result in results {
        let error = result.unwrap_err();
        assert_eq!(error.code(), ReturnCode::PROXY_CONNECT_ERR, "{error}");
        assert!(
            error.message().contains(&format!("-p {}", fake.port)),
            "names the endpoint: {error}"
        );
    }

    let server = async {
        let mut stream = fake.accept().await;
        let request = read_request(&mut stream).await.expect("a request");
        write_packet(&mut stream, &echo_reply(&request))
            .await
            .unwrap();
        stream
    };
    let (result, _stream) = within(async { tokio::join!(hello(&proxy, "again"), server) }).await;
    assert_eq!(result.unwrap(), "again");
    assert_eq!(fake.accepts(), 2);
}

// 6
#[tokio::test]
async fn connecting_to_a_closed_port_fails_with_a_connect_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let proxy = proxy(&[port]);
    let error = within(hello(&proxy, "x")).await.unwrap_err();
    assert_eq!(error.code(), ReturnCode::PROXY_CONNECT_ERR, "{error}");
    assert!(
        error.message().contains(&port.to_string()),
        "names the endpoint: {error}"
    );
    let error = within(proxy.ping()).await.unwrap_err();
    assert_eq!(error.code(), ReturnCode::PROXY_CONNECT_ERR, "{error}");
    let error = within(proxy.invoke_oneway("notify", &args("x")))
        .await
        .unwrap_err();
    assert_eq!(error.code(), ReturnCode::PROXY_CONNECT_ERR, "{error}");
}

// 7
#[tokio::test]
async fn calls_go_to_the_endpoints_in_turn() {
    let mut first = Echo::start().await;
    let mut second = Echo::start().await;
    let proxy = proxy(&[first.port, second.port]);
    assert_eq!(proxy.endpoints().len(), 2);
    for i in 0..10 {
        assert_eq!(
            within(hello(&proxy, &format!("call {i}"))).await.unwrap(),
            format!("call {i}")
        );
    }
    let first_requests = first.take_requests();
    let second_requests = second.take_requests();
    assert_eq!((first_requests.len(), second_requests.len()), (5, 5));
    // strictly alternating: one server saw the even calls, the other the odd ones
    let parities: Vec<u32> = first_requests
        .iter()
        .map(|request| HelloArgs::decode_from(&request.buffer).unwrap().s_req)
        .map(|text| text.trim_start_matches("call ").parse::<u32>().unwrap() % 2)
        .collect();
    assert!(
        parities.iter().all(|&parity| parity == parities[0]),
        "{parities:?}"
    );
    assert_eq!((first.accepts(), second.accepts()), (1, 1));
}

// 8
#[tokio::test]
async fn the_context_and_timeout_of_a_handle_reach_the_server() {
    let mut echo = Echo::start().await;
    let communicator = Communicator::builder()
        .call_timeout(Duration::from_millis(2500))
        .build();
    let proxy = communicator.proxy(&proxy_string(&[echo.port])).unwrap();
    assert_eq!(proxy.timeout(), Duration::from_millis(2500));

    let context = Context::from([
        ("traceId".to_string(), "abc".to_string()),
        ("user".to_string(), "42".to_string()),
    ]);
    let handle = proxy
        .with_context(context.clone())
        .with_timeout(Duration::from_millis(1234));
    within(hello(&handle, "with context")).await.unwrap();
    let request = echo.next_request().await;
    assert_eq!(request.context, context);
    assert_eq!(request.timeout, 1234);

    // the original handle is unchanged
    within(hello(&proxy, "plain")).await.unwrap();
    let request = echo.next_request().await;
    assert!(request.context.is_empty());
    assert!(request.status.is_empty());
    assert_eq!(request.timeout, 2500);
    assert_eq!(
        (request.servant_name.as_str(), request.func_name.as_str()),
        (SERVANT, "testHello")
    );
}

// 9
#[tokio::test]
async fn a_one_way_call_returns_without_a_reply() {
    let mut echo = Echo::start().await;
    let proxy = proxy(&[echo.port]);
    within(proxy.invoke_oneway("notify", &args("one way")))
        .await
        .unwrap();
    let request = echo.next_request().await;
    assert_eq!(request.packet_type, PacketType::ONEWAY);
    assert_eq!(request.func_name, "notify");
    assert_eq!(
        HelloArgs::decode_from(&request.buffer).unwrap(),
        args("one way")
    );

    within(proxy.invoke_raw_oneway("notify", &args("raw").to_bytes()))
        .await
        .unwrap();
    assert_eq!(echo.next_request().await.packet_type, PacketType::ONEWAY);

    assert_eq!(
        within(hello(&proxy, "then a call")).await.unwrap(),
        "then a call"
    );
    assert_eq!(echo.accepts(), 1);
}

// 10
#[tokio::test]
async fn pushes_between_replies_do_not_disturb_calls() {
    let mut fake = Fake::start().await;
    let accepts = fake.accepts.clone();
    let proxy = proxy(&[fake.port]);
    let server = tokio::spawn(async move {
        let mut stream = fake.accept().await;
        while let Some(request) = read_request(&mut stream).await {
            write_packet(&mut stream, &push("onEvent")).await.unwrap();
            write_packet(&mut stream, &echo_reply(&request))
                .await
                .unwrap();
            write_packet(&mut stream, &push("onOtherEvent"))
                .await
                .unwrap();
        }
    });
    for i in 0..5 {
        assert_eq!(
            within(hello(&proxy, &format!("call {i}"))).await.unwrap(),
            format!("call {i}")
        );
    }
    let results = within(join_all((0..10).map(|i| {
        let proxy = proxy.clone();
        async move { hello(&proxy, &format!("concurrent {i}")).await }
    })))
    .await;
    for (i, result) in results.into_iter().enumerate() {
        assert_eq!(result.unwrap(), format!("concurrent {i}"));
    }
    assert_eq!(accepts.load(Ordering::SeqCst), 1);
    server.abort();
}

// 11
#[tokio::test]
async fn request_ids_start_at_one_and_increase() {
    let mut echo = Echo::start().await;
    let proxy = proxy(&[echo.port]);
    for i in 0..5 {
        within(hello(&proxy, &format!("call {i}"))).await.unwrap();
    }
    within(proxy.invoke_oneway("notify", &args("x")))
        .await
        .unwrap();
    within(proxy.ping()).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..7 {
        ids.push(echo.next_request().await.request_id);
    }
    assert_eq!(ids[0], 1);
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");

    within(join_all((0..20).map(|i| {
        let proxy = proxy.clone();
        async move { hello(&proxy, &format!("concurrent {i}")).await.unwrap() }
    })))
    .await;
    let mut concurrent: Vec<i32> = echo
        .take_requests()
        .iter()
        .map(|request| request.request_id)
        .collect();
    assert_eq!(concurrent.len(), 20);
    concurrent.sort_unstable();
    concurrent.dedup();
    assert_eq!(concurrent.len(), 20);
    assert!(concurrent.iter().all(|&id| id > ids[6]));
}

// 12
#[tokio::test]
async fn garbage_from_the_server_fails_calls_in_flight_and_the_next_call_reconnects() {
    let mut fake = Fake::start().await;
    let proxy = proxy(&[fake.port]);
    let cases: [(&[u8], &str); 3] = [
        // a frame whose body is no ResponsePacket (wire type 14 does not exist)
        (b"\x00\x00\x00\x08\xde\xad\xbe\xef", "undecodable"),
        // a length over the 10 MiB maximum
        (b"\x7f\xff\xff\xff", "exceeds the maximum"),
        // a length shorter than the length field itself
        (b"\x00\x00\x00\x02", "shorter"),
    ];
    for (garbage, why) in cases {
        let calls = join_all((0..3).map(|i| {
            let proxy = proxy.clone();
            async move { hello(&proxy, &format!("call {i}")).await }
        }));
        let server = async {
            let mut stream = fake.accept().await;
            for _ in 0..3 {
                read_request(&mut stream).await.expect("a request");
            }
            stream.write_all(garbage).await.unwrap();
            // keep the connection open: the garbage alone must close it
            stream
        };
        let (results, _stream) = within(async { tokio::join!(calls, server) }).await;
        for result in results {
            let error = result.unwrap_err();
            assert_eq!(error.code(), ReturnCode::PROXY_CONNECT_ERR, "{error}");
            assert!(error.message().contains(why), "{error}");
        }
    }

    let server = async {
        let mut stream = fake.accept().await;
        let request = read_request(&mut stream).await.expect("a request");
        write_packet(&mut stream, &echo_reply(&request))
            .await
            .unwrap();
        stream
    };
    let (result, _stream) =
        within(async { tokio::join!(hello(&proxy, "recovered"), server) }).await;
    assert_eq!(result.unwrap(), "recovered");
    assert_eq!(fake.accepts(), 4);
}

// 13
#[tokio::test]
async fn ping_succeeds_when_the_server_answers_zero() {
    let mut echo = Echo::start().await;
    let proxy = proxy(&[echo.port]);
    within(proxy.ping()).await.unwrap();
    let request = echo.next_request().await;
    assert_eq!(request.func_name, "tars_ping");
    assert!(request.buffer.is_empty());
    assert_eq!(request.packet_type, PacketType::NORMAL);
}

#[tokio::test]
async fn the_same_proxy_string_shares_one_object() {
    let echo = Echo::start().await;
    let address = proxy_string(&[echo.port]);
    let communicator = Communicator::new();
    let typed: HelloProxy = communicator.string_to_proxy(&address).unwrap();
    let untyped = communicator.proxy(&address).unwrap();
    assert_eq!(typed.proxy().servant_name(), SERVANT);
    assert_eq!(
        within(hello(typed.proxy(), "typed")).await.unwrap(),
        "typed"
    );
    assert_eq!(within(hello(&untyped, "untyped")).await.unwrap(), "untyped");
    assert_eq!(echo.accepts(), 1);

    // another communicator has objects of its own
    let other = Communicator::new().proxy(&address).unwrap();
    assert_eq!(within(hello(&other, "other")).await.unwrap(), "other");
    assert_eq!(echo.accepts(), 2);

    assert!(communicator.proxy("no at sign").is_err());
    assert!(communicator
        .string_to_proxy::<HelloProxy>("A.B.C@tcp -h x")
        .is_err());
}

#[tokio::test]
async fn dropping_the_last_handle_closes_the_connection() {
    let mut fake = Fake::start().await;
    let communicator = Communicator::new();
    let proxy = communicator.proxy(&proxy_string(&[fake.port])).unwrap();
    let clone = proxy.with_timeout(Duration::from_secs(1));
    let server = async {
        let mut stream = fake.accept().await;
        let request = read_request(&mut stream).await.expect("a request");
        write_packet(&mut stream, &echo_reply(&request))
            .await
            .unwrap();
        stream
    };
    let (result, mut stream) = within(async { tokio::join!(hello(&proxy, "x"), server) }).await;
    result.unwrap();

    drop(proxy);
    let mut byte = [0u8];
    let read = tokio::time::timeout(Duration::from_millis(100), stream.read(&mut byte)).await;
    assert!(read.is_err(), "a handle is left: the connection stays open");

    drop(clone);
    let read = within(stream.read(&mut byte)).await;
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "the connection is closed: {read:?}"
    );
}
