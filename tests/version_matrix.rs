//! The same client against every Directus release we support (10.13.4, the newest 11.x,
//! 12.4.0), each started by the test bed and seeded with the schema kit: log in each
//! way, what the server tells about itself (`GET /server/info`: version, heartbeat, auth
//! mode) and how the session adapts, the chat with its history, create, update and
//! delete events, a forbidden subscribe (alone under 1 s) and a forbidden read (failing
//! at once, whatever the version says), a collection that does not exist, the same with
//! the REST API unreachable (the session goes by behaviour), token expiry and renewal,
//! a strict server whose upgrade needs a fresh token after a reconnect, and a reconnect
//! after the server was killed, with a message posted while the client was away that
//! its resubscribe delivers once.
//!
//! What differs between the releases is in docs/server-versions.md: before 12.4 a
//! failed request is answered without its uid (the session then sends one at a time),
//! and codes for missing collections differ (`ErrorKind::Forbidden` for both).

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use directus_chat::{
    AuthCredentials, AuthMode, Client, ClientOptions, ConnectionState, ErrorKind, Event, Events, ItemsRequest, ReconnectPolicy,
    ServerHeartbeat, SubscribeRequest, Subscription, SubscriptionKind,
};
use serde_json::{json, Value};
use support::directus::{Directus, ServerOptions};

const WAIT: Duration = Duration::from_secs(20);
/// The heartbeat period the matrix's servers run with (not Directus' default of 30 s, so
/// that reading it is proven).
const HEARTBEAT_SECS: u64 = 20;

/// The library's records about the server (its version, the uid question, the REST
/// read), from every test of this binary: each looks for its own version's.
fn server_records() -> &'static Mutex<Vec<String>> {
    static RECORDS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    RECORDS.get_or_init(|| {
        directus_chat::log_hub::set_sink(
            "version-matrix",
            log::LevelFilter::Debug,
            Some(Arc::new(|_, _, message| {
                if std::env::var("DCHAT_TEST_LOG").is_ok() {
                    eprintln!("LOG {message}");
                }
                if message.starts_with("server: ") || message.contains("server's info") || message.starts_with("the uid probe") {
                    records().push(message.to_owned());
                }
            })),
        )
        .expect("the log hub is this process's logger");
        Mutex::new(Vec::new())
    })
}

/// The records so far (a test that failed while holding them poisons nothing).
fn records() -> std::sync::MutexGuard<'static, Vec<String>> {
    server_records().lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits (up to 5 s: the session takes the info as a command, after the read ended) for
/// a record about the server that contains every one of `parts`.
async fn recorded(parts: &[&str]) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if records().iter().any(|r| parts.iter().all(|p| r.contains(p))) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether this release answers every failed request with its uid.
fn echoes_uids(version: &str) -> bool {
    version.starts_with("12.")
}

/// The next state event `state`, failing after `WAIT` or on `Closed`.
async fn next_state(events: &mut Events, want: ConnectionState) -> Event {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ev = tokio::time::timeout_at(deadline, events.next()).await.expect("state in time").expect("stream open");
        match &ev {
            Event::State { state, .. } if *state == want => return ev,
            Event::State { state: ConnectionState::Closed, reason, .. } => panic!("closed: {reason:?}"),
            _ => {}
        }
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The next event of `sub` matching `want`, failing after `WAIT`.
async fn next_where(events: &mut Events, sub: &Subscription, want: impl Fn(SubscriptionKind, &Value) -> bool) -> (SubscriptionKind, Value) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ev = tokio::time::timeout_at(deadline, events.next()).await.expect("event in time").expect("stream open");
        match ev {
            Event::Subscription { uid, kind, data } if uid == sub.uid() && want(kind, &data) => return (kind, data.into_value()),
            Event::State { state: ConnectionState::Closed, reason, .. } => panic!("closed: {reason:?}"),
            _ => {}
        }
    }
}

fn mentions(data: &Value, text: &str) -> bool {
    data.to_string().contains(text)
}

async fn connect(server: &Directus, options: ClientOptions) -> (Client, Events) {
    Client::connect(&server.ws_url(), options).await.expect("connect")
}

/// Logins each way, discovery, the chat flow, refusals, the fallback without REST, a
/// reconnect with a gap: everything that needs one server with default settings (but
/// the heartbeat period).
async fn matrix(version: &'static str) {
    server_records();
    let env = vec![("WEBSOCKETS_HEARTBEAT_PERIOD".to_owned(), HEARTBEAT_SECS.to_string())];
    let server = Directus::start(ServerOptions { version: Some(version), env, ..Default::default() });
    assert_eq!(server.version(), version, "the test bed runs the release asked for");
    let (kevin, ada) = (server.user1(), server.user2());
    let tag = format!("{version} {}", std::process::id());

    // Log in each way: password, static token, a JWT and a refresh token from REST.
    let (access, refresh) = server.rest_login(&kevin);
    for credentials in [
        AuthCredentials::Password { email: kevin.email.clone(), password: kevin.password.clone().into() },
        AuthCredentials::AccessToken(kevin.token.clone().into()),
        AuthCredentials::AccessToken(access.into()),
        AuthCredentials::RefreshToken(refresh.into()),
    ] {
        let (client, _events) = connect(&server, ClientOptions::default()).await;
        client.authenticate(credentials).await.unwrap_or_else(|e| panic!("{version}: login failed: {e}"));
        client.close().await.unwrap();
    }

    // History: Ada's message is in the init; then create, update and delete events.
    let history = format!("history {tag}");
    server.rest_as(Some(&ada.token), "POST", "/items/messages", Some(&json!({ "text": history }).to_string()));
    let (client, mut events) = connect(&server, ClientOptions::default()).await;
    let started = Instant::now();
    client.login(&kevin.email, &kevin.password).await.unwrap();

    // What the server tells about itself, read over REST beside the session, and what
    // the session made of it.
    let info = client.known_server_info().await.unwrap_or_else(|| panic!("{version}: /server/info was not read"));
    eprintln!("{version}: login and /server/info read in {:?}", started.elapsed());
    assert_eq!(info.version, version);
    assert_eq!(info.release.map(|r| r.to_string()).as_deref(), Some(version));
    assert_eq!(info.heartbeat, Some(ServerHeartbeat::Every(Duration::from_secs(HEARTBEAT_SECS))), "{version}");
    assert_eq!(info.auth_mode, Some(AuthMode::Handshake), "{version}");
    assert_eq!(info.echoes_error_uids(), Some(echoes_uids(version)), "{version}");
    let decision = if echoes_uids(version) { "requests are pipelined" } else { "requests go one at a time" };
    let found = recorded(&[&format!("Directus {version},"), decision]).await;
    assert!(found, "{version}: {:?}", records().clone());
    assert_eq!(client.server_info(), Some(info));

    let sub = client.subscribe(client.chat_subscription()).await.unwrap();
    let (_, init) = next_where(&mut events, &sub, |k, _| k == SubscriptionKind::Init).await;
    assert!(mentions(&init, &history), "{version}: the history has Ada's message: {init}");
    let text = format!("created {tag}");
    let sent = client.send_message(&text).await.unwrap();
    next_where(&mut events, &sub, |k, d| k == SubscriptionKind::Create && mentions(d, &text)).await;
    let edited = format!("edited {tag}");
    client.update(server.collection(), sent.id.clone(), json!({ "text": edited })).await.unwrap();
    next_where(&mut events, &sub, |k, d| k == SubscriptionKind::Update && mentions(d, &edited)).await;
    client.delete(server.collection(), sent.id.clone()).await.unwrap();
    let (_, gone) = next_where(&mut events, &sub, |k, _| k == SubscriptionKind::Delete).await;
    assert!(mentions(&gone, &sent.id), "{version}: the delete names the key: {gone}");

    // Refusals fail at once, as the same kind of error on every version, and the
    // session goes on. A forbidden subscribe alone: well under a second.
    let started = Instant::now();
    let err = client.subscribe(SubscribeRequest::new(server.forbidden_collection())).await.unwrap_err();
    assert_eq!((err.kind(), err.code()), (ErrorKind::Forbidden, "FORBIDDEN"), "{version}: {err:?}");
    let took = started.elapsed();
    eprintln!("{version}: a forbidden subscribe failed in {took:?}");
    assert!(took < Duration::from_secs(1), "{version}: a forbidden subscribe took {took:?}");
    let err = client.read(server.forbidden_collection(), json!({"limit": 1})).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden, "{version}: {err:?}");
    let err = client.request(ItemsRequest::read("no_such_collection")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden, "{version}: a missing collection: {err:?}");
    let err = client.subscribe(SubscribeRequest::new("no_such_collection")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden, "{version}: subscribing to a missing collection: {err:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "{version}: four refusals took {:?}", started.elapsed());
    let other = format!("after the refusals {tag}");
    client.send_message(&other).await.unwrap();
    next_where(&mut events, &sub, |k, d| k == SubscriptionKind::Create && mentions(d, &other)).await;

    no_rest(&server, version).await;

    // A reconnect with a gap: the server is killed; while the watcher is away (its next
    // attempt 10 minutes off), the server comes back and Ada posts. Only then does the
    // watcher reconnect: its subscription did not exist on the server when the message
    // was made, so it can only come from the resubscribe's init, which the session turns
    // into exactly what was missed.
    let query = json!({"fields": ["*"], "limit": -1});
    let away =
        ReconnectPolicy { first_delay: Duration::from_secs(600), max_delay: Duration::from_secs(600), jitter: 0.0, ..Default::default() };
    let (watcher, mut watch) = connect(&server, ClientOptions { reconnect: away, ..Default::default() }).await;
    watcher.login_with_token(&kevin.token).await.unwrap();
    let wsub = watcher.subscribe(SubscribeRequest::new(server.collection()).query(query)).await.unwrap();
    let (_, before) = next_where(&mut watch, &wsub, |k, _| k == SubscriptionKind::Init).await;
    let mut seen: BTreeMap<String, String> =
        before.as_array().unwrap().iter().map(|i| (i["id"].to_string(), i["text"].as_str().unwrap_or("").to_owned())).collect();
    server.kill();
    match next_state(&mut watch, ConnectionState::Disconnected).await {
        Event::State { retry_in: Some(wait), .. } => assert!(wait >= Duration::from_secs(599), "{version}: {wait:?}"),
        other => panic!("{version}: {other:?}"),
    }
    server.restart();
    let missed = format!("missed while away {tag}");
    server.rest_as(Some(&ada.token), "POST", "/items/messages", Some(&json!({ "text": missed }).to_string()));
    assert_eq!(watcher.state(), ConnectionState::Disconnected, "{version}: the watcher is still away");
    watcher.reconnect_now();
    next_state(&mut watch, ConnectionState::Authenticated).await;
    // The first event of the subscription after the re-login is the missed message, as a
    // create (the new init itself is not delivered: it is the history already shown).
    let deadline = tokio::time::Instant::now() + WAIT;
    let (kind, data) = loop {
        match tokio::time::timeout_at(deadline, watch.next()).await.expect("the missed message in time").expect("open") {
            Event::Subscription { uid, kind, data } if uid == wsub.uid() => break (kind, data),
            Event::State { state, reason, .. } if state != ConnectionState::Authenticated => panic!("{version}: {state:?} {reason:?}"),
            _ => {}
        }
    };
    assert_eq!(kind, SubscriptionKind::Create, "{version}: the missed message arrives as a create: {data}");
    assert!(mentions(&data, &missed), "{version}: the first event after the resubscribe is the missed message: {data}");
    for item in data.as_array().unwrap() {
        assert!(seen.insert(item["id"].to_string(), item["text"].as_str().unwrap_or("").to_owned()).is_none(), "{version}: shown twice");
    }
    // Exactly once: nothing more of it until a message posted now arrives live.
    let after = format!("after the gap {tag}");
    server.rest_as(Some(&ada.token), "POST", "/items/messages", Some(&json!({ "text": after }).to_string()));
    let (kind, data) = next_where(&mut watch, &wsub, |_, d| mentions(d, &after) || mentions(d, &missed)).await;
    assert!(kind == SubscriptionKind::Create && mentions(&data, &after) && !mentions(&data, &missed), "{version}: {kind:?} {data}");
    watcher.close().await.unwrap();
    client.close().await.unwrap();
}

/// The REST API unreachable (`rest_url` on a closed port): no info, and the session goes
/// by behaviour as before discovery existed: the chat works, and errors without uid
/// (10.x, 11.x) still find their request, even with a subscribe that succeeds beside it.
async fn no_rest(server: &Directus, version: &str) {
    let kevin = server.user1();
    let rest_url = Some(format!("http://127.0.0.1:{}/", closed_port()));
    let (client, mut events) = connect(server, ClientOptions { rest_url, ..Default::default() }).await;
    client.login(&kevin.email, &kevin.password).await.unwrap();
    assert_eq!(client.known_server_info().await, None, "{version}: nothing read without REST");
    assert!(recorded(&["cannot read the server's info"]).await, "{version}: a debug record says why");
    let started = Instant::now();
    let (refused, chat) =
        tokio::join!(client.subscribe(SubscribeRequest::new(server.forbidden_collection())), client.subscribe(client.chat_subscription()));
    let err = refused.unwrap_err();
    assert_eq!((err.kind(), err.code()), (ErrorKind::Forbidden, "FORBIDDEN"), "{version} without REST: {err:?}");
    let sub = chat.unwrap_or_else(|e| panic!("{version} without REST: the chat subscribe beside a refused one: {e}"));
    assert!(started.elapsed() < Duration::from_secs(1), "{version} without REST: took {:?}", started.elapsed());
    let text = format!("without REST {version} {}", std::process::id());
    client.send_message(&text).await.unwrap();
    next_where(&mut events, &sub, |k, d| k == SubscriptionKind::Create && mentions(d, &text)).await;
    client.close().await.unwrap();
}

/// Token expiry: a 4 s access token, renewed by the session; every message of the
/// minute arrives.
async fn expiry(version: &'static str) {
    let env = vec![("ACCESS_TOKEN_TTL".to_owned(), "4s".to_owned())];
    let server = Directus::start(ServerOptions { version: Some(version), env, ..Default::default() });
    let kevin = server.user1();
    let (client, mut events) = connect(&server, ClientOptions::default()).await;
    client.login(&kevin.email, &kevin.password).await.unwrap();
    let query = json!({"fields": ["*"], "limit": -1});
    let sub = client.subscribe(SubscribeRequest::new(server.collection()).query(query)).await.unwrap();
    let tag = format!("expiry {version} {}", std::process::id());
    let (mut renewals, mut received) = (0, 0);
    for round in 0..12 {
        let text = format!("{tag} {round}");
        client.send_message(&text).await.unwrap_or_else(|e| panic!("{version}: send {round}: {e}"));
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, events.next()).await.expect("event in time").expect("open") {
                Event::State { state: ConnectionState::Authenticated, .. } => renewals += 1,
                Event::Subscription { uid, kind: SubscriptionKind::Create, data } if uid == sub.uid() && mentions(&data, &text) => {
                    received += 1;
                    break;
                }
                Event::State { state: ConnectionState::Closed, reason, .. } => panic!("{version}: closed: {reason:?}"),
                _ => {}
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(received, 12, "{version}");
    assert!(renewals >= 2, "{version}: the 4 s token was renewed only {renewals} times in 12 s");
    client.close().await.unwrap();
}

/// A strict server (`WEBSOCKETS_REST_AUTH=strict`): every upgrade needs a token. The
/// first connection carries a short-lived one on its URL (a REST login's, 5 s); once it
/// has expired the server is killed and restarted, and the reconnect must carry a
/// current token of the user (the REST side's, fetched after the connection was lost).
async fn strict(version: &'static str) {
    server_records();
    let env = vec![("WEBSOCKETS_REST_AUTH".to_owned(), "strict".to_owned()), ("ACCESS_TOKEN_TTL".to_owned(), "5s".to_owned())];
    let server = Directus::start(ServerOptions { version: Some(version), env, ..Default::default() });
    let kevin = server.user1();
    let once = || ClientOptions { reconnect: ReconnectPolicy::never(), ..Default::default() };
    assert!(Client::connect(&server.ws_url(), once()).await.is_err(), "{version}: an upgrade without a token is refused");
    let (access, _) = server.rest_login(&kevin);
    let url = format!("{}?access_token={access}", server.ws_url());
    let (client, mut events) = Client::connect(&url, ClientOptions::default()).await.expect("connect with a token on the URL");
    client.login(&kevin.email, &kevin.password).await.unwrap();
    let info = client.known_server_info().await.unwrap_or_else(|| panic!("{version}: /server/info was not read"));
    assert_eq!(info.auth_mode, Some(AuthMode::Strict), "{version}");
    let sub = client.subscribe(client.chat_subscription()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(Client::connect(&url, once()).await.is_err(), "{version}: the URL's token has expired");
    server.kill();
    next_state(&mut events, ConnectionState::Disconnected).await;
    server.restart();
    let started = Instant::now();
    next_state(&mut events, ConnectionState::Authenticated).await;
    eprintln!("{version}: strict server back; re-authenticated {:?} after its restart", started.elapsed());
    let text = format!("strict {version} {}", std::process::id());
    client.send_message(&text).await.unwrap();
    next_where(&mut events, &sub, |k, d| k == SubscriptionKind::Create && mentions(d, &text)).await;
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn strict_mode_on_10_13_4() {
    strict("10.13.4").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn strict_mode_on_11_17_4() {
    strict("11.17.4").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn strict_mode_on_12_4_0() {
    strict("12.4.0").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn directus_10_13_4() {
    matrix("10.13.4").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn directus_11_17_4() {
    matrix("11.17.4").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn directus_12_4_0() {
    matrix("12.4.0").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn token_expiry_on_10_13_4() {
    expiry("10.13.4").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn token_expiry_on_11_17_4() {
    expiry("11.17.4").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn token_expiry_on_12_4_0() {
    expiry("12.4.0").await;
}
