//! A development registry: `tars.tarsregistry.QueryObj` serving endpoints from a file and from
//! servers that register themselves, so that clients find objects by name
//! (`TestApp.HelloServer.HelloObj`) without a TARS platform. A development default, not a
//! replacement for tarsregistry (see `tars_rpc::registry::DevRegistry`).
//!
//! ```sh
//! cargo run --example registry -- [--listen 127.0.0.1:17890] [--file endpoints.txt]
//! ```
//!
//! Clients point their `locator` at it: `tars.tarsregistry.QueryObj@tcp -h 127.0.0.1 -p 17890`
//! (a TarsCpp or TarsGo config's `locator`, `@tars/rpc`'s `locator` property, or
//! `tars_rpc::registry::Locator`). The endpoints file has one endpoint per line,
//! `OBJECT ENDPOINT [-s SET] [inactive]`, `#` for comments:
//!
//! ```text
//! TestApp.HelloServer.HelloObj tcp -h 127.0.0.1 -p 8999 -t 60000
//! TestApp.HelloServer.HelloObj tcp -h 127.0.0.1 -p 9000 -s app.sz.1
//! ```
//!
//! It prints what it serves at start and whenever that changes (a server registers or stops);
//! on Unix, SIGHUP reads the file again. Ctrl-C (or SIGTERM) stops it.

use std::process::ExitCode;

use tars_rpc::registry::{DevRegistry, DEV_REGISTRY_ADDRESS, QUERY_OBJ};
use tars_rpc::server::{Server, ServerError};

fn usage() -> String {
    format!(
        "usage: registry [--listen ADDRESS] [--file PATH]

Serves a development TARS registry, {QUERY_OBJ}, until Ctrl-C.
Clients use it as their locator: {QUERY_OBJ}@tcp -h HOST -p PORT.

options:
  --listen ADDRESS  where to listen: host:port, or a TARS endpoint
                    \"tcp -h HOST -p PORT\" (default {DEV_REGISTRY_ADDRESS})
  --file PATH       the endpoints file: lines `OBJECT ENDPOINT [-s SET] [inactive]`,
                    e.g. `TestApp.HelloServer.HelloObj tcp -h 127.0.0.1 -p 8999`;
                    read again on SIGHUP
  -h, --help        print this help"
    )
}

#[derive(Debug, PartialEq)]
struct Options {
    listen: String,
    file: Option<String>,
}

/// The command line: `Ok(Some(options))` to serve, `Ok(None)` for `--help`, `Err` on bad usage.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options {
        listen: DEV_REGISTRY_ADDRESS.to_string(),
        file: None,
    };
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag.to_string(), Some(value.into())),
            _ => (arg, None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--listen" => options.listen = value()?,
            "--file" => options.file = Some(value()?),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Some(options))
}

/// What the registry serves, one endpoint a line.
fn print_served(registry: &DevRegistry) {
    let objects = registry.objects();
    if objects.is_empty() {
        println!("registry: serving no endpoints");
        return;
    }
    println!("registry: serving");
    for object in objects {
        let (active, inactive) = registry.endpoints(&object);
        for endpoint in active {
            println!("  {object} {endpoint}");
        }
        for endpoint in inactive {
            println!("  {object} {endpoint} inactive");
        }
    }
}

/// What the registry is asked to do next.
enum Event {
    Stop,
    Reload,
    Changed,
}

/// Waits for Ctrl-C, SIGTERM, SIGHUP (Unix) or a change of what `registry` serves.
async fn next_event(registry: &mut tokio::sync::watch::Receiver<u64>) -> Event {
    let changed = async {
        match registry.changed().await {
            Ok(()) => Event::Changed,
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            eprintln!("registry: cannot listen for SIGTERM and SIGHUP");
            return Event::Stop;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => Event::Stop,
            _ = term.recv() => Event::Stop,
            _ = hup.recv() => Event::Reload,
            event = changed => event,
        }
    }
    #[cfg(not(unix))]
    tokio::select! {
        _ = tokio::signal::ctrl_c() => Event::Stop,
        event = changed => event,
    }
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
            eprintln!("registry: {error}\n\n{}", usage());
            return ExitCode::from(2);
        }
    };
    let registry = DevRegistry::new();
    if let Some(file) = &options.file {
        match registry.load_file(file) {
            Ok(count) => println!("registry: {count} endpoint(s) from {file}"),
            Err(error) => {
                eprintln!("registry: {error}");
                return ExitCode::from(2);
            }
        }
    }
    let server = match Server::builder()
        .servant(QUERY_OBJ, options.listen.as_str(), registry.clone())
        .start()
        .await
    {
        Ok(server) => server,
        Err(error @ ServerError::Endpoint(_)) => {
            eprintln!("registry: {error}\n\n{}", usage());
            return ExitCode::from(2);
        }
        Err(error) => {
            eprintln!("registry: {error}");
            return ExitCode::FAILURE;
        }
    };
    let address = server
        .local_addr(QUERY_OBJ)
        .expect("the servant was registered");
    println!("registry: serving {QUERY_OBJ} on {address}");
    println!(
        "registry: locator \"{QUERY_OBJ}@tcp -h {} -p {}\"",
        address.ip(),
        address.port()
    );
    print_served(&registry);

    let mut changes = registry.changes();
    loop {
        match next_event(&mut changes).await {
            Event::Stop => break,
            Event::Changed => print_served(&registry),
            Event::Reload => match registry.reload() {
                Ok(count) => println!("registry: reloaded, {count} endpoint(s) from the file"),
                Err(error) => eprintln!("registry: reload failed, nothing changed: {error}"),
            },
        }
    }
    println!("registry: stopping");
    server.shutdown().await;
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Options>, String> {
        parse_args(args.iter().map(|arg| arg.to_string()))
    }

    #[test]
    fn reads_its_command_line() {
        assert_eq!(
            parse(&[]).unwrap(),
            Some(Options {
                listen: DEV_REGISTRY_ADDRESS.into(),
                file: None
            })
        );
        assert_eq!(
            parse(&["--listen=127.0.0.1:0", "--file", "e.txt"]).unwrap(),
            Some(Options {
                listen: "127.0.0.1:0".into(),
                file: Some("e.txt".into())
            })
        );
        assert_eq!(parse(&["--help"]).unwrap(), None);
        assert!(parse(&["--file"]).is_err());
        assert!(parse(&["--port", "1"]).is_err());
    }
}
