//! A real Directus cluster for a test: PostgreSQL, Redis, two Directus instances and nginx
//! in front, started with scripts/cluster.sh in a temporary folder, stopped when dropped,
//! and by the script's watchdog when the test process exits.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

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

    /// Starts a killed instance again on its port.
    pub fn restart(&mut self, which: Instance) {
        let fresh = self.run("restart", Some(which));
        self.env.extend(fresh);
    }

    /// Stops everything (also done on drop).
    pub fn stop(&self) {
        self.run("stop", None);
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
    }
}
