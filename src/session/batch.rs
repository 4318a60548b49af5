//! Handing events over in bursts.
//!
//! Every event handed to a waiting consumer wakes its thread (an eventfd write or a
//! futex), which cost more than decoding the event itself when the consumer keeps up
//! (perf on the flood benchmark: a fifth of the I/O thread in `Waker::wake`). While the
//! session works through frames that are already buffered, it holds their events back
//! and hands them over together at the end, so one wake covers a burst. Order is kept:
//! everything given through the batch's sink while it holds, replies included, is
//! delivered in the order given.

use std::sync::Arc;

use parking_lot::Mutex;

use super::EventSink;
use crate::event::Event;

/// A sink that can hold events back for a moment.
pub(crate) struct Batch {
    held: Mutex<Held>,
    inner: EventSink,
}

#[derive(Default)]
struct Held {
    holding: bool,
    events: Vec<Event>,
    /// The emptied vector of the last burst, kept so the next burst does not allocate.
    spare: Vec<Event>,
}

impl Batch {
    /// A batch in front of `inner`.
    pub(crate) fn new(inner: EventSink) -> Arc<Batch> {
        Arc::new(Batch { held: Mutex::new(Held::default()), inner })
    }

    /// Gives one event: held while a [`Hold`] is alive, else passed on at once.
    pub(crate) fn give(&self, event: Event) {
        let mut held = self.held.lock();
        if held.holding {
            held.events.push(event);
        } else {
            drop(held);
            (self.inner)(event)
        }
    }

    /// Holds events back until the returned guard is dropped (also when unwinding, so
    /// a panicking session still delivers what it gave, and its final `Closed`).
    pub(crate) fn hold(self: &Arc<Self>) -> Hold {
        let mut held = self.held.lock();
        held.holding = true;
        if held.events.capacity() == 0 {
            held.events = std::mem::take(&mut held.spare);
        }
        Hold(self.clone())
    }
}

/// Holds a [`Batch`]'s events; dropping it hands them over, in order.
pub(crate) struct Hold(Arc<Batch>);

impl Drop for Hold {
    fn drop(&mut self) {
        let mut events = {
            let mut held = self.0.held.lock();
            held.holding = false;
            std::mem::take(&mut held.events)
        };
        // Delivered without the lock: another thread giving meanwhile goes straight on.
        for event in events.drain(..) {
            (self.0.inner)(event);
        }
        self.0.held.lock().spare = events;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::ConnectionState;

    fn state(s: ConnectionState) -> Event {
        Event::State { state: s, reason: None }
    }

    #[test]
    fn holds_then_delivers_in_order() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let batch = Batch::new(Arc::new(move |e| s.lock().push(e)));
        batch.give(state(ConnectionState::Connecting));
        let hold = batch.hold();
        batch.give(state(ConnectionState::Connected));
        batch.give(state(ConnectionState::Authenticated));
        assert_eq!(seen.lock().len(), 1, "held while the guard lives");
        drop(hold);
        batch.give(state(ConnectionState::Closed));
        let got: Vec<Event> = seen.lock().clone();
        assert_eq!(
            got,
            vec![
                state(ConnectionState::Connecting),
                state(ConnectionState::Connected),
                state(ConnectionState::Authenticated),
                state(ConnectionState::Closed)
            ]
        );
    }

    #[test]
    fn a_panic_while_holding_still_delivers() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let batch = Batch::new(Arc::new(move |e| s.lock().push(e)));
        let b = batch.clone();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _hold = b.hold();
            b.give(state(ConnectionState::Connected));
            panic!("boom");
        }));
        assert!(r.is_err());
        assert_eq!(seen.lock().len(), 1);
    }
}
