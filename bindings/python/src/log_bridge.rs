//! The Rust core's `log` records, queued for a Python thread to hand to `logging`.
//!
//! Records are produced on runtime threads, which must never take the GIL; so they wait
//! in a bounded queue that `next_logs` drains on a Python thread. A full queue drops
//! the oldest records (logging must never stall the network).

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

use pyo3::prelude::*;

const CAPACITY: usize = 10_000;

struct Bridge {
    queue: Mutex<VecDeque<(u8, String, String)>>,
    ready: Condvar,
}

static BRIDGE: OnceLock<Bridge> = OnceLock::new();

impl log::Log for Bridge {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            log::Level::Error => 40,
            log::Level::Warn => 30,
            log::Level::Info => 20,
            log::Level::Debug | log::Level::Trace => 10,
        };
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() >= CAPACITY {
            q.pop_front();
        }
        q.push_back((level, record.target().to_owned(), record.args().to_string()));
        self.ready.notify_one();
    }

    fn flush(&self) {}
}

/// Installs the bridge as the process's `log` logger (once) with a Python logging level
/// (10 debug, 20 info, 30 warning, 40 error). Returns False if another logger was there.
#[pyfunction]
pub fn install_log_bridge(level: u8) -> bool {
    let filter = match level {
        0..=10 => log::LevelFilter::Debug,
        11..=20 => log::LevelFilter::Info,
        21..=30 => log::LevelFilter::Warn,
        _ => log::LevelFilter::Error,
    };
    let bridge = BRIDGE.get_or_init(|| Bridge { queue: Mutex::new(VecDeque::new()), ready: Condvar::new() });
    let installed = log::set_logger(bridge).is_ok();
    if installed || log::max_level() != log::LevelFilter::Off {
        log::set_max_level(filter);
    }
    installed
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
