//! Flow control between a session and whoever takes its events.
//!
//! Every event handed to the user counts until it is taken (read from `Events`, polled,
//! or passed to a callback). When `limit` events are waiting, the session stops
//! reading its socket until the user catches up, so memory stays bounded. A user who
//! stops taking events for longer than the server's heartbeat period is disconnected
//! by the server; once they take events again, the session reconnects and
//! resubscribes without gaps (see `tracker`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// The count of events given to the user and not yet taken.
#[derive(Debug)]
pub(crate) struct Flow {
    waiting: AtomicUsize,
    limit: usize,
    resume: Notify,
}

impl Flow {
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Flow { waiting: AtomicUsize::new(0), limit: limit.max(1), resume: Notify::new() })
    }

    /// One more event waits for the user.
    pub(crate) fn given(&self) {
        self.waiting.fetch_add(1, Ordering::AcqRel);
    }

    /// The user took one event.
    pub(crate) fn taken(&self) {
        let before = self.waiting.fetch_sub(1, Ordering::AcqRel);
        if before == self.limit {
            self.resume.notify_one();
        }
    }

    /// Whether the session should stop reading.
    pub(crate) fn is_full(&self) -> bool {
        self.waiting.load(Ordering::Acquire) >= self.limit
    }

    /// Resolves when the user has taken events below the limit again.
    pub(crate) async fn room(&self) {
        while self.is_full() {
            self.resume.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_at_the_limit_and_free_again_below() {
        let f = Flow::new(2);
        f.given();
        assert!(!f.is_full());
        f.given();
        assert!(f.is_full());
        f.taken();
        assert!(!f.is_full());
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async { tokio::time::timeout(std::time::Duration::from_millis(50), f.room()).await.unwrap() });
    }
}
