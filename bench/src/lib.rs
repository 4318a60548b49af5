//! Shared pieces of the benchmark binaries: the event frames the flood server sends,
//! process measurements (CPU time, peak RSS, threads) and the one JSON line each
//! client prints.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The static token the flood server accepts (any token works; clients send this one).
pub const TOKEN: &str = "bench-token";

/// How long a flood client waits for one more event before it counts what it got.
/// Clients never wait for all N: the JS SDK drops events in bursts.
pub const IDLE: Duration = Duration::from_secs(2);

/// A subscription `create` event shaped like a real Directus chat message
/// (`fields: ["*", "user_created.first_name"]`), about 200 bytes.
pub fn create_frame(uid: &str, id: u64) -> String {
    format!(
        concat!(
            r#"{{"type":"subscription","event":"create","data":[{{"id":{id},"text":"message {id:08} from the flood server","#,
            r#""date_created":"2026-11-25T09:00:00.000Z","user_created":{{"first_name":"Kevin"}}}}],"uid":"{uid}"}}"#
        ),
        id = id,
        uid = uid
    )
}

/// CPU seconds (user + system) this process has used so far.
pub fn cpu_seconds() -> f64 {
    let u = rusage();
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// Peak resident set size of this process in KiB.
pub fn max_rss_kib() -> u64 {
    rusage().ru_maxrss as u64
}

fn rusage() -> libc::rusage {
    // SAFETY: getrusage only writes the struct it is given.
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    }
}

/// A field of /proc/self/status as a number (`VmRSS` in KiB, `Threads`).
pub fn proc_status(field: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field).and_then(|r| r.strip_prefix(':')))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Raises the open-file limit to its hard maximum; returns the new soft limit.
pub fn raise_nofile() -> u64 {
    // SAFETY: get/setrlimit on a local struct.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        r.rlim_cur = r.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        r.rlim_cur as u64
    }
}

/// Counts a flood: when the first event came, when the last one did, how many.
pub struct FloodCount {
    start: Instant,
    cpu_start: f64,
    last: Instant,
    /// Create events delivered (items in them).
    pub delivered: u64,
}

impl FloodCount {
    /// Starts counting now (call when the subscription's `init` has arrived).
    pub fn start() -> Self {
        let now = Instant::now();
        FloodCount { start: now, cpu_start: cpu_seconds(), last: now, delivered: 0 }
    }

    /// One more event with `items` items.
    pub fn add(&mut self, items: u64) {
        self.delivered += items;
        self.last = Instant::now();
    }

    /// The JSON line of a flood client.
    pub fn report(&self, client: &str, sent: u64, extra: Value) -> Value {
        let secs = self.last.duration_since(self.start).as_secs_f64().max(1e-9);
        let mut v = json!({
            "client": client,
            "sent": sent,
            "delivered": self.delivered,
            "seconds": secs,
            "events_per_s": self.delivered as f64 / secs,
            // CPU up to now, minus the idle wait after the last event (which costs ~0).
            "cpu_s": cpu_seconds() - self.cpu_start,
            "max_rss_kib": max_rss_kib(),
            "threads": proc_status("Threads"),
        });
        if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
            m.extend(e);
        }
        v
    }
}

/// Reads `--name value` from the command line, with a default.
pub fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Reads a required `--name value`, exiting with a message when missing.
pub fn required(name: &str) -> String {
    let v: String = arg(name, String::new());
    if v.is_empty() {
        eprintln!("missing {name}");
        std::process::exit(2);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_is_a_chat_create_of_about_200_bytes() {
        let f = create_frame("7", 42);
        let v: Value = serde_json::from_str(&f).unwrap();
        assert_eq!(v["event"], "create");
        assert_eq!(v["data"][0]["id"], 42);
        assert_eq!(v["data"][0]["user_created"]["first_name"], "Kevin");
        assert!((180..=240).contains(&f.len()), "{} bytes", f.len());
    }
}
