//! `RawProxy`, a client speaking its own protocol, against fake servers speaking TarsCpp's
//! PushDemo protocol: frame = 4-byte big-endian total length, 4-byte big-endian request id,
//! payload; request id 0 is a push. Every wait is bounded, so a bug fails a test instead of
//! hanging it.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use futures::future::join_all;
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use tars_rpc::client::{CloseReason, Communicator, CommunicatorBuilder, Proxy, RawWire};
use tars_rpc::endpoint::Endpoint;
use tars_rpc::packet::ReturnCode;
use tars_rpc::protocol::{
    request_id_after_length, ClientProtocol, FrameSplitter, LengthPrefixed, ProtocolError,
    RawResponse,
};

/// The longest any step may take before the test fails.
const WAIT: Duration = Duration::from_secs(5);

/// The PushDemo protocol, the client's side.
struct PushDemoProtocol;

impl ClientProtocol for PushDemoProtocol {
    fn encode_request(
        &self,
        request_id: i32,
        payload: &[u8],
        buf: &mut BytesMut,
    ) -> Result<(), ProtocolError> {
        let len =
            u32::try_from(8 + payload.len()).map_err(|_| ProtocolError::new("payload too long"))?;
        buf.put_u32(len);
        buf.put_i32(request_id);
        buf.extend_from_slice(payload);
        Ok(())
    }

    fn decode_response(&self, buf: &mut BytesMut) -> Result<Option<RawResponse>, ProtocolError> {
        // no maximum here: the connection bounds what it buffers
        let Some(frame) = LengthPrefixed::new(usize::MAX).split(buf)? else {
            return Ok(None);
        };
        let request_id = request_id_after_length(&frame).ok_or_else(|| {
            ProtocolError::new(format!("a {}-byte frame has no request id", frame.len()))
        })?;
        Ok(Some(RawResponse { request_id, frame }))
    }
}

async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(WAIT, future).await.expect("timed out")
}

/// A PushDemo frame.
fn frame(request_id: i32, payload: &[u8]) -> Vec<u8> {
    let mut frame = ((8 + payload.len()) as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&request_id.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// The payload of a PushDemo frame.
fn payload(frame: &[u8]) -> &[u8] {
    &frame[8..]
}

/// Reads one request frame: its id and payload; `None` at the end of the stream.
async fn read_frame(stream: &mut (impl AsyncRead + Unpin)) -> Option<(i32, Vec<u8>)> {
    let len = stream.read_u32().await.ok()? as usize;
    let id = stream.read_i32().await.ok()?;
    let mut payload = vec![0; len.checked_sub(8)?];
    stream.read_exact(&mut payload).await.ok()?;
    Some((id, payload))
}

/// A listener whose connections the test handles itself, counting them.
struct Fake {
    listener: TcpListener,
    port: u16,
    accepted: usize,
}

impl Fake {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        Self {
            listener,
            port,
            accepted: 0,
        }
    }

    async fn accept(&mut self) -> TcpStream {
        let (stream, _) = within(self.listener.accept()).await.unwrap();
        self.accepted += 1;
        stream
    }

    /// Whether a connection is made within `wait`.
    async fn connects_within(&mut self, wait: Duration) -> bool {
        tokio::time::timeout(wait, self.listener.accept())
            .await
            .is_ok()
    }

    fn endpoints(&self) -> String {
        format!("PushDemo@tcp -h 127.0.0.1 -p {}", self.port)
    }
}

fn config() -> CommunicatorBuilder {
    Communicator::builder()
        .max_frame_len(1024)
        .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(100))
}

fn raw_proxy(fake: &Fake) -> Proxy<RawWire> {
    config()
        .build()
        .raw_proxy(&fake.endpoints(), PushDemoProtocol)
        .unwrap()
}

// 1
#[tokio::test]
async fn calls_get_their_own_responses_even_in_reverse_order_on_one_connection() {
    let mut fake = Fake::start().await;
    let proxy = raw_proxy(&fake);
    assert_eq!(proxy.name(), Some("PushDemo"));

    let server = async {
        let mut stream = fake.accept().await;
        let (id, payload) = read_frame(&mut stream).await.expect("a request");
        stream.write_all(&frame(id, &payload)).await.unwrap();
        stream
    };
    let (response, mut stream) = within(async { tokio::join!(proxy.call(b"hello"), server) }).await;
    assert_eq!(&response.unwrap()[..], &frame(1, b"hello")[..]);

    let calls = join_all((0..50).map(|i| {
        let proxy = proxy.clone();
        async move {
            let sent = format!("call {i}");
            let response = proxy.call(sent.as_bytes()).await.unwrap();
            assert_eq!(payload(&response), sent.as_bytes());
            request_id_after_length(&response).unwrap()
        }
    }));
    let server = async {
        let mut requests = Vec::new();
        for _ in 0..50 {
            requests.push(read_frame(&mut stream).await.expect("a request"));
        }
        // the last request first
        let mut responses = Vec::new();
        for (id, payload) in requests.iter().rev() {
            responses.extend_from_slice(&frame(*id, payload));
        }
        stream.write_all(&responses).await.unwrap();
        requests
    };
    let (mut ids, requests) = within(async { tokio::join!(calls, server) }).await;
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 50);
    assert!(ids.iter().all(|&id| id > 1), "{ids:?}");
    assert_eq!(requests.len(), 50);

    assert!(!fake.connects_within(Duration::from_millis(100)).await);
    assert_eq!(fake.accepted, 1);
}

// 2
#[tokio::test]
async fn pushes_between_responses_reach_a_slow_callback_in_order_and_the_stream() {
    let mut fake = Fake::start().await;
    let proxy = raw_proxy(&fake);
    let (handled_sender, mut handled) = mpsc::unbounded_channel();
    // the callback is stuck until the calls are done
    let gate = CancellationToken::new();
    let callback_gate = gate.clone();
    proxy.set_push_handler(move |frame: Bytes| {
        let handled = handled_sender.clone();
        let gate = callback_gate.clone();
        async move {
            gate.cancelled().await;
            let _ = handled.send(frame);
        }
    });
    let mut stream_frames = proxy.push_stream();

    const CALLS: usize = 10;
    let server = async {
        let mut stream = fake.accept().await;
        for call in 0..CALLS {
            let (id, payload) = read_frame(&mut stream).await.expect("a request");
            let mut out = frame(0, format!("push {}", 2 * call).as_bytes());
            out.extend_from_slice(&frame(0, format!("push {}", 2 * call + 1).as_bytes()));
            out.extend_from_slice(&frame(id, &payload));
            stream.write_all(&out).await.unwrap();
        }
        stream
    };
    let calls = async {
        for call in 0..CALLS {
            let sent = format!("call {call}");
            let response = proxy.call(sent.as_bytes()).await.unwrap();
            assert_eq!(payload(&response), sent.as_bytes());
        }
    };
    let ((), _stream) = within(async { tokio::join!(calls, server) }).await;
    // the responses did not wait for the callback
    assert!(handled.try_recv().is_err(), "the callback is stuck");
    gate.cancel();

    let expected: Vec<Vec<u8>> = (0..2 * CALLS)
        .map(|n| frame(0, format!("push {n}").as_bytes()))
        .collect();
    for want in &expected {
        let got = within(stream_frames.next()).await.expect("a push frame");
        assert_eq!(&got[..], &want[..]);
    }
    for want in &expected {
        let got = within(handled.recv()).await.expect("a handled push");
        assert_eq!(&got[..], &want[..]);
    }
}

// 3
#[tokio::test]
async fn garbage_from_the_server_fails_calls_in_flight_and_the_next_call_reconnects() {
    let mut fake = Fake::start().await;
    let proxy = raw_proxy(&fake);
    let (reasons_sender, mut reasons) = mpsc::unbounded_channel();
    proxy.on_close(move |_, reason| {
        let _ = reasons_sender.send(reason);
    });
    let mut too_long = frame(7, &[0; 8]);
    too_long[..4].copy_from_slice(&100_000u32.to_be_bytes());
    too_long.extend_from_slice(&[0x55; 2000]);
    let cases: [(&[u8], &str); 3] = [
        // a length shorter than the length field itself
        (b"\x00\x00\x00\x02", "shorter than its 4-byte length field"),
        // a length over the 1024-byte maximum: its bytes pile up
        (&too_long, "over the maximum frame length of 1024 bytes"),
        // a whole frame too short for a request id: decode_response fails
        (
            b"\x00\x00\x00\x06\x01\x02",
            "a 6-byte frame has no request id",
        ),
    ];
    for (garbage, why) in cases {
        let calls = join_all((0..3).map(|i| {
            let proxy = proxy.clone();
            async move { proxy.call(format!("call {i}").as_bytes()).await }
        }));
        let server = async {
            let mut stream = fake.accept().await;
            for _ in 0..3 {
                read_frame(&mut stream).await.expect("a request");
            }
            stream.write_all(garbage).await.unwrap();
            // keep the connection open: the garbage alone must close it
            stream
        };
        let (results, _stream) = within(async { tokio::join!(calls, server) }).await;
        for result in results {
            let error = result.unwrap_err();
            assert_eq!(error.code(), ReturnCode::PROXY_CONNECT_ERR, "{error}");
            assert!(error.message().contains("bad frame"), "{error}");
            assert!(error.message().contains(why), "{error}");
        }
        let reason = within(reasons.recv()).await.unwrap();
        assert!(
            matches!(&reason, CloseReason::BadFrame(error) if error.contains(why)),
            "{reason}"
        );
    }

    let server = async {
        let mut stream = fake.accept().await;
        let (id, payload) = read_frame(&mut stream).await.expect("a request");
        stream.write_all(&frame(id, &payload)).await.unwrap();
        stream
    };
    let (response, _stream) = within(async { tokio::join!(proxy.call(b"again"), server) }).await;
    assert_eq!(payload(&response.unwrap()), b"again");
    assert_eq!(fake.accepted, 4);
}

// 4
#[tokio::test]
async fn a_call_without_response_times_out_and_the_connection_stays_usable() {
    let mut fake = Fake::start().await;
    let proxy = raw_proxy(&fake).with_timeout(Duration::from_millis(200));
    let server = async {
        let mut stream = fake.accept().await;
        let first = read_frame(&mut stream).await.expect("a request");
        (stream, first)
    };
    let started = Instant::now();
    let (result, (mut stream, first)) =
        within(async { tokio::join!(proxy.call(b"never answered"), server) }).await;
    let elapsed = started.elapsed();
    let error = result.unwrap_err();
    assert_eq!(error.code(), ReturnCode::INVOKE_TIMEOUT, "{error}");
    assert!(error.message().contains("PushDemo"), "{error}");
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");

    // the late response is dropped; the next call gets its own
    let server = async {
        let (id, payload) = read_frame(&mut stream).await.expect("a request");
        let mut out = frame(first.0, &first.1);
        out.extend_from_slice(&frame(id, &payload));
        stream.write_all(&out).await.unwrap();
    };
    let (response, ()) = within(async { tokio::join!(proxy.call(b"answered"), server) }).await;
    let response = response.unwrap();
    assert_eq!(payload(&response), b"answered");
    assert_eq!(request_id_after_length(&response), Some(2));
    assert_eq!(fake.accepted, 1);
}

// 5
#[tokio::test]
async fn in_push_mode_a_dropped_connection_is_made_again_and_on_connect_registers() {
    let mut fake = Fake::start().await;
    let proxy = raw_proxy(&fake);
    let (pushes_sender, mut pushes) = mpsc::unbounded_channel();
    proxy.set_push_handler(move |frame: Bytes| {
        let pushes = pushes_sender.clone();
        async move {
            let _ = pushes.send(frame);
        }
    });
    let connects = Arc::new(AtomicUsize::new(0));
    let hook_connects = connects.clone();
    proxy.on_connect(move |proxy: Proxy<RawWire>, endpoint: Endpoint| {
        hook_connects.fetch_add(1, Ordering::SeqCst);
        async move {
            proxy.send(b"register").await.unwrap();
            let _ = endpoint;
        }
    });
    let closes = Arc::new(StdMutex::new(Vec::new()));
    let hook_closes = closes.clone();
    proxy.on_close(move |_, reason| hook_closes.lock().unwrap().push(reason));

    // the first connection: a call and the registration, in either order
    let server = async {
        let mut stream = fake.accept().await;
        let mut payloads = Vec::new();
        for _ in 0..2 {
            let (id, payload) = read_frame(&mut stream).await.expect("a request");
            if payload == b"hello" {
                stream.write_all(&frame(id, &payload)).await.unwrap();
            }
            payloads.push(payload);
        }
        stream.write_all(&frame(0, b"first push")).await.unwrap();
        payloads.sort();
        assert_eq!(payloads, [b"hello".to_vec(), b"register".to_vec()]);
        stream
    };
    let (response, stream) = within(async { tokio::join!(proxy.call(b"hello"), server) }).await;
    assert_eq!(payload(&response.unwrap()), b"hello");
    assert_eq!(
        payload(&within(pushes.recv()).await.unwrap()),
        b"first push"
    );

    // the server drops it: the client connects again by itself and registers again
    drop(stream);
    let mut stream = fake.accept().await;
    let (_, registration) = within(read_frame(&mut stream)).await.expect("a request");
    assert_eq!(registration, b"register");
    stream.write_all(&frame(0, b"second push")).await.unwrap();
    assert_eq!(
        payload(&within(pushes.recv()).await.unwrap()),
        b"second push"
    );
    assert_eq!(connects.load(Ordering::SeqCst), 2);
    assert!(
        matches!(closes.lock().unwrap()[..], [CloseReason::Eof]),
        "{:?}",
        closes.lock().unwrap()
    );
    assert_eq!(fake.accepted, 2);
}

// 6
#[tokio::test]
async fn requests_are_byte_exact() {
    let mut fake = Fake::start().await;
    let proxy = raw_proxy(&fake);
    let server = async {
        let mut stream = fake.accept().await;
        let mut request = [0u8; 11];
        stream.read_exact(&mut request).await.unwrap();
        assert_eq!(
            request,
            [0x00, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x01, 0x61, 0x62, 0x63]
        );
        stream.write_all(&request).await.unwrap();
        let mut sent = [0u8; 10];
        stream.read_exact(&mut sent).await.unwrap();
        assert_eq!(sent, [0, 0, 0, 10, 0, 0, 0, 2, b'n', b'o']);
        stream
    };
    let client = async {
        let response = proxy.call(b"abc").await.unwrap();
        proxy.send(b"no").await.unwrap();
        response
    };
    let (response, _stream) = within(async { tokio::join!(client, server) }).await;
    assert_eq!(&response[..], b"\x00\x00\x00\x0b\x00\x00\x00\x01abc");
}

// 7
#[tokio::test]
async fn in_push_mode_the_heartbeat_is_sent_on_idle_connections() {
    let mut fake = Fake::start().await;
    let proxy = config()
        .build()
        .raw_proxy_builder(&fake.endpoints(), PushDemoProtocol)
        .heartbeat(Duration::from_millis(50), &b"heartbeat"[..])
        .build()
        .unwrap();
    let frames = proxy.push_stream();
    let server = async {
        let mut stream = fake.accept().await;
        let (id, payload) = read_frame(&mut stream).await.expect("a request");
        stream.write_all(&frame(id, &payload)).await.unwrap();
        stream
    };
    let (response, mut stream) = within(async { tokio::join!(proxy.call(b"hi"), server) }).await;
    response.unwrap();
    let started = Instant::now();
    for _ in 0..3 {
        let (id, payload) = within(read_frame(&mut stream)).await.expect("a heartbeat");
        assert_eq!(payload, b"heartbeat");
        // answered: a response for no call, dropped
        stream.write_all(&frame(id, b"pong")).await.unwrap();
    }
    assert!(started.elapsed() >= Duration::from_millis(100));

    // out of push mode: nothing more is sent (but perhaps one heartbeat already on its way)
    drop(frames);
    let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
    let mut late = 0;
    while let Ok(heartbeat) = tokio::time::timeout_at(deadline, read_frame(&mut stream)).await {
        assert_eq!(heartbeat.expect("a heartbeat").1, b"heartbeat");
        late += 1;
    }
    assert!(late <= 1, "{late} heartbeats out of push mode");
    let server = async {
        let (id, payload) = read_frame(&mut stream).await.expect("a request");
        stream.write_all(&frame(id, &payload)).await.unwrap();
    };
    let (response, ()) = within(async { tokio::join!(proxy.call(b"still up"), server) }).await;
    assert_eq!(payload(&response.unwrap()), b"still up");
}
