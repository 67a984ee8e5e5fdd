//! Small helpers every part of the runtime uses: locks that outlive a panic, panics caught and
//! described, and the ends of tasks logged.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Mutex, MutexGuard, PoisonError};

use futures::FutureExt;
use tokio::task::JoinError;

/// Locks a mutex whose data stays consistent even if a holder panicked: no code of the
/// runtime panics while holding its locks, and no user code runs under them, so this only
/// avoids turning one panic into many.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The message of a caught panic's payload, when it is a string (what `panic!` makes).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a panic without a message)")
}

/// Runs user code `call`, turning a panic into `Err` with its message.
pub(crate) fn catch_panic<R>(call: impl FnOnce() -> R) -> Result<R, String> {
    std::panic::catch_unwind(AssertUnwindSafe(call))
        .map_err(|panic| panic_message(panic.as_ref()).to_string())
}

/// Runs user code `run` to its end, turning a panic (when it is made or polled) into `Err`
/// with its message.
pub(crate) async fn catch_panic_async<F: Future>(run: F) -> Result<F::Output, String> {
    AssertUnwindSafe(run)
        .catch_unwind()
        .await
        .map_err(|panic| panic_message(panic.as_ref()).to_string())
}

/// Logs how a task of the runtime ended, if it panicked: user code's panics are caught inside
/// the tasks, so this is a bug of the runtime itself.
pub(crate) fn log_join(joined: Result<(), JoinError>) {
    if let Err(error) = joined {
        if error.is_panic() {
            tracing::error!(%error, "a task of the runtime panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_are_caught_with_their_messages() {
        assert_eq!(catch_panic(|| 7), Ok(7));
        assert_eq!(
            catch_panic(|| panic!("static")),
            Err::<(), _>("static".into())
        );
        let code = 3;
        assert_eq!(
            catch_panic(|| panic!("formatted {code}")),
            Err::<(), _>("formatted 3".into())
        );
        assert_eq!(
            catch_panic(|| std::panic::panic_any(42)),
            Err::<(), _>("(a panic without a message)".into())
        );
    }

    #[tokio::test]
    async fn panics_of_futures_are_caught_when_polled() {
        assert_eq!(catch_panic_async(async { 7 }).await, Ok(7));
        let failed = catch_panic_async(async {
            tokio::task::yield_now().await;
            panic!("after a yield")
        });
        assert_eq!(failed.await, Err::<(), _>("after a yield".into()));
    }

    #[test]
    fn a_poisoned_lock_still_locks() {
        let mutex = std::sync::Arc::new(Mutex::new(1));
        let poisoner = mutex.clone();
        let _ = std::thread::spawn(move || {
            let _guard = poisoner.lock().unwrap();
            panic!("poison");
        })
        .join();
        assert!(mutex.is_poisoned());
        *lock(&mutex) += 1;
        assert_eq!(*lock(&mutex), 2);
    }
}
