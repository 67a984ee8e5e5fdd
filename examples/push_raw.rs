//! TarsCpp's PushDemo in Rust: push over a protocol of your own instead of TARS.
//!
//! A frame is a 4-byte big-endian total length, a 4-byte big-endian request id, and the
//! payload. The server echoes every request and, every interval, pushes "hello world" with
//! request id 0 to every client that has connected; the client sends a heartbeat every few
//! seconds and prints the replies and the pushes.
//!
//! ```text
//! cargo run --example push_raw                 # server and client in one process
//! cargo run --example push_raw -- server [--listen 127.0.0.1:9317] [--interval-ms 1000]
//! cargo run --example push_raw -- client [--connect "tcp -h 127.0.0.1 -p 9317"] [--count 10] [--heartbeat-ms 3000]
//! ```

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures::future::BoxFuture;
use tars_rpc::client::Communicator;
use tars_rpc::protocol::{
    request_id_after_length, ClientProtocol, LengthPrefixed, ProtocolError, RawResponse, RawServant,
};
use tars_rpc::push::{PushFrame, Subscribers};
use tars_rpc::server::Server;
use tars_rpc::Current;
use tokio::sync::Notify;

const SERVANT: &str = "TestApp.PushServer.PushObj";
const DEFAULT_LISTEN: &str = "127.0.0.1:9317";
const MAX_FRAME: usize = 64 * 1024;

/// `[len][id][payload]`: what both sides write.
fn frame(request_id: i32, payload: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(8 + payload.len());
    PushDemoProtocol.write(request_id, payload, &mut buf);
    buf.freeze()
}

/// The client's side of the protocol: writes requests, cuts responses and reads their ids.
struct PushDemoProtocol;

impl PushDemoProtocol {
    fn write(&self, request_id: i32, payload: &[u8], buf: &mut BytesMut) {
        buf.put_u32((8 + payload.len()) as u32);
        buf.put_i32(request_id);
        buf.put_slice(payload);
    }
}

impl ClientProtocol for PushDemoProtocol {
    fn encode_request(
        &self,
        request_id: i32,
        payload: &[u8],
        buf: &mut BytesMut,
    ) -> Result<(), ProtocolError> {
        if 8 + payload.len() > MAX_FRAME {
            return Err(ProtocolError::new("payload too large"));
        }
        self.write(request_id, payload, buf);
        Ok(())
    }

    fn decode_response(&self, buf: &mut BytesMut) -> Result<Option<RawResponse>, ProtocolError> {
        let Some(frame) =
            tars_rpc::protocol::FrameSplitter::split(&LengthPrefixed::new(MAX_FRAME), buf)?
        else {
            return Ok(None);
        };
        let request_id = request_id_after_length(&frame).ok_or_else(|| {
            ProtocolError::new(format!("a {}-byte frame has no request id", frame.len()))
        })?;
        Ok(Some(RawResponse { request_id, frame }))
    }
}

fn payload(frame: &[u8]) -> String {
    String::from_utf8_lossy(frame.get(8..).unwrap_or_default()).into_owned()
}

/// The server's servant: echoes each request and remembers who connected.
struct EchoServant {
    subscribers: Subscribers,
}

impl RawServant for EchoServant {
    fn on_request<'a>(&'a self, current: &'a Current, request: Bytes) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if self.subscribers.add(current) {
                println!("server: {} connected", current.peer_addr());
            }
            // the request frame, id included, goes back as the reply
            if let Err(error) = current.send_raw(request).await {
                eprintln!("server: reply to {} failed: {error}", current.peer_addr());
            }
        })
    }

    fn on_connection_closed<'a>(&'a self, current: &'a Current) -> BoxFuture<'a, ()> {
        Box::pin(async move { println!("server: {} disconnected", current.peer_addr()) })
    }
}

async fn run_server(
    listen: &str,
    interval: Duration,
) -> Result<(Server, tokio::task::JoinHandle<()>), String> {
    let subscribers = Subscribers::new();
    let servant = EchoServant {
        subscribers: subscribers.clone(),
    };
    let server = Server::builder()
        .raw_servant(SERVANT, listen, LengthPrefixed::new(MAX_FRAME), servant)
        .start()
        .await
        .map_err(|error| format!("cannot start the server: {error}"))?;
    let address = server.local_addr(SERVANT).expect("the servant is bound");
    println!(
        "server: listening on {address}, pushing every {} ms",
        interval.as_millis()
    );
    let pusher = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        let push = PushFrame::from_raw(frame(0, b"hello world"));
        loop {
            ticks.tick().await;
            subscribers.broadcast(&push);
        }
    });
    Ok((server, pusher))
}

async fn run_client(connect: &str, count: usize, heartbeat: Duration) -> Result<(), String> {
    let proxy = Communicator::new()
        .raw_proxy(connect, PushDemoProtocol)
        .map_err(|error| format!("bad --connect: {error}"))?;
    let pushes = Arc::new((AtomicUsize::new(0), Notify::new()));
    let counter = Arc::clone(&pushes);
    proxy.set_push_handler(move |frame: Bytes| {
        let counter = Arc::clone(&counter);
        async move {
            println!("push: {}", payload(&frame));
            if counter.0.fetch_add(1, Ordering::SeqCst) + 1 == count {
                counter.1.notify_one();
            }
        }
    });
    if count == 0 {
        return Ok(());
    }
    let mut ticks = tokio::time::interval(heartbeat);
    let done = pushes.1.notified();
    tokio::pin!(done);
    loop {
        tokio::select! {
            () = &mut done => break,
            _ = ticks.tick() => {
                match proxy.call(b"heartbeat").await {
                    Ok(reply) => println!("reply: {}", payload(&reply)),
                    Err(error) => eprintln!("client: heartbeat failed: {error}"),
                }
            }
        }
    }
    Ok(())
}

const USAGE: &str = "usage: push_raw [server|client|both] [--listen HOST:PORT] [--interval-ms N] [--connect ENDPOINT] [--count N] [--heartbeat-ms N]";

struct Options {
    mode: String,
    listen: String,
    connect: String,
    interval: Duration,
    heartbeat: Duration,
    count: usize,
}

fn parse_args() -> Result<Options, String> {
    let mut args = std::env::args().skip(1).peekable();
    let mode = match args.peek().map(String::as_str) {
        Some("server" | "client" | "both") => args.next().unwrap_or_default(),
        _ => "both".to_string(),
    };
    let both = mode == "both";
    let mut options = Options {
        mode,
        listen: DEFAULT_LISTEN.to_string(),
        connect: "tcp -h 127.0.0.1 -p 9317".to_string(),
        interval: Duration::from_millis(if both { 300 } else { 1000 }),
        heartbeat: Duration::from_millis(if both { 200 } else { 3000 }),
        count: if both { 5 } else { 10 },
    };
    let millis = |text: String, flag: &str| {
        text.parse::<u64>()
            .ok()
            .filter(|&millis| millis > 0)
            .map(Duration::from_millis)
            .ok_or_else(|| format!("{flag} takes a positive number of milliseconds\n{USAGE}"))
    };
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--listen" => options.listen = value()?,
            "--connect" => options.connect = value()?,
            "--interval-ms" => options.interval = millis(value()?, "--interval-ms")?,
            "--heartbeat-ms" => options.heartbeat = millis(value()?, "--heartbeat-ms")?,
            "--count" => {
                options.count = value()?
                    .parse()
                    .map_err(|_| format!("--count takes a number\n{USAGE}"))?
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let result = match options.mode.as_str() {
        "server" => match run_server(&options.listen, options.interval).await {
            Ok((server, pusher)) => {
                tokio::select! {
                    () = server.wait() => {}
                    _ = tokio::signal::ctrl_c() => {
                        pusher.abort();
                        server.shutdown().await;
                    }
                }
                Ok(())
            }
            Err(error) => Err(error),
        },
        "client" => run_client(&options.connect, options.count, options.heartbeat).await,
        _ => {
            let listen = if options.listen == DEFAULT_LISTEN {
                "127.0.0.1:0".to_string()
            } else {
                options.listen
            };
            match run_server(&listen, options.interval).await {
                Ok((server, pusher)) => {
                    let port = server
                        .local_addr(SERVANT)
                        .map(|address| address.port())
                        .unwrap_or_default();
                    let result = run_client(
                        &format!("tcp -h 127.0.0.1 -p {port}"),
                        options.count,
                        options.heartbeat,
                    )
                    .await;
                    pusher.abort();
                    server.shutdown().await;
                    result
                }
                Err(error) => Err(error),
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}
