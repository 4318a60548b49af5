//! A real Directus cluster for a test: PostgreSQL, Redis, two Directus instances and nginx
//! in front, started with scripts/cluster.sh in a temporary folder, stopped when dropped,
//! and by the script's watchdog when the test process exits.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use super::directus::User;

/// One of the two Directus instances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Instance {
    A,
    B,
}

impl Instance {
    fn arg(self) -> &'static str {
        match self {
            Instance::A => "a",
            Instance::B => "b",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Instance::A => "A",
            Instance::B => "B",
        }
    }
}

/// How to start a cluster.
#[derive(Clone, Debug, Default)]
pub struct ClusterOptions {
    /// The Directus release, e.g. `Some("10.13.4")`; `None`: `DIRECTUS_VERSION` from the
    /// environment, else the test bed's default.
    pub version: Option<&'static str>,
    /// Settings for both instances, e.g. `("ACCESS_TOKEN_TTL", "5s")`.
    pub env: Vec<(String, String)>,
    /// The messages' primary key: `integer` (`None`, the default) or `uuid`.
    pub key_type: Option<&'static str>,
}

/// A running cluster.
pub struct Cluster {
    dir: tempfile::TempDir,
    env: HashMap<String, String>,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cluster.sh")
}

fn parse_env(text: &str) -> HashMap<String, String> {
    text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

impl Cluster {
    /// Starts a fresh cluster; panics with the script's output if it cannot.
    pub fn start(opts: ClusterOptions) -> Cluster {
        let dir = tempfile::Builder::new().prefix("dchat-cluster-").tempdir().expect("temp dir");
        let mut cmd = Command::new(script());
        cmd.arg("start").arg(dir.path());
        cmd.args(["--watch-pid", &std::process::id().to_string()]);
        if let Some(version) = opts.version {
            cmd.args(["--version", version]);
        }
        if let Some(key_type) = opts.key_type {
            cmd.args(["--key-type", key_type]);
        }
        for (k, v) in &opts.env {
            cmd.arg("--env").arg(format!("{k}={v}"));
        }
        let out = cmd.output().expect("run scripts/cluster.sh");
        if !out.status.success() {
            panic!(
                "scripts/cluster.sh start failed ({}):\n{}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let env = parse_env(&String::from_utf8_lossy(&out.stdout));
        assert!(env.contains_key("DIRECTUS_A_WS_URL"), "no URLs from scripts/cluster.sh: {env:?}");
        Cluster { dir, env }
    }

    fn get(&self, key: &str) -> String {
        self.env.get(key).cloned().unwrap_or_else(|| panic!("{key} missing from the cluster's output"))
    }

    pub fn env(&self, key: &str) -> Option<String> {
        self.env.get(key).cloned()
    }

    /// The WebSocket URL through nginx (either instance).
    pub fn ws_url(&self) -> String {
        self.get("DIRECTUS_WS_URL")
    }

    /// The REST base URL through nginx.
    pub fn http_url(&self) -> String {
        self.get("DIRECTUS_URL")
    }

    /// The WebSocket URL of one instance, bypassing nginx.
    pub fn instance_ws_url(&self, which: Instance) -> String {
        self.get(&format!("DIRECTUS_{}_WS_URL", which.key()))
    }

    /// The REST base URL of one instance, bypassing nginx.
    pub fn instance_http_url(&self, which: Instance) -> String {
        self.get(&format!("DIRECTUS_{}_URL", which.key()))
    }

    pub fn version(&self) -> String {
        self.get("DIRECTUS_VERSION")
    }

    fn user(&self, n: u8) -> User {
        User {
            id: self.get(&format!("DCHAT_USER{n}_ID")),
            email: self.get(&format!("DCHAT_USER{n}_EMAIL")),
            password: self.get(&format!("DCHAT_USER{n}_PASSWORD")),
            name: self.get(&format!("DCHAT_USER{n}_NAME")),
            token: self.get(&format!("DCHAT_USER{n}_TOKEN")),
        }
    }

    pub fn user1(&self) -> User {
        self.user(1)
    }

    pub fn user2(&self) -> User {
        self.user(2)
    }

    pub fn admin_token(&self) -> String {
        self.get("DIRECTUS_ADMIN_TOKEN")
    }

    pub fn collection(&self) -> String {
        self.get("DCHAT_COLLECTION")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, verb: &str, which: Option<Instance>) -> HashMap<String, String> {
        let mut cmd = Command::new(script());
        cmd.arg(verb).arg(self.dir.path());
        if let Some(w) = which {
            cmd.arg(w.arg());
        }
        let out = cmd.output().expect("run scripts/cluster.sh");
        assert!(out.status.success(), "cluster.sh {verb} failed: {}", String::from_utf8_lossy(&out.stderr));
        parse_env(&String::from_utf8_lossy(&out.stdout))
    }

    /// SIGKILLs one instance.
    pub fn kill(&self, which: Instance) {
        self.run("kill", Some(which));
    }

    /// SIGKILLs one instance at once, without the script's start-up time in between
    /// (so the kill lands while the requests seen in flight still are), then lets the
    /// script wait until it is gone. Returns the time the signal was sent.
    pub fn kill_now(&self, which: Instance) -> SystemTime {
        let pid = std::fs::read_to_string(self.dir.path().join(which.arg()).join("server.pid")).expect("server.pid");
        let at = SystemTime::now();
        // The server leads its own process group (setsid): the group goes.
        let status = Command::new("kill").args(["-KILL", "--", &format!("-{}", pid.trim())]).status().expect("kill");
        assert!(status.success(), "kill -KILL -{} failed", pid.trim());
        self.kill(which);
        at
    }

    /// A `GET /server/ping` through nginx; returns the instances nginx tried, from its
    /// `X-Upstream` header (the last one answered).
    pub fn ping_through_nginx(&self) -> Vec<String> {
        let out = Command::new("curl")
            .args(["-sS", "-m", "30", "-o", "/dev/null", "-D", "-"])
            .arg(format!("{}/server/ping", self.http_url()))
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.to_ascii_lowercase().starts_with("x-upstream:").then(|| l[11..].to_owned()))
            .map(|v| v.split(',').map(|u| u.trim().to_owned()).filter(|u| !u.is_empty()).collect())
            .unwrap_or_default()
    }

    /// `127.0.0.1:PORT` of one instance, as nginx names it in `X-Upstream` and its log.
    pub fn instance_addr(&self, which: Instance) -> String {
        format!("127.0.0.1:{}", self.get(&format!("DIRECTUS_{}_PORT", which.key())))
    }

    /// How many TCP connections to one instance are established now (from /proc, so
    /// with no tool installed): nginx opens one per WebSocket it passes to the instance
    /// (and one per REST request, closed after it).
    pub fn sockets_on(&self, which: Instance) -> usize {
        let port: u16 = self.get(&format!("DIRECTUS_{}_PORT", which.key())).parse().expect("port");
        ["/proc/net/tcp", "/proc/net/tcp6"]
            .iter()
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .flat_map(|text| text.lines().skip(1).map(str::to_owned).collect::<Vec<_>>())
            .filter(|line| {
                let cols: Vec<&str> = line.split_whitespace().collect();
                // local_address is HEXIP:HEXPORT; state 01 is ESTABLISHED.
                cols.len() > 3 && cols[3] == "01" && cols[1].rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok()) == Some(port)
            })
            .count()
    }

    /// nginx's access log: one line per request or WebSocket connection, written when
    /// it ends: `msec request_time status "upstream_addr" request_uri`.
    pub fn access_log(&self) -> Vec<AccessLine> {
        let text = std::fs::read_to_string(self.get("DCHAT_NGINX_ACCESS_LOG")).unwrap_or_default();
        text.lines().filter_map(AccessLine::parse).collect()
    }

    /// Starts recording what the instances publish on the Redis bus channel `channel`
    /// (e.g. `websocket.event`, the realtime events every instance passes on to its
    /// subscribers).
    pub fn listen_bus(&self, channel: &str) -> BusListener {
        BusListener::start(self.get("DCHAT_REDIS_PORT").parse().expect("redis port"), &format!("directus:bus:{channel}"))
    }

    /// Starts a killed instance again on its port.
    pub fn restart(&mut self, which: Instance) {
        let fresh = self.run("restart", Some(which));
        self.env.extend(fresh);
    }

    /// Stops everything (also done on drop).
    pub fn stop(&self) {
        self.run("stop", None);
    }

    /// Stops the cluster and returns what is left of it, which should be nothing: a
    /// process of its parts (each instance, nginx and its workers, Redis, PostgreSQL and
    /// its helpers, as running before the stop; or any process whose command line or
    /// working folder is in the cluster's folders, e.g. an instance started before a
    /// restart, or the watchdog), or a listener on one of its ports. Waits up to 10 s
    /// for them to go.
    pub fn stop_and_leftovers(self) -> Vec<String> {
        let pgdir = std::fs::read_to_string(self.dir.path().join("pg.dir")).map(|d| d.trim().to_owned()).unwrap_or_default();
        let dirs: Vec<String> = [self.dir.path().display().to_string(), pgdir.clone()].into_iter().filter(|d| !d.is_empty()).collect();
        let read_pid = |path: PathBuf| std::fs::read_to_string(path).ok().and_then(|t| t.lines().next()?.trim().parse::<u32>().ok());
        let roots: Vec<(&str, Option<u32>)> = vec![
            ("instance a", self.env("DIRECTUS_A_PID").and_then(|p| p.parse().ok())),
            ("instance b", self.env("DIRECTUS_B_PID").and_then(|p| p.parse().ok())),
            ("nginx", self.env("DCHAT_NGINX_PID").and_then(|p| p.parse().ok())),
            ("redis", read_pid(self.dir.path().join("redis.pid"))),
            ("postgres", read_pid(Path::new(&pgdir).join("data/postmaster.pid"))),
        ];
        let ports: Vec<(String, u16)> = ["DIRECTUS_PORT", "DIRECTUS_A_PORT", "DIRECTUS_B_PORT", "DCHAT_PG_PORT", "DCHAT_REDIS_PORT"]
            .iter()
            .filter_map(|k| Some((k.to_string(), self.env(k)?.parse().ok()?)))
            .collect();
        assert_eq!(ports.len(), 5, "every port of the cluster is known: {ports:?}");
        // Every process of the parts, with its start time (a pid reused later is not it).
        let procs = processes();
        let mut parts: Vec<(String, u32, u64)> = Vec::new();
        for (name, root) in &roots {
            let Some(root) = root else { continue };
            let mut family = vec![*root];
            let mut i = 0;
            while i < family.len() {
                let parent = family[i];
                family.extend(procs.iter().filter(|p| p.ppid == parent).map(|p| p.pid));
                i += 1;
            }
            for pid in family {
                if let Some(p) = procs.iter().find(|p| p.pid == pid) {
                    parts.push((format!("{name} ({}: {})", p.pid, p.cmdline), p.pid, p.start));
                }
            }
        }
        assert!(parts.len() >= 5, "the cluster's processes are known before the stop: {parts:?}");
        self.stop();
        let me = std::process::id();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let procs = processes();
            let mut left: Vec<String> = parts
                .iter()
                .filter(|(_, pid, start)| procs.iter().any(|p| p.pid == *pid && p.start == *start && !p.zombie))
                .map(|(what, _, _)| format!("process {what}"))
                .collect();
            for p in procs.iter().filter(|p| p.pid != me && !p.zombie) {
                if dirs.iter().any(|d| p.cmdline.contains(d.as_str()) || p.cwd.starts_with(d.as_str())) {
                    left.push(format!("process {} in the cluster's folders: {} (in {})", p.pid, p.cmdline, p.cwd));
                }
            }
            for (name, port) in &ports {
                if listening(*port) {
                    left.push(format!("a listener on {name} {port}"));
                }
            }
            left.dedup();
            if left.is_empty() || Instant::now() > deadline {
                return left;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// An admin REST call through nginx; returns the response body.
    pub fn rest(&self, method: &str, path: &str, body: Option<&str>) -> String {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "-g", "-m", "30", "-X", method, "-H", "Content-Type: application/json"]);
        cmd.arg("-H").arg(format!("Authorization: Bearer {}", self.admin_token()));
        if let Some(b) = body {
            cmd.args(["-d", b]);
        }
        cmd.arg(format!("{}{}", self.http_url(), path));
        let out = cmd.output().expect("curl");
        assert!(out.status.success(), "curl {method} {path}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("stop").arg(self.dir.path()).output();
        if std::env::var_os("DCHAT_KEEP_CLUSTER").is_some() {
            // Logs of every part (instances, nginx, Redis) for a look after the test.
            let kept = std::env::temp_dir().join(format!("dchat-cluster-kept-{}", std::process::id()));
            let _ = Command::new("cp").arg("-a").arg(self.dir.path()).arg(&kept).status();
            eprintln!("cluster folder kept in {}", kept.display());
        }
    }
}

/// A process as /proc shows it.
struct Proc {
    pid: u32,
    ppid: u32,
    /// Clock ticks after boot: with the pid, names one process.
    start: u64,
    zombie: bool,
    cmdline: String,
    cwd: String,
}

/// Every process of the machine (those that vanish while read are left out).
fn processes() -> Vec<Proc> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| {
            let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // After the command's `(...)`: state, ppid, ..., starttime (field 22).
            let rest: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ").trim().to_owned();
            let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).map(|p| p.display().to_string()).unwrap_or_default();
            Some(Proc {
                pid,
                ppid: rest.get(1)?.parse().ok()?,
                start: rest.get(19)?.parse().ok()?,
                zombie: rest.first() == Some(&"Z"),
                cmdline,
                cwd,
            })
        })
        .collect()
}

/// Whether something listens on TCP `port` (from /proc/net, so with no tool installed).
fn listening(port: u16) -> bool {
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().filter_map(|f| std::fs::read_to_string(f).ok()).any(|text| {
        text.lines().skip(1).any(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // local_address is HEXIP:HEXPORT; state 0A is LISTEN.
            cols.len() > 3 && cols[3] == "0A" && cols[1].rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok()) == Some(port)
        })
    })
}

/// One line of nginx's access log (see [`Cluster::access_log`]).
#[derive(Clone, Debug)]
pub struct AccessLine {
    /// When the request or connection ended, in seconds since the epoch.
    pub ended: f64,
    /// How long it lasted, in seconds.
    pub duration: f64,
    pub status: u16,
    /// Every instance tried, in order (`127.0.0.1:P`); the last one served it.
    pub upstreams: Vec<String>,
    pub uri: String,
}

impl AccessLine {
    fn parse(line: &str) -> Option<AccessLine> {
        let (head, rest) = line.split_once(" \"")?;
        let (upstream, uri) = rest.split_once("\" ")?;
        let mut it = head.split_whitespace();
        Some(AccessLine {
            ended: it.next()?.parse().ok()?,
            duration: it.next()?.parse().ok()?,
            status: it.next()?.parse().ok()?,
            // Tried servers are separated by ", " (and " : " across internal redirects).
            upstreams: upstream
                .split(',')
                .flat_map(|p| p.split(" : "))
                .map(|u| u.trim().to_owned())
                .filter(|u| !u.is_empty() && u != "-")
                .collect(),
            uri: uri.trim().to_owned(),
        })
    }

    /// When it started, in seconds since the epoch.
    pub fn started(&self) -> f64 {
        self.ended - self.duration
    }

    /// The instance that served it.
    pub fn served_by(&self) -> Option<&str> {
        self.upstreams.last().map(String::as_str)
    }
}

/// A message from the bus: when it arrived, its payload.
pub type BusMessage = (SystemTime, Vec<u8>);

/// A Redis subscriber recording every message published on one channel.
pub struct BusListener {
    messages: Arc<Mutex<Vec<BusMessage>>>,
}

impl BusListener {
    fn start(port: u16, channel: &str) -> BusListener {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to Redis");
        let cmd = format!("*2\r\n$9\r\nSUBSCRIBE\r\n${}\r\n{}\r\n", channel.len(), channel);
        stream.write_all(cmd.as_bytes()).expect("SUBSCRIBE");
        let mut reader = BufReader::new(stream);
        // The confirmation, before anything is published that we could miss.
        let first = read_resp(&mut reader).expect("SUBSCRIBE answer");
        assert!(matches!(first.first(), Some(Resp::Bulk(b)) if b == b"subscribe"), "Redis did not confirm the subscription");
        let messages = Arc::new(Mutex::new(Vec::new()));
        let sink = messages.clone();
        std::thread::spawn(move || {
            // Ends when Redis goes (the cluster stops).
            while let Some(parts) = read_resp(&mut reader) {
                if let [Resp::Bulk(kind), _, Resp::Bulk(payload)] = parts.as_slice() {
                    if kind == b"message" {
                        sink.lock().unwrap().push((SystemTime::now(), payload.clone()));
                    }
                }
            }
        });
        BusListener { messages }
    }

    /// Every message so far, with the time it arrived.
    pub fn messages(&self) -> Vec<BusMessage> {
        self.messages.lock().unwrap().clone()
    }
}

enum Resp {
    Bulk(Vec<u8>),
    Int,
}

/// Reads one RESP array of bulk strings and integers (what a subscribed connection gets).
fn read_resp(reader: &mut BufReader<TcpStream>) -> Option<Vec<Resp>> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let n: usize = line.trim_end().strip_prefix('*')?.parse().ok()?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if let Some(len) = l.strip_prefix('$') {
            let len: usize = len.parse().ok()?;
            let mut buf = vec![0; len + 2];
            reader.read_exact(&mut buf).ok()?;
            buf.truncate(len);
            out.push(Resp::Bulk(buf));
        } else if l.starts_with(':') {
            out.push(Resp::Int);
        } else {
            return None;
        }
    }
    Some(out)
}
