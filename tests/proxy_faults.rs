//! Network faults between the client and a real Directus, injected by a TCP proxy in
//! the test: a connection cut in the middle of a frame, a stalled downstream, and a
//! dropped upstream. After each, the client's view equals the server's table and a
//! message sent through the fault is stored exactly once. A held-back upstream also
//! widens the window in which an expired login makes the server skip events.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use directus_chat::{Client, ClientOptions, ConnectionState, Event, Events, ReconnectPolicy, SubscribeRequest, SubscriptionKind};
use parking_lot::Mutex;
use serde_json::{json, Value};
use support::directus::{Directus, ServerOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    /// Forward half of the next server chunk, then close both sides.
    CutMidFrame,
    /// Stop forwarding anything from the server (the TCP connection stays open).
    StallDown,
    /// Swallow everything the client sends (the TCP connection stays open).
    DropUp,
    /// Keep what the client sends and forward it once the fault is cleared.
    HoldUp,
}

/// A fault applies to the connections open when it was set, not to later ones.
#[derive(Default)]
struct Control {
    next_conn: AtomicU64,
    fault: Mutex<Option<(Fault, u64)>>,
}

impl Control {
    fn fault_for(&self, conn: u64) -> Option<Fault> {
        match *self.fault.lock() {
            Some((f, upto)) if conn <= upto => Some(f),
            _ => None,
        }
    }

    fn inject(&self, f: Fault) {
        *self.fault.lock() = Some((f, self.next_conn.load(Ordering::SeqCst)));
    }

    fn clear(&self) {
        *self.fault.lock() = None;
    }
}

async fn proxy(upstream: String) -> (u16, Arc<Control>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let control = Arc::new(Control::default());
    let c = control.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let id = c.next_conn.fetch_add(1, Ordering::SeqCst) + 1;
            let Ok(server) = TcpStream::connect(&upstream).await else { continue };
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            let up = c.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16384];
                let mut held = Vec::new();
                loop {
                    // Short reads, so held bytes go out soon after the fault is cleared.
                    let n = match tokio::time::timeout(Duration::from_millis(50), cr.read(&mut buf)).await {
                        Ok(Ok(0) | Err(_)) => break,
                        Ok(Ok(n)) => n,
                        Err(_) => 0,
                    };
                    match up.fault_for(id) {
                        Some(Fault::DropUp) => continue,
                        Some(Fault::HoldUp) => {
                            held.extend_from_slice(&buf[..n]);
                            continue;
                        }
                        _ => {}
                    }
                    held.extend_from_slice(&buf[..n]);
                    if !held.is_empty() && sw.write_all(&std::mem::take(&mut held)).await.is_err() {
                        break;
                    }
                }
                let _ = sw.shutdown().await;
            });
            let down = c.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16384];
                loop {
                    while down.fault_for(id) == Some(Fault::StallDown) {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    let n = match sr.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if down.fault_for(id) == Some(Fault::CutMidFrame) {
                        let _ = cw.write_all(&buf[..n.div_ceil(2)]).await;
                        break;
                    }
                    if down.fault_for(id) == Some(Fault::StallDown) {
                        continue;
                    }
                    if cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                let _ = cw.shutdown().await;
            });
        }
    });
    (port, control)
}

fn key(v: &Value) -> String {
    v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())
}

/// Applies `events` until `done` holds for the view (or 60 s pass).
async fn view_until(events: &mut Events, uid: &str, view: &mut BTreeMap<String, String>, done: impl Fn(&BTreeMap<String, String>) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !done(view) {
        let ev = tokio::time::timeout_at(deadline, events.next()).await.expect("view converges").expect("open");
        match ev {
            Event::Subscription { uid: u, kind, data } if u == uid => {
                let items = data.as_array().cloned().unwrap_or_default();
                match kind {
                    SubscriptionKind::Init => {
                        view.clear();
                        for i in items {
                            view.insert(key(&i["id"]), i["text"].as_str().unwrap_or_default().to_owned());
                        }
                    }
                    SubscriptionKind::Create => {
                        for i in items {
                            let dup = view.insert(key(&i["id"]), i["text"].as_str().unwrap_or_default().to_owned());
                            assert!(dup.is_none(), "{} delivered twice", i["id"]);
                        }
                    }
                    SubscriptionKind::Update => {
                        for i in items {
                            view.insert(key(&i["id"]), i["text"].as_str().unwrap_or_default().to_owned());
                        }
                    }
                    SubscriptionKind::Delete => {
                        for k in items {
                            view.remove(&key(&k));
                        }
                    }
                    SubscriptionKind::Unsubscribe => {}
                }
            }
            Event::State { state: ConnectionState::Closed, reason, .. } => panic!("closed: {reason:?}"),
            _ => {}
        }
    }
}

fn table(server: &Directus) -> BTreeMap<String, String> {
    let v: Value = serde_json::from_str(&server.rest("GET", "/items/messages?limit=-1&fields=id,text", None)).unwrap();
    v["data"].as_array().unwrap().iter().map(|i| (key(&i["id"]), i["text"].as_str().unwrap_or_default().to_owned())).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn cut_mid_frame_stalled_downstream_and_dropped_upstream() {
    let server = Directus::start(ServerOptions { key_type: "uuid".into(), ..Default::default() });
    let upstream = server.ws_url().trim_start_matches("ws://").split('/').next().unwrap().to_owned();
    let (port, control) = proxy(upstream).await;
    let mut options = ClientOptions {
        reconnect: ReconnectPolicy {
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..ReconnectPolicy::default()
        },
        heartbeat: Some(Duration::from_millis(700)),
        request_timeout: Duration::from_secs(30),
        ..ClientOptions::default()
    };
    options.chat.client_ids = true;
    let (client, mut events) = Client::connect(&format!("ws://127.0.0.1:{port}/websocket"), options).await.unwrap();
    client.login_with_token(&server.user1().token).await.unwrap();
    let query = json!({"fields": ["*"], "sort": "date_created", "limit": -1});
    let sub = client.subscribe(SubscribeRequest::new("messages").query(query)).await.unwrap();
    let (direct, _direct_events) = Client::connect(&server.ws_url(), ClientOptions::default()).await.unwrap();
    direct.login_with_token(&server.user2().token).await.unwrap();
    let mut view = BTreeMap::new();

    for (round, fault) in [Fault::CutMidFrame, Fault::StallDown, Fault::DropUp].into_iter().enumerate() {
        control.inject(fault);
        // Traffic during the fault: from another client, and one message through it.
        for i in 0..5 {
            direct.send_message(&format!("round {round} direct {i}")).await.unwrap();
        }
        let through = client.send_message(&format!("round {round} through the fault")).await;
        assert!(through.is_ok(), "{fault:?}: {through:?}");
        let expected = table(&server);
        view_until(&mut events, sub.uid(), &mut view, |v| *v == expected).await;
        let rows = table(&server);
        assert_eq!(rows.values().filter(|t| t.contains("through the fault")).count(), round + 1, "{fault:?}: stored exactly once");
        eprintln!("{fault:?}: view equals the table ({} rows)", rows.len());
    }
    client.close().await.unwrap();
}

/// When a login expires, the server reads every event with public permissions until the
/// client's new `auth` arrives, and sends nothing in between. Holding that `auth` back
/// in the proxy keeps the window open while another user posts; after the renewal the
/// session subscribes again and delivers the message it would otherwise never see.
#[tokio::test(flavor = "multi_thread")]
async fn a_message_posted_while_the_login_renews_is_not_lost() {
    let server = Directus::start(ServerOptions { env: vec![("ACCESS_TOKEN_TTL".into(), "3s".into())], ..Default::default() });
    let upstream = server.ws_url().trim_start_matches("ws://").split('/').next().unwrap().to_owned();
    let (port, control) = proxy(upstream).await;
    let (client, mut events) = Client::connect(&format!("ws://127.0.0.1:{port}/websocket"), ClientOptions::default()).await.unwrap();
    let user = server.user1();
    client.login(&user.email, &user.password).await.unwrap();
    let logged_in = tokio::time::Instant::now();
    let query = json!({"fields": ["*"], "sort": "date_created", "limit": -1});
    let sub = client.subscribe(SubscribeRequest::new("messages").query(query)).await.unwrap();
    let mut view = BTreeMap::new();
    let before = table(&server);
    view_until(&mut events, sub.uid(), &mut view, |v| *v == before).await;

    // The 3 s token expires 2 to 3 s after login (JWT times are whole seconds); the
    // client's renewal is held back until well after that.
    tokio::time::sleep_until(logged_in + Duration::from_millis(1500)).await;
    control.inject(Fault::HoldUp);
    tokio::time::sleep_until(logged_in + Duration::from_millis(3500)).await;
    let (poster, _poster_events) = Client::connect(&server.ws_url(), ClientOptions::default()).await.unwrap();
    poster.login_with_token(&server.user2().token).await.unwrap();
    poster.send_message("posted while the login renews").await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    control.clear();

    let expected = table(&server);
    assert!(expected.values().any(|t| t == "posted while the login renews"));
    view_until(&mut events, sub.uid(), &mut view, |v| *v == expected).await;
    client.close().await.unwrap();
}
