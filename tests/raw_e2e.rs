//! A custom protocol end to end: a `Proxy<RawWire>` against a raw servant, both speaking the seed
//! PushDemo protocol (4-byte length, 4-byte request id, payload): calls matched by request id,
//! pushes with request id 0 reaching the raw push callback and stream, never interleaved.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures::future::BoxFuture;
use futures::StreamExt;
use tars_rpc::client::Communicator;
use tars_rpc::protocol::{
    request_id_after_length, ClientProtocol, FrameSplitter, LengthPrefixed, ProtocolError,
    RawResponse, RawServant,
};
use tars_rpc::push::{PushFrame, Subscribers};
use tars_rpc::server::Server;
use tars_rpc::Current;
use tokio::sync::Notify;
use tokio::time::{sleep, timeout, Instant};
use tokio_util::sync::CancellationToken;

const SERVANT: &str = "Test.PushDemo.PushObj";
const MAX_FRAME: usize = 64 * 1024;
const WAIT: Duration = Duration::from_secs(10);

fn frame(request_id: i32, payload: &[u8]) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_u32((8 + payload.len()) as u32);
    buf.put_i32(request_id);
    buf.put_slice(payload);
    buf.freeze()
}

fn payload(frame: &[u8]) -> &[u8] {
    &frame[8..]
}

struct PushDemo;

impl ClientProtocol for PushDemo {
    fn encode_request(
        &self,
        request_id: i32,
        payload: &[u8],
        buf: &mut BytesMut,
    ) -> Result<(), ProtocolError> {
        buf.extend_from_slice(&frame(request_id, payload));
        Ok(())
    }

    fn decode_response(&self, buf: &mut BytesMut) -> Result<Option<RawResponse>, ProtocolError> {
        let Some(frame) = LengthPrefixed::new(MAX_FRAME).split(buf)? else {
            return Ok(None);
        };
        let request_id =
            request_id_after_length(&frame).ok_or_else(|| ProtocolError::new("no request id"))?;
        Ok(Some(RawResponse { request_id, frame }))
    }
}

/// Holds the `hold` requests: tells when one arrives, answers them once released.
#[derive(Default)]
struct Hold {
    arrived: Notify,
    released: CancellationToken,
}

/// Echoes every request (a `hold` one once released) and remembers its client.
struct Echo {
    subscribers: Subscribers,
    hold: Arc<Hold>,
}

impl RawServant for Echo {
    fn on_request<'a>(&'a self, current: &'a Current, request: Bytes) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.subscribers.add(current);
            if payload(&request) == b"hold" {
                self.hold.arrived.notify_one();
                self.hold.released.cancelled().await;
            }
            let _ = current.send_raw(request).await;
        })
    }
}

async fn start() -> (Server, Subscribers, u16, Arc<Hold>) {
    let subscribers = Subscribers::new();
    let hold = Arc::new(Hold::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = Server::builder()
        .raw_servant(
            SERVANT,
            listener,
            LengthPrefixed::new(MAX_FRAME),
            Echo {
                subscribers: subscribers.clone(),
                hold: hold.clone(),
            },
        )
        .start()
        .await
        .unwrap();
    let port = server.local_addr(SERVANT).unwrap().port();
    (server, subscribers, port, hold)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_are_matched_by_request_id_and_pushes_reach_the_callback() {
    let (server, subscribers, port, hold) = start().await;
    let proxy = Communicator::new()
        .raw_proxy(&format!("tcp -h 127.0.0.1 -p {port}"), PushDemo)
        .unwrap();
    let pushed = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&pushed);
    proxy.set_push_handler(move |frame: Bytes| {
        let record = Arc::clone(&record);
        async move { record.lock().unwrap().push(frame) }
    });
    let mut stream = proxy.push_stream();

    // a held call and a quick one: replies come back out of order, each to its own caller
    let held = tokio::spawn({
        let proxy = proxy.clone();
        async move { proxy.call(b"hold").await }
    });
    timeout(WAIT, hold.arrived.notified()).await.unwrap();
    let quick = timeout(WAIT, proxy.call(b"quick")).await.unwrap().unwrap();
    assert_eq!(payload(&quick), b"quick");
    assert!(!held.is_finished(), "the quick reply overtook the held one");
    hold.released.cancel();
    let held = timeout(WAIT, held).await.unwrap().unwrap().unwrap();
    assert_eq!(payload(&held), b"hold");

    // pushes with request id 0, while calls go on
    assert_eq!(subscribers.len(), 1);
    let calls: Vec<_> = (0..50)
        .map(|i| {
            let proxy = proxy.clone();
            tokio::spawn(async move { proxy.call(format!("call {i}").as_bytes()).await })
        })
        .collect();
    for seq in 0..100 {
        let report = subscribers.broadcast(&PushFrame::from_raw(frame(
            0,
            format!("push {seq}").as_bytes(),
        )));
        assert!(report.is_complete(), "{report:?}");
    }
    for (i, call) in calls.into_iter().enumerate() {
        let reply = timeout(WAIT, call).await.unwrap().unwrap().unwrap();
        assert_eq!(payload(&reply), format!("call {i}").as_bytes());
    }
    for seq in 0..100 {
        let frame = timeout(WAIT, stream.next()).await.unwrap().expect("a push");
        assert_eq!(payload(&frame), format!("push {seq}").as_bytes());
    }
    let deadline = Instant::now() + WAIT;
    while pushed.lock().unwrap().len() < 100 && Instant::now() < deadline {
        sleep(Duration::from_millis(10)).await;
    }
    let pushed: Vec<_> = pushed
        .lock()
        .unwrap()
        .iter()
        .map(|frame| payload(frame).to_vec())
        .collect();
    let expected: Vec<_> = (0..100)
        .map(|seq| format!("push {seq}").into_bytes())
        .collect();
    assert_eq!(pushed, expected);
    server.shutdown().await;
}

#[tokio::test]
async fn a_server_sending_garbage_costs_only_that_connection() {
    // a raw servant whose replies break the client's framing: a 2-byte length field
    struct Broken;
    impl RawServant for Broken {
        fn on_request<'a>(&'a self, current: &'a Current, _request: Bytes) -> BoxFuture<'a, ()> {
            Box::pin(async move {
                let _ = current.send_raw(Bytes::from_static(&[0, 0, 0, 2])).await;
            })
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = Server::builder()
        .raw_servant(SERVANT, listener, LengthPrefixed::new(MAX_FRAME), Broken)
        .start()
        .await
        .unwrap();
    let port = server.local_addr(SERVANT).unwrap().port();
    let proxy = Communicator::new()
        .raw_proxy(&format!("tcp -h 127.0.0.1 -p {port}"), PushDemo)
        .unwrap();
    let error = timeout(WAIT, proxy.call(b"x")).await.unwrap().unwrap_err();
    assert_eq!(
        error.code(),
        tars_rpc::packet::ReturnCode::PROXY_CONNECT_ERR,
        "{error}"
    );
    server.shutdown().await;
}
