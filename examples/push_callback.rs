//! TarsCpp's PushCallbackDemo in Rust: a client registers for pushes, the server keeps its
//! `Current` and pushes to every registered client on a timer.
//!
//! ```text
//! cargo run --example push_callback                 # server and client in one process
//! cargo run --example push_callback -- server [--listen 127.0.0.1:9316] [--interval-ms 1000] [--register LOCATOR]
//! cargo run --example push_callback -- client [--connect "TestApp.PushCallbackServer.PushObj@tcp -h 127.0.0.1 -p 9316"] [--count 10]
//! cargo run --example push_callback -- client --locator "tcp -h 127.0.0.1 -p 17890" [--connect TestApp.PushCallbackServer.PushObj]
//! ```
//!
//! With a development registry (`cargo run --example registry`), `server --register` adds the
//! server to it and `client --locator` finds the server by name.
//!
//! The servant, functions and tags are those of the C++ demo, so either side interoperates
//! with TarsCpp's PushCallbackServer and PushCallbackClient:
//!
//! ```text
//! interface Hello { int registerPush(); };
//! interface Push  { int pushMsg(out string sRsp); };
//! ```

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tars_rpc::client::{Communicator, TypedProxy};
use tars_rpc::endpoint::Endpoint;
use tars_rpc::push::Subscribers;
use tars_rpc::registry::{self, Locator};
use tars_rpc::server::Server;
use tars_rpc::{tars_interface, tars_push, Current};
use tokio::sync::Notify;

const SERVANT: &str = "TestApp.PushCallbackServer.PushObj";
const DEFAULT_LISTEN: &str = "127.0.0.1:9316";

#[tars_interface]
pub trait Hello {
    /// `int registerPush();`: the server keeps the caller's `Current` to push to it later.
    async fn register_push(&self, current: &Current) -> tars_rpc::Result<i32>;
}

#[tars_push]
pub trait Push {
    /// `int pushMsg(out string sRsp);`
    async fn push_msg(&self, ret: i32, s_rsp: String);
}

/// The server side: registration adds the client to the subscribers, which forget it by
/// themselves when its connection closes (the C++ demo's `doClose`).
struct HelloImp {
    subscribers: Subscribers,
}

impl Hello for HelloImp {
    async fn register_push(&self, current: &Current) -> tars_rpc::Result<i32> {
        if self.subscribers.add(current) {
            println!(
                "server: client {} registered for pushes",
                current.peer_addr()
            );
        }
        Ok(0)
    }
}

/// Starts the server and its push timer (stopped by aborting the returned task).
async fn run_server(
    listen: &str,
    interval: Duration,
) -> Result<(Server, tokio::task::JoinHandle<()>), String> {
    let subscribers = Subscribers::new();
    let servant = HelloServant::new(HelloImp {
        subscribers: subscribers.clone(),
    });
    let server = Server::builder()
        .servant(SERVANT, listen, servant)
        .start()
        .await
        .map_err(|error| format!("cannot start the server: {error}"))?;
    let address = server.local_addr(SERVANT).expect("the servant is bound");
    println!(
        "server: {SERVANT} listening on {address}, pushing every {} ms",
        interval.as_millis()
    );
    let pusher = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        loop {
            ticks.tick().await;
            // encoded once, queued on every registered connection
            let frame = PushSender::push_msg_frame(0, "push message".to_string());
            subscribers.broadcast(&frame);
        }
    });
    Ok((server, pusher))
}

/// Runs the server until Ctrl-C, registered with the development registry at `register` if
/// given.
async fn serve(listen: &str, interval: Duration, register: Option<&str>) -> Result<(), String> {
    let (server, pusher) = run_server(listen, interval).await?;
    let _registration = match register {
        Some(locator) => Some(register_server(&server, locator).await?),
        None => None,
    };
    tokio::select! {
        () = server.wait() => {}
        _ = tokio::signal::ctrl_c() => {
            pusher.abort();
            server.shutdown().await;
        }
    }
    Ok(())
}

/// Adds the server to the development registry at `locator`, for clients that find it by name;
/// the registration holds while the returned value lives.
async fn register_server(server: &Server, locator: &str) -> Result<registry::Registration, String> {
    let address = server.local_addr(SERVANT).expect("the servant is bound");
    let endpoint = Endpoint::new(address.ip().to_string(), address.port());
    let registration = registry::register_with(locator, SERVANT, endpoint)
        .await
        .map_err(|error| format!("cannot register with {locator}: {error}"))?;
    println!("server: registered with the registry at {locator}");
    Ok(registration)
}

/// The client side: prints each push and counts them.
struct PrintPush(Arc<Progress>);

struct Progress {
    received: AtomicUsize,
    wanted: usize,
    done: Notify,
}

impl Push for PrintPush {
    async fn push_msg(&self, ret: i32, s_rsp: String) {
        println!("{ret}, {s_rsp}");
        if self.0.received.fetch_add(1, Ordering::SeqCst) + 1 == self.0.wanted {
            self.0.done.notify_one();
        }
    }
}

async fn run_client(connect: &str, locator: Option<&str>, count: usize) -> Result<(), String> {
    let communicator = match locator {
        None => Communicator::new(),
        Some(locator) => Communicator::builder()
            .discovery(Locator::new(locator).map_err(|error| format!("bad --locator: {error}"))?)
            .build(),
    };
    let proxy: HelloProxy = communicator
        .string_to_proxy(connect)
        .map_err(|error| format!("bad --connect: {error}"))?;
    let progress = Arc::new(Progress {
        received: AtomicUsize::new(0),
        wanted: count,
        done: Notify::new(),
    });
    proxy.set_push_handler(PushCallback(PrintPush(Arc::clone(&progress))));
    // register on every connect: the first, and after a reconnect (server restart,
    // `_reconnect_`); the hook gets a proxy on the connection just made
    proxy.on_connect(|proxy: HelloProxy, endpoint| async move {
        match proxy.register_push().await {
            Ok(ret) => eprintln!("client: registered with {endpoint}: registerPush returned {ret}"),
            Err(error) => eprintln!("client: registering with {endpoint} failed: {error}"),
        }
    });
    // connect now: returns once the hook has run
    proxy
        .connect()
        .await
        .map_err(|error| format!("cannot connect: {error}"))?;
    eprintln!("client: waiting for {count} pushes");
    if count > 0 {
        progress.done.notified().await;
    }
    Ok(())
}

struct Options {
    mode: String,
    listen: String,
    connect: Option<String>,
    locator: Option<String>,
    register: Option<String>,
    interval: Duration,
    count: usize,
}

const USAGE: &str = "usage: push_callback [server|client|both] [--listen HOST:PORT] [--interval-ms N] [--register LOCATOR] [--connect PROXY] [--locator LOCATOR] [--count N]";

fn parse_args() -> Result<Options, String> {
    let mut args = std::env::args().skip(1).peekable();
    let mode = match args.peek().map(String::as_str) {
        Some("server" | "client" | "both") => args.next().unwrap_or_default(),
        _ => "both".to_string(),
    };
    let mut options = Options {
        interval: Duration::from_millis(if mode == "both" { 300 } else { 1000 }),
        count: if mode == "both" { 5 } else { 10 },
        mode,
        listen: DEFAULT_LISTEN.to_string(),
        connect: None,
        locator: None,
        register: None,
    };
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--listen" => options.listen = value()?,
            "--connect" => options.connect = Some(value()?),
            "--locator" => options.locator = Some(value()?),
            "--register" => options.register = Some(value()?),
            "--interval-ms" => {
                let millis = value()?
                    .parse()
                    .map_err(|_| format!("--interval-ms takes milliseconds\n{USAGE}"))?;
                options.interval = Duration::from_millis(millis);
            }
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
        "server" => {
            serve(
                &options.listen,
                options.interval,
                options.register.as_deref(),
            )
            .await
        }
        "client" => {
            let connect = match (options.connect, &options.locator) {
                (Some(connect), _) => connect,
                (None, Some(_)) => SERVANT.to_string(),
                (None, None) => format!("{SERVANT}@tcp -h 127.0.0.1 -p 9316"),
            };
            run_client(&connect, options.locator.as_deref(), options.count).await
        }
        _ => {
            // both in one process, on a free port unless --listen says otherwise
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
                    let connect = format!("{SERVANT}@tcp -h 127.0.0.1 -p {port}");
                    let result = run_client(&connect, None, options.count).await;
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
