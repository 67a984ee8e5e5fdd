//! A TARS service as a TARS platform runs it: `tars_app --config=FILE`, with the file tarsnode
//! writes. Two adapters, TarsCpp's QuickStartDemo `HelloObj` (TARS) and `EchoObj` (a protocol
//! of its own: length-prefixed frames echoed back), the admin servant `AdminObj` on the
//! `local` endpoint, keep-alives to the node if the config names one, and a graceful stop on
//! `AdminF.shutdown`, SIGTERM or Ctrl-C.
//!
//! ```text
//! cargo run --example tars_app -- --config=examples/config/tars_app.conf
//! cargo run --example tars_app                 # without a config: the same ports, no admin
//! ```
//!
//! It prints `listening <servant> <address>` for each servant, then `ready`, and serves until
//! told to stop. Try `cargo run --example hello_client` (it calls port 8999) against it, or the admin commands
//! (`tars.help`, `tars.viewstatus`, this example's `hello.calls`) with any TARS client of
//! `AdminF`.

#[path = "support/hello.rs"]
mod hello;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use hello::{Hello, HelloServant, HELLO_SERVANT};
use tars_rpc::app::{AppError, Application};
use tars_rpc::node::ADMIN_OBJ;
use tars_rpc::protocol::{LengthPrefixed, RawServant};
use tars_rpc::Current;

const ECHO_SERVANT: &str = "TestApp.HelloServer.EchoObj";

/// The QuickStartDemo servant, counting its calls for the `hello.calls` admin command.
struct CountingHello(Arc<AtomicU64>);

impl Hello for CountingHello {
    async fn test_hello(&self, s_req: String, s_rsp: &mut String) -> tars_rpc::Result<i32> {
        self.0.fetch_add(1, Ordering::Relaxed);
        *s_rsp = s_req;
        Ok(0)
    }
}

/// Every frame comes back as it is.
struct Echo;

impl RawServant for Echo {
    fn on_request<'a>(&'a self, current: &'a Current, request: Bytes) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let _ = current.send_raw(request).await;
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), AppError> {
    let application = Application::from_args()?.version("1.0.0");
    let calls = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&calls);
    application
        .commands()
        .register("hello.calls", move |_params: &str| {
            format!("{} calls", counted.load(Ordering::Relaxed))
        })?;
    let running = application
        .servant(HELLO_SERVANT, HelloServant::new(CountingHello(calls)))
        .raw_servant(ECHO_SERVANT, LengthPrefixed::new(1 << 20), Echo)
        // where each listens when run without --config
        .listen(HELLO_SERVANT, "tcp -h 127.0.0.1 -p 8999 -t 60000")
        .listen(ECHO_SERVANT, "tcp -h 127.0.0.1 -p 18016 -t 60000")
        .start()
        .await?;
    for servant in [HELLO_SERVANT, ECHO_SERVANT, ADMIN_OBJ] {
        if let Some(address) = running.local_addr(servant) {
            println!("listening {servant} {address}");
        }
    }
    println!("ready");
    let reason = running.wait().await;
    println!("stopped: {reason:?}");
    Ok(())
}
