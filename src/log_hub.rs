//! One process-wide `log` logger that hands records to the sinks the surfaces register
//! (the C log callback, the Python `logging` bridge).
//!
//! `log::set_logger` succeeds once per process (more exactly, once per copy of the
//! `log` crate: the C library and the Python module each link their own). Rather than
//! let the first surface win, the hub is installed once and every surface adds or
//! removes its own named sink. A Rust program that installed its own logger first
//! keeps it: registering a sink then fails with [`LoggerTaken`].
//!
//! What is forwarded is decided here, once, for every surface, so that no sink can see
//! a secret: the library's own records (target `directus_chat...`, written never to
//! hold passwords or tokens) up to `Debug`, and other crates' records only at `Warn`
//! and `Error`, because their debug and trace output (tungstenite's frame dumps, for
//! one) may carry the bytes of an `auth` message. `Trace` is never forwarded.

use std::sync::{Arc, OnceLock};

use log::{Level, LevelFilter, Metadata, Record};
use parking_lot::RwLock;

/// A sink: called with the level, the target (module path) and the formatted message
/// of each forwarded record, on whatever thread logged it. It must not block for long:
/// it may run on a network thread.
pub type Sink = Arc<dyn Fn(Level, &str, &str) + Send + Sync>;

/// Another `log` logger was installed in this process before the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoggerTaken;

impl std::fmt::Display for LoggerTaken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("another `log` logger is installed in this process; directus-chat cannot forward its records")
    }
}

impl std::error::Error for LoggerTaken {}

struct Entry {
    name: &'static str,
    level: LevelFilter,
    sink: Sink,
}

struct Hub {
    sinks: RwLock<Vec<Entry>>,
}

static HUB: OnceLock<Hub> = OnceLock::new();
/// Whether `log::set_logger(HUB)` succeeded (decided once).
static INSTALLED: OnceLock<bool> = OnceLock::new();

/// The most verbose level ever forwarded for a record of `target`.
fn ceiling(target: &str) -> LevelFilter {
    if target == "directus_chat" || target.starts_with("directus_chat::") {
        LevelFilter::Debug
    } else {
        LevelFilter::Warn
    }
}

impl log::Log for Hub {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= ceiling(metadata.target()) && self.sinks.read().iter().any(|e| metadata.level() <= e.level)
    }

    fn log(&self, record: &Record<'_>) {
        let level = record.level();
        if level > ceiling(record.target()) {
            return;
        }
        // Sinks run without the lock held, so one may add or remove sinks (the C
        // callback may call dchat_set_log_callback) without deadlocking.
        let sinks: Vec<Sink> = self.sinks.read().iter().filter(|e| level <= e.level).map(|e| e.sink.clone()).collect();
        if sinks.is_empty() {
            return;
        }
        let message = record.args().to_string();
        for sink in sinks {
            sink(level, record.target(), &message);
        }
    }

    fn flush(&self) {}
}

fn hub() -> Result<&'static Hub, LoggerTaken> {
    let hub = HUB.get_or_init(|| Hub { sinks: RwLock::new(Vec::new()) });
    if *INSTALLED.get_or_init(|| log::set_logger(hub).is_ok()) {
        Ok(hub)
    } else {
        Err(LoggerTaken)
    }
}

/// Adds, replaces (same `name`) or, with `sink` `None`, removes a sink that receives
/// records up to `level` (capped as the module documentation says). Installs the hub as
/// the process's logger on first use.
pub fn set_sink(name: &'static str, level: LevelFilter, sink: Option<Sink>) -> Result<(), LoggerTaken> {
    let hub = hub()?;
    let mut sinks = hub.sinks.write();
    sinks.retain(|e| e.name != name);
    if let Some(sink) = sink {
        sinks.push(Entry { name, level, sink });
    }
    if sinks.is_empty() {
        // Nothing left that only the library's statics point to: a library unloaded
        // after its last sink was removed leaks nothing.
        *sinks = Vec::new();
    }
    let max = sinks.iter().map(|e| e.level).max().unwrap_or(LevelFilter::Off);
    log::set_max_level(max.min(LevelFilter::Debug));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;

    #[test]
    fn sinks_get_own_records_and_only_warnings_of_other_crates() {
        let seen = Arc::new(Mutex::new(Vec::<(Level, String, String)>::new()));
        let s = seen.clone();
        set_sink("test", LevelFilter::Debug, Some(Arc::new(move |l, t, m| s.lock().push((l, t.into(), m.into()))))).unwrap();
        log::debug!(target: "directus_chat::test", "own debug");
        log::trace!(target: "directus_chat::test", "own trace");
        log::debug!(target: "tungstenite::protocol", "foreign debug");
        log::warn!(target: "tungstenite::protocol", "foreign warning");
        set_sink("test", LevelFilter::Debug, None).unwrap();
        log::warn!(target: "directus_chat::test", "after removal");
        let seen = seen.lock();
        // (Other tests log in parallel; only this test's records count.)
        let ours = ["own debug", "own trace", "foreign debug", "foreign warning", "after removal"];
        let seen: Vec<_> = seen.iter().filter(|(_, _, m)| ours.contains(&m.as_str())).collect();
        let texts: Vec<&str> = seen.iter().map(|(_, _, m)| m.as_str()).collect();
        assert_eq!(texts, ["own debug", "foreign warning"]);
        assert_eq!(seen[0].1, "directus_chat::test");
    }

    #[test]
    fn two_surfaces_each_get_records_at_their_own_level() {
        let c = Arc::new(Mutex::new(Vec::<String>::new()));
        let py = Arc::new(Mutex::new(Vec::<String>::new()));
        let (c2, py2) = (c.clone(), py.clone());
        set_sink("c-like", LevelFilter::Info, Some(Arc::new(move |_, _, m| c2.lock().push(m.into())))).unwrap();
        set_sink("python-like", LevelFilter::Warn, Some(Arc::new(move |_, _, m| py2.lock().push(m.into())))).unwrap();
        log::info!(target: "directus_chat::two", "two info");
        log::warn!(target: "directus_chat::two", "two warn");
        set_sink("c-like", LevelFilter::Off, None).unwrap();
        set_sink("python-like", LevelFilter::Off, None).unwrap();
        let mine = |v: &Mutex<Vec<String>>| v.lock().iter().filter(|m| m.starts_with("two ")).cloned().collect::<Vec<_>>();
        assert_eq!(mine(&c), ["two info", "two warn"]);
        assert_eq!(mine(&py), ["two warn"]);
    }
}
