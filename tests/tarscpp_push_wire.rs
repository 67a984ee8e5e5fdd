//! The PushCallbackDemo against TarsCpp's bytes, captured between the real C++
//! PushCallbackClient and PushCallbackServer (`tests/data/tarscpp.tsv`): a Rust server answers
//! the C++ client's `registerPush` and pushes exactly what the C++ server pushes, and a Rust
//! client sends exactly the C++ client's request and understands the C++ server's push.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{hex, unhex};
use futures::StreamExt;
use tars_rpc::client::{Communicator, TypedProxy};
use tars_rpc::framing::FrameCodec;
use tars_rpc::server::Server;
use tars_rpc::{tars_interface, tars_push, Current};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tokio_util::codec::FramedRead;

const SERVANT: &str = "TestApp.PushCallbackServer.PushObj";
const WAIT: Duration = Duration::from_secs(5);

/// `registerPush` as the C++ PushCallbackClient sends it (request id 1, 5 s timeout).
const CPP_REGISTER_PUSH: &str = "0000004610012c3c40015622546573744170702e5075736843616c6c6261636b5365727665722e507573684f626a660c7265676973746572507573687d000c811388980ca80c";
/// The C++ PushCallbackServer's reply to it (ret 0).
const CPP_REGISTER_REPLY: &str = "0000001210012c30014c5c6d0000010c780c";
/// The C++ server's push: `pushMsg` with ret 0 and sRsp "push message".
const CPP_PUSH: &str = "0000003410012c3c4c5c6d00000f0c160c70757368206d6573736167657800010609544152535f46554e431607707573684d7367";

#[tars_interface]
trait Hello {
    async fn register_push(&self, current: &Current) -> tars_rpc::Result<i32>;
}

#[tars_push]
#[allow(dead_code)] // the client reads pushes as events, not through an implementation
trait Push {
    async fn push_msg(&self, ret: i32, s_rsp: String);
}

struct HelloImp(Mutex<Option<Current>>);

impl Hello for HelloImp {
    async fn register_push(&self, current: &Current) -> tars_rpc::Result<i32> {
        *self.0.lock().unwrap() = Some(current.clone());
        Ok(0)
    }
}

async fn read_frame(socket: &mut TcpStream) -> Vec<u8> {
    let mut length = [0u8; 4];
    timeout(WAIT, socket.read_exact(&mut length))
        .await
        .unwrap()
        .unwrap();
    let mut frame = length.to_vec();
    frame.resize(u32::from_be_bytes(length) as usize, 0);
    timeout(WAIT, socket.read_exact(&mut frame[4..]))
        .await
        .unwrap()
        .unwrap();
    frame
}

#[tokio::test]
async fn the_rust_server_speaks_to_the_cpp_client() {
    let imp = Arc::new(HelloImp(Mutex::new(None)));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = Server::builder()
        .servant(SERVANT, listener, HelloServant::from_arc(Arc::clone(&imp)))
        .start()
        .await
        .unwrap();
    let mut socket = TcpStream::connect(server.local_addr(SERVANT).unwrap())
        .await
        .unwrap();
    socket.write_all(&unhex(CPP_REGISTER_PUSH)).await.unwrap();
    assert_eq!(hex(&read_frame(&mut socket).await), CPP_REGISTER_REPLY);

    let current = imp.0.lock().unwrap().clone().expect("registered");
    PushSender::new(&current)
        .push_msg(0, "push message".into())
        .await
        .unwrap();
    assert_eq!(hex(&read_frame(&mut socket).await), CPP_PUSH);
    server.shutdown().await;
}

#[tokio::test]
async fn the_rust_client_speaks_to_the_cpp_server() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let cpp_server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let request = read_frame(&mut socket).await;
        socket.write_all(&unhex(CPP_REGISTER_REPLY)).await.unwrap();
        socket.write_all(&unhex(CPP_PUSH)).await.unwrap();
        // keep the connection open until the client is done; answer keep-alive pings
        let mut frames = FramedRead::new(socket, FrameCodec::default());
        let _ = timeout(WAIT, frames.next()).await;
        request
    });

    // the C++ client calls with a 5 s timeout
    let proxy: HelloProxy = Communicator::builder()
        .call_timeout(Duration::from_secs(5))
        .build()
        .string_to_proxy(&format!("{SERVANT}@tcp -h 127.0.0.1 -p {port}"))
        .unwrap();
    let mut pushes = proxy.push_stream().events::<PushEvent>();
    assert_eq!(
        timeout(WAIT, proxy.register_push()).await.unwrap().unwrap(),
        0
    );
    match timeout(WAIT, pushes.next()).await.unwrap() {
        Some(Ok(PushEvent::PushMsg { ret, s_rsp })) => {
            assert_eq!((ret, s_rsp.as_str()), (0, "push message"))
        }
        Some(Err(error)) => panic!("the C++ push did not decode: {error}"),
        None => panic!("the push stream ended"),
    }
    drop((pushes, proxy));
    let request = timeout(WAIT, cpp_server).await.unwrap().unwrap();
    assert_eq!(hex(&request), CPP_REGISTER_PUSH);
}
