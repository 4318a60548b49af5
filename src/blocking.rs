//! Waiting for the library's futures from plain threads (C hosts, Python, scripts).

use std::future::Future;
use std::time::Duration;

use crate::error::{Error, Result};

/// Runs `future` to completion on the calling thread, up to `timeout` (`None`: no
/// limit), driving timers on the library's runtime.
///
/// Returns [`Error::Timeout`] when the time runs out (the future is dropped; a request
/// it was waiting for still completes in the session), and
/// [`Error::InvalidArgument`] when called from inside an async runtime, where blocking
/// would stall other tasks: use `.await` there.
pub fn wait<F: Future>(future: F, timeout: Option<Duration>) -> Result<F::Output> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::InvalidArgument("blocking::wait called from inside an async runtime; use .await".into()));
    }
    let handle = crate::runtime::handle();
    match timeout {
        None => Ok(handle.block_on(future)),
        Some(t) => handle.block_on(async { tokio::time::timeout(t, future).await.map_err(|_| Error::Timeout) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_and_times_out() {
        assert_eq!(wait(async { 5 }, None).unwrap(), 5);
        let never = std::future::pending::<()>();
        assert_eq!(wait(never, Some(Duration::from_millis(20))), Err(Error::Timeout));
    }

    #[test]
    fn refuses_inside_a_runtime() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let r = rt.block_on(async { wait(async { 1 }, None) });
        assert!(matches!(r, Err(Error::InvalidArgument(_))));
    }
}
