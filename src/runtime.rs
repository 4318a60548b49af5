//! The internal tokio runtime that runs every session.
//!
//! It is started on first use and lives until [`shut_down`] (the process-wide
//! shutdown) stops it and joins its threads; the next use starts a new one. A static
//! `Runtime` could never be dropped, so its threads would outlive an unloaded library.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::runtime::{Handle, Runtime};

/// Worker threads of the shared runtime unless `DCHAT_WORKER_THREADS` says otherwise.
/// Two suffice for thousands of sessions: a session is I/O-bound and user callbacks
/// never run on these threads.
const DEFAULT_WORKERS: usize = 2;

static RUNTIME: Mutex<Option<Runtime>> = Mutex::new(None);

/// Threads of any runtime this module started that have not ended yet (workers and
/// blocking-pool threads, such as those resolving host names).
static THREADS: AtomicUsize = AtomicUsize::new(0);

fn workers() -> usize {
    std::env::var("DCHAT_WORKER_THREADS").ok().and_then(|v| v.parse::<usize>().ok()).filter(|n| *n > 0).unwrap_or(DEFAULT_WORKERS)
}

fn build() -> std::io::Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers())
        .thread_name("dchat-io")
        .on_thread_start(|| {
            THREADS.fetch_add(1, Ordering::SeqCst);
            crate::threads::mark_library_thread();
        })
        .on_thread_stop(|| {
            THREADS.fetch_sub(1, Ordering::SeqCst);
        })
        .enable_all()
        .build()
}

/// Starts the shared runtime unless it runs; fails if the system refuses its threads.
/// (For surfaces that report that as an error rather than the panic of [`handle`].)
pub(crate) fn start() -> std::io::Result<()> {
    let mut runtime = RUNTIME.lock();
    if runtime.is_none() {
        // tokio panics, rather than failing, when the system refuses a worker thread.
        let built = std::panic::catch_unwind(build).unwrap_or_else(|panic| {
            let text = panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned());
            Err(std::io::Error::other(text.unwrap_or_else(|| "the runtime did not start".into())))
        });
        *runtime = Some(built?);
    }
    Ok(())
}

/// A handle to the shared runtime, started on first use (again after a shutdown).
///
/// # Panics
/// When the system refuses the runtime's threads.
pub(crate) fn handle() -> Handle {
    RUNTIME.lock().get_or_insert_with(|| build().expect("cannot start the directus-chat runtime")).handle().clone()
}

/// Stops the runtime: tasks still running are dropped, and its threads are joined if
/// they end within `timeout`. Must not be called from inside an async context. On
/// failure, says how many threads are still running.
pub(crate) fn shut_down(timeout: Duration) -> Result<(), String> {
    // Taken out first: `shutdown_timeout` waits, and other threads must not wait for
    // the lock meanwhile (they start a new runtime, which a later shutdown stops).
    let runtime = RUNTIME.lock().take();
    if let Some(runtime) = runtime {
        runtime.shutdown_timeout(timeout);
    }
    match THREADS.load(Ordering::SeqCst) {
        0 => Ok(()),
        1 => Err("1 I/O thread (dchat-io)".into()),
        n => Err(format!("{n} I/O threads (dchat-io)")),
    }
}
