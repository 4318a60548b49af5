//! The test bed starts each supported Directus release (ServerOptions::version), seeded
//! with the schema kit, and the chat basics work on it: login, the chat subscription, a
//! message and its create event. The forbidden subscribe of issue 15 is here too, ignored
//! until the client matches the uid-less errors of servers before 12.4.0.

mod support;

use std::time::Duration;

use directus_chat::{Client, ClientOptions, ConnectionState, Event, SubscribeRequest, SubscriptionKind};
use std::time::Instant;
use support::directus::{Directus, ServerOptions};

async fn chat_on(version: &'static str) {
    let server = Directus::start(ServerOptions { version: Some(version), ..Default::default() });
    assert_eq!(server.version(), version, "the test bed runs the release asked for");
    let user = server.user1();
    assert_eq!(user.id.len(), 36, "user ids are uuids: {}", user.id);

    let (client, mut events) = Client::connect(&server.ws_url(), ClientOptions::default()).await.expect("connect");
    client.login(&user.email, &user.password).await.expect("password login");
    let sub = client.subscribe(client.chat_subscription()).await.expect("chat subscription");
    let text = format!("hello from {version} ({})", std::process::id());
    let stored = client.send_message(&text).await.expect("send");
    assert_eq!(stored.text, text);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let ev = tokio::time::timeout_at(deadline, events.next()).await.expect("create event within 15 s").expect("stream open");
        match ev {
            Event::Subscription { uid, kind: SubscriptionKind::Create, data } if uid == sub.uid() => {
                let msgs = client.chat().messages(&data);
                if msgs.iter().any(|m| m.text == text && m.author.as_deref() == Some(user.name.as_str())) {
                    break;
                }
            }
            Event::State { state: ConnectionState::Disconnected | ConnectionState::Closed, reason, .. } => {
                panic!("connection ended: {reason:?}")
            }
            _ => {}
        }
    }

    client.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn directus_10_13_4() {
    chat_on("10.13.4").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn directus_11_17_4() {
    chat_on("11.17.4").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn directus_12_4_0() {
    chat_on("12.4.0").await;
}

/// Issue 15: a subscribe to a collection the user may not read fails at once as
/// FORBIDDEN on every version. Servers before 12.4.0 send that error without the
/// request's uid (docs/server-versions.md, section 1).
async fn forbidden_subscribe_on(version: &'static str) {
    let server = Directus::start(ServerOptions { version: Some(version), ..Default::default() });
    let (client, _events) = Client::connect(&server.ws_url(), ClientOptions::default()).await.expect("connect");
    client.login_with_token(&server.user1().token).await.expect("token login");
    let started = Instant::now();
    let outcome =
        tokio::time::timeout(Duration::from_secs(20), client.subscribe(SubscribeRequest::new(server.forbidden_collection()))).await;
    let err = outcome.expect("no answer within 20 s").expect_err("a forbidden subscribe fails");
    assert_eq!(err.code(), "FORBIDDEN", "{version}: {err:?}");
    assert!(started.elapsed() < Duration::from_secs(1), "{version}: took {:?}", started.elapsed());
    // The session lives on.
    client.read(server.collection(), serde_json::json!({"limit": 1})).await.expect("read after FORBIDDEN");
}

#[tokio::test(flavor = "multi_thread")]
async fn forbidden_subscribe_fails_fast_on_10_13_4() {
    forbidden_subscribe_on("10.13.4").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn forbidden_subscribe_fails_fast_on_11_17_4() {
    forbidden_subscribe_on("11.17.4").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn forbidden_subscribe_fails_fast_on_12_4_0() {
    forbidden_subscribe_on("12.4.0").await;
}
