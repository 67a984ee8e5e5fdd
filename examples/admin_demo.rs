//! A server as a TARS platform runs it: TarsCpp's QuickStartDemo servant, the admin servant
//! `AdminObj` at the `local` endpoint, and the keep-alive to tarsnode.
//!
//! ```sh
//! cargo run --example admin_demo -- [--listen 127.0.0.1:8999] [--local 127.0.0.1:19385]
//!     [--node "tars.tarsnode.ServerObj@tcp -h 127.0.0.1 -p 19386"] [--interval-ms 10000]
//! ```
//!
//! It serves until tarsnode (or any TARS client) calls `AdminF.shutdown` on
//! `AdminObj@tcp -h 127.0.0.1 -p 19385`, or until SIGTERM or Ctrl-C; then it stops the
//! keep-alive, shuts the server down gracefully and exits 0. `AdminF.notify` runs the built-in
//! commands (`tars.help` lists them) and the demo's own `demo.greet NAME`. Without `--node` it
//! sends no keep-alive (a server run by hand has no node).

#[path = "support/hello.rs"]
mod hello;

use std::process::ExitCode;
use std::time::Duration;

use hello::{HelloImp, HelloServant, HELLO_SERVANT};
use tars_rpc::client::Communicator;
use tars_rpc::node::{
    serve_until_stopped, AdminCommands, AdminServant, KeepAlive, LevelFilter, ADMIN_OBJ,
};
use tars_rpc::server::Server;

const APP: &str = "TestApp";
const SERVER: &str = "HelloServer";

fn usage() -> &'static str {
    "usage: admin_demo [--listen ADDRESS] [--local ADDRESS] [--node NODE] [--interval-ms N]

options:
  --listen ADDRESS   where HelloObj listens (default 127.0.0.1:8999; port 0 picks one)
  --local ADDRESS    where AdminObj listens, the config's `local` (default 127.0.0.1:19385)
  --node NODE        tarsnode's object, the config's `node`
                     (\"tars.tarsnode.ServerObj@tcp -h 127.0.0.1 -p 19386\"): send it keep-alives
  --interval-ms N    the keep-alive period (default 10000)
  -h, --help         print this help"
}

struct Options {
    listen: String,
    local: String,
    node: Option<String>,
    interval: Duration,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options {
        listen: "127.0.0.1:8999".into(),
        local: "127.0.0.1:19385".into(),
        node: None,
        interval: KeepAlive::DEFAULT_INTERVAL,
    };
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--listen" => options.listen = value()?,
            "--local" => options.local = value()?,
            "--node" => options.node = Some(value()?),
            "--interval-ms" => {
                let text = value()?;
                let ms: u64 = text
                    .parse()
                    .map_err(|_| format!("--interval-ms: not a number of milliseconds: {text}"))?;
                options.interval = Duration::from_millis(ms);
            }
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Some(options))
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("admin_demo: {error}\n\n{}", usage());
            return ExitCode::from(2);
        }
    };

    // The log level control: this demo has no tracing subscriber and only says what it would
    // set; with tracing-subscriber, change a reload layer's filter here (see `LogLevel`).
    let commands = AdminCommands::builder()
        .application(APP)
        .server_name(SERVER)
        .app_version("1.0.0")
        .log_level(|level: LevelFilter| {
            println!("admin_demo: log level set to {level}");
            Ok(())
        })
        .on_load_config(|file: &str| format!("[fail] no config center in this demo: {file}"))
        .build();
    if let Err(error) = commands.register("demo.greet", |name: &str| format!("hello, {name}")) {
        eprintln!("admin_demo: {error}");
        return ExitCode::FAILURE;
    }
    let admin = AdminServant::new(commands);

    let server = match Server::builder()
        .servant(
            HELLO_SERVANT,
            options.listen.as_str(),
            HelloServant::new(HelloImp),
        )
        .servant(ADMIN_OBJ, options.local.as_str(), admin.servant())
        .start()
        .await
    {
        Ok(server) => server,
        Err(error) => {
            eprintln!("admin_demo: {error}");
            return ExitCode::FAILURE;
        }
    };
    admin.attach(server.handle());
    for servant in [HELLO_SERVANT, ADMIN_OBJ] {
        if let Some(address) = server.local_addr(servant) {
            println!("admin_demo: {servant} on {address}");
        }
    }

    let communicator = Communicator::new();
    let keep_alive = match &options.node {
        Some(node) => match KeepAlive::builder(&communicator, node.as_str(), APP, SERVER)
            .adapter(format!("{HELLO_SERVANT}Adapter"))
            .interval(options.interval)
            .start()
        {
            Ok(keep_alive) => Some(keep_alive),
            Err(error) => {
                eprintln!("admin_demo: {error}");
                return ExitCode::from(2);
            }
        },
        None => None,
    };

    let reason = serve_until_stopped(server, keep_alive, &admin).await;
    communicator.shutdown().await;
    println!("admin_demo: stopped ({reason:?})");
    ExitCode::SUCCESS
}
