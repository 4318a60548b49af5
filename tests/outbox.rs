//! The outbox against the real Directus (issue 14):
//! - an app (`examples/outbox_app.rs`, a child process) queues 200 messages while the
//!   server is down and is killed with SIGKILL; restarted on the same outbox while the
//!   server starts, killed again in the middle of sending, restarted: 200 rows, once
//!   each, in order, every message sent;
//! - 1,000 sends across 20 SIGKILL restarts of the server, for uuid keys and for
//!   integer keys with the schema kit's `client_key`: 1,000 rows, none doubled, and each
//!   entry's reported outcome checked against the table;
//! - local echo, then the server's create event for the same key: each message shown
//!   once, pending, then sent;
//! - the lock (another client, another process), a damaged file, another application's
//!   file; cancel, edit, failures and retry.

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use directus_chat::{
    Client, ClientOptions, ConnectionState, Event, Events, ItemsRequest, OutboxEntry, OutboxState, ReconnectPolicy, SubscriptionKind,
};
use serde_json::{json, Value};
use support::directus::{Directus, ServerOptions};

fn fast_reconnect() -> ReconnectPolicy {
    ReconnectPolicy {
        first_delay: Duration::from_millis(200),
        max_delay: Duration::from_secs(1),
        max_attempts: None,
        ..ReconnectPolicy::default()
    }
}

fn options(path: &Path, client_ids: bool) -> ClientOptions {
    let mut o = ClientOptions { reconnect: fast_reconnect(), outbox_path: Some(path.to_owned()), ..ClientOptions::default() };
    o.chat.client_ids = client_ids;
    o
}

/// The rows of the messages collection whose text starts with `prefix`, by id.
fn rows(server: &Directus, prefix: &str) -> Vec<Value> {
    rows_of(server, server.collection(), prefix)
}

fn rows_of(server: &Directus, collection: &str, prefix: &str) -> Vec<Value> {
    let path = format!(
        "/items/{collection}?limit=-1&sort=id&fields=id,text,client_key,date_created&filter[text][_starts_with]={}",
        prefix.replace(' ', "%20")
    );
    let body: Value = serde_json::from_str(&server.rest("GET", &path, None)).expect("JSON from the server");
    body["data"].as_array().unwrap_or_else(|| panic!("no rows: {body}")).clone()
}

fn text_of(v: &Value) -> String {
    v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())
}

// ---------------------------------------------------------------- the app, killed for real

fn app_path() -> PathBuf {
    // The test binary is target/<profile>/deps/outbox-<hash>; examples sit beside deps.
    let exe = std::env::current_exe().expect("test binary");
    let app = exe.parent().and_then(Path::parent).expect("target dir").join("examples").join("outbox_app");
    if !app.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--example", "outbox_app"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo build --example outbox_app");
        assert!(status.success(), "building the outbox app failed");
    }
    app
}

/// A running `outbox_app` whose stdout lines arrive on a channel.
struct App {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl App {
    fn spawn(server: &Directus, outbox: &Path, args: &[&str]) -> App {
        let mut child = Command::new(app_path())
            .arg(server.ws_url())
            .arg(server.user1().token)
            .arg(outbox)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the outbox app");
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        App { child, lines, seen: Vec::new() }
    }

    /// Reads lines until one satisfies `done` (true) or the app ends (false).
    fn until(&mut self, within: Duration, mut done: impl FnMut(&str) -> bool) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let hit = done(&line);
                    self.seen.push(line);
                    if hit {
                        return true;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return false,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!("the outbox app said nothing useful within {within:?}; last lines: {:?}", self.tail());
                }
            }
        }
    }

    fn tail(&self) -> &[String] {
        &self.seen[self.seen.len().saturating_sub(10)..]
    }

    /// SIGKILL, as a crash.
    fn kill(mut self) -> Vec<String> {
        self.child.kill().expect("SIGKILL the app");
        let _ = self.child.wait();
        // What it printed before it died.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(line);
        }
        self.seen
    }

    fn wait(mut self) -> Vec<String> {
        let status = self.child.wait().expect("wait for the app");
        assert!(status.success(), "the outbox app failed: {status}; last lines {:?}", self.tail());
        self.seen
    }
}

/// `event sent LOCAL_ID KEY ATTEMPTS ID` lines: local id → (key, stored id).
fn sent_lines(lines: &[String]) -> BTreeMap<u64, (String, String)> {
    lines
        .iter()
        .filter_map(|l| {
            let p: Vec<&str> = l.split(' ').collect();
            (p.len() == 6 && p[0] == "event" && p[1] == "sent").then(|| (p[2].parse().unwrap(), (p[3].to_owned(), p[5].to_owned())))
        })
        .collect()
}

/// Local ids of `event queued` lines (the local echoes the app got).
fn queued_echoes(lines: &[String]) -> BTreeSet<u64> {
    lines.iter().filter_map(|l| l.strip_prefix("event queued ")).map(|r| r.split(' ').next().unwrap().parse().unwrap()).collect()
}

#[test]
fn an_app_killed_with_sigkill_while_the_server_is_down_sends_all_200_once_in_order() {
    let server = Directus::start(ServerOptions { key_type: "integer".into(), ..ServerOptions::default() });
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox.db");
    let prefix = format!("crash {}", std::process::id());
    server.kill();

    // Run 1: 200 messages queued while the server is down; then the app dies.
    let mut app = App::spawn(&server, &outbox, &["--send", "200", "--prefix", &prefix]);
    assert!(app.until(Duration::from_secs(60), |l| l == "all queued"), "{:?}", app.tail());
    let queued: Vec<(u64, String)> = app
        .seen
        .iter()
        .filter_map(|l| l.strip_prefix("queued "))
        .map(|r| {
            let (id, key) = r.split_once(' ').unwrap();
            (id.parse().unwrap(), key.to_owned())
        })
        .collect();
    assert_eq!(queued.len(), 200);
    // The outbox is locked for every other client, in another process too.
    let e = Client::connect_nowait(&server.ws_url(), options(&outbox, false)).expect_err("the outbox is in use");
    assert_eq!(e.code(), "OUTBOX_LOCKED", "{e}");
    app.kill();

    // Run 2: the same outbox; the server starts; the app dies again in the middle of sending.
    let mut app = App::spawn(&server, &outbox, &["--exit-when-done"]);
    assert!(app.until(Duration::from_secs(60), |l| l == "all queued"));
    server.restart();
    let mut sent = 0;
    assert!(app.until(Duration::from_secs(120), |l| {
        sent += usize::from(l.starts_with("event sent "));
        sent >= 70
    }));
    let run2 = app.kill();

    // Run 3: resumes what is left and finishes.
    let mut app = App::spawn(&server, &outbox, &["--exit-when-done"]);
    assert!(app.until(Duration::from_secs(180), |l| l == "done"), "{:?}", app.tail());
    let run3 = app.wait();

    let rows = rows(&server, &prefix);
    let texts: Vec<String> = rows.iter().map(|r| text_of(&r["text"])).collect();
    let expected: Vec<String> = (0..200).map(|i| format!("{prefix} {i}")).collect();
    assert_eq!(texts, expected, "200 rows, once each, in the order they were queued");
    let by_key: HashMap<String, String> = rows.iter().map(|r| (text_of(&r["client_key"]), text_of(&r["id"]))).collect();
    for (i, (_, key)) in queued.iter().enumerate() {
        assert_eq!(text_of(&rows[i]["client_key"]), *key, "row {i} carries the key its entry was given");
    }

    let (sent2, sent3) = (sent_lines(&run2), sent_lines(&run3));
    let resumed3 = queued_echoes(&run3);
    let mut reported = 0;
    let mut recorded_only = 0;
    for (local_id, key) in &queued {
        match sent2.get(local_id).or_else(|| sent3.get(local_id)) {
            Some((k, id)) => {
                assert_eq!(k, key);
                assert_eq!(by_key.get(key), Some(id), "entry {local_id}: the reported item is the stored row");
                reported += 1;
            }
            // Sent and taken out of the file in the instant between the outbox's record
            // and the app's print, when the app was killed: not in the file any more
            // (run 3 did not resume it), and stored.
            None => {
                assert!(!resumed3.contains(local_id) && by_key.contains_key(key), "entry {local_id} never ended sent");
                recorded_only += 1;
            }
        }
    }
    assert!(sent2.len() >= 70 && !sent3.is_empty(), "the kill came in the middle of sending");
    assert!(recorded_only <= 1, "{recorded_only} entries without a sent event");
    eprintln!(
        "outbox crash: 200 queued while down, 2 SIGKILLs of the app; {} rows in order, {reported} sent events \
         (run 2: {}, run 3: {}, resumed by run 3: {}), {recorded_only} sent as the app died",
        rows.len(),
        sent2.len(),
        sent3.len(),
        resumed3.len()
    );
}

// ---------------------------------------------------------------- chaos with the outbox

/// Every outbox event of a client, by local id, until `expected` entries are over.
async fn outcomes(events: &mut Events, expected: usize, within: Duration) -> BTreeMap<u64, OutboxEntry> {
    let mut done = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + within;
    while done.len() < expected {
        match tokio::time::timeout_at(deadline, events.next()).await {
            Ok(Some(Event::Outbox(e))) if matches!(e.state, OutboxState::Sent { .. } | OutboxState::Failed { .. }) => {
                assert!(done.insert(e.local_id, *e).is_none(), "an entry ended twice");
            }
            Ok(Some(Event::State { state: ConnectionState::Closed, reason, .. })) => panic!("closed: {reason:?}"),
            Ok(Some(_)) => {}
            Ok(None) => panic!("the event stream ended"),
            Err(_) => panic!("only {} of {expected} entries ended within {within:?}", done.len()),
        }
    }
    done
}

/// One key type's side of the chaos test: a collection, a client with an outbox, and
/// the entries queued so far.
struct Side {
    key_type: &'static str,
    collection: String,
    client: Client,
    events: Events,
    prefix: String,
    keys: Vec<(u64, String)>,
    /// Entries not yet sent at the moments the server was killed.
    pending_at_kills: usize,
    _dir: tempfile::TempDir,
}

impl Side {
    async fn start(server: &Directus, key_type: &'static str, collection: &str) -> Side {
        let dir = tempfile::tempdir().unwrap();
        // Short wire timeouts: a server busy starting up makes some attempts time out,
        // which must never fail an entry.
        let mut options =
            ClientOptions { request_timeout: Duration::from_secs(3), ..options(&dir.path().join("outbox.db"), key_type == "uuid") };
        options.chat.collection = collection.to_owned();
        let (client, events) = Client::connect(&server.ws_url(), options).await.unwrap();
        client.login_with_token(&server.user1().token).await.unwrap();
        let prefix = format!("chaos {key_type} {}", std::process::id());
        Side { key_type, collection: collection.to_owned(), client, events, prefix, keys: Vec::new(), pending_at_kills: 0, _dir: dir }
    }

    fn queue(&mut self, n: usize) {
        let outbox = self.client.outbox().unwrap();
        for _ in 0..n {
            let entry = outbox.send_message(&format!("{} {}", self.prefix, self.keys.len())).expect("queued");
            self.keys.push((entry.local_id, entry.key));
        }
    }

    fn pending(&self) -> usize {
        self.client.outbox().unwrap().list().len()
    }

    /// Waits for every entry to end and checks each outcome against the table.
    async fn check(mut self, server: &Directus) {
        let ended = outcomes(&mut self.events, self.keys.len(), Duration::from_secs(300)).await;
        let rows = rows_of(server, &self.collection, &self.prefix);
        let key_field = if self.key_type == "uuid" { "id" } else { "client_key" };
        let mut stored: HashMap<String, Value> = HashMap::new();
        let mut doubled = 0;
        for r in &rows {
            if stored.insert(text_of(&r[key_field]), r.clone()).is_some() {
                doubled += 1;
            }
        }
        let texts: BTreeSet<String> = rows.iter().map(|r| text_of(&r["text"])).collect();
        let (mut sent, mut failed, mut disagree, mut repeated) = (0, 0, 0, 0);
        for (local_id, key) in &self.keys {
            let entry = ended.get(local_id).expect("every entry ended");
            assert_eq!(&entry.key, key);
            repeated += usize::from(entry.attempts > 1);
            match &entry.state {
                OutboxState::Sent { item } => {
                    sent += 1;
                    let row = stored.get(key);
                    if row.is_none_or(|r| r["id"] != item["id"] || r["text"] != item["text"]) {
                        eprintln!("entry {local_id} reported sent as {item}, the table has {row:?}");
                        disagree += 1;
                    }
                }
                OutboxState::Failed { error, .. } => {
                    failed += 1;
                    if stored.contains_key(key) {
                        eprintln!("entry {local_id} reported failed ({error}) but is stored");
                        disagree += 1;
                    }
                }
                other => panic!("not an end: {other:?}"),
            }
        }
        eprintln!(
            "outbox chaos {} ({}): {} sends across 20 SIGKILL restarts ({} entries unsent at the kills): {sent} sent, {failed} failed, \
             {} rows, {doubled} doubled, {disagree} outcomes that disagree with the table, {repeated} entries needed more than one \
             outbox attempt",
            self.key_type,
            self.collection,
            self.keys.len(),
            self.pending_at_kills,
            rows.len()
        );
        assert_eq!(disagree, 0);
        assert_eq!(doubled, 0);
        assert_eq!(failed, 0, "nothing fails: lost answers and wire timeouts are retried");
        assert_eq!(rows.len(), self.keys.len());
        assert_eq!(texts.len(), self.keys.len(), "every text once");
        assert!(self.pending_at_kills > 0, "the kills came while entries were on their way");
        assert!(self.client.outbox().unwrap().list().is_empty());
        self.client.close().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_sends_across_twenty_sigkills_for_uuid_and_integer_keys_end_as_the_table_says() {
    const ROUNDS: usize = 20;
    const PER_ROUND: usize = 50;
    // One server with both kinds of messages collection, so twenty restarts hit both:
    // the test bed's (integer keys and the kit's client_key) and a uuid-keyed one the
    // schema kit adds beside it.
    let server = Arc::new(Directus::start(ServerOptions { key_type: "integer".into(), ..ServerOptions::default() }));
    let kit = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/schema-kit.py"))
        .args(["apply", "--url", &server.http_url(), "--collection", "messages_uuid", "--key-type", "uuid", "--quiet"])
        .env("DIRECTUS_TOKEN", server.admin_token())
        .output()
        .expect("run the schema kit");
    assert!(kit.status.success(), "schema kit: {}", String::from_utf8_lossy(&kit.stderr));
    let mut sides = vec![Side::start(&server, "uuid", "messages_uuid").await, Side::start(&server, "integer", server.collection()).await];
    for round in 0..ROUNDS {
        for side in &mut sides {
            side.queue(PER_ROUND);
        }
        // Kill while the round's messages are on their way: once half of them went, or
        // after a few seconds (then the backlog of earlier rounds is on its way).
        let until = Instant::now() + Duration::from_millis(2500 + 97 * (round as u64 % 7));
        while Instant::now() < until && sides.iter().any(|s| s.pending() > PER_ROUND / 2) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server.kill();
        for side in &mut sides {
            side.pending_at_kills += side.pending();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let s = server.clone();
        let down = Instant::now();
        tokio::task::spawn_blocking(move || s.restart()).await.unwrap();
        eprintln!("round {round}: restart took {:?}; pending {:?}", down.elapsed(), sides.iter().map(Side::pending).collect::<Vec<_>>());
    }
    for side in sides {
        side.check(&server).await;
    }
}

// ---------------------------------------------------------------- local echo

#[derive(Debug, Default)]
struct Line {
    /// What the view showed for this message, in order: `pending`, `stored`, `sent`.
    history: Vec<&'static str>,
    id: Option<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_echo_is_reconciled_with_the_servers_create_and_shown_once() {
    const N: usize = 20;
    let server = Directus::shared();
    let dir = tempfile::tempdir().unwrap();
    let (client, mut events) = Client::connect(&server.ws_url(), options(&dir.path().join("outbox.db"), false)).await.unwrap();
    client.login_with_token(&server.user1().token).await.unwrap();
    let sub = client.subscribe(client.chat_subscription()).await.unwrap();
    let outbox = client.outbox().unwrap();
    let prefix = format!("echo {}", std::process::id());
    let mut ours = BTreeSet::new();
    for i in 0..N {
        ours.insert(outbox.send_message(&format!("{prefix} {i}")).unwrap().key);
    }

    // The sender's view, keyed by the message key: the local echo and the stored
    // message are one line.
    let mut view: BTreeMap<String, Line> = BTreeMap::new();
    let mut shown_twice = Vec::new();
    let mut sent = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while sent < N || view.values().filter(|l| l.history.contains(&"stored")).count() < N {
        let event = tokio::time::timeout_at(deadline, events.next()).await.expect("every message sent and seen").unwrap();
        match event {
            Event::Outbox(entry) => {
                let message = client.chat().echo(entry.item(), &entry.key).expect("a chat message");
                assert_eq!(message.key, entry.key);
                match &entry.state {
                    OutboxState::Queued => {
                        if view.insert(entry.key.clone(), Line { history: vec!["pending"], id: None }).is_some() {
                            shown_twice.push(entry.key.clone());
                        }
                    }
                    OutboxState::Sending => assert!(view.contains_key(&entry.key), "sending before its echo"),
                    OutboxState::Sent { .. } => {
                        let line = view.get_mut(&entry.key).expect("sent before its echo");
                        line.history.push("sent");
                        assert_eq!(line.id.get_or_insert(message.id.clone()), &message.id, "the sent item is the stored one");
                        sent += 1;
                    }
                    other => panic!("{other:?}"),
                }
            }
            Event::Subscription { uid, kind: SubscriptionKind::Create, data } if uid == sub.uid() => {
                for m in client.chat().messages(&data) {
                    match view.get_mut(&m.key) {
                        // The server's create for a local echo: the same line, now stored.
                        Some(line) => {
                            line.history.push("stored");
                            assert_eq!(line.id.get_or_insert(m.id.clone()), &m.id);
                        }
                        None => assert!(!ours.contains(&m.key), "a create of ours without its echo"),
                    }
                }
            }
            _ => {}
        }
    }
    assert!(shown_twice.is_empty(), "shown twice: {shown_twice:?}");
    let lines: Vec<&Line> = view.iter().filter(|(k, _)| ours.contains(*k)).map(|(_, l)| l).collect();
    assert_eq!(lines.len(), N, "each message once");
    for l in &lines {
        assert_eq!(l.history.first(), Some(&"pending"), "{l:?}");
        assert_eq!(l.history.len(), 3, "pending, then stored and sent (in either order): {l:?}");
        assert!(l.id.as_deref().is_some_and(|id| id.parse::<u64>().is_ok()), "the line took the server's id: {l:?}");
    }
    // The table agrees: each once.
    assert_eq!(rows(server, &prefix).len(), N);
    eprintln!("outbox echo: {N} messages, each shown once: pending, then stored and sent; 0 shown twice");
    client.close().await.unwrap();
}

// ---------------------------------------------------------------- the file and the app's controls

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_damaged_or_foreign_outbox_is_refused_clearly_and_left_as_it_was() {
    let server = Directus::shared();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.db");
    let (first, _events) = Client::connect(&server.ws_url(), options(&path, false)).await.unwrap();
    let e = Client::connect(&server.ws_url(), options(&path, false)).await.expect_err("locked");
    assert_eq!((e.code(), e.kind()), ("OUTBOX_LOCKED", directus_chat::ErrorKind::Outbox));
    assert!(e.to_string().contains("in use by another client"), "{e}");
    first.close().await.unwrap();
    // Closed: the lock is gone with it.
    let (again, _events) = Client::connect(&server.ws_url(), options(&path, false)).await.unwrap();
    again.close().await.unwrap();

    // Damaged: an outbox with 100 entries whose table pages were overwritten.
    let damaged = dir.path().join("damaged.db");
    {
        let (c, _events) = Client::connect(&server.ws_url(), options(&damaged, false)).await.unwrap();
        // Not logged in: nothing goes out, everything stays in the file.
        for i in 0..100 {
            c.outbox().unwrap().send_message(&format!("{:0>300}", i)).unwrap();
        }
        c.close().await.unwrap();
    }
    let mut bytes = std::fs::read(&damaged).unwrap();
    let n = bytes.len();
    assert!(n > 12 * 4096, "{n}");
    bytes[6 * 4096..9 * 4096].fill(0x5A);
    std::fs::write(&damaged, &bytes).unwrap();
    let e = Client::connect(&server.ws_url(), options(&damaged, false)).await.expect_err("damaged");
    assert_eq!(e.code(), "OUTBOX_CORRUPT", "{e}");
    assert_eq!(std::fs::read(&damaged).unwrap(), bytes, "left as it was");

    // Not a database; another application's database.
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "my notes, not an outbox\n".repeat(20)).unwrap();
    let e = Client::connect(&server.ws_url(), options(&text, false)).await.expect_err("not a database");
    assert_eq!(e.code(), "OUTBOX_CORRUPT", "{e}");
    assert_eq!(std::fs::read_to_string(&text).unwrap(), "my notes, not an outbox\n".repeat(20));
    let foreign = dir.path().join("app.db");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE settings (k TEXT, v TEXT); INSERT INTO settings VALUES ('a','b');")
        .unwrap();
    let before = std::fs::read(&foreign).unwrap();
    let e = Client::connect(&server.ws_url(), options(&foreign, false)).await.expect_err("foreign");
    assert_eq!(e.code(), "OUTBOX_FOREIGN", "{e}");
    assert!(e.to_string().contains("settings"), "{e}");
    assert_eq!(std::fs::read(&foreign).unwrap(), before);
    eprintln!("outbox files: locked, damaged, not a database, foreign: 4 refused with their codes, every file unchanged");
}

/// The next outbox event of `local_id` in state `state`.
async fn outbox_event(events: &mut Events, local_id: u64, state: &str) -> OutboxEntry {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout_at(deadline, events.next()).await.unwrap_or_else(|_| panic!("no {state} event for {local_id}")) {
            Some(Event::Outbox(e)) if e.local_id == local_id && e.state.as_str() == state => return *e,
            Some(_) => {}
            None => panic!("events ended"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_messages_can_be_cancelled_and_edited_and_refusals_fail_with_their_code() {
    let server = Directus::shared();
    let dir = tempfile::tempdir().unwrap();
    let (client, mut events) = Client::connect(&server.ws_url(), options(&dir.path().join("outbox.db"), false)).await.unwrap();
    let outbox = client.outbox().unwrap();
    let prefix = format!("controls {}", std::process::id());
    // Before the login nothing goes out: the first is with the session, the rest queued.
    let a = outbox.send_message(&format!("{prefix} a")).unwrap();
    let b = outbox.send_message(&format!("{prefix} b")).unwrap();
    let c = outbox.send_message(&format!("{prefix} c")).unwrap();
    assert_eq!(outbox.list().iter().map(|e| e.local_id).collect::<Vec<_>>(), [a.local_id, b.local_id, c.local_id]);
    outbox_event(&mut events, a.local_id, "sending").await;
    assert!(outbox.cancel(a.local_id).is_err(), "handed to the session: it may be stored");
    assert_eq!(outbox.cancel(b.local_id).unwrap().state, OutboxState::Cancelled);
    let edited = outbox.edit_text(c.local_id, &format!("{prefix} c, edited")).unwrap();
    assert_eq!(edited.key, c.key);
    assert!(outbox.edit(c.local_id, json!({"client_key": "another"})).is_err(), "the key stays");
    client.login_with_token(&server.user1().token).await.unwrap();
    outbox_event(&mut events, c.local_id, "sent").await;
    let texts: Vec<String> = rows(server, &prefix).iter().map(|r| text_of(&r["text"])).collect();
    assert_eq!(texts, [format!("{prefix} a"), format!("{prefix} c, edited")]);

    // A duplicate key is the message's own fault: failed at once, not retryable.
    let dup = outbox
        .send(
            ItemsRequest::create(server.collection(), json!({"text": format!("{prefix} dup"), "client_key": c.key}))
                .key_field("client_key"),
        )
        .unwrap();
    let failed = outbox_event(&mut events, dup.local_id, "failed").await;
    assert!(matches!(&failed.state, OutboxState::Failed { error, retryable: false } if error.code() == "RECORD_NOT_UNIQUE"), "{failed:?}");
    // A collection the user may not write: refused a few times, then failed, retryable.
    let secret = outbox.send(ItemsRequest::create(server.forbidden_collection(), json!({"note": "x"})).key_field("client_key")).unwrap();
    let failed = outbox_event(&mut events, secret.local_id, "failed").await;
    assert!(
        matches!(&failed.state, OutboxState::Failed { error, retryable: true } if error.kind() == directus_chat::ErrorKind::Forbidden),
        "{failed:?}"
    );
    assert_eq!(failed.attempts, 3);
    // Failed entries stay until the app decides; a retry goes again with the same key.
    assert_eq!(outbox.list().iter().map(|e| e.local_id).collect::<Vec<_>>(), [dup.local_id, secret.local_id]);
    outbox.retry(secret.local_id).unwrap();
    outbox_event(&mut events, secret.local_id, "failed").await;
    outbox.cancel(dup.local_id).unwrap();
    outbox.cancel(secret.local_id).unwrap();
    assert!(outbox.list().is_empty());
    assert_eq!(rows(server, &prefix).len(), 2, "nothing else stored");
    client.close().await.unwrap();
    assert!(outbox.send_message("after close").is_err(), "closed");
    eprintln!("outbox controls: cancel, edit, RECORD_NOT_UNIQUE (not retryable), FORBIDDEN (retryable, 3 attempts), retry: as expected");
}
