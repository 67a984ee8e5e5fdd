//! TarsCpp's QuickStartDemo client in Rust, as a small load generator: calls
//! `TestApp.HelloServer.HelloObj`'s `testHello` many times, checks every reply, and prints the
//! throughput and latency percentiles.
//!
//! ```sh
//! cargo run --release --example hello_server &
//! cargo run --release --example hello_client -- --count 100000 --concurrency 100
//! ```
//!
//! It talks to any TARS QuickStartDemo server (TarsCpp, TarsGo, Node) as well: pass its proxy
//! string with `--connect`. With `--locator`, `--connect` may name the object alone
//! (`TestApp.HelloServer.HelloObj`), found through that TARS registry (tarsregistry's
//! `QueryObj`, or `cargo run --example registry`). Exits 1 if any call failed, 2 on bad usage.

#[path = "support/hello.rs"]
mod hello;

use std::process::ExitCode;
use std::time::Duration;

use hello::{format_latency, payload, run_load, HelloProxy, HELLO_SERVANT};
use tars_rpc::client::{Communicator, TypedProxy};
use tars_rpc::registry::Locator;

const DEFAULT_PORT: u16 = 8999;

struct Options {
    connect: String,
    locator: Option<String>,
    count: usize,
    concurrency: usize,
    payload: usize,
    warmup: usize,
    timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            connect: format!("{HELLO_SERVANT}@tcp -h 127.0.0.1 -p {DEFAULT_PORT}"),
            locator: None,
            count: 10_000,
            concurrency: 1,
            payload: 5,
            warmup: 100,
            timeout: Duration::from_secs(3),
        }
    }
}

fn usage() -> String {
    let defaults = Options::default();
    format!(
        "usage: hello_client [OPTIONS]

Calls testHello(sReq) on a TARS QuickStartDemo servant N times from C concurrent
callers sharing one proxy (one connection), checks every reply (return 0,
sRsp == sReq), and prints calls/s and the p50/p99 latency. Exits 1 if a call
failed.

options:
  --connect PROXY      the servant's proxy string, or its name alone with --locator
                       (default \"{}\"; with --locator, \"{HELLO_SERVANT}\")
  --locator LOCATOR    find objects named without endpoints through the TARS
                       registry at LOCATOR (\"tcp -h HOST -p PORT\" or host:port)
  --count N            calls to measure (default {})
  --concurrency C      calls in flight at once (default {})
  --payload BYTES      size of sReq: \"hello\", repeated or cut (default {})
  --warmup N           calls made first and not measured (default {})
  --timeout-ms MS      call timeout (default {})
  -h, --help           print this help",
        defaults.connect,
        defaults.count,
        defaults.concurrency,
        defaults.payload,
        defaults.warmup,
        defaults.timeout.as_millis(),
    )
}

/// The command line: `Ok(Some(options))` to run, `Ok(None)` for `--help`, `Err` on bad usage.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options::default();
    let mut connect = None;
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag.to_string(), Some(value.into())),
            _ => (arg, None),
        };
        if matches!(flag.as_str(), "-h" | "--help") {
            return Ok(None);
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        let number = |text: String, least: usize| match text.parse::<usize>() {
            Ok(n) if n >= least => Ok(n),
            _ => Err(format!(
                "{flag} takes a whole number of at least {least}, not `{text}`"
            )),
        };
        match flag.as_str() {
            "--connect" => connect = Some(value()?),
            "--locator" => options.locator = Some(value()?),
            "--count" => options.count = number(value()?, 1)?,
            "--concurrency" => options.concurrency = number(value()?, 1)?,
            "--payload" => options.payload = number(value()?, 0)?,
            "--warmup" => options.warmup = number(value()?, 0)?,
            "--timeout-ms" => {
                options.timeout = Duration::from_millis(number(value()?, 1)? as u64);
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    options.connect = match (connect, &options.locator) {
        (Some(connect), _) => connect,
        (None, Some(_)) => HELLO_SERVANT.to_string(),
        (None, None) => options.connect,
    };
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
            eprintln!("hello_client: {error}\n\n{}", usage());
            return ExitCode::from(2);
        }
    };
    let communicator = match &options.locator {
        None => Communicator::new(),
        Some(locator) => match Locator::new(locator) {
            Ok(locator) => Communicator::builder().discovery(locator).build(),
            Err(error) => {
                eprintln!("hello_client: bad --locator: {error}\n\n{}", usage());
                return ExitCode::from(2);
            }
        },
    };
    let proxy: HelloProxy = match communicator.string_to_proxy(&options.connect) {
        Ok(proxy) => proxy,
        Err(error) => {
            eprintln!("hello_client: {error}\n\n{}", usage());
            return ExitCode::from(2);
        }
    };
    let proxy = proxy.with_timeout(options.timeout);
    let request = payload(options.payload);

    println!("target       {}", options.connect);
    let mut errors = 0;
    let mut first_error = None;
    if options.warmup > 0 {
        let warmup = run_load(&proxy, options.warmup, options.concurrency, &request).await;
        errors += warmup.errors;
        first_error = warmup.first_error;
    }
    let report = run_load(&proxy, options.count, options.concurrency, &request).await;
    errors += report.errors;
    first_error = first_error.or(report.first_error.clone());

    println!(
        "calls        {} (concurrency {}, sReq of {} bytes, after {} warm-up calls)",
        report.calls, options.concurrency, options.payload, options.warmup
    );
    println!("errors       {errors}");
    println!("elapsed      {:.3} s", report.elapsed.as_secs_f64());
    println!("calls/s      {:.0}", report.calls_per_sec());
    for (name, p) in [("p50", 50.0), ("p99", 99.0)] {
        let latency = match report.latencies.is_empty() {
            true => "- (no call succeeded)".to_string(),
            false => format_latency(report.percentile(p)),
        };
        println!("{name}          {latency}");
    }
    match first_error {
        None => ExitCode::SUCCESS,
        Some(error) => {
            eprintln!("hello_client: {errors} call(s) failed; the first: {error}");
            ExitCode::FAILURE
        }
    }
}
