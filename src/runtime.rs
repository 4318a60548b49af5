//! The internal tokio runtime that runs every session.

use once_cell::sync::Lazy;
use tokio::runtime::{Handle, Runtime};

/// Worker threads of the shared runtime. Two suffice for thousands of sessions: a
/// session is I/O-bound and user callbacks never run on these threads.
const DEFAULT_WORKERS: usize = 2;

static RUNTIME: Lazy<Runtime> = Lazy::new(|| {
    let workers =
        std::env::var("DCHAT_WORKER_THREADS").ok().and_then(|v| v.parse::<usize>().ok()).filter(|n| *n > 0).unwrap_or(DEFAULT_WORKERS);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("dchat-io")
        .enable_all()
        .build()
        .expect("cannot start the directus-chat runtime")
});

/// A handle to the shared runtime, started on first use.
pub(crate) fn handle() -> Handle {
    RUNTIME.handle().clone()
}
