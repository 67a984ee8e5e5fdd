//! A TARS client on a raw socket, for tests that need to see exactly what the server writes:
//! it builds request packets by hand and reads response packets frame by frame.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use tars_rpc::framing::{FrameCodec, FrameError};
use tars_rpc::packet::{RequestPacket, ResponsePacket, ReturnCode};
use tars_rpc::TarsStruct;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout;
use tokio_util::codec::{Encoder, FramedRead};

/// The longest any step may take before the test fails.
const WAIT: Duration = Duration::from_secs(5);

pub struct TarsClient {
    pub frames: FramedRead<OwnedReadHalf, FrameCodec>,
    pub writer: OwnedWriteHalf,
    pub local_addr: SocketAddr,
    next_id: i32,
}

/// A frame encoding `request`, length prefix included.
pub fn encode(request: &RequestPacket) -> BytesMut {
    let mut frame = BytesMut::new();
    FrameCodec::default()
        .encode(request, &mut frame)
        .expect("a frame");
    frame
}

/// Checks that a read failed because the server closed or reset the connection.
pub fn assert_reset(error: &FrameError) {
    let FrameError::Io(io) = error else {
        panic!("unexpected error {error}");
    };
    assert!(
        matches!(
            io.kind(),
            std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::UnexpectedEof
        ),
        "unexpected error {io}"
    );
}

impl TarsClient {
    pub async fn connect(addr: SocketAddr) -> Self {
        let stream = timeout(WAIT, TcpStream::connect(addr))
            .await
            .expect("connect timed out")
            .expect("connect");
        Self::new(stream)
    }

    /// A client whose socket buffers `bytes` at most: one that stops reading is noticed soon.
    pub async fn connect_with_small_buffer(addr: SocketAddr, bytes: u32) -> Self {
        let socket = TcpSocket::new_v4().expect("a socket");
        socket
            .set_recv_buffer_size(bytes)
            .expect("a receive buffer size");
        let stream = timeout(WAIT, socket.connect(addr))
            .await
            .expect("connect timed out")
            .expect("connect");
        Self::new(stream)
    }

    pub fn new(stream: TcpStream) -> Self {
        let local_addr = stream.local_addr().expect("a local address");
        let (reader, writer) = stream.into_split();
        Self::from_parts(
            FramedRead::new(reader, FrameCodec::default()),
            writer,
            local_addr,
        )
    }

    /// A client over halves of a socket that were used apart.
    pub fn from_parts(
        frames: FramedRead<OwnedReadHalf, FrameCodec>,
        writer: OwnedWriteHalf,
        local_addr: SocketAddr,
    ) -> Self {
        Self {
            frames,
            writer,
            local_addr,
            next_id: 1,
        }
    }

    /// The next request of this client: ids count up from 1, a 3 s timeout.
    pub fn request(&mut self, servant: &str, func: &str, params: Bytes) -> RequestPacket {
        let request_id = self.next_id;
        self.next_id += 1;
        RequestPacket {
            request_id,
            servant_name: servant.into(),
            func_name: func.into(),
            buffer: params,
            timeout: 3000,
            ..RequestPacket::default()
        }
    }

    pub async fn send(&mut self, request: &RequestPacket) {
        self.send_raw(&encode(request)).await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        timeout(WAIT, self.writer.write_all(bytes))
            .await
            .expect("write timed out")
            .expect("write");
    }

    /// The next frame's body (without its length prefix).
    pub async fn recv_frame(&mut self) -> Bytes {
        timeout(WAIT, self.frames.next())
            .await
            .expect("no frame in time")
            .expect("the server closed the connection")
            .expect("a well-formed frame")
    }

    pub async fn recv(&mut self) -> ResponsePacket {
        ResponsePacket::decode_bytes(&self.recv_frame().await).expect("a response packet")
    }

    /// Sends a request and reads its reply, which must come next.
    pub async fn call(&mut self, servant: &str, func: &str, params: Bytes) -> ResponsePacket {
        let request = self.request(servant, func, params);
        self.send(&request).await;
        let reply = self.recv().await;
        assert_eq!(reply.request_id, request.request_id, "{reply:?}");
        reply
    }

    /// [`call`](Self::call), whose reply must be a success.
    pub async fn call_ok(&mut self, servant: &str, func: &str, params: Bytes) -> ResponsePacket {
        let reply = self.call(servant, func, params).await;
        assert_eq!(reply.ret, ReturnCode::SUCCESS, "{reply:?}");
        reply
    }

    pub async fn ping(&mut self, servant: &str) {
        self.call_ok(servant, "tars_ping", Bytes::new()).await;
    }

    /// Expects TarsGo's close packet, which the server sends every connection when it starts
    /// shutting down: request id 0, `sResultDesc` `_reconnect_`, no push function.
    pub async fn expect_reconnect(&mut self) {
        let packet = self.recv().await;
        assert_eq!(packet.request_id, 0, "{packet:?}");
        assert_eq!(packet.result_desc, tars_rpc::push::RECONNECT_MESSAGE);
        assert_eq!(packet.ret, ReturnCode::SUCCESS);
        assert!(
            packet.status.is_empty() && packet.buffer.is_empty(),
            "{packet:?}"
        );
    }

    /// Expects the server to close the connection: the stream ends (or is reset) without a
    /// further frame.
    pub async fn expect_closed(&mut self) {
        match timeout(WAIT, self.frames.next()).await {
            Err(_) => panic!("the server did not close the connection"),
            Ok(None) => {}
            Ok(Some(Err(error))) => assert_reset(&error),
            Ok(Some(Ok(frame))) => panic!("unexpected frame {frame:?}"),
        }
    }

    /// Reads the frames left until the server's close shows, which must happen within `WAIT`.
    pub async fn drain_until_closed(&mut self) -> Vec<Bytes> {
        let mut frames = Vec::new();
        let drained = timeout(WAIT, async {
            loop {
                match self.frames.next().await {
                    None => return,
                    Some(Ok(frame)) => frames.push(frame),
                    // an aborted connection may end in the middle of a frame
                    Some(Err(FrameError::Io(error)))
                        if error.to_string() == "bytes remaining on stream" =>
                    {
                        return
                    }
                    Some(Err(error)) => return assert_reset(&error),
                }
            }
        })
        .await;
        assert!(drained.is_ok(), "the server did not close the connection");
        frames
    }
}
