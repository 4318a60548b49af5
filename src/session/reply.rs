//! The completion of one request, delivered exactly once.

use serde_json::Value;
use tokio::time::Instant;

use crate::error::Error;

type Callback = Box<dyn FnOnce(Result<Value, Error>) + Send>;

/// Where the outcome of a request goes, and by when at the latest.
///
/// Calling [`Reply::send`] consumes it; a `Reply` dropped without being sent (a
/// session that ended or panicked) reports [`Error::Closed`]. So every request ends in
/// exactly one result or one error, by construction.
pub(crate) struct Reply {
    callback: Option<Callback>,
    deadline: Option<Instant>,
    /// Answer a close before the final `Closed` event (see [`Reply::before_closed`]).
    before_closed: bool,
}

impl Reply {
    /// A reply that runs `f` with the outcome.
    pub(crate) fn new(f: impl FnOnce(Result<Value, Error>) + Send + 'static) -> Self {
        Reply { callback: Some(Box::new(f)), deadline: None, before_closed: false }
    }

    /// A reply whose outcome nobody waits for.
    pub(crate) fn ignore() -> Self {
        Reply { callback: None, deadline: None, before_closed: false }
    }

    /// The same reply, failing with [`Error::Timeout`] at `deadline` even while its
    /// request still waits for the login or a connection (the blocking and async calls:
    /// their caller waits from the moment it asked). Without one, a request times out
    /// only on the wire.
    pub(crate) fn by(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The deadline set with [`Reply::by`].
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The same reply, answering a close before the session's final `Closed` event
    /// rather than after it: a reply that becomes an event must, since nothing is
    /// delivered after `Closed`; a caller who waits hears after it, so that the event
    /// stream has ended when its close returns.
    pub(crate) fn before_closed(mut self) -> Self {
        self.before_closed = true;
        self
    }

    /// Whether [`Reply::before_closed`] was set.
    pub(crate) fn is_before_closed(&self) -> bool {
        self.before_closed
    }

    /// A reply that completes a tokio oneshot; the receiver may be awaited from any runtime.
    pub(crate) fn oneshot() -> (Self, tokio::sync::oneshot::Receiver<Result<Value, Error>>) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        (
            Reply::new(move |r| {
                let _ = tx.send(r);
            }),
            rx,
        )
    }

    /// Takes the reply back without delivering anything: for a request that was never
    /// handed to a session, whose caller gets the error directly instead.
    pub(crate) fn disarm(mut self) {
        self.callback = None;
    }

    /// Delivers the outcome.
    pub(crate) fn send(mut self, result: Result<Value, Error>) {
        if let Some(f) = self.callback.take() {
            f(result);
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if let Some(f) = self.callback.take() {
            f(Err(Error::Closed));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn dropped_reply_reports_closed_once() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        drop(Reply::new(move |r| s.lock().unwrap().push(r)));
        let s = seen.clone();
        Reply::new(move |r| s.lock().unwrap().push(r)).send(Ok(Value::Null));
        assert_eq!(*seen.lock().unwrap(), vec![Err(Error::Closed), Ok(Value::Null)]);
    }
}
