//! What `hello_server`, `hello_client` and `benches/rpc.rs` share: TarsCpp's QuickStartDemo
//! interface as a Rust trait, its implementation, and the client load loop.
//!
//! Not an example of its own: each user includes it with `#[path = "..."] mod hello;`.

// every user takes only part of it
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tars_rpc::tars_interface;

/// The servant name of TarsCpp's QuickStartDemo.
pub const HELLO_SERVANT: &str = "TestApp.HelloServer.HelloObj";

/// `interface Hello { int testHello(string sReq, out string sRsp); };` of TarsCpp's
/// QuickStartDemo (module `TestApp`): the return value at tag 0, `sReq` at 1, `sRsp` at 2.
#[tars_interface]
pub trait Hello {
    async fn test_hello(&self, s_req: String, s_rsp: &mut String) -> tars_rpc::Result<i32>;
}

/// The QuickStartDemo's servant: returns 0 with `sRsp` = `sReq`.
pub struct HelloImp;

impl Hello for HelloImp {
    async fn test_hello(&self, s_req: String, s_rsp: &mut String) -> tars_rpc::Result<i32> {
        *s_rsp = s_req;
        Ok(0)
    }
}

/// A request string of `len` bytes: `"hello"` for 5, `"hellohello..."` cut to `len` otherwise.
pub fn payload(len: usize) -> String {
    "hello".chars().cycle().take(len).collect()
}

/// What a load run measured.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Calls made.
    pub calls: usize,
    /// Calls that failed or got a wrong reply.
    pub errors: usize,
    /// The first failure, for the user.
    pub first_error: Option<String>,
    /// From the first call to the last reply.
    pub elapsed: Duration,
    /// The latency of every successful call, sorted.
    pub latencies: Vec<Duration>,
}

impl LoadReport {
    /// Successful calls per second.
    pub fn calls_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.latencies.len() as f64 / secs
        } else {
            0.0
        }
    }

    /// The `p`-th percentile latency (nearest rank) of the successful calls; zero if none.
    pub fn percentile(&self, p: f64) -> Duration {
        let n = self.latencies.len();
        if n == 0 {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        self.latencies[rank.clamp(1, n) - 1]
    }
}

/// Makes `count` `testHello(payload)` calls through `proxy` from `concurrency` tasks at once
/// (each task makes its next call when its last one is answered), checks every reply (return
/// 0, `sRsp` == `sReq`) and measures each call's latency.
pub async fn run_load(
    proxy: &HelloProxy,
    count: usize,
    concurrency: usize,
    payload: &str,
) -> LoadReport {
    let tickets = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.clamp(1, count.max(1)) {
        let proxy = proxy.clone();
        let tickets = tickets.clone();
        let payload = payload.to_string();
        tasks.spawn(async move {
            let mut report = LoadReport::default();
            while tickets.fetch_add(1, Ordering::Relaxed) < count {
                report.calls += 1;
                let start = Instant::now();
                let result = proxy.test_hello(payload.clone()).await;
                let latency = start.elapsed();
                let failure = match result {
                    Ok((0, s_rsp)) if s_rsp == payload => None,
                    Ok((ret, s_rsp)) => Some(format!(
                        "wrong reply: ret {ret}, sRsp of {} bytes (expected ret 0 and the {} bytes sent)",
                        s_rsp.len(),
                        payload.len()
                    )),
                    Err(error) => Some(error.to_string()),
                };
                match failure {
                    None => report.latencies.push(latency),
                    Some(failure) => {
                        report.errors += 1;
                        report.first_error.get_or_insert(failure);
                    }
                }
            }
            report
        });
    }
    let mut total = LoadReport::default();
    while let Some(joined) = tasks.join_next().await {
        let report = joined.expect("a load task panicked");
        total.calls += report.calls;
        total.errors += report.errors;
        if total.first_error.is_none() {
            total.first_error = report.first_error;
        }
        total.latencies.extend(report.latencies);
    }
    total.elapsed = started.elapsed();
    total.latencies.sort_unstable();
    total
}

/// `12 µs`, `1.25 ms`, `3.1 s`: a latency for a person.
pub fn format_latency(latency: Duration) -> String {
    let micros = latency.as_secs_f64() * 1e6;
    if micros < 1000.0 {
        format!("{micros:.0} µs")
    } else if micros < 1e6 {
        format!("{:.2} ms", micros / 1000.0)
    } else {
        format!("{:.2} s", micros / 1e6)
    }
}
