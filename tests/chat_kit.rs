//! The schema kit applied to a fresh Directus (bootstrapped, nothing else) gives a
//! working chat through the chat API: a room, who am I, sending, the other user seeing
//! it, an edit, a deletion, older history, FORBIDDEN on another user's message, and an
//! attachment. On each supported release.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use directus_chat::{ChatConfig, ChatEventKind, Client, ClientOptions, ConnectionState, ErrorKind, Event, Events, Upload};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(20);

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A bootstrapped Directus without the chat schema, stopped when dropped (and by the
/// test bed's watchdog if the test process dies).
struct Bare {
    dir: tempfile::TempDir,
    url: String,
    ws_url: String,
    token: String,
}

impl Bare {
    fn start(version: &str) -> Bare {
        let dir = tempfile::Builder::new().prefix("dchat-kit-").tempdir().expect("temp dir");
        let out = Command::new(root().join("scripts/directus.sh"))
            .arg("start")
            .arg(dir.path())
            .args(["--bare", "--version", version, "--watch-pid", &std::process::id().to_string()])
            .output()
            .expect("run scripts/directus.sh");
        assert!(out.status.success(), "bare start failed: {}", String::from_utf8_lossy(&out.stderr));
        let env: std::collections::HashMap<String, String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(env["DIRECTUS_VERSION"], version);
        let url = env["DIRECTUS_URL"].clone();
        let login = json!({"email": env["DIRECTUS_ADMIN_EMAIL"], "password": env["DIRECTUS_ADMIN_PASSWORD"]});
        let mut bare = Bare { dir, url, ws_url: env["DIRECTUS_WS_URL"].clone(), token: String::new() };
        // A server just started may not take logins yet on a loaded machine: a few tries.
        for attempt in 1.. {
            let answer = bare.rest("POST", "/auth/login", Some(&login));
            if let Some(token) = answer["data"]["access_token"].as_str() {
                bare.token = token.to_owned();
                break;
            }
            assert!(attempt < 10, "admin login: {answer}");
            std::thread::sleep(Duration::from_secs(1));
        }
        bare
    }

    fn rest(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "-g", "-m", "30", "-X", method, "-H", "Content-Type: application/json"]);
        if !self.token.is_empty() {
            cmd.arg("-H").arg(format!("Authorization: Bearer {}", self.token));
        }
        if let Some(b) = body {
            cmd.args(["-d", &b.to_string()]);
        }
        let out = cmd.arg(format!("{}{}", self.url, path)).output().expect("curl");
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }

    /// Applies the kit the way a user would; returns the role it made for chat users.
    fn apply_kit(&self) -> String {
        let env_out = self.dir.path().join("kit.env");
        let out = Command::new("python3")
            .arg(root().join("scripts/schema-kit.py"))
            .args(["apply", "--url", &self.url, "--env-out"])
            .arg(&env_out)
            .env("DIRECTUS_TOKEN", &self.token)
            .output()
            .expect("run the schema kit");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && text.contains("0 problems"), "the kit failed: {text}\n{}", String::from_utf8_lossy(&out.stderr));
        let kit = std::fs::read_to_string(&env_out).expect("kit env");
        kit.lines().find_map(|l| l.strip_prefix("DCHAT_ROLE_ID=")).expect("a role").to_owned()
    }

    fn user(&self, role: &str, name: &str) -> (String, String) {
        let email = format!("{}@example.com", name.to_lowercase());
        let password = format!("{name}-password-1");
        let made = self.rest("POST", "/users", Some(&json!({"email": email, "password": password, "first_name": name, "role": role})));
        assert!(made["data"]["id"].is_string(), "user {name}: {made}");
        (email, password)
    }
}

impl Drop for Bare {
    fn drop(&mut self) {
        let _ = Command::new(root().join("scripts/directus.sh")).arg("stop").arg(self.dir.path()).output();
    }
}

async fn until(client: &Client, events: &mut Events, what: &str, mut done: impl FnMut(&directus_chat::ChatEvent) -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ev = tokio::time::timeout_at(deadline, events.next()).await.unwrap_or_else(|_| panic!("{what}: no event")).expect("stream");
        if let Event::State { state: ConnectionState::Disconnected | ConnectionState::Closed, reason, .. } = &ev {
            panic!("{what}: connection ended: {reason:?}");
        }
        if client.chat_event(&ev).is_some_and(|ce| done(&ce)) {
            return;
        }
    }
}

async fn chat_on_a_fresh_server(version: &str) {
    let server = Bare::start(version);
    let role = server.apply_kit();
    let (kevin_login, ada_login) = (server.user(&role, "Kevin"), server.user(&role, "Ada"));
    let options = |history| ClientOptions {
        chat: ChatConfig { history_limit: history, ..ChatConfig::kit() },
        request_timeout: Duration::from_secs(15),
        ..ClientOptions::default()
    };
    let (kevin, mut kevin_events) = Client::connect(&server.ws_url, options(100)).await.expect("connect");
    kevin.login(&kevin_login.0, &kevin_login.1).await.expect("login");
    let (ada, mut ada_events) = Client::connect(&server.ws_url, options(2)).await.expect("connect");
    ada.login(&ada_login.0, &ada_login.1).await.expect("login");

    let me = kevin.whoami().await.expect("who am I");
    assert_eq!(me.first_name.as_deref(), Some("Kevin"));
    kevin.join(Some("general")).await.expect("the kit's room");
    for i in 0..5 {
        kevin.send_to(Some("general"), &format!("early {i}")).await.expect("send");
    }
    // Ada's history holds the newest two; the rest are older pages.
    ada.join(Some("general")).await.expect("the kit's room");
    let older: Vec<String> = ada.load_older(Some("general"), None, 10).await.expect("older").into_iter().map(|m| m.text).collect();
    assert_eq!(older, ["early 0", "early 1", "early 2"]);
    let sent = kevin.send_to(Some("general"), "hello from the kit").await.expect("send");
    assert!(sent.own && sent.raw["client_key"].is_string(), "{sent:?}");
    until(&ada, &mut ada_events, "ada sees it", |e| {
        e.kind == ChatEventKind::Created
            && e.messages.iter().any(|m| m.text == "hello from the kit" && !m.own && m.author.as_deref() == Some("Kevin"))
    })
    .await;
    kevin.edit_message(&sent.id, "hello, edited").await.expect("edit");
    until(&ada, &mut ada_events, "ada sees the edit", |e| e.kind == ChatEventKind::Edited && e.messages.iter().any(|m| m.edited)).await;
    kevin.delete_message(&sent.id).await.expect("delete");
    until(&ada, &mut ada_events, "ada sees the deletion", |e| e.kind == ChatEventKind::Deleted && e.deleted == [sent.id.clone()]).await;
    until(&kevin, &mut kevin_events, "kevin sees his deletion", |e| e.kind == ChatEventKind::Deleted).await;
    assert!(ada.load_older(Some("general"), None, 3).await.expect("older").is_empty(), "the beginning");
    let page = kevin.load_older(Some("general"), None, 3).await.expect("older");
    assert!(page.is_empty(), "kevin joined before he wrote: {page:?}");
    // Another user's message: refused (servers before 12.4 send the refusal without the
    // request's uid; the session matches it all the same).
    let hers = ada.send_to(Some("general"), "ada's").await.expect("send");
    let denied = kevin.edit_message(&hers.id, "not yours").await.expect_err("forbidden");
    assert_eq!(denied.kind(), ErrorKind::Forbidden, "{denied:?}");
    let denied = kevin.delete_message(&hers.id).await.expect_err("forbidden");
    assert_eq!(denied.kind(), ErrorKind::Forbidden, "{denied:?}");
    // An attachment: uploaded over REST with the kit's file permissions, carried by a
    // message, seen by the other user with its name, type and size, downloaded whole.
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let file = kevin.upload(Upload::bytes("kit.bin", bytes.clone()).mime("application/octet-stream")).await.expect("upload");
    kevin.send_with("with a file", json!({"room": "general", "file": file.id})).await.expect("send with the file");
    until(&ada, &mut ada_events, "ada sees the file", |e| {
        e.messages
            .iter()
            .any(|m| m.file.as_ref().is_some_and(|f| f.id == file.id && f.name.as_deref() == Some("kit.bin") && f.size == Some(200_000)))
    })
    .await;
    assert!(ada.download_bytes(&file.id).await.expect("download") == bytes, "downloaded bytes differ");
    kevin.close().await.expect("close");
    ada.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_kit_on_a_fresh_directus_12_4_0_gives_a_working_chat() {
    chat_on_a_fresh_server("12.4.0").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_kit_on_a_fresh_directus_11_17_4_gives_a_working_chat() {
    chat_on_a_fresh_server("11.17.4").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_kit_on_a_fresh_directus_10_13_4_gives_a_working_chat() {
    chat_on_a_fresh_server("10.13.4").await;
}
