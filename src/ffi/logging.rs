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
use std::sync::{Arc, OnceLock};

use log::{Level, LevelFilter};
use parking_lot::{Condvar, Mutex};

use super::args::{c_enum_from_u32, enum_arg};
use super::options::UserData;
use super::status::{boundary, dchat_status, FfiError};
use crate::log_hub;

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

struct Record {
    level: dchat_log_level,
    target: CString,
    message: CString,
}

struct LogThread {
    queue: Mutex<VecDeque<Record>>,
    ready: Condvar,
    /// The callback to call, read by the log thread before each record.
    current: Mutex<Option<(LogFn, UserData)>>,
    /// Held by the log thread while it runs the callback, so that replacing the
    /// callback can wait for a call in progress.
    calling: Mutex<()>,
}

thread_local! {
    static ON_LOG_THREAD: Cell<bool> = const { Cell::new(false) };
}

static LOG_THREAD: OnceLock<Arc<LogThread>> = OnceLock::new();

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
    fn push(&self, level: Level, target: &str, message: &str) {
        let record = Record { level: level_of(level), target: c_text(target), message: c_text(message) };
        let mut q = self.queue.lock();
        if q.len() >= CAPACITY {
            q.pop_front();
        }
        q.push_back(record);
        self.ready.notify_one();
    }

    fn run(&self) {
        ON_LOG_THREAD.with(|t| t.set(true));
        loop {
            let record = {
                let mut q = self.queue.lock();
                loop {
                    if let Some(r) = q.pop_front() {
                        break r;
                    }
                    self.ready.wait(&mut q);
                }
            };
            let _calling = self.calling.lock();
            let current = *self.current.lock();
            if let Some((cb, ud)) = current {
                // SAFETY: the user's callback, called as the header documents; the
                // strings live until it returns.
                unsafe { cb(ud.ptr(), record.level, record.target.as_ptr(), record.message.as_ptr()) };
            }
        }
    }
}

fn log_thread() -> Result<Arc<LogThread>, FfiError> {
    if let Some(t) = LOG_THREAD.get() {
        return Ok(t.clone());
    }
    let t = Arc::new(LogThread {
        queue: Mutex::new(VecDeque::new()),
        ready: Condvar::new(),
        current: Mutex::new(None),
        calling: Mutex::new(()),
    });
    // Two first calls racing may both get here; only the thread of the winner starts.
    if LOG_THREAD.set(t.clone()).is_ok() {
        let runner = t.clone();
        std::thread::Builder::new()
            .name("dchat-log".into())
            .spawn(move || runner.run())
            .map_err(|e| FfiError::new(dchat_status::DCHAT_ERR_PANIC, format!("cannot start the log thread: {e}")))?;
    }
    Ok(LOG_THREAD.get().expect("set above").clone())
}

/// Sets the process-wide log callback: the library's records up to `level` (a
/// `dchat_log_level` value; any other is `DCHAT_ERR_INVALID_ARGUMENT`) are passed
/// to `callback(user_data, level, target, message)` on one dedicated log thread
/// ("dchat-log"), never on a network thread and never under a library lock, one at a
/// time and in order. The callback may call any `dchat_` function, this one included.
/// NULL (or `DCHAT_LOG_OFF`) removes it; when this returns, the previous callback is
/// not running and will not be called again (unless this is called from inside it, in
/// which case that one call finishes). Records never hold a password or token; records
/// of the libraries underneath are passed only at `DCHAT_LOG_WARN` and above. When the
/// callback falls behind by more than 10,000 records, the oldest are dropped. Returns
/// `DCHAT_ERR_INVALID_ARGUMENT` for a bad `level`, or if another Rust `log` logger owns the process
/// (possible only when the library is linked into a Rust program that installed one).
#[no_mangle]
pub extern "C" fn dchat_set_log_callback(callback: dchat_log_cb, level: u32, user_data: *mut c_void) -> dchat_status {
    boundary(|| {
        let level: dchat_log_level = enum_arg(level, "level")?;
        let thread = log_thread()?;
        let new = match (callback, level) {
            (Some(cb), l) if l != dchat_log_level::DCHAT_LOG_OFF => Some((cb, UserData(user_data))),
            _ => None,
        };
        let sink: Option<log_hub::Sink> = new.map(|_| {
            let t = thread.clone();
            Arc::new(move |level: Level, target: &str, message: &str| t.push(level, target, message)) as log_hub::Sink
        });
        log_hub::set_sink("c", filter_of(level), sink)
            .map_err(|e| FfiError::new(dchat_status::DCHAT_ERR_INVALID_ARGUMENT, e.to_string()))?;
        *thread.current.lock() = new;
        if new.is_none() {
            thread.queue.lock().clear();
        }
        // Wait for a call of the old callback in progress, unless it is us.
        if !ON_LOG_THREAD.with(|t| t.get()) {
            drop(thread.calling.lock());
        }
        Ok(())
    })
}
