//! TarsCpp's QuickStartDemo server in Rust: `TestApp.HelloServer.HelloObj`, whose
//! `int testHello(string sReq, out string sRsp)` returns 0 with `sRsp` = `sReq`.
//!
//! ```sh
//! cargo run --release --example hello_server -- [--listen 127.0.0.1:8999] [--threads N]
//!     [--register LOCATOR]
//! ```
//!
//! `--listen` takes `host:port` or a TARS endpoint, `tcp -h HOST -p PORT [-t IDLE_MS]` (port 0
//! lets the system choose). The server prints the address it is bound to and the proxy string
//! for clients, and serves until Ctrl-C (or SIGTERM), then shuts down gracefully: the calls
//! already running finish and their replies are sent. Call it with the `hello_client` example,
//! or with TarsCpp's QuickStartDemo client.
//!
//! With `--register`, it adds itself to a development registry (`cargo run --example
//! registry`) at start, so that clients find it by name: `hello_client --locator ...`.

#[path = "support/hello.rs"]
mod hello;

use std::process::ExitCode;

use hello::{HelloImp, HelloServant, HELLO_SERVANT};
use tars_rpc::endpoint::Endpoint;
use tars_rpc::registry;
use tars_rpc::server::{Server, ServerError};

const DEFAULT_LISTEN: &str = "127.0.0.1:8999";

fn usage() -> String {
    format!(
        "usage: hello_server [--listen ADDRESS] [--threads N] [--register LOCATOR]

Serves TarsCpp's QuickStartDemo servant {HELLO_SERVANT} (testHello echoes sReq
into sRsp and returns 0) until Ctrl-C.

options:
  --listen ADDRESS  where to listen: host:port, or a TARS endpoint
                    \"tcp -h HOST -p PORT [-t IDLE_MS]\" (default {DEFAULT_LISTEN};
                    port 0 picks a free port)
  --threads N       worker threads of the tokio runtime (default: one per core)
  --register LOCATOR
                    add this server to the development registry at LOCATOR
                    (\"tcp -h 127.0.0.1 -p 17890\" or host:port), for clients
                    that find {HELLO_SERVANT} by name
  -h, --help        print this help"
    )
}

struct Options {
    listen: String,
    /// `None`: tokio's default, one per core.
    threads: Option<usize>,
    /// The development registry to add this server to.
    register: Option<String>,
}

/// The command line: `Ok(Some(options))` to serve, `Ok(None)` for `--help`, `Err` on bad usage.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options {
        listen: DEFAULT_LISTEN.to_string(),
        threads: None,
        register: None,
    };
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag.to_string(), Some(value.into())),
            _ => (arg, None),
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--listen" => {
                options.listen = inline
                    .or_else(|| args.next())
                    .ok_or("--listen needs a value")?;
            }
            "--threads" => {
                let text = inline
                    .or_else(|| args.next())
                    .ok_or("--threads needs a value")?;
                match text.parse::<usize>() {
                    Ok(n) if n >= 1 => options.threads = Some(n),
                    _ => {
                        return Err(format!(
                            "--threads takes a number of at least 1, not `{text}`"
                        ))
                    }
                }
            }
            "--register" => {
                options.register = Some(
                    inline
                        .or_else(|| args.next())
                        .ok_or("--register needs a value")?,
                );
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Some(options))
}

/// Resolves on Ctrl-C, or on SIGTERM on Unix.
async fn stop_requested() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            eprintln!("hello_server: cannot listen for Ctrl-C: {error}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    () = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => ctrl_c.await,
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await;
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("hello_server: {error}\n\n{}", usage());
            return ExitCode::from(2);
        }
    };
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = options.threads {
        runtime.worker_threads(threads);
    }
    let runtime = runtime.enable_all().build().expect("a tokio runtime");
    runtime.block_on(serve(&options.listen, options.register.as_deref()))
}

async fn serve(listen: &str, register: Option<&str>) -> ExitCode {
    let server = match Server::builder()
        .servant(HELLO_SERVANT, listen, HelloServant::new(HelloImp))
        .start()
        .await
    {
        Ok(server) => server,
        Err(error @ ServerError::Endpoint(_)) => {
            eprintln!("hello_server: {error}\n\n{}", usage());
            return ExitCode::from(2);
        }
        Err(error) => {
            eprintln!("hello_server: {error}");
            return ExitCode::FAILURE;
        }
    };
    let address = server
        .local_addr(HELLO_SERVANT)
        .expect("the servant was registered");
    println!("hello_server: serving {HELLO_SERVANT} on {address}");
    println!(
        "hello_server: proxy string \"{HELLO_SERVANT}@tcp -h {} -p {}\"",
        address.ip(),
        address.port()
    );
    // held while serving: the registry marks the endpoint inactive once its connection closes
    let _registration = match register {
        None => None,
        Some(locator) => {
            let endpoint = Endpoint::new(address.ip().to_string(), address.port());
            match registry::register_with(locator, HELLO_SERVANT, endpoint).await {
                Ok(registration) => {
                    println!("hello_server: registered with the registry at {locator}");
                    Some(registration)
                }
                Err(error) => {
                    eprintln!("hello_server: cannot register with {locator}: {error}");
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    println!("hello_server: Ctrl-C to stop");

    stop_requested().await;
    println!("hello_server: stopping");
    server.shutdown().await;
    println!("hello_server: stopped");
    ExitCode::SUCCESS
}
