//! Flow control between a session and whoever takes its events.
//!
//! Every event handed to the user counts until it is taken (read from `Events`, polled,
//! or passed to a callback). When `limit` events are waiting, the session stops
//! reading its socket until the user catches up, so memory stays bounded. A user who
//! stops taking events for longer than the server's heartbeat period is disconnected
//! by the server; once they take events again, the session reconnects and
//! resubscribes without gaps (see `tracker`).
//!
//! The same point also holds back events of subscriptions the user has ended: such an
//! event may already wait in a queue when `unsubscribe` is called, and the promise is
//! that none is delivered after it returns.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::event::Event;

/// The count of events given to the user and not yet taken, and the subscriptions
/// whose events must no longer be handed over.
#[derive(Debug)]
pub(crate) struct Flow {
    waiting: AtomicUsize,
    limit: usize,
    resume: Notify,
    /// uids are never reused within a client, so the set only grows by one per
    /// unsubscribe; that is the price of checking without a sequence number per event.
    ended: Mutex<HashSet<String>>,
    /// Whether `ended` has anything, so the usual client never takes its lock per event.
    any_ended: AtomicBool,
}

impl Flow {
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Flow {
            waiting: AtomicUsize::new(0),
            limit: limit.max(1),
            resume: Notify::new(),
            ended: Mutex::default(),
            any_ended: AtomicBool::new(false),
        })
    }

    /// The user ended the subscription `uid`: its events still queued are dropped.
    pub(crate) fn end_subscription(&self, uid: &str) {
        self.ended.lock().insert(uid.to_owned());
        self.any_ended.store(true, Ordering::Release);
    }

    /// Counts `event` as taken and says whether to hand it over (false for an event of
    /// an ended subscription).
    pub(crate) fn take(&self, event: &Event) -> bool {
        self.taken();
        match event {
            Event::Subscription { uid, .. } | Event::SubscriptionError { uid, .. } => !self.is_ended(uid),
            _ => true,
        }
    }

    fn is_ended(&self, uid: &str) -> bool {
        self.any_ended.load(Ordering::Acquire) && self.ended.lock().contains(uid)
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
    use serde_json::Value;

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

    #[test]
    fn events_of_an_ended_subscription_are_held_back() {
        let f = Flow::new(10);
        let of = |uid: &str| Event::Subscription { uid: uid.into(), kind: crate::protocol::SubscriptionKind::Create, data: Value::Null };
        f.given();
        f.given();
        f.given();
        f.end_subscription("a");
        assert!(!f.take(&of("a")));
        assert!(f.take(&of("b")));
        assert!(f.take(&Event::Unknown(Value::Null)));
        assert!(!f.is_full());
    }
}
