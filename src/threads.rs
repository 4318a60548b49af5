//! The library's own threads (event dispatchers, wake-up notifiers, the log thread):
//! every one is started by [`spawn_library_thread`], which registers it, so that a
//! process-wide [`crate::shutdown`] can join them all, and so that a call can tell
//! whether it runs on one of them (host code there must not wait for the library to
//! stop: that would wait for itself).

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use once_cell::sync::Lazy;
use parking_lot::{Condvar, Mutex};

thread_local! {
    static ON_LIBRARY_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Whether the current thread is one of the library's (a registered thread or an I/O
/// thread of the runtime).
pub(crate) fn on_library_thread() -> bool {
    ON_LIBRARY_THREAD.with(|t| t.get())
}

/// Marks the current thread as the library's; for threads that the runtime starts.
pub(crate) fn mark_library_thread() {
    ON_LIBRARY_THREAD.with(|t| t.set(true));
}

#[derive(Default)]
struct SlotState {
    handle: Option<JoinHandle<()>>,
    /// The thread's function has returned (or unwound).
    finished: bool,
    /// `JoinHandle::join` has returned: the thread no longer exists.
    joined: bool,
}

struct Slot {
    id: u64,
    name: &'static str,
    state: Mutex<SlotState>,
    changed: Condvar,
}

/// Every thread started and not yet joined, by id.
static LIVE: Lazy<Mutex<HashMap<u64, Arc<Slot>>>> = Lazy::new(Default::default);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Sets `finished` when the thread's function ends, by return or by panic.
struct Finished(Arc<Slot>);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.state.lock().finished = true;
        self.0.changed.notify_all();
    }
}

/// A registered thread of the library. Dropping it does not stop or join the thread;
/// [`LibraryThread::join`] or a shutdown does.
pub(crate) struct LibraryThread(Arc<Slot>);

/// Starts a named library thread running `f` and registers it until it is joined.
pub(crate) fn spawn_library_thread(name: &'static str, f: impl FnOnce() + Send + 'static) -> std::io::Result<LibraryThread> {
    let slot = Arc::new(Slot {
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        name,
        state: Mutex::new(SlotState::default()),
        changed: Condvar::new(),
    });
    let guard = Finished(slot.clone());
    // Registered before the thread runs, under the lock a shutdown takes its list with,
    // so that no thread escapes a shutdown that has begun listing them.
    let mut live = LIVE.lock();
    let handle = std::thread::Builder::new().name(name.into()).spawn(move || {
        mark_library_thread();
        let _finished = guard;
        f();
    })?;
    slot.state.lock().handle = Some(handle);
    slot.changed.notify_all();
    live.insert(slot.id, slot.clone());
    Ok(LibraryThread(slot))
}

impl LibraryThread {
    /// Waits until the thread has ended and been joined, up to `deadline` (`None`: no
    /// limit); false when the deadline passed first. Any number of callers may join.
    pub(crate) fn join(&self, deadline: Option<Instant>) -> bool {
        join_slot(&self.0, deadline)
    }
}

fn join_slot(slot: &Slot, deadline: Option<Instant>) -> bool {
    let mut st = slot.state.lock();
    loop {
        if st.joined {
            return true;
        }
        if st.finished {
            if let Some(handle) = st.handle.take() {
                // Finished threads end at once; `join` waits for that (its thread-local
                // destructors included), which is what makes unloading the code safe.
                drop(st);
                let _ = handle.join();
                st = slot.state.lock();
                st.joined = true;
                slot.changed.notify_all();
                drop(st);
                let mut live = LIVE.lock();
                live.remove(&slot.id);
                if live.is_empty() {
                    // Nothing left for an unloaded library to leak.
                    live.shrink_to_fit();
                }
                return true;
            }
        }
        // Not finished yet, or another caller is joining it: wait for a change.
        match deadline {
            None => slot.changed.wait(&mut st),
            Some(d) => {
                if slot.changed.wait_until(&mut st, d).timed_out() && !st.joined && !(st.finished && st.handle.is_some()) {
                    return false;
                }
            }
        }
    }
}

/// Joins every registered thread whose name `select` accepts, up to `deadline`; the
/// names of those that did not end in time.
pub(crate) fn join_all(deadline: Instant, select: impl Fn(&str) -> bool) -> Vec<&'static str> {
    let slots: Vec<Arc<Slot>> = LIVE.lock().values().filter(|s| select(s.name)).cloned().collect();
    slots.iter().filter(|s| !join_slot(s, Some(deadline))).map(|s| s.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn a_thread_is_marked_and_joined_by_every_joiner() {
        let (tx, rx) = mpsc::channel();
        let t = spawn_library_thread("dchat-test-join", move || tx.send(on_library_thread()).unwrap()).unwrap();
        assert!(rx.recv().unwrap(), "the thread knows it is the library's");
        assert!(!on_library_thread(), "the test thread is not");
        assert!(t.join(None));
        assert!(t.join(Some(Instant::now())), "joining again returns at once");
        assert!(!LIVE.lock().contains_key(&t.0.id), "a joined thread is no longer registered");
    }

    #[test]
    fn a_join_with_a_deadline_gives_up_and_a_later_one_succeeds() {
        let (tx, rx) = mpsc::channel::<()>();
        let t = spawn_library_thread("dchat-test-deadline", move || {
            let _ = rx.recv();
        })
        .unwrap();
        assert!(!t.join(Some(Instant::now() + Duration::from_millis(50))));
        drop(tx);
        assert!(t.join(Some(Instant::now() + Duration::from_secs(10))));
    }

    #[test]
    fn join_all_joins_threads_no_one_else_joins() {
        let (tx, rx) = mpsc::channel::<()>();
        let t = spawn_library_thread("dchat-test-all", move || {
            let _ = rx.recv();
        })
        .unwrap();
        // (Other tests run threads of their own at the same time: only this one counts.)
        let mine = |name: &str| name == "dchat-test-all";
        assert_eq!(join_all(Instant::now() + Duration::from_millis(50), mine), ["dchat-test-all"]);
        drop(tx);
        assert!(join_all(Instant::now() + Duration::from_secs(10), mine).is_empty());
        assert!(t.join(Some(Instant::now())));
    }
}
