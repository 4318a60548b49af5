//! The chat scenario of the Directus guides, against a real Directus server that the
//! test bed installs and starts (scripts/directus.sh).

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use directus_chat::{
    Client, ClientOptions, ConnectionState, Error, Event, EventFilter, Events, ItemsRequest, SubscribeRequest, Subscription,
    SubscriptionKind,
};
use serde_json::{json, Value};
use support::directus::Directus;

const WAIT: Duration = Duration::from_secs(15);

async fn connect(server: &Directus) -> (Client, Events) {
    Client::connect(&server.ws_url(), ClientOptions::default()).await.expect("connect")
}

/// The next event of `sub` (skipping other events), failing after `WAIT`.
async fn next_of(events: &mut Events, sub: &Subscription) -> (SubscriptionKind, Value) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ev = tokio::time::timeout_at(deadline, events.next())
            .await
            .unwrap_or_else(|_| panic!("no event for {} within {WAIT:?}", sub.uid()))
            .expect("event stream ended");
        match ev {
            Event::Subscription { uid, kind, data } if uid == sub.uid() => return (kind, data.into_value()),
            Event::State { state: ConnectionState::Disconnected | ConnectionState::Closed, reason, .. } => {
                panic!("connection ended: {reason:?}")
            }
            _ => {}
        }
    }
}

/// The next event of `sub` whose items mention `marker` in their text (other tests
/// share the server and its `messages` table).
async fn next_with(events: &mut Events, sub: &Subscription, marker: &str) -> (SubscriptionKind, Value) {
    loop {
        let (kind, data) = next_of(events, sub).await;
        if data.to_string().contains(marker) {
            return (kind, data);
        }
    }
}

fn unique(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

#[tokio::test(flavor = "multi_thread")]
async fn two_users_chat_with_history_updates_deletes_and_unsubscribe() {
    let server = Directus::shared();
    let (kevin_u, ada_u) = (server.user1(), server.user2());
    let (kevin, mut kevin_events) = connect(server).await;
    kevin.login(&kevin_u.email, &kevin_u.password).await.expect("password login");
    let (ada, mut ada_events) = connect(server).await;
    ada.login_with_token(&ada_u.token).await.expect("static token login");

    // History: three messages before anyone subscribes.
    let marker = unique("history");
    let mut sent = Vec::new();
    for i in 1..=3 {
        let m = kevin.send_message(&format!("{marker} #{i}")).await.expect("send");
        assert_eq!(m.text, format!("{marker} #{i}"));
        sent.push(m);
    }

    // Both with the seed guides' query.
    let seed_query =
        || SubscribeRequest::new(server.collection()).query(json!({"fields": ["*", "user_created.first_name"], "sort": "date_created"}));
    let kevin_sub = kevin.subscribe(seed_query()).await.expect("kevin subscribes");
    let ada_sub = ada.subscribe(seed_query()).await.expect("ada subscribes");

    for (events, sub) in [(&mut kevin_events, &kevin_sub), (&mut ada_events, &ada_sub)] {
        let (kind, data) = next_of(events, sub).await;
        assert_eq!(kind, SubscriptionKind::Init);
        let history: Vec<_> = kevin.chat().messages(&data).into_iter().filter(|m| m.text.starts_with(&marker)).collect();
        let texts: Vec<_> = history.iter().map(|m| m.text.clone()).collect();
        assert_eq!(texts, vec![format!("{marker} #1"), format!("{marker} #2"), format!("{marker} #3")], "history in order");
        assert!(history.iter().all(|m| m.author.as_deref() == Some(kevin_u.name.as_str())), "{history:?}");
        assert!(history.iter().all(|m| m.date.is_some()));
    }

    // A new message reaches both as a create event with its author's first name.
    let hello = unique("hello from Ada");
    let stored = ada.send_message(&hello).await.expect("ada sends");
    for (events, sub) in [(&mut kevin_events, &kevin_sub), (&mut ada_events, &ada_sub)] {
        let (kind, data) = next_with(events, sub, &hello).await;
        assert_eq!(kind, SubscriptionKind::Create);
        let msgs = kevin.chat().messages(&data);
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].text, hello);
        assert_eq!(msgs[0].id, stored.id);
        assert_eq!(msgs[0].author.as_deref(), Some(ada_u.name.as_str()));
    }

    // Update and delete events.
    let edited = format!("{marker} #1 (edited)");
    let collection = server.collection().to_owned();
    let id: i64 = sent[0].id.parse().unwrap();
    kevin.update(&collection, id, json!({ "text": edited })).await.expect("update");
    for (events, sub) in [(&mut kevin_events, &kevin_sub), (&mut ada_events, &ada_sub)] {
        let (kind, data) = next_with(events, sub, &edited).await;
        assert_eq!(kind, SubscriptionKind::Update);
        assert_eq!(kevin.chat().messages(&data)[0].id, sent[0].id);
    }
    let gone: i64 = sent[1].id.parse().unwrap();
    kevin.delete(&collection, gone).await.expect("delete");
    for (events, sub) in [(&mut kevin_events, &kevin_sub), (&mut ada_events, &ada_sub)] {
        loop {
            let (kind, data) = next_with(events, sub, "").await;
            if kind == SubscriptionKind::Delete && data.to_string().contains(&sent[1].id) {
                break;
            }
        }
    }

    // After unsubscribe, Ada gets nothing while Kevin still sees new messages.
    ada.unsubscribe(&ada_sub).await.expect("unsubscribe");
    let after = unique("after unsubscribe");
    kevin.send_message(&after).await.expect("send after unsubscribe");
    let (kind, _) = next_with(&mut kevin_events, &kevin_sub, &after).await;
    assert_eq!(kind, SubscriptionKind::Create);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    while let Some(ev) = ada_events.try_next() {
        assert!(!matches!(ev, Event::Subscription { .. }), "event after unsubscribe: {ev:?}");
    }

    // Closing ends each stream with the Closed state.
    for (client, mut events) in [(kevin, kevin_events), (ada, ada_events)] {
        client.close().await.expect("close");
        let mut last = None;
        while let Some(ev) = tokio::time::timeout(WAIT, events.next()).await.expect("stream ends") {
            last = Some(ev);
        }
        assert!(last.is_some_and(|e| e.is_closed()));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_surfaces_auth_failed() {
    let server = Directus::shared();
    let (client, mut events) = connect(server).await;
    let err = client.login(&server.user1().email, "not-the-password").await.unwrap_err();
    assert_eq!(err.code(), "AUTH_FAILED", "{err:?}");
    assert!(err.is_auth());
    assert!(!format!("{err:?} {err}").contains("not-the-password"));
    // The server closes after a failed handshake; the stream says so and ends.
    let mut states = Vec::new();
    while let Some(ev) = tokio::time::timeout(WAIT, events.next()).await.expect("stream ends") {
        if let Event::State { state, .. } = ev {
            states.push(state);
        }
    }
    assert_eq!(states.last(), Some(&ConnectionState::Closed), "{states:?}");
    assert!(matches!(client.read("messages", json!({})).await, Err(Error::Closed)));
}

#[tokio::test(flavor = "multi_thread")]
async fn events_already_queued_are_not_delivered_after_unsubscribe() {
    let server = Directus::shared();
    let (kevin, mut kevin_events) = connect(server).await;
    kevin.login_with_token(&server.user1().token).await.unwrap();
    let (ada, mut ada_events) = connect(server).await;
    ada.login_with_token(&server.user2().token).await.unwrap();
    let ada_sub = ada.subscribe(ada.chat_subscription()).await.unwrap();
    let kevin_sub = kevin.subscribe(kevin.chat_subscription()).await.unwrap();
    // Ada reads nothing while Kevin's messages reach her queue.
    let tag = unique("queued before unsubscribe");
    for i in 0..5 {
        kevin.send_message(&format!("{tag} {i}")).await.unwrap();
    }
    next_with(&mut kevin_events, &kevin_sub, &format!("{tag} 4")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    ada.unsubscribe(&ada_sub).await.unwrap();
    let mut other = 0;
    while let Some(ev) = ada_events.try_next() {
        assert!(!matches!(&ev, Event::Subscription { uid, .. } if uid == ada_sub.uid()), "delivered after unsubscribe: {ev:?}");
        other += 1;
    }
    // The other events (state changes) still came through.
    assert!(other > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn forbidden_collection_fails_only_that_request() {
    let server = Directus::shared();
    let (client, mut events) = connect(server).await;
    client.login_with_token(&server.user1().token).await.unwrap();
    let err = client.read(server.forbidden_collection(), json!({})).await.unwrap_err();
    assert_eq!(err.code(), "FORBIDDEN", "{err:?}");
    let err = client.subscribe(SubscribeRequest::new(server.forbidden_collection())).await.unwrap_err();
    assert_eq!(err.code(), "FORBIDDEN", "{err:?}");
    // The session lives on.
    let items = client.read(server.collection(), json!({"limit": 1})).await.expect("read after FORBIDDEN");
    assert!(items.is_array());
    let sub = client.subscribe(SubscribeRequest::new(server.collection()).event(EventFilter::Create)).await.unwrap();
    let (kind, data) = next_of(&mut events, &sub).await;
    assert_eq!((kind, data), (SubscriptionKind::Init, Value::Null), "filtered init has no data");
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn generic_item_actions_round_trip() {
    let server = Directus::shared();
    let (client, _events) = connect(server).await;
    client.login(&server.user2().email, &server.user2().password).await.unwrap();
    let c = server.collection();
    let text = unique("crud");
    let created = client.create(c, json!({"text": text})).await.unwrap();
    let id = created["id"].clone();
    let read = client.request(ItemsRequest::read(c).id(id.clone())).await.unwrap();
    assert_eq!(read["text"], text);
    let updated = client.update(c, id.clone(), json!({"text": format!("{text}!")})).await.unwrap();
    assert_eq!(updated["text"], format!("{text}!"));
    let filtered = client.read(c, json!({"filter": {"text": {"_eq": format!("{text}!")}}})).await.unwrap();
    assert_eq!(filtered.as_array().map(Vec::len), Some(1));
    client.delete(c, id.clone()).await.unwrap();
    let after = client.read(c, json!({"filter": {"id": {"_eq": id}}})).await.unwrap();
    assert_eq!(after, json!([]));
    // Bad input from the user is an error for that request, the session lives on.
    let err = client.request(ItemsRequest::delete(c)).await.unwrap_err();
    assert_eq!(err.code(), "INVALID_PAYLOAD", "{err:?}");
    assert!(client.read(c, json!({"limit": 1})).await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn heartbeat_keeps_an_idle_session_alive() {
    let server = Directus::start(support::directus::ServerOptions {
        env: vec![("WEBSOCKETS_HEARTBEAT_PERIOD".into(), "2".into())],
        ..Default::default()
    });
    // Control: a raw client that never answers pings is dropped by this server.
    let raw = tokio::spawn(raw_client_without_pongs(server.ws_url(), server.user1().token));

    let (client, mut events) = connect(&server).await;
    client.login_with_token(&server.user1().token).await.unwrap();
    let sub = client.subscribe(client.chat_subscription()).await.unwrap();
    let _ = next_of(&mut events, &sub).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    while let Some(ev) = events.try_next() {
        assert!(!matches!(ev, Event::State { state: ConnectionState::Disconnected | ConnectionState::Closed, .. }), "{ev:?}");
    }
    let text = unique("still alive");
    client.send_message(&text).await.expect("send after 10 s idle");
    let (kind, _) = next_with(&mut events, &sub, &text).await;
    assert_eq!(kind, SubscriptionKind::Create);
    assert!(raw.await.unwrap(), "the server kept a client that never answered its pings: heartbeat not active?");
}

/// Authenticates, then only reads; true if the server closed the socket within 12 s.
async fn raw_client_without_pongs(url: String, token: String) -> bool {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str()).await.unwrap();
    ws.send(Message::Text(json!({"type":"auth","access_token": token}).to_string().into())).await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(12), async {
        while let Some(Ok(msg)) = ws.next().await {
            if msg.is_close() {
                break;
            }
        }
    })
    .await;
    closed.is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_content_text_field_as_in_the_other_seed_guide() {
    let server = Directus::start(support::directus::ServerOptions { text_field: "content".into(), ..Default::default() });
    let mut options = ClientOptions::default();
    options.chat.text_field = "content".into();
    let (client, mut events) = Client::connect(&server.ws_url(), options).await.unwrap();
    client.login_with_token(&server.user1().token).await.unwrap();
    let sub = client.subscribe(client.chat_subscription()).await.unwrap();
    let _ = next_of(&mut events, &sub).await;
    let text = unique("content field");
    let stored = client.send_message(&text).await.unwrap();
    assert_eq!(stored.raw["content"], text);
    let (kind, data) = next_with(&mut events, &sub, &text).await;
    assert_eq!(kind, SubscriptionKind::Create);
    assert_eq!(client.chat().messages(&data)[0].text, text);
    assert_eq!(client.chat().messages(&data)[0].author.as_deref(), Some(server.user1().name.as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_token_login_and_expiring_access_tokens() {
    let server =
        Directus::start(support::directus::ServerOptions { env: vec![("ACCESS_TOKEN_TTL".into(), "4s".into())], ..Default::default() });
    // A refresh token from a REST login works over the socket.
    let user = server.user1();
    let body = format!(r#"{{"email":"{}","password":"{}"}}"#, user.email, user.password);
    let login: Value = serde_json::from_str(&server.rest("POST", "/auth/login", Some(&body))).unwrap();
    let refresh = login["data"]["refresh_token"].as_str().expect("refresh token").to_owned();
    let (by_refresh, _ev) = connect(&server).await;
    by_refresh.login_with_refresh_token(&refresh).await.expect("refresh-token login");
    assert!(by_refresh.read(server.collection(), json!({"limit": 1})).await.is_ok());

    // A password session outlives several access-token lifetimes: the client renews it
    // with the rotating refresh token when the server says TOKEN_EXPIRED.
    let (client, mut events) = connect(&server).await;
    client.login(&user.email, &user.password).await.unwrap();
    let sub = client.subscribe(client.chat_subscription()).await.unwrap();
    let _ = next_of(&mut events, &sub).await;
    let mut renewals = 0;
    for round in 0..3 {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let text = unique(&format!("after expiry {round}"));
        client.send_message(&text).await.unwrap_or_else(|e| panic!("send after token expiry {round}: {e}"));
        // Read everything up to our create event, counting renewals on the way. Renewals
        // alone keep the stream busy, so the wait for the create has its own deadline.
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let ev = tokio::time::timeout_at(deadline, events.next()).await.expect("own create event").expect("stream open");
            match ev {
                Event::State { state: ConnectionState::Authenticated, .. } => renewals += 1,
                Event::State { state, reason, .. } => panic!("unexpected state {state:?}: {reason:?}"),
                Event::Error { error } => panic!("error event: {error:?}"),
                Event::Subscription { kind: SubscriptionKind::Create, data, .. } if data.to_string().contains(&text) => break,
                _ => {}
            }
        }
    }
    assert!(renewals >= 2, "the server never expired the 4 s token? renewals: {renewals}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_two_minute_session_with_five_second_tokens_never_loses_auth_or_events() {
    let server =
        Directus::start(support::directus::ServerOptions { env: vec![("ACCESS_TOKEN_TTL".into(), "5s".into())], ..Default::default() });
    let user = server.user2();
    // The library's log says whether a renewal came before the server's expiry or after.
    let (expired, renewed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (e, r) = (expired.clone(), renewed.clone());
    directus_chat::log_hub::set_sink(
        "two-minute-test",
        log::LevelFilter::Info,
        Some(Arc::new(move |_, _, message| {
            if message.contains("access token expired") {
                e.fetch_add(1, Ordering::Relaxed);
            } else if message.contains("before the server expires it") {
                r.fetch_add(1, Ordering::Relaxed);
            }
        })),
    )
    .unwrap();
    let (client, mut events) = connect(&server).await;
    client.login(&user.email, &user.password).await.unwrap();
    let sub = client.subscribe(client.chat_subscription()).await.unwrap();
    let tag = unique("long session");
    let mut sent = 0usize;
    let mut received = 0usize;
    let mut renewals = 0usize;
    let end = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut next_send = tokio::time::Instant::now();
    // A lost event must fail the test, not keep it waiting for ever.
    let give_up = end + Duration::from_secs(30);
    while (tokio::time::Instant::now() < end || received < sent) && tokio::time::Instant::now() < give_up {
        if tokio::time::Instant::now() >= next_send && tokio::time::Instant::now() < end {
            client.send_message_nowait(&format!("{tag} {sent}")).unwrap();
            sent += 1;
            next_send += Duration::from_millis(500);
        }
        let ev = match tokio::time::timeout(Duration::from_millis(100), events.next()).await {
            Ok(ev) => ev.expect("stream open"),
            Err(_) => continue,
        };
        match ev {
            Event::State { state: ConnectionState::Authenticated, .. } => renewals += 1,
            Event::State { state: state @ (ConnectionState::Disconnected | ConnectionState::Closed), reason, .. } => {
                panic!("unexpected state {state:?}: {reason:?}")
            }
            Event::Error { error } => panic!("error event: {error:?}"),
            Event::Reply { result: Err(e), .. } => panic!("a send failed: {e:?}"),
            Event::Subscription { uid, kind: SubscriptionKind::Create, data } if uid == sub.uid() => {
                for m in client.chat().messages(&data) {
                    assert_eq!(m.text, format!("{tag} {received}"), "in order, none missing");
                    received += 1;
                }
            }
            _ => {}
        }
    }
    assert!(sent >= 200, "sent only {sent}");
    assert_eq!(received, sent);
    assert!(renewals >= 20, "only {renewals} renewals in 2 minutes of 5 s tokens");
    // After the first expiry taught the lifetime, renewals come before the server's
    // expiry. (The sink is process-wide: other token tests running now count too.)
    let (expired, renewed) = (expired.load(Ordering::Relaxed), renewed.load(Ordering::Relaxed));
    assert!(renewed >= 20 && expired <= 8, "{renewed} renewals ahead of expiry, {expired} expiries");
    eprintln!("2-minute session: {sent} sent, {received} received, {renewals} renewals ({renewed} ahead of expiry, {expired} expiries)");
}

#[tokio::test(flavor = "multi_thread")]
async fn joining_a_room_during_a_flood_misses_nothing_and_shows_nothing_twice() {
    let server = Directus::start(Default::default());
    let (flooder, _fe) = connect(&server).await;
    flooder.login_with_token(&server.user1().token).await.unwrap();
    let tag = unique("flood");
    let total = 1500;
    let sent: Vec<u64> = (0..total).map(|i| flooder.send_message_nowait(&format!("{tag} {i}")).unwrap()).collect();
    assert_eq!(sent.len(), total);
    // Join while the flood is being written.
    tokio::time::sleep(Duration::from_millis(150)).await;
    // The server answers the joiner only between flood writes; on a loaded 2-core machine
    // that took longer than the default 30 s request timeout (and once the 10 s connect
    // timeout). This test is about gaps, not latency, so the joiner waits longer.
    let patient =
        ClientOptions { request_timeout: Duration::from_secs(120), connect_timeout: Duration::from_secs(60), ..ClientOptions::default() };
    let (joiner, mut events) = Client::connect(&server.ws_url(), patient).await.expect("connect");
    joiner.login_with_token(&server.user2().token).await.unwrap();
    let query = json!({"fields": ["*"], "sort": "date_created", "limit": -1});
    let sub = joiner.subscribe(SubscribeRequest::new(server.collection()).query(query)).await.unwrap();
    let mut seen = std::collections::BTreeMap::new();
    let mut duplicates = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while seen.values().filter(|t: &&String| t.starts_with(&tag)).count() < total {
        let ev = tokio::time::timeout_at(deadline, events.next()).await.expect("the whole flood arrives").expect("open");
        if let Event::Subscription { uid, kind, data } = ev {
            if uid != sub.uid() {
                continue;
            }
            for item in data.as_array().cloned().unwrap_or_default() {
                let text = item["text"].as_str().unwrap_or_default().to_owned();
                let had = seen.insert(item["id"].to_string(), text);
                if had.is_some() && kind != SubscriptionKind::Update {
                    duplicates.push(item["id"].to_string());
                }
            }
        }
    }
    assert!(duplicates.is_empty(), "shown twice: {duplicates:?}");
    let table: Value = serde_json::from_str(&server.rest("GET", "/items/messages?limit=-1&fields=id,text", None)).unwrap();
    let table: std::collections::BTreeMap<String, String> =
        table["data"].as_array().unwrap().iter().map(|i| (i["id"].to_string(), i["text"].as_str().unwrap().to_owned())).collect();
    assert_eq!(seen, table, "the joiner's view equals the table");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_user_gets_a_clear_auth_error_not_a_silent_session() {
    let server =
        Directus::start(support::directus::ServerOptions { env: vec![("ACCESS_TOKEN_TTL".into(), "3s".into())], ..Default::default() });
    let user = server.user1();
    let (client, mut events) = connect(&server).await;
    client.login(&user.email, &user.password).await.unwrap();
    let users: Value =
        serde_json::from_str(&server.rest("GET", &format!("/users?filter[email][_eq]={}&fields=id", user.email), None)).unwrap();
    let id = users["data"][0]["id"].as_str().unwrap().to_owned();
    server.rest("PATCH", &format!("/users/{id}"), Some(r#"{"status":"suspended"}"#));
    // When the access token expires, neither the refresh token nor the password works.
    let mut auth_errors = Vec::new();
    let mut closed_reason = None;
    while closed_reason.is_none() {
        match tokio::time::timeout(Duration::from_secs(20), events.next()).await.expect("the session reacts").expect("open") {
            Event::Error { error } => auth_errors.push(error),
            Event::State { state: ConnectionState::Closed, reason, .. } => closed_reason = reason,
            _ => {}
        }
    }
    assert!(!auth_errors.is_empty(), "no auth error event before closing");
    assert!(closed_reason.as_deref().is_some_and(|r| r.contains("authentication failed")), "{closed_reason:?} after {auth_errors:?}");
    eprintln!("revoked user: errors {:?}; closed: {closed_reason:?}", auth_errors.iter().map(|e| e.code().to_owned()).collect::<Vec<_>>());
}
