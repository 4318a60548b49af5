//! A real Directus for a test: started with scripts/directus.sh in a temporary folder,
//! stopped when dropped, and by the script's watchdog when the test process exits
//! (so a crashed or aborted test never leaves a server behind).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// A user of the seeded schema.
#[derive(Clone, Debug)]
pub struct User {
    /// The user's uuid (`directus_users.id`).
    pub id: String,
    pub email: String,
    pub password: String,
    pub name: String,
    pub token: String,
}

/// How to start a server.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    pub collection: String,
    pub text_field: String,
    /// `integer` (auto increment, as in the guides) or `uuid`.
    pub key_type: String,
    /// Server settings, e.g. `("WEBSOCKETS_HEARTBEAT_PERIOD", "2")`.
    pub env: Vec<(String, String)>,
    /// The Directus release, e.g. `Some("10.13.4")`; `None`: `DIRECTUS_VERSION` from the
    /// environment, else the test bed's default (12.4.0).
    pub version: Option<&'static str>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            collection: "messages".into(),
            text_field: "text".into(),
            key_type: "integer".into(),
            env: Vec::new(),
            version: None,
        }
    }
}

/// A running test-bed server.
pub struct Directus {
    dir: tempfile::TempDir,
    env: HashMap<String, String>,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/directus.sh")
}

fn parse_env(text: &str) -> HashMap<String, String> {
    text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

impl Directus {
    /// Starts a fresh server; panics with the script's output if it cannot.
    pub fn start(opts: ServerOptions) -> Directus {
        let dir = tempfile::Builder::new().prefix("dchat-directus-").tempdir().expect("temp dir");
        let mut cmd = Command::new(script());
        cmd.arg("start").arg(dir.path());
        cmd.args(["--collection", &opts.collection, "--text-field", &opts.text_field, "--key-type", &opts.key_type]);
        // The shared server lives in a static that is never dropped: the watchdog stops it
        // when this test binary exits and, with --remove-dir, deletes its folder too.
        cmd.args(["--watch-pid", &std::process::id().to_string(), "--remove-dir"]);
        if let Some(version) = opts.version {
            cmd.args(["--version", version]);
        }
        for (k, v) in &opts.env {
            cmd.arg("--env").arg(format!("{k}={v}"));
        }
        let out = cmd.output().expect("run scripts/directus.sh");
        if !out.status.success() {
            panic!(
                "scripts/directus.sh start failed ({}):\n{}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let env = parse_env(&String::from_utf8_lossy(&out.stdout));
        assert!(env.contains_key("DIRECTUS_WS_URL"), "no URL from scripts/directus.sh: {env:?}");
        Directus { dir, env }
    }

    /// One default server per test binary, started on first use.
    pub fn shared() -> &'static Directus {
        static SHARED: OnceLock<Directus> = OnceLock::new();
        SHARED.get_or_init(|| Directus::start(ServerOptions::default()))
    }

    fn get(&self, key: &str) -> String {
        self.env.get(key).cloned().unwrap_or_else(|| panic!("{key} missing from the test bed's output"))
    }

    pub fn env(&self, key: &str) -> Option<String> {
        self.env.get(key).cloned()
    }

    pub fn ws_url(&self) -> String {
        self.get("DIRECTUS_WS_URL")
    }

    pub fn http_url(&self) -> String {
        self.get("DIRECTUS_URL")
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

    /// The Directus release that runs, as the server reports it (e.g. `12.4.0`).
    pub fn version(&self) -> String {
        self.get("DIRECTUS_VERSION")
    }

    /// The room every chat user may post to (`general`).
    pub fn room(&self) -> String {
        self.get("DCHAT_ROOM")
    }

    pub fn admin_token(&self) -> String {
        self.get("DIRECTUS_ADMIN_TOKEN")
    }

    pub fn collection(&self) -> &str {
        &self.env["DCHAT_COLLECTION"]
    }

    pub fn text_field(&self) -> &str {
        &self.env["DCHAT_TEXT_FIELD"]
    }

    pub fn forbidden_collection(&self) -> &str {
        &self.env["DCHAT_FORBIDDEN_COLLECTION"]
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, verb: &str) {
        let out = Command::new(script()).arg(verb).arg(self.dir.path()).output().expect("run scripts/directus.sh");
        assert!(out.status.success(), "directus.sh {verb} failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// SIGKILLs the server (chaos tests).
    pub fn kill(&self) {
        self.run("kill");
    }

    /// Starts the server again on the same port and database.
    pub fn restart(&self) {
        self.run("restart");
    }

    /// Stops the server.
    pub fn stop(&self) {
        self.run("stop");
    }

    /// An admin REST call; returns the response body.
    pub fn rest(&self, method: &str, path: &str, body: Option<&str>) -> String {
        self.rest_as(Some(&self.admin_token()), method, path, body)
    }

    /// A REST call with `token` (none: public); returns the response body.
    pub fn rest_as(&self, token: Option<&str>, method: &str, path: &str, body: Option<&str>) -> String {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "-g", "-m", "30", "-X", method, "-H", "Content-Type: application/json"]);
        if let Some(token) = token {
            cmd.arg("-H").arg(format!("Authorization: Bearer {token}"));
        }
        if let Some(b) = body {
            cmd.args(["-d", b]);
        }
        cmd.arg(format!("{}{}", self.http_url(), path));
        let out = cmd.output().expect("curl");
        assert!(out.status.success(), "curl {method} {path}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Directus {
    /// Logs `user` in over REST: `(access_token, refresh_token)`.
    pub fn rest_login(&self, user: &User) -> (String, String) {
        let body = format!(r#"{{"email":"{}","password":"{}"}}"#, user.email, user.password);
        let answer: serde_json::Value =
            serde_json::from_str(&self.rest_as(None, "POST", "/auth/login", Some(&body))).expect("JSON from /auth/login");
        let tokens = |k: &str| answer["data"][k].as_str().unwrap_or_else(|| panic!("no {k} in {answer}")).to_owned();
        (tokens("access_token"), tokens("refresh_token"))
    }
}

impl Drop for Directus {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("stop").arg(self.dir.path()).output();
    }
}
