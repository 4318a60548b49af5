//! The one way events leave a session, for every surface (the Rust stream, the C poll
//! queue and dispatcher, Python).
//!
//! By construction an outlet:
//! - counts every event given until the user takes it, and its bytes, and tells the
//!   session to stop reading the socket while `limit` events or `byte_limit` bytes wait
//!   (so memory stays bounded: TCP holds the server back; a user who stalls longer than
//!   the server's heartbeat is disconnected and caught up without gaps later, see
//!   `tracker`);
//! - hands events over in bursts while the session works through frames that were
//!   already buffered: every hand-over wakes the consumer's thread, which cost more
//!   than decoding the event when the consumer keeps up (perf, event flood);
//! - delivers nothing after the final `Closed` state event;
//! - holds back events of subscriptions the user has ended (such an event may already
//!   wait in a queue when `unsubscribe` is called, and the promise is that none is
//!   delivered after it returns).

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};
use tokio::sync::Notify;

use crate::event::{ConnectionState, Event};

/// Where an outlet's events go: a queue of some consumer. Called with the outlet's lock
/// held (which keeps the order across threads), so it must only queue, never run user
/// code or block.
pub(crate) trait Target: Send + Sync {
    /// Takes a burst of events, in order, leaving `events` empty.
    fn deliver(&self, events: &mut Vec<Event>);
}

/// Looks at each event on its way out, in the order the session gives them: may change
/// it, or hold it back (`false`). The chat view uses it to name rooms and to drop what is
/// not the user's (see `chat::state`). Called with the outlet's lock held: it must be
/// quick, and never block, run user code or take a lock a reply callback could hold.
pub(crate) trait View: Send + Sync {
    /// Returns whether `event` leaves.
    fn view(&self, event: &mut Event) -> bool;
}

#[derive(Default)]
struct Held {
    holding: bool,
    closed: bool,
    events: Vec<Event>,
    /// The count and bytes of `events`, added to the flow's when they are handed over
    /// (once per burst: the counters are shared with the consumer's thread, and an
    /// update per event moved their cache line back and forth per event).
    count: usize,
    bytes: usize,
}

/// A session's events on their way to the user: the producer's side, held by the
/// session and the client (which gives the outcomes of `*_nowait` calls). Consumers hold
/// only its [`Flow`], so a stream whose session is gone without its `Closed` event (a
/// shutdown that ran out of time) still ends once the client is dropped too.
pub(crate) struct Outlet {
    held: Mutex<Held>,
    target: Box<dyn Target>,
    flow: Arc<Flow>,
    /// See every event, in order, before it is counted and handed over.
    views: Vec<Arc<dyn View>>,
}

/// The consumer's side of an outlet: the count of events given and not yet taken, the
/// subscriptions whose events must no longer be handed over, and the last state.
pub(crate) struct Flow {
    waiting: AtomicUsize,
    limit: usize,
    /// The bytes of the events waiting (see [`Event::weight`]).
    bytes: AtomicUsize,
    byte_limit: usize,
    resume: Notify,
    /// uids are never reused within a client, so the set only grows by one per
    /// unsubscribe; that is the price of checking without a sequence number per event.
    ended: Mutex<HashSet<String>>,
    /// Whether `ended` has anything, so the usual client never takes its lock per event.
    any_ended: AtomicBool,
    /// The last connection state given, for surfaces that show it without waiting.
    state: AtomicU8,
    /// Woken when `Closed` is given (see [`Outlet::closed`]).
    closing: Notify,
}

const STATES: [ConnectionState; 5] = [
    ConnectionState::Connecting,
    ConnectionState::Connected,
    ConnectionState::Authenticated,
    ConnectionState::Disconnected,
    ConnectionState::Closed,
];

impl Outlet {
    /// An outlet in front of `target` that holds the session back at `limit` waiting
    /// events or `byte_limit` waiting bytes.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn new(limit: usize, byte_limit: usize, target: impl Target + 'static) -> Arc<Self> {
        Self::with_views(limit, byte_limit, target, Vec::new())
    }

    /// An outlet whose events pass `views` first.
    pub(crate) fn with_views(limit: usize, byte_limit: usize, target: impl Target + 'static, views: Vec<Arc<dyn View>>) -> Arc<Self> {
        let flow = Arc::new(Flow {
            waiting: AtomicUsize::new(0),
            limit: limit.max(1),
            bytes: AtomicUsize::new(0),
            byte_limit: byte_limit.max(1),
            resume: Notify::new(),
            ended: Mutex::default(),
            any_ended: AtomicBool::new(false),
            state: AtomicU8::new(0),
            closing: Notify::new(),
        });
        Arc::new(Outlet { held: Mutex::new(Held::default()), target: Box::new(target), flow, views })
    }

    /// The consumer's side.
    pub(crate) fn flow(&self) -> &Arc<Flow> {
        &self.flow
    }

    // ---- the session's side

    /// Gives one event: held while a [`Hold`] is alive, else handed over at once;
    /// dropped after `Closed`.
    pub(crate) fn give(&self, mut event: Event) {
        let mut held = self.held.lock();
        if held.closed {
            return;
        }
        for view in &self.views {
            if !view.view(&mut event) {
                return;
            }
        }
        if let Event::State { state, .. } = &event {
            held.closed = *state == ConnectionState::Closed;
            self.flow.state.store(STATES.iter().position(|s| s == state).unwrap_or(0) as u8, Ordering::Release);
        }
        if held.holding {
            held.count += 1;
            held.bytes += event.weight();
            held.events.push(event);
        } else {
            self.flow.add(1, event.weight());
            let mut one = vec![event];
            self.target.deliver(&mut one);
        }
        if held.closed {
            self.flow.closing.notify_waiters();
        }
    }

    /// Resolves once the final `Closed` event has been given: the session has ended
    /// (for parts of a client that live beside the session, like the outbox).
    pub(crate) async fn closed(&self) {
        loop {
            let notified = self.flow.closing.notified();
            tokio::pin!(notified);
            // Registered before the check, so a `Closed` given in between is not missed.
            notified.as_mut().enable();
            if self.flow.state() == ConnectionState::Closed {
                return;
            }
            notified.await;
        }
    }

    /// Holds events back until the returned guard is dropped (also when unwinding, so a
    /// panicking session still delivers what it gave, and its final `Closed`).
    pub(crate) fn hold(self: &Arc<Self>) -> Hold {
        self.held.lock().holding = true;
        Hold(self.clone())
    }

    /// Whether the session should stop reading its socket.
    pub(crate) fn is_full(&self) -> bool {
        let held = self.held.lock();
        self.flow.is_full_with(held.count, held.bytes)
    }

    /// Resolves when the user has taken events below the limit again.
    /// Resolves when the user has taken events down to half the limits: reading on at
    /// the first free slot made the session stop and start again for every few events
    /// the user took, which cost more than the events (event flood: half the rate).
    pub(crate) async fn room(&self) {
        // `notify_one` leaves a permit when nobody waits, so a wake between the check
        // and the wait is not lost.
        while !self.flow.has_room() {
            self.flow.resume.notified().await;
        }
    }
}

impl Flow {
    /// Whether the flow is down to half its limits (see [`Outlet::room`]).
    fn has_room(&self) -> bool {
        self.waiting.load(Ordering::Acquire) <= self.limit / 2 && self.bytes.load(Ordering::Acquire) <= self.byte_limit / 2
    }

    /// Whether the flow is full with `count` events and `bytes` more.
    fn is_full_with(&self, count: usize, bytes: usize) -> bool {
        self.waiting.load(Ordering::Acquire) + count >= self.limit || self.bytes.load(Ordering::Acquire) + bytes >= self.byte_limit
    }

    fn add(&self, count: usize, bytes: usize) {
        if count > 0 {
            self.waiting.fetch_add(count, Ordering::AcqRel);
            self.bytes.fetch_add(bytes, Ordering::AcqRel);
        }
    }

    /// The user took `count` events of `bytes`, counted together (see [`Flow::take`]).
    pub(crate) fn taken(&self, count: usize, bytes: usize) {
        self.released(bytes);
        self.consumed(count);
    }

    /// Counts `event` as taken and says whether to hand it over (false for an event of
    /// an ended subscription).
    pub(crate) fn take(&self, event: &Event) -> bool {
        self.released(event.weight());
        self.consumed(1);
        self.admits(event)
    }

    /// `n` bytes of waiting events left the library's queues (for consumers that count
    /// the events themselves later, see [`Flow::consumed`]).
    pub(crate) fn released(&self, n: usize) {
        self.take_from(&self.bytes, self.byte_limit, n);
    }

    /// Takes `n` from `counter` (bounded by `limit`), waking a paused session when it
    /// falls to half the limit (see [`Outlet::room`]).
    fn take_from(&self, counter: &AtomicUsize, limit: usize, n: usize) {
        if n == 0 {
            return;
        }
        let before = counter.fetch_sub(n, Ordering::AcqRel);
        let half = limit / 2;
        if before > half && before - n <= half {
            self.resume.notify_one();
        }
    }

    /// Whether `event` may still be handed over, without counting it.
    pub(crate) fn admits(&self, event: &Event) -> bool {
        match event {
            Event::Subscription { uid, .. } | Event::SubscriptionError { uid, .. } => !self.is_ended(uid),
            _ => true,
        }
    }

    /// The user took `n` events (for consumers that count when the user takes an event
    /// from a queue of their own, like the Python package).
    pub(crate) fn consumed(&self, n: usize) {
        self.take_from(&self.waiting, self.limit, n);
    }

    /// The user ended the subscription `uid`: its events still queued are dropped.
    pub(crate) fn end_subscription(&self, uid: &str) {
        self.ended.lock().insert(uid.to_owned());
        self.any_ended.store(true, Ordering::Release);
    }

    fn is_ended(&self, uid: &str) -> bool {
        self.any_ended.load(Ordering::Acquire) && self.ended.lock().contains(uid)
    }

    /// The last connection state given.
    pub(crate) fn state(&self) -> ConnectionState {
        STATES[usize::from(self.state.load(Ordering::Acquire)).min(STATES.len() - 1)]
    }
}

/// A consumer's queue: a burst goes in under one lock with one wake, and the consumer
/// takes everything queued at once (a channel send per event woke the consumer per
/// event: perf, event flood). Blocking consumers wait on its condition variable, async
/// ones on its `Notify`.
#[derive(Default)]
pub(crate) struct Queue {
    state: Mutex<QueueState>,
    ready: Condvar,
    notify: Notify,
}

#[derive(Default)]
struct QueueState {
    events: VecDeque<Event>,
    /// The producer is gone: nothing more comes.
    ended: bool,
}

impl Queue {
    fn push(&self, events: &mut Vec<Event>) {
        self.state.lock().events.extend(events.drain(..));
        self.wake();
    }

    fn wake(&self) {
        self.ready.notify_one();
        // Leaves a permit when nobody waits, so a take that found nothing just before
        // does not miss it.
        self.notify.notify_one();
    }

    /// Moves what is queued into `into`; true once nothing is queued and nothing more
    /// will come.
    pub(crate) fn take_now(&self, into: &mut VecDeque<Event>) -> bool {
        let mut st = self.state.lock();
        if into.is_empty() {
            std::mem::swap(&mut st.events, into);
        } else {
            into.extend(st.events.drain(..));
        }
        st.ended && into.is_empty()
    }

    /// Like [`Queue::take_now`], waiting on this thread until there is something or
    /// the producer is gone.
    pub(crate) fn take_blocking(&self, into: &mut VecDeque<Event>) {
        let mut st = self.state.lock();
        while st.events.is_empty() && !st.ended {
            self.ready.wait(&mut st);
        }
        std::mem::swap(&mut st.events, into);
    }

    /// Like [`Queue::take_blocking`], for async code.
    pub(crate) async fn take(&self, into: &mut VecDeque<Event>) {
        loop {
            let notified = self.notify.notified();
            if !self.take_now(into) && into.is_empty() {
                notified.await;
                continue;
            }
            return;
        }
    }
}

/// The producer's side of a [`Queue`]: the target an outlet delivers to. Dropping it
/// (the session and its client are gone) ends the queue.
pub(crate) struct Feed(pub(crate) Arc<Queue>);

impl Target for Feed {
    fn deliver(&self, events: &mut Vec<Event>) {
        self.0.push(events);
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.0.state.lock().ended = true;
        self.0.wake();
    }
}

/// Holds an [`Outlet`]'s events; dropping it hands them over, in order, in one burst.
pub(crate) struct Hold(Arc<Outlet>);

impl Drop for Hold {
    fn drop(&mut self) {
        let mut held = self.0.held.lock();
        held.holding = false;
        // Counted before they are handed over: the consumer may take them at once.
        self.0.flow.add(std::mem::take(&mut held.count), std::mem::take(&mut held.bytes));
        if !held.events.is_empty() {
            let mut events = std::mem::take(&mut held.events);
            self.0.target.deliver(&mut events);
            // Keep the emptied vector so the next burst does not allocate.
            held.events = events;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::protocol::SubscriptionKind;
    use serde_json::Value;

    /// A target that records what it got, burst by burst.
    #[derive(Clone, Default)]
    pub(crate) struct Recorder(pub Arc<Mutex<Vec<Vec<Event>>>>);

    impl Target for Recorder {
        fn deliver(&self, events: &mut Vec<Event>) {
            self.0.lock().push(std::mem::take(events));
        }
    }

    fn state(s: ConnectionState) -> Event {
        Event::state(s)
    }

    #[test]
    fn holds_a_burst_then_delivers_it_at_once_and_nothing_after_closed() {
        let rec = Recorder::default();
        let outlet = Outlet::new(100, usize::MAX, rec.clone());
        outlet.give(state(ConnectionState::Connecting));
        let hold = outlet.hold();
        outlet.give(state(ConnectionState::Connected));
        outlet.give(state(ConnectionState::Authenticated));
        assert_eq!(rec.0.lock().len(), 1, "held while the guard lives");
        drop(hold);
        outlet.give(state(ConnectionState::Closed));
        outlet.give(state(ConnectionState::Connecting));
        let bursts: Vec<usize> = rec.0.lock().iter().map(Vec::len).collect();
        assert_eq!(bursts, vec![1, 2, 1], "one burst for the held events; nothing after Closed");
        assert_eq!(outlet.flow().state(), ConnectionState::Closed);
    }

    #[test]
    fn a_panic_while_holding_still_delivers() {
        let rec = Recorder::default();
        let outlet = Outlet::new(100, usize::MAX, rec.clone());
        let o = outlet.clone();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _hold = o.hold();
            o.give(state(ConnectionState::Connected));
            panic!("boom");
        }));
        assert!(r.is_err());
        assert_eq!(rec.0.lock().len(), 1);
    }

    #[test]
    fn full_at_the_limit_and_room_again_at_half() {
        let outlet = Outlet::new(4, usize::MAX, Recorder::default());
        for _ in 0..3 {
            outlet.give(state(ConnectionState::Connecting));
        }
        assert!(!outlet.is_full());
        outlet.give(state(ConnectionState::Connected));
        assert!(outlet.is_full());
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let room = |outlet: &Arc<Outlet>| {
            rt.block_on(async { tokio::time::timeout(std::time::Duration::from_millis(50), outlet.room()).await.is_ok() })
        };
        assert!(outlet.flow().take(&state(ConnectionState::Connected)));
        assert!(!outlet.is_full());
        assert!(!room(&outlet), "three of four still wait: reading resumes at half");
        assert!(outlet.flow().take(&state(ConnectionState::Connected)));
        assert!(room(&outlet));
        // Counting later, a burst at a time.
        outlet.give(state(ConnectionState::Authenticated));
        outlet.give(state(ConnectionState::Authenticated));
        assert!(outlet.is_full());
        outlet.flow().consumed(4);
        assert!(room(&outlet));
    }

    #[test]
    fn full_at_the_byte_limit_too() {
        let big = || Event::Subscription {
            uid: "s-1".into(),
            kind: SubscriptionKind::Create,
            data: crate::Data::raw(crate::protocol::RawJson::new(format!("[\"{}\"]", "x".repeat(1000)))),
        };
        let outlet = Outlet::new(1000, 2500, Recorder::default());
        outlet.give(big());
        assert!(!outlet.is_full());
        outlet.give(big());
        outlet.give(big());
        assert!(outlet.is_full(), "three events of about 1 KB fill 2,500 bytes");
        assert!(outlet.flow().take(&big()));
        assert!(!outlet.is_full());
        // Counted later: the bytes leave first, the count when the user takes them.
        outlet.give(big());
        outlet.give(big());
        assert!(outlet.is_full());
        outlet.flow().released(2 * big().weight());
        assert!(!outlet.is_full());
        outlet.flow().consumed(2);
    }

    #[test]
    fn a_queue_hands_over_bursts_and_ends_with_its_feed() {
        let queue = Arc::new(Queue::default());
        let feed = Feed(queue.clone());
        let mut taken = VecDeque::new();
        assert!(!queue.take_now(&mut taken) && taken.is_empty());
        feed.deliver(&mut vec![state(ConnectionState::Connecting), state(ConnectionState::Connected)]);
        let waiter = {
            let queue = queue.clone();
            std::thread::spawn(move || {
                let mut got = VecDeque::new();
                queue.take_blocking(&mut got);
                got.len()
            })
        };
        assert_eq!(waiter.join().unwrap(), 2);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let later = {
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                feed.deliver(&mut vec![state(ConnectionState::Closed)]);
                drop(feed);
            })
        };
        rt.block_on(async {
            let mut got = VecDeque::new();
            queue.take(&mut got).await;
            assert_eq!(got.len(), 1, "woken by the burst");
            got.clear();
            later.join().unwrap();
            queue.take(&mut got).await;
            assert!(got.is_empty(), "ended with its feed");
        });
        assert!(queue.take_now(&mut taken));
    }

    #[test]
    fn events_of_an_ended_subscription_are_held_back() {
        let outlet = Outlet::new(10, usize::MAX, Recorder::default());
        let of = |uid: &str| Event::Subscription { uid: uid.into(), kind: SubscriptionKind::Create, data: Value::Null.into() };
        for _ in 0..3 {
            outlet.give(of("a"));
        }
        outlet.flow().end_subscription("a");
        assert!(!outlet.flow().take(&of("a")));
        assert!(outlet.flow().take(&of("b")));
        assert!(outlet.flow().take(&Event::Unknown(Value::Null)));
        assert!(!outlet.flow().admits(&of("a")));
    }
}
