//! `dchat_set_log_callback`: the library's log records, handed to a C callback on one
//! dedicated thread.
//!
//! Records are produced on network threads, which must never run user code (a slow or
//! re-entrant callback would stall or deadlock the I/O), so they wait in a bounded queue
//! that the `dchat-log` thread empties. A full queue drops the oldest records: logging
//! must never hold up the network.

use std::cell::Cell;
use std::collections::VecDeque;
use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;
use std::time::Instant;

use log::{Level, LevelFilter};
use parking_lot::{Condvar, Mutex, MutexGuard};

use super::args::{c_enum_from_u32, enum_arg};
use super::options::UserData;
use super::status::{boundary, dchat_status, FfiError};
use crate::threads::{spawn_library_thread, LibraryThread};
use crate::{log_hub, shutdown};

/// How much detail a log callback receives; each level includes the ones above it.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum dchat_log_level {
    /// Nothing (the same as removing the callback).
    DCHAT_LOG_OFF = 0,
    /// Failures the library could not recover from by itself.
    DCHAT_LOG_ERROR = 1,
    /// Lost connections, failed reconnect attempts, refused re-authentication.
    DCHAT_LOG_WARN = 2,
    /// Connects, logins, reconnects.
    DCHAT_LOG_INFO = 3,
    /// Details for debugging (dropped events, catch-up reads).
    DCHAT_LOG_DEBUG = 4,
}

c_enum_from_u32!(dchat_log_level { DCHAT_LOG_OFF, DCHAT_LOG_ERROR, DCHAT_LOG_WARN, DCHAT_LOG_INFO, DCHAT_LOG_DEBUG });

/// Called with each log record, on the library's log thread (`dchat-log`), one record
/// at a time, in order. `target` names the module that logged (`directus_chat::session`),
/// `message` is the text; both are borrowed for the call. Never holds a password or token.
#[allow(non_camel_case_types)]
pub type dchat_log_cb =
    Option<unsafe extern "C" fn(user_data: *mut c_void, level: dchat_log_level, target: *const c_char, message: *const c_char)>;

type LogFn = unsafe extern "C" fn(*mut c_void, dchat_log_level, *const c_char, *const c_char);

/// At most this many records wait for the callback; older ones are dropped.
const CAPACITY: usize = 10_000;

/// The thread's name (the shutdown stops it by its hook, after every other thread).
const THREAD_NAME: &str = "dchat-log";

struct Record {
    level: dchat_log_level,
    target: CString,
    message: CString,
}

struct LogState {
    records: VecDeque<Record>,
    /// The callback to call, read by the log thread before each record.
    current: Option<(LogFn, UserData)>,
    /// Bumped by every `dchat_set_log_callback`.
    generation: u64,
    /// The generation of the callback being called now, if one is. The call runs with
    /// no lock held (the callback may call into the library); replacing the callback
    /// waits on `idle` until no older generation is running.
    calling: Option<u64>,
    thread: Option<LibraryThread>,
    /// Whether the thread runs (cleared by the thread itself when it stops).
    running: bool,
    /// Set while a shutdown stops the thread: it ends once the queue is empty, and no
    /// new one starts until the shutdown is done.
    stopping: bool,
}

struct LogThread {
    state: Mutex<LogState>,
    /// Records arrived, or the thread is to stop.
    ready: Condvar,
    /// A call of the callback ended.
    idle: Condvar,
}

thread_local! {
    static ON_LOG_THREAD: Cell<bool> = const { Cell::new(false) };
}

static LOG: LogThread = LogThread {
    state: Mutex::new(LogState {
        records: VecDeque::new(),
        current: None,
        generation: 0,
        calling: None,
        thread: None,
        running: false,
        stopping: false,
    }),
    ready: Condvar::new(),
    idle: Condvar::new(),
};

fn level_of(level: Level) -> dchat_log_level {
    match level {
        Level::Error => dchat_log_level::DCHAT_LOG_ERROR,
        Level::Warn => dchat_log_level::DCHAT_LOG_WARN,
        Level::Info => dchat_log_level::DCHAT_LOG_INFO,
        Level::Debug | Level::Trace => dchat_log_level::DCHAT_LOG_DEBUG,
    }
}

fn filter_of(level: dchat_log_level) -> LevelFilter {
    match level {
        dchat_log_level::DCHAT_LOG_OFF => LevelFilter::Off,
        dchat_log_level::DCHAT_LOG_ERROR => LevelFilter::Error,
        dchat_log_level::DCHAT_LOG_WARN => LevelFilter::Warn,
        dchat_log_level::DCHAT_LOG_INFO => LevelFilter::Info,
        dchat_log_level::DCHAT_LOG_DEBUG => LevelFilter::Debug,
    }
}

/// Interior NULs cannot cross as C strings; they become spaces.
fn c_text(text: &str) -> CString {
    CString::new(text.replace('\0', " ")).unwrap_or_default()
}

impl LogThread {
    fn push(&'static self, level: Level, target: &str, message: &str) {
        let record = Record { level: level_of(level), target: c_text(target), message: c_text(message) };
        let mut st = self.state.lock();
        if st.records.len() >= CAPACITY {
            st.records.pop_front();
        }
        st.records.push_back(record);
        // After a shutdown the thread starts again with the first record; if the system
        // refuses a thread now, the records wait for the next attempt.
        let _ = self.start(&mut st);
        self.ready.notify_one();
    }

    /// Starts the thread unless it runs (or a shutdown is stopping it).
    fn start(&'static self, st: &mut LogState) -> std::io::Result<()> {
        if !st.running && !st.stopping {
            st.thread = Some(spawn_library_thread(THREAD_NAME, move || self.run())?);
            st.running = true;
            shutdown::add_stop_hook(THREAD_NAME, stop_log_thread);
        }
        Ok(())
    }

    fn run(&self) {
        ON_LOG_THREAD.with(|t| t.set(true));
        let mut st = self.state.lock();
        loop {
            if let Some(record) = st.records.pop_front() {
                let Some((cb, ud)) = st.current else { continue };
                st.calling = Some(st.generation);
                MutexGuard::unlocked(&mut st, || {
                    // SAFETY: the user's callback, called as the header documents; the
                    // strings live until it returns.
                    unsafe { cb(ud.ptr(), record.level, record.target.as_ptr(), record.message.as_ptr()) };
                });
                st.calling = None;
                self.idle.notify_all();
            } else if st.stopping {
                st.running = false;
                return;
            } else {
                self.ready.wait(&mut st);
            }
        }
    }
}

/// Stops the log thread after it has handed over the records already queued, and
/// joins it; the next record starts it again. Run by the process-wide shutdown, after
/// everything else that could log has ended.
fn stop_log_thread(deadline: Instant) -> Result<(), String> {
    let thread = {
        let mut st = LOG.state.lock();
        let Some(thread) = st.thread.take() else { return Ok(()) };
        st.stopping = true;
        LOG.ready.notify_all();
        thread
    };
    let ended = thread.join(Some(deadline));
    let mut st = LOG.state.lock();
    st.stopping = false;
    if ended {
        if st.records.is_empty() {
            // Nothing left for an unloaded library to leak.
            st.records = VecDeque::new();
        }
        Ok(())
    } else {
        // Still in the callback: the stop is called off and the thread goes on.
        st.thread = Some(thread);
        Err(format!("thread {THREAD_NAME} (in the log callback)"))
    }
}

/// Sets the process-wide log callback: the library's records up to `level` (a
/// `dchat_log_level` value; any other is `DCHAT_ERR_INVALID_ARGUMENT`) are passed
/// to `callback(user_data, level, target, message)` on one dedicated log thread
/// ("dchat-log"), never on a network thread and never under a library lock, one at a
/// time and in order. The callback may call any `dchat_` function, this one included
/// (but not `dchat_shutdown`: `DCHAT_ERR_IN_CALLBACK`).
/// NULL (or `DCHAT_LOG_OFF`) removes it; when this returns, the previous callback is
/// not running and will not be called again (unless this is called from inside it, in
/// which case that one call finishes). Records never hold a password or token; records
/// of the libraries underneath are passed only at `DCHAT_LOG_WARN` and above. When the
/// callback falls behind by more than 10,000 records, the oldest are dropped.
/// `dchat_shutdown` stops the log thread after handing over the records queued so far;
/// the callback stays set, and the thread starts again with the next record. Returns
/// `DCHAT_ERR_INVALID_ARGUMENT` for a bad `level`, or if another Rust `log` logger owns
/// the process (possible only when the library is linked into a Rust program that
/// installed one); `DCHAT_ERR_RESOURCE` if the log thread cannot be started.
#[no_mangle]
pub extern "C" fn dchat_set_log_callback(callback: dchat_log_cb, level: u32, user_data: *mut c_void) -> dchat_status {
    boundary(|| {
        let level: dchat_log_level = enum_arg(level, "level")?;
        let new = match (callback, level) {
            (Some(cb), l) if l != dchat_log_level::DCHAT_LOG_OFF => Some((cb, UserData(user_data))),
            _ => None,
        };
        if new.is_some() {
            LOG.start(&mut LOG.state.lock()).map_err(FfiError::no_thread)?;
        }
        let sink: Option<log_hub::Sink> =
            new.map(|_| Arc::new(|level: Level, target: &str, message: &str| LOG.push(level, target, message)) as log_hub::Sink);
        log_hub::set_sink("c", filter_of(level), sink)
            .map_err(|e| FfiError::new(dchat_status::DCHAT_ERR_INVALID_ARGUMENT, e.to_string()))?;
        let mut st = LOG.state.lock();
        st.current = new;
        st.generation += 1;
        let generation = st.generation;
        if new.is_none() {
            st.records.clear();
        }
        // Wait for a call of an older callback in progress, unless it is us.
        if !ON_LOG_THREAD.with(|t| t.get()) {
            while st.calling.is_some_and(|g| g < generation) {
                LOG.idle.wait(&mut st);
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Duration;

    /// The tests share the process-wide callback: one at a time.
    static SERIAL: Mutex<()> = Mutex::new(());

    #[derive(Default)]
    struct Probe {
        /// The old callback is inside its call.
        old_running: AtomicBool,
        /// Lets the old callback return.
        release_old: AtomicBool,
        /// Calls of the old callback that began after the replacement returned.
        old_calls_after_replace: AtomicUsize,
        /// `dchat_set_log_callback` (from another thread) returned.
        replaced: AtomicBool,
        /// The new callback saw `replaced` while it ran.
        new_saw_replaced: AtomicBool,
        new_done: AtomicBool,
        /// The callback could take the log thread's lock while it ran.
        lock_free_in_callback: AtomicBool,
        seen: Mutex<Vec<String>>,
    }

    fn text(message: *const c_char) -> String {
        // SAFETY: the library passes a NUL-terminated string that lives for the call.
        unsafe { CStr::from_ptr(message) }.to_string_lossy().into_owned()
    }

    fn probe<'a>(user_data: *mut c_void) -> &'a Probe {
        // SAFETY: the tests pass a `Probe` that outlives the callback's registration.
        unsafe { &*(user_data as *const Probe) }
    }

    fn wait_for(flag: &AtomicBool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(3);
        while !flag.load(Ordering::SeqCst) {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        true
    }

    unsafe extern "C" fn old_cb(user_data: *mut c_void, _: dchat_log_level, _: *const c_char, message: *const c_char) {
        let p = probe(user_data);
        if p.replaced.load(Ordering::SeqCst) {
            p.old_calls_after_replace.fetch_add(1, Ordering::SeqCst);
        }
        if text(message) == "lockfix: hold the old callback" {
            p.lock_free_in_callback.store(LOG.state.try_lock_for(Duration::from_secs(1)).is_some(), Ordering::SeqCst);
            p.old_running.store(true, Ordering::SeqCst);
            wait_for(&p.release_old);
        }
    }

    unsafe extern "C" fn new_cb(user_data: *mut c_void, _: dchat_log_level, _: *const c_char, message: *const c_char) {
        let p = probe(user_data);
        if text(message) == "lockfix: a record for the new callback" {
            // The replacing call waits for the old callback only; were the new one run
            // under a lock that call needs, this would wait in vain.
            p.new_saw_replaced.store(wait_for(&p.replaced), Ordering::SeqCst);
            p.new_done.store(true, Ordering::SeqCst);
        }
    }

    unsafe extern "C" fn collect_cb(user_data: *mut c_void, _: dchat_log_level, _: *const c_char, message: *const c_char) {
        let m = text(message);
        if m.starts_with("restart:") {
            probe(user_data).seen.lock().push(m);
        }
    }

    fn set(cb: dchat_log_cb, probe: &Probe) -> dchat_status {
        dchat_set_log_callback(cb, dchat_log_level::DCHAT_LOG_WARN as u32, probe as *const Probe as *mut c_void)
    }

    /// One replacement while the old callback runs: true when the new callback, run
    /// while the replacing call was still waiting for the old one to end, saw that call
    /// return (within 3 s).
    fn replace_while_the_old_callback_runs() -> bool {
        let p: &'static Probe = Box::leak(Box::default());
        assert_eq!(set(Some(old_cb), p), dchat_status::DCHAT_OK);
        log::warn!(target: "directus_chat::test", "lockfix: hold the old callback");
        assert!(wait_for(&p.old_running), "the old callback ran");
        assert!(p.lock_free_in_callback.load(Ordering::SeqCst), "the callback runs with the log thread's lock released");
        log::warn!(target: "directus_chat::test", "lockfix: a record for the new callback");
        let before = LOG.state.lock().generation;
        let replacer = std::thread::spawn(move || {
            let status = set(Some(new_cb), p);
            p.replaced.store(true, Ordering::SeqCst);
            status
        });
        // The new callback is set (the replacing call then waits for the old one; on a
        // loaded machine its thread can start late, so wait for the setting itself).
        let deadline = Instant::now() + Duration::from_secs(10);
        while LOG.state.lock().generation == before && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        // Let the replacing call reach its wait, then end the old call: the log thread
        // goes straight on to the next record, for the new callback.
        let until = Instant::now() + Duration::from_micros(300);
        while Instant::now() < until {
            std::hint::spin_loop();
        }
        p.release_old.store(true, Ordering::SeqCst);
        assert_eq!(replacer.join().unwrap(), dchat_status::DCHAT_OK);
        assert!(wait_for(&p.new_done), "the new callback got its record");
        assert_eq!(p.old_calls_after_replace.load(Ordering::SeqCst), 0, "the old callback is not called after it was replaced");
        p.new_saw_replaced.load(Ordering::SeqCst)
    }

    #[test]
    fn the_callback_runs_under_no_lock_that_replacing_it_needs() {
        let _serial = SERIAL.lock();
        // (The new callback may start before or after the replacing call is woken: a
        // few rounds cover both.)
        for round in 0..10 {
            assert!(
                replace_while_the_old_callback_runs(),
                "round {round}: the new callback ran under a lock the replacing call waited for"
            );
        }
        // And the promise: once the call returned, the old callback is not running.
        let p: &'static Probe = Box::leak(Box::default());
        assert_eq!(set(Some(old_cb), p), dchat_status::DCHAT_OK);
        log::warn!(target: "directus_chat::test", "lockfix: hold the old callback");
        assert!(wait_for(&p.old_running));
        let replacer = std::thread::spawn(move || {
            let status = dchat_set_log_callback(None, 0, std::ptr::null_mut());
            p.replaced.store(true, Ordering::SeqCst);
            status
        });
        std::thread::sleep(Duration::from_millis(100));
        assert!(!p.replaced.load(Ordering::SeqCst), "removing waits while the old callback runs");
        p.release_old.store(true, Ordering::SeqCst);
        assert_eq!(replacer.join().unwrap(), dchat_status::DCHAT_OK);
    }

    #[test]
    fn a_stopped_log_thread_hands_over_what_was_queued_and_restarts_with_the_next_record() {
        let _serial = SERIAL.lock();
        let p: &'static Probe = Box::leak(Box::default());
        assert_eq!(set(Some(collect_cb), p), dchat_status::DCHAT_OK);
        log::warn!(target: "directus_chat::test", "restart: before the stop");
        assert_eq!(stop_log_thread(Instant::now() + Duration::from_secs(10)), Ok(()));
        assert!(!LOG.state.lock().running);
        assert_eq!(*p.seen.lock(), ["restart: before the stop"], "the queue was emptied before the thread ended");
        log::warn!(target: "directus_chat::test", "restart: after the stop");
        let deadline = Instant::now() + Duration::from_secs(3);
        while p.seen.lock().len() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(*p.seen.lock(), ["restart: before the stop", "restart: after the stop"]);
        assert_eq!(dchat_set_log_callback(None, 0, std::ptr::null_mut()), dchat_status::DCHAT_OK);
    }
}
