//! [`shutdown_signal`]: SIGTERM and Ctrl-C, the other ways a server is told to stop.

use std::future::Future;
use std::io;

/// Why the application was told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// `AdminF.shutdown`: tarsnode stops the server (see
    /// [`AdminServant`](super::AdminServant)).
    AdminShutdown,
    /// SIGINT, or Ctrl-C on Windows.
    Interrupt,
    /// SIGTERM: what tarsnode, systemd and Kubernetes send.
    Terminate,
}

/// A future that resolves when the process gets SIGTERM or SIGINT (Ctrl-C; on Windows, Ctrl-C
/// only): await it to shut down as `AdminF.shutdown` does, as TarsCpp ends on SIGINT.
///
/// On Unix the signal handlers are installed when it is called, not when first polled, so a
/// signal that comes any time after the call is seen (elsewhere, when first polled). From then
/// on these signals no longer end the process by themselves (tokio keeps its handlers for the
/// life of the process): the application must stop on its own.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let stop = tars_rpc::node::shutdown_signal();
/// // ... start the server ...
/// let why = stop.await?;
/// tracing::info!(?why, "stopping");
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// The future fails if a handler cannot be installed.
///
/// # Panics
///
/// Outside a tokio runtime.
pub fn shutdown_signal() -> impl Future<Output = io::Result<StopReason>> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let handlers = signal(SignalKind::interrupt())
            .and_then(|interrupt| Ok((interrupt, signal(SignalKind::terminate())?)));
        async move {
            let (mut interrupt, mut terminate) = handlers?;
            tokio::select! {
                _ = interrupt.recv() => Ok(StopReason::Interrupt),
                _ = terminate.recv() => Ok(StopReason::Terminate),
            }
        }
    }
    #[cfg(not(unix))]
    {
        async move {
            tokio::signal::ctrl_c().await?;
            Ok(StopReason::Interrupt)
        }
    }
}
