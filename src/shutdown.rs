//! The process-wide shutdown: close every client, then end every thread of the library.
//!
//! A host that unloads the library (`dlclose`), or an interpreter that finalizes, must
//! know that no thread of the library runs any more and none will come back from a
//! wait. So every session registers here when it starts (weakly: the registry never
//! keeps one alive), and every thread the library starts is registered by
//! [`crate::threads`]. [`shutdown`] closes the sessions through the ordinary close path
//! (each event stream ends with the `Closed` state), waits for them, joins the
//! dispatcher and notifier threads, stops the I/O runtime and joins its threads, and
//! stops the log thread last, after everything that could still log has ended. All of
//! them start again on demand, so the library stays usable.

use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use tokio::sync::mpsc::{UnboundedSender, WeakUnboundedSender};

use crate::error::{Error, Result};
use crate::session::{Command, Reply};

type CommandSender = UnboundedSender<Box<Command>>;

/// The command channels of the sessions started so far, weakly held.
struct Sessions {
    live: Vec<WeakUnboundedSender<Box<Command>>>,
    /// The registry is pruned of ended sessions when it grows past this, which keeps
    /// registering amortized O(1) with thousands of sessions.
    prune_at: usize,
}

static SESSIONS: Mutex<Sessions> = Mutex::new(Sessions { live: Vec::new(), prune_at: 64 });

/// One shutdown at a time; a second caller waits for the first (within its timeout).
static RUNNING: Mutex<()> = Mutex::new(());

/// Stops a thread that would otherwise run for ever (the C log thread) by its deadline;
/// says what did not end.
type StopHook = fn(Instant) -> std::result::Result<(), String>;

/// The threads that need a stop hook, by name: they are stopped last, after everything
/// that could still hand them work has ended. A fixed array: a shutdown leaves nothing
/// allocated that only the library's statics point to (an unloaded library would
/// leak it).
static STOP_HOOKS: Mutex<[Option<(&'static str, StopHook)>; 2]> = Mutex::new([None; 2]);

/// Registers a session when it starts, by its command channel.
pub(crate) fn register_session(commands: &CommandSender) {
    let mut sessions = SESSIONS.lock();
    if sessions.live.len() >= sessions.prune_at {
        sessions.live.retain(|s| s.strong_count() > 0);
        sessions.prune_at = (sessions.live.len() * 2).max(64);
    }
    sessions.live.push(commands.downgrade());
}

/// Registers how every later shutdown stops the threads called `thread` (once per name).
pub(crate) fn add_stop_hook(thread: &'static str, hook: StopHook) {
    let mut hooks = STOP_HOOKS.lock();
    if hooks.iter().flatten().any(|(name, _)| *name == thread) {
        return;
    }
    let free = hooks.iter_mut().find(|h| h.is_none()).expect("room for every stop hook");
    *free = Some((thread, hook));
}

/// Counts the sessions that have not yet answered their close.
struct Closing {
    left: Mutex<usize>,
    done: Condvar,
}

/// Asks every live session to close; waits until each has (its `Closed` event given to
/// its sink) or `deadline` passes. The number of sessions still open.
fn close_sessions(deadline: Instant) -> usize {
    let senders: Vec<CommandSender> = {
        let mut sessions = SESSIONS.lock();
        std::mem::take(&mut sessions.live).into_iter().filter_map(|s| s.upgrade()).collect()
    };
    if senders.is_empty() {
        return 0;
    }
    let closing = std::sync::Arc::new(Closing { left: Mutex::new(senders.len()), done: Condvar::new() });
    for sender in senders {
        let c = closing.clone();
        // A session that has ended drops the command, and a dropped reply reports at
        // once: either way the reply says the session is done.
        let reply = Reply::new(move |_| {
            *c.left.lock() -= 1;
            c.done.notify_all();
        });
        let _ = sender.send(Box::new(Command::Close { reply }));
    }
    let mut left = closing.left.lock();
    while *left > 0 && !closing.done.wait_until(&mut left, deadline).timed_out() {}
    *left
}

/// Closes every client of the process and ends every thread of the library, waiting up
/// to `timeout` in all.
///
/// Each client is closed as by [`crate::Client::close`] (requests on the wire may
/// finish; its event stream ends with the `Closed` state event), then the library's
/// threads are joined: the I/O runtime's, each C client's dispatcher or notifier
/// thread, and the C log thread. When it returns `Ok`, no thread of the library runs,
/// so the library's code may be unloaded (`dlclose`). The library stays usable: the
/// next client starts the runtime again, and the log thread restarts with the next
/// record. Clients started while a shutdown runs may or may not be closed by it.
///
/// Blocking; from inside an async runtime it runs on a helper thread meanwhile.
///
/// # Errors
/// [`Error::InCallback`] when called on a thread of the library (an event callback,
/// the log callback, a wake hook), which it would have to wait for;
/// [`Error::ShutdownTimeout`] naming what did not end within `timeout` (those parts
/// were left running).
pub fn shutdown(timeout: Duration) -> Result<()> {
    if crate::threads::on_library_thread() {
        return Err(Error::InCallback);
    }
    // (A timeout too long to add, such as `Duration::MAX`, means no limit in practice.)
    let deadline = Instant::now().checked_add(timeout).unwrap_or_else(|| Instant::now() + Duration::from_secs(100 * 365 * 86_400));
    if tokio::runtime::Handle::try_current().is_ok() {
        // Stopping a runtime inside an async context panics in tokio; a plain thread may.
        return std::thread::scope(|s| s.spawn(|| shut_down_until(deadline)).join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
    }
    shut_down_until(deadline)
}

fn shut_down_until(deadline: Instant) -> Result<()> {
    let Some(_running) = RUNNING.try_lock_until(deadline) else {
        return Err(Error::ShutdownTimeout("another shutdown".into()));
    };
    let mut late = Vec::new();
    match close_sessions(deadline) {
        0 => {}
        1 => late.push("1 client".to_string()),
        n => late.push(format!("{n} clients")),
    }
    crate::files::forget_shared_http();
    let hooks = *STOP_HOOKS.lock();
    let has_hook = |name: &str| hooks.iter().flatten().any(|(n, _)| *n == name);
    late.extend(crate::threads::join_all(deadline, |name| !has_hook(name)).into_iter().map(|n| format!("thread {n}")));
    // Sessions that did not close in time are dropped with the runtime: their event
    // streams end without the `Closed` event.
    if let Err(e) = crate::runtime::shut_down(deadline.saturating_duration_since(Instant::now())) {
        late.push(e);
    }
    for (_, hook) in hooks.into_iter().flatten() {
        if let Err(e) = hook(deadline) {
            late.push(e);
        }
    }
    late.extend(crate::threads::join_all(deadline, |_| true).into_iter().map(|n| format!("thread {n}")));
    // A log callback that made a blocking call while the last records were handed over
    // may have started the runtime again: that one is stopped too (at once if none).
    if late.is_empty() {
        if let Err(e) = crate::runtime::shut_down(deadline.saturating_duration_since(Instant::now())) {
            late.push(e);
        }
    }
    if late.is_empty() {
        Ok(())
    } else {
        Err(Error::ShutdownTimeout(late.join(", ")))
    }
}
