//! Chaos against the real Directus: two clients exchange 1,000 messages while the
//! server process is SIGKILLed and restarted 20 times. At the end each client's view
//! (everything its subscription delivered, applied in order) equals the server's
//! table: nothing lost, nothing shown twice. The collection has uuid keys and the
//! clients choose them (`client_ids`), so every send succeeds exactly once, even those
//! whose answer was cut off.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use directus_chat::{Client, ClientOptions, ConnectionState, Event, Events, ReconnectPolicy, SubscribeRequest, SubscriptionKind};
use serde_json::{json, Value};
use support::directus::Directus;

const MESSAGES_PER_CLIENT: usize = 500;
const RESTARTS: usize = 20;

/// A key as text: `7` or `0c9d...` (no JSON quotes).
fn key(v: &Value) -> String {
    v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())
}

/// A client's view of the room: id → text, built only from delivered events.
#[derive(Default)]
struct View {
    items: BTreeMap<String, String>,
    duplicates: Vec<String>,
}

impl View {
    fn apply(&mut self, kind: SubscriptionKind, data: &Value) {
        let items = data.as_array().cloned().unwrap_or_default();
        match kind {
            SubscriptionKind::Init => {
                self.items.clear();
                for i in &items {
                    self.items.insert(key(&i["id"]), i["text"].as_str().unwrap_or_default().to_owned());
                }
            }
            SubscriptionKind::Create => {
                for i in &items {
                    let id = key(&i["id"]);
                    if self.items.insert(id.clone(), i["text"].as_str().unwrap_or_default().to_owned()).is_some() {
                        self.duplicates.push(id);
                    }
                }
            }
            SubscriptionKind::Update => {
                for i in &items {
                    self.items.insert(key(&i["id"]), i["text"].as_str().unwrap_or_default().to_owned());
                }
            }
            SubscriptionKind::Delete => {
                for k in &items {
                    self.items.remove(&key(k));
                }
            }
            SubscriptionKind::Unsubscribe => {}
        }
    }
}

async fn join(server: &Directus, token: &str) -> (Client, Events) {
    let mut options = ClientOptions {
        reconnect: ReconnectPolicy {
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
            max_attempts: None,
            ..ReconnectPolicy::default()
        },
        request_timeout: Duration::from_secs(60),
        max_queued: 10_000,
        ..ClientOptions::default()
    };
    options.chat.client_ids = true;
    let (client, events) = Client::connect(&server.ws_url(), options).await.unwrap();
    client.login_with_token(token).await.unwrap();
    (client, events)
}

/// Applies events to the view until `stop` is set and the stream has been quiet a while.
async fn watch(mut events: Events, uid: String, stop: Arc<AtomicBool>) -> (View, usize) {
    let mut view = View::default();
    let mut reconnects = 0;
    loop {
        match tokio::time::timeout(Duration::from_secs(3), events.next()).await {
            Ok(Some(Event::Subscription { uid: u, kind, data })) if u == uid => view.apply(kind, &data),
            Ok(Some(Event::State { state: ConnectionState::Authenticated, .. })) => reconnects += 1,
            Ok(Some(Event::State { state: ConnectionState::Closed, reason, .. })) => panic!("client closed: {reason:?}"),
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) if stop.load(Ordering::SeqCst) => break,
            Err(_) => {}
        }
    }
    (view, reconnects)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_equal_the_table_after_twenty_sigkills() {
    let server = Arc::new(Directus::start(support::directus::ServerOptions { key_type: "uuid".into(), ..Default::default() }));
    let query = json!({"fields": ["*", "user_created.first_name"], "sort": "date_created", "limit": -1});
    let mut watchers = Vec::new();
    let mut senders = Vec::new();
    let stop = Arc::new(AtomicBool::new(false));
    for (n, token) in [server.user1().token, server.user2().token].into_iter().enumerate() {
        let (client, events) = join(&server, &token).await;
        let sub = client.subscribe(SubscribeRequest::new(server.collection()).query(query.clone())).await.unwrap();
        watchers.push(tokio::spawn(watch(events, sub.uid().to_owned(), stop.clone())));
        senders.push(tokio::spawn(async move {
            let mut confirmed = Vec::new();
            let mut failed = 0;
            for i in 0..MESSAGES_PER_CLIENT {
                match client.send_message(&format!("client {n} message {i}")).await {
                    Ok(m) => confirmed.push(m.id),
                    Err(e) => {
                        eprintln!("send {i} of client {n} failed: {e}");
                        failed += 1
                    }
                }
                tokio::time::sleep(Duration::from_millis(60)).await;
            }
            (client, confirmed, failed)
        }));
    }

    let chaos_server = server.clone();
    let chaos = tokio::task::spawn_blocking(move || {
        for round in 0..RESTARTS {
            std::thread::sleep(Duration::from_millis(1200 + 97 * (round as u64 % 7)));
            chaos_server.kill();
            std::thread::sleep(Duration::from_millis(300));
            chaos_server.restart();
        }
    });
    chaos.await.unwrap();
    let mut clients = Vec::new();
    let mut confirmed_all = Vec::new();
    let mut failed_all = 0;
    for s in senders {
        let (client, confirmed, failed) = s.await.unwrap();
        confirmed_all.extend(confirmed);
        failed_all += failed;
        clients.push(client);
    }
    // Let the last events arrive, then stop watching.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::SeqCst);

    let table: Value =
        serde_json::from_str(&server.rest("GET", &format!("/items/{}?limit=-1&fields=id,text", server.collection()), None)).unwrap();
    let table: BTreeMap<String, String> =
        table["data"].as_array().unwrap().iter().map(|i| (key(&i["id"]), i["text"].as_str().unwrap_or_default().to_owned())).collect();
    for id in &confirmed_all {
        assert!(table.contains_key(id), "confirmed message {id} is not in the table");
    }
    for (n, w) in watchers.into_iter().enumerate() {
        let (view, authentications) = w.await.unwrap();
        assert!(view.duplicates.is_empty(), "client {n} was shown items twice: {:?}", view.duplicates);
        let missing: Vec<_> = table.keys().filter(|k| !view.items.contains_key(*k)).collect();
        let extra: Vec<_> = view.items.keys().filter(|k| !table.contains_key(*k)).collect();
        assert!(missing.is_empty() && extra.is_empty(), "client {n}: missing {missing:?}, extra {extra:?}");
        assert_eq!(view.items, table, "client {n}'s texts differ from the table");
        assert!(authentications > RESTARTS / 2, "client {n} re-authenticated only {authentications} times");
        eprintln!("client {n}: view of {} items equals the table; {authentications} authentications", view.items.len());
    }
    eprintln!(
        "{} sends confirmed, {failed_all} failed as ambiguous (lost with a connection), {} rows in the table",
        confirmed_all.len(),
        table.len()
    );
    assert_eq!(failed_all, 0, "every send succeeds exactly once with client-chosen keys");
    assert_eq!(confirmed_all.len(), 2 * MESSAGES_PER_CLIENT);
    assert_eq!(table.len(), 2 * MESSAGES_PER_CLIENT, "no message stored twice or lost");
    let texts: std::collections::BTreeSet<_> = table.values().collect();
    assert_eq!(texts.len(), table.len(), "every text once");
    for c in clients {
        c.close().await.unwrap();
    }
}
