//! The Rust core's `log` records (through its log hub), queued for a Python thread to
//! hand to `logging`.
//!
//! Records are produced on runtime threads, which must never take the GIL; so they wait
//! in a bounded queue that `next_logs` drains on a Python thread. A full queue drops
//! the oldest records (logging must never stall the network).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use pyo3::prelude::*;

const CAPACITY: usize = 10_000;

struct Bridge {
    queue: Mutex<VecDeque<(u8, String, String)>>,
    ready: Condvar,
}

static BRIDGE: OnceLock<Bridge> = OnceLock::new();

fn python_level(level: log::Level) -> u8 {
    match level {
        log::Level::Error => 40,
        log::Level::Warn => 30,
        log::Level::Info => 20,
        log::Level::Debug | log::Level::Trace => 10,
    }
}

impl Bridge {
    fn push(&self, level: log::Level, target: &str, message: &str) {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() >= CAPACITY {
            q.pop_front();
        }
        q.push_back((python_level(level), target.to_owned(), message.to_owned()));
        self.ready.notify_one();
    }
}

/// Registers the bridge with the core's log hub (which installs itself as the process's
/// `log` logger once, and keeps secrets out) at a Python logging level (10 debug,
/// 20 info, 30 warning, 40 error); calling it again changes the level. Returns False if
/// another logger was installed before the hub.
#[pyfunction]
pub fn install_log_bridge(level: u8) -> bool {
    let filter = match level {
        0..=10 => log::LevelFilter::Debug,
        11..=20 => log::LevelFilter::Info,
        21..=30 => log::LevelFilter::Warn,
        _ => log::LevelFilter::Error,
    };
    let bridge = BRIDGE.get_or_init(|| Bridge { queue: Mutex::new(VecDeque::new()), ready: Condvar::new() });
    let sink: directus_chat::log_hub::Sink = Arc::new(move |level, target: &str, message: &str| bridge.push(level, target, message));
    directus_chat::log_hub::set_sink("python", filter, Some(sink)).is_ok()
}

/// Waits up to `timeout` seconds (GIL released) for log records and returns them as
/// `(level, target, message)` tuples.
#[pyfunction]
pub fn next_logs(py: Python<'_>, timeout: f64) -> Vec<(u8, String, String)> {
    let Some(bridge) = BRIDGE.get() else { return Vec::new() };
    py.allow_threads(|| {
        let q = bridge.queue.lock().unwrap_or_else(|p| p.into_inner());
        let (mut q, _) = bridge
            .ready
            .wait_timeout_while(q, Duration::from_secs_f64(timeout.clamp(0.0, 3600.0)), |q| q.is_empty())
            .unwrap_or_else(|p| p.into_inner());
        q.drain(..).collect()
    })
}
