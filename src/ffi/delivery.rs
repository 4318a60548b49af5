//! Getting events to the host: a dispatcher thread that runs the callback, or a
//! queue the host polls, with an optional wake-up hook.

use std::cell::Cell;
use std::collections::VecDeque;
use std::ffi::c_void;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::event::dchat_event;
use super::loop_io::{EventFd, RawFd};
use super::options::{Delivery, UserData};
use super::status::{dchat_status, FfiError, FfiResult};
use crate::chat::state::ChatState;
use crate::event::Event;
use crate::session::{Feed, Flow, Queue, Target};
use crate::threads::{spawn_library_thread, LibraryThread};

thread_local! {
    /// The client whose callback (or wake hook) this thread is running, as an address.
    static IN_CALLBACK: Cell<usize> = const { Cell::new(0) };
}

/// Whether the current thread is inside a callback of the client at `owner`.
pub(crate) fn in_callback_of(owner: usize) -> bool {
    IN_CALLBACK.with(|c| c.get() == owner)
}

fn run_as_callback_of(owner: usize, f: impl FnOnce()) {
    IN_CALLBACK.with(|c| c.set(owner));
    f();
    IN_CALLBACK.with(|c| c.set(0));
}

/// How long a poll that must not wait tries to take the queue's lock.
const LOCK_NOW: Duration = Duration::from_micros(300);

fn busy() -> FfiError {
    FfiError::new(dchat_status::DCHAT_ERR_TIMEOUT, "no event ready (the queue was busy)")
}

/// The queue of a poll-mode client.
#[derive(Default)]
pub(crate) struct PollQueue {
    state: Mutex<PollState>,
    ready: Condvar,
}

#[derive(Default)]
struct PollState {
    events: VecDeque<Event>,
    closed_taken: bool,
    /// The host's event fd, once asked for: readable exactly while `events` is not
    /// empty, kept so under this lock.
    signal: Option<EventFd>,
}

impl PollState {
    fn signal(&mut self) {
        let queued = !self.events.is_empty();
        if let Some(fd) = &mut self.signal {
            fd.set(queued);
        }
    }
}

impl PollQueue {
    /// Queues a burst of events; true when the queue was empty before.
    fn push(&self, events: &mut Vec<Event>) -> bool {
        let was_empty = {
            let mut st = self.state.lock();
            let was_empty = st.events.is_empty();
            st.events.extend(events.drain(..));
            st.signal();
            was_empty
        };
        self.ready.notify_all();
        was_empty
    }

    /// The next event, waiting up to `timeout` (`None`: forever); each is counted as
    /// taken by `flow`, and those it holds back are skipped. After the `Closed` event
    /// was taken, every call fails with `DCHAT_ERR_CLOSED` at once.
    pub(crate) fn pop(&self, timeout: Option<Duration>, flow: &Flow) -> FfiResult<Event> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut st = match timeout {
            Some(Duration::ZERO) => self.lock_now().ok_or_else(busy)?,
            _ => self.state.lock(),
        };
        loop {
            if let Some(e) = st.events.pop_front() {
                st.signal();
                if !flow.take(&e) {
                    continue;
                }
                st.closed_taken = e.is_closed();
                return Ok(e);
            }
            if st.closed_taken {
                return Err(FfiError::new(dchat_status::DCHAT_ERR_CLOSED, "the client is closed and every event was taken"));
            }
            match deadline {
                None => self.ready.wait(&mut st),
                Some(d) => {
                    if self.ready.wait_until(&mut st, d).timed_out() && st.events.is_empty() {
                        return Err(FfiError::new(dchat_status::DCHAT_ERR_TIMEOUT, "no event within the wait"));
                    }
                }
            }
        }
    }

    /// The queue's lock for a call that must not wait (a frame's poll). The session
    /// holds it only to append a burst, but a loaded machine may preempt it right then
    /// (often for the very thread its event fd just woke), so this spins briefly, then
    /// yields the CPU a few times, and gives up after [`LOCK_NOW`]: the events are
    /// still there on the next call, and the fd still readable.
    fn lock_now(&self) -> Option<parking_lot::MutexGuard<'_, PollState>> {
        let start = Instant::now();
        let mut spins = 0u32;
        loop {
            if let Some(st) = self.state.try_lock() {
                return Some(st);
            }
            if start.elapsed() > LOCK_NOW {
                return None;
            }
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// Up to `max` events that are queued now, without waiting (see [`PollQueue::pop`]);
    /// `DCHAT_ERR_CLOSED` only when none is left after the `Closed` event was taken.
    pub(crate) fn pop_many(&self, max: usize, flow: &Flow) -> FfiResult<Vec<Event>> {
        let Some(mut st) = self.lock_now() else { return Ok(Vec::new()) };
        let mut taken = Vec::with_capacity(max.min(st.events.len()));
        while taken.len() < max && !st.closed_taken {
            let Some(e) = st.events.pop_front() else { break };
            if flow.take(&e) {
                st.closed_taken = e.is_closed();
                taken.push(e);
            }
        }
        st.signal();
        if taken.is_empty() && st.closed_taken {
            return Err(FfiError::new(dchat_status::DCHAT_ERR_CLOSED, "the client is closed and every event was taken"));
        }
        Ok(taken)
    }

    /// The file descriptor that is readable while events are queued, made on first use.
    pub(crate) fn event_fd(&self) -> std::io::Result<RawFd> {
        let mut st = self.state.lock();
        let fd = match &st.signal {
            Some(fd) => fd.raw(),
            None => {
                let fd = EventFd::new()?;
                let raw = fd.raw();
                st.signal = Some(fd);
                raw
            }
        };
        st.signal();
        Ok(fd)
    }
}

/// Where a C client's events go: the dispatcher thread's queue, or the poll queue
/// (waking the notifier thread when the queue stops being empty).
pub(crate) enum Sink {
    Callback(Feed),
    Poll { queue: Arc<PollQueue>, wake: Option<mpsc::Sender<Wake>> },
}

impl Target for Sink {
    fn deliver(&self, events: &mut Vec<Event>) {
        match self {
            Sink::Callback(feed) => feed.deliver(events),
            Sink::Poll { queue, wake } => {
                let last = events.last().is_some_and(Event::is_closed);
                if queue.push(events) || last {
                    if let Some(wake) = wake {
                        let _ = wake.send(if last { Wake::Last } else { Wake::Now });
                    }
                }
            }
        }
    }
}

type EventFn = unsafe extern "C" fn(*mut c_void, *const dchat_event);
type WakeFn = unsafe extern "C" fn(*mut c_void);

pub(crate) enum Wake {
    Now,
    Last,
}

/// How a live client delivers, and the thread it must join before it is freed.
pub(crate) enum Deliverer {
    Callback {
        /// What the dispatcher thread needs, until `start` hands it over.
        pending: Mutex<Option<(Arc<Queue>, EventFn, UserData)>>,
        thread: Mutex<Option<LibraryThread>>,
        chat: Arc<ChatState>,
        gate: Gate,
    },
    Poll {
        queue: Arc<PollQueue>,
        /// What the notifier thread needs, until `start` hands it over.
        pending: Mutex<Option<(mpsc::Receiver<Wake>, WakeFn, UserData)>>,
        thread: Mutex<Option<LibraryThread>>,
        gate: Gate,
    },
}

/// Whether the delivery thread may still call the user (false once the client was
/// freed without waiting); held while it does, so closing it waits for a call in
/// progress and no call starts after.
pub(crate) type Gate = Arc<Mutex<bool>>;

impl Deliverer {
    /// The sink to give the session, and the deliverer that will hand its events over.
    pub(crate) fn new(delivery: Delivery, chat: Arc<ChatState>) -> (Sink, Deliverer) {
        match delivery {
            Delivery::Callback(cb, user_data) => {
                let queue = Arc::new(Queue::default());
                let pending = Mutex::new(Some((queue.clone(), cb, user_data)));
                let d = Deliverer::Callback { pending, thread: Mutex::new(None), chat, gate: Arc::new(Mutex::new(true)) };
                (Sink::Callback(Feed(queue)), d)
            }
            Delivery::Poll(wake, user_data) => {
                let queue = Arc::new(PollQueue::default());
                let (pending, wake) = match wake {
                    None => (None, None),
                    Some(wake) => {
                        let (tx, rx) = mpsc::channel();
                        (Some((rx, wake, user_data)), Some(tx))
                    }
                };
                let sink = Sink::Poll { queue: queue.clone(), wake };
                let gate = Arc::new(Mutex::new(true));
                (sink, Deliverer::Poll { queue, pending: Mutex::new(pending), thread: Mutex::new(None), gate })
            }
        }
    }

    /// Starts the delivery thread, once the client's handle (at address `owner`) exists;
    /// each event handed over is counted as taken by `flow`.
    pub(crate) fn start(&self, owner: usize, flow: Arc<Flow>) -> FfiResult {
        let spawn = |name: &'static str, f: Box<dyn FnOnce() + Send>| spawn_library_thread(name, f).map_err(FfiError::no_thread);
        match self {
            Deliverer::Callback { pending, thread, chat, gate } => {
                if let Some((queue, cb, ud)) = pending.lock().take() {
                    let chat = chat.clone();
                    let gate = gate.clone();
                    let handle = spawn(
                        "dchat-dispatch",
                        Box::new(move || {
                            let mut queued = VecDeque::new();
                            'run: loop {
                                queue.take_blocking(&mut queued);
                                if queued.is_empty() {
                                    break;
                                }
                                // Counted as taken once the burst is through (an update of
                                // the shared counters per event cost more than the rest).
                                let (mut count, mut bytes) = (0, 0);
                                while let Some(event) = queued.pop_front() {
                                    count += 1;
                                    bytes += event.weight();
                                    if !flow.admits(&event) {
                                        continue;
                                    }
                                    let closed = event.is_closed();
                                    let ev = dchat_event::new(event, chat.clone());
                                    let open = gate.lock();
                                    if !*open {
                                        break 'run;
                                    }
                                    // SAFETY: the user's callback, called as the header documents.
                                    run_as_callback_of(owner, || unsafe { cb(ud.ptr(), &ev) });
                                    drop(open);
                                    if closed {
                                        break 'run;
                                    }
                                }
                                flow.taken(count, bytes);
                            }
                        }),
                    )?;
                    *thread.lock() = Some(handle);
                }
            }
            Deliverer::Poll { pending, thread, gate, .. } => {
                if let Some((rx, wake, ud)) = pending.lock().take() {
                    let gate = gate.clone();
                    let handle = spawn(
                        "dchat-notify",
                        Box::new(move || {
                            for w in rx {
                                let open = gate.lock();
                                if !*open {
                                    break;
                                }
                                // SAFETY: the user's wake hook, called as the header documents.
                                run_as_callback_of(owner, || unsafe { wake(ud.ptr()) });
                                drop(open);
                                if matches!(w, Wake::Last) {
                                    break;
                                }
                            }
                        }),
                    )?;
                    *thread.lock() = Some(handle);
                }
            }
        }
        Ok(())
    }

    /// The poll queue, in poll mode.
    pub(crate) fn queue(&self) -> Option<&PollQueue> {
        match self {
            Deliverer::Poll { queue, .. } => Some(queue),
            Deliverer::Callback { .. } => None,
        }
    }

    /// Stops calling the user without waiting for the session to end: waits only for a
    /// callback (or wake hook) in progress; the delivery thread ends by itself once the
    /// session, closing in the background, has handed over its last event (a
    /// process-wide shutdown still joins it). Never call it from that thread.
    pub(crate) fn detach(&self) {
        let (gate, thread) = match self {
            Deliverer::Callback { gate, thread, .. } | Deliverer::Poll { gate, thread, .. } => (gate, thread),
        };
        *gate.lock() = false;
        drop(thread.lock().take());
        if let Deliverer::Poll { queue, .. } = self {
            // The host's fd closes now, not when the session ends in the background.
            queue.state.lock().signal = None;
        }
    }

    /// Waits until the delivery thread has handed over the final `Closed` event and
    /// ended (a process-wide shutdown may have joined it already). Call only after the
    /// session has closed.
    pub(crate) fn join(&self) {
        let thread = match self {
            Deliverer::Callback { thread, .. } | Deliverer::Poll { thread, .. } => thread.lock().take(),
        };
        if let Some(t) = thread {
            t.join(None);
        }
    }
}
