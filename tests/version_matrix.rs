//! The same client against every Directus release we support (10.13.4, the newest 11.x,
//! 12.4.0), each started by the test bed and seeded with the schema kit: log in each
//! way, the chat with its history, create, update and delete events, a forbidden
//! subscribe and a forbidden read (failing at once, whatever the version says), a
//! collection that does not exist, token expiry and renewal, and a reconnect after the
//! server was killed whose resubscribe delivers what was missed, once.
//!
//! What differs between the releases is in docs/server-versions.md: before 12.4 a
//! failed request is answered without its uid (the session then sends one at a time),
//! and codes for missing collections differ (`ErrorKind::Forbidden` for both).

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use directus_chat::{
    AuthCredentials, Client, ClientOptions, ConnectionState, ErrorKind, Event, Events, ItemsRequest, ReconnectPolicy, SubscribeRequest,
    Subscription, SubscriptionKind,
};
use serde_json::{json, Value};
use support::directus::{Directus, ServerOptions};

const WAIT: Duration = Duration::from_secs(20);

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

/// Logins each way, the chat flow, refusals: everything that needs one default server.
async fn matrix(version: &'static str) {
    let server = Directus::start(ServerOptions { version: Some(version), ..Default::default() });
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
    client.login(&kevin.email, &kevin.password).await.unwrap();
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
    // session goes on.
    let started = Instant::now();
    let err = client.subscribe(SubscribeRequest::new(server.forbidden_collection())).await.unwrap_err();
    assert_eq!((err.kind(), err.code()), (ErrorKind::Forbidden, "FORBIDDEN"), "{version}: {err:?}");
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

    // The server is killed; while it is down and restarting, Ada posts. Back, the
    // session resubscribes and the new init delivers exactly what was missed.
    let query = json!({"fields": ["*"], "limit": -1});
    let (watcher, mut watch) = connect(
        &server,
        ClientOptions { reconnect: ReconnectPolicy { first_delay: Duration::from_secs(3), ..Default::default() }, ..Default::default() },
    )
    .await;
    watcher.login_with_token(&kevin.token).await.unwrap();
    let wsub = watcher.subscribe(SubscribeRequest::new(server.collection()).query(query)).await.unwrap();
    let (_, before) = next_where(&mut watch, &wsub, |k, _| k == SubscriptionKind::Init).await;
    let mut seen: BTreeMap<String, String> =
        before.as_array().unwrap().iter().map(|i| (i["id"].to_string(), i["text"].as_str().unwrap_or("").to_owned())).collect();
    server.kill();
    server.restart();
    let missed = format!("missed while away {tag}");
    server.rest_as(Some(&ada.token), "POST", "/items/messages", Some(&json!({ "text": missed }).to_string()));
    let (kind, data) = next_where(&mut watch, &wsub, |_, d| mentions(d, &missed)).await;
    assert_eq!(kind, SubscriptionKind::Create, "{version}: the missed message arrives as a create");
    for item in data.as_array().unwrap() {
        assert!(seen.insert(item["id"].to_string(), item["text"].as_str().unwrap_or("").to_owned()).is_none(), "{version}: shown twice");
    }
    assert!(seen.values().any(|t| *t == missed));
    watcher.close().await.unwrap();
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
