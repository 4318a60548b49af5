//! Round-trip latency against a real Directus: the time from sending a chat message to
//! receiving the subscription's `create` event for it, for our Rust API and for a raw
//! tokio-tungstenite client, alternating in blocks of messages so both see the same
//! server state. Prints one JSON line per client with p50/p99 in milliseconds.
//!
//! With `--receiver-url` (a cluster): the message is sent on one connection (`--url`,
//! instance A) and awaited on another (`--receiver-url`, instance B, the only
//! subscriber), so the event travels from A to B on the Redis bus. Sender and receiver
//! are the same kind of client (ours, or raw), in one process (one clock).

use std::time::{Duration, Instant};

use directus_chat::{Client, ClientOptions, Event, SubscriptionKind};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use directus_chat_bench::{arg, required};

type Raw = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const WAIT: Duration = Duration::from_secs(10);

async fn raw_login(url: &str, token: &str) -> Raw {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("raw connect");
    ws.send(text(json!({"type": "auth", "access_token": token}))).await.expect("raw auth");
    // In handshake mode nothing but the auth may come before the server accepted it.
    raw_wait(&mut ws, |v| v["type"] == "auth" && v["status"] == "ok").await;
    ws
}

async fn raw_open(url: &str, token: &str) -> Raw {
    let mut ws = raw_login(url, token).await;
    ws.send(text(json!({"type": "subscribe", "collection": "messages", "uid": "chat",
        "query": {"fields": ["*", "user_created.first_name"], "sort": "-date_created", "limit": 100}})))
        .await
        .expect("raw subscribe");
    raw_wait(&mut ws, |v| v["event"] == "init").await;
    ws
}

fn text(v: Value) -> Message {
    Message::Text(v.to_string().into())
}

/// Reads frames (answering the server's pings) until one matches; panics after [`WAIT`].
async fn raw_wait(ws: &mut Raw, want: impl Fn(&Value) -> bool) -> Value {
    loop {
        let next = tokio::time::timeout(WAIT, ws.next()).await.expect("raw: nothing in time");
        let Some(Ok(Message::Text(t))) = next else { panic!("raw: connection ended") };
        let v: Value = serde_json::from_str(t.as_str()).expect("JSON");
        if v["type"] == "ping" {
            ws.send(text(json!({"type": "pong"}))).await.expect("pong");
        }
        if v["status"] == "error" {
            panic!("raw: server error {v}");
        }
        if want(&v) {
            return v;
        }
    }
}

async fn raw_round_trip(ws: &mut Raw, message: &str) -> Duration {
    let start = Instant::now();
    let msg = json!({"type": "items", "collection": "messages", "action": "create", "data": {"text": message}, "uid": "send"});
    ws.send(text(msg)).await.expect("raw send");
    raw_wait(ws, |v| v["event"] == "create" && v["data"][0]["text"] == message).await;
    start.elapsed()
}

/// Sends on `sender` (no subscription), waits for the event on `receiver`. The
/// sender's answer is read after the event, off the clock.
async fn raw_cross_trip(sender: &mut Raw, receiver: &mut Raw, message: &str) -> Duration {
    let start = Instant::now();
    let msg = json!({"type": "items", "collection": "messages", "action": "create", "data": {"text": message}, "uid": "send"});
    sender.send(text(msg)).await.expect("raw send");
    raw_wait(receiver, |v| v["event"] == "create" && v["data"][0]["text"] == message).await;
    let took = start.elapsed();
    raw_wait(sender, |v| v["type"] == "items" && v["uid"] == "send").await;
    took
}

/// Sends with `sender`, waits for the event on `receiver`'s subscription `uid`.
async fn ours_cross_trip(sender: &Client, receiver: &Client, events: &mut directus_chat::Events, uid: &str, text: &str) -> Duration {
    let start = Instant::now();
    sender.send_message_nowait(text).expect("send");
    loop {
        let e = tokio::time::timeout(WAIT, events.next()).await.expect("ours: no create event in time").expect("ours: ended");
        if let Event::Subscription { uid: u, kind: SubscriptionKind::Create, data } = &e {
            if u == uid && receiver.chat().messages(data).iter().any(|m| m.text == text) {
                return start.elapsed();
            }
        }
    }
}

async fn ours_round_trip(client: &Client, events: &mut directus_chat::Events, uid: &str, text: &str) -> Duration {
    let start = Instant::now();
    client.send_message_nowait(text).expect("send");
    loop {
        let e = tokio::time::timeout(WAIT, events.next()).await.expect("ours: no create event in time").expect("ours: ended");
        if let Event::Subscription { uid: u, kind: SubscriptionKind::Create, data } = &e {
            if u == uid && client.chat().messages(data).iter().any(|m| m.text == text) {
                return start.elapsed();
            }
        }
    }
}

fn summary(name: &str, mut v: Vec<Duration>) -> Value {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let at = |q: f64| ms(v[((v.len() as f64 - 1.0) * q).round() as usize]);
    let mean = v.iter().map(|d| ms(*d)).sum::<f64>() / v.len() as f64;
    json!({"client": name, "messages": v.len(), "p50_ms": at(0.5), "p99_ms": at(0.99), "mean_ms": mean, "max_ms": ms(*v.last().unwrap())})
}

/// Messages per block. Each client is the only subscriber while its block runs: Directus
/// re-reads every event once per subscriber, one after the other, so a second
/// subscriber would always get its event a read later than the first.
const BLOCK: usize = 50;

async fn ours_login(url: &str, token: &str) -> (Client, directus_chat::Events) {
    let (client, events) = Client::connect(url, ClientOptions::default()).await.expect("connect");
    client.login_with_token(token).await.expect("login");
    (client, events)
}

/// The cluster mode (see the module's doc): blocks of `BLOCK` messages in turns.
async fn across(url: &str, receiver_url: &str, token: &str, receiver_token: &str, count: usize) {
    let run = std::process::id();
    let (mut r, mut o) = (Vec::with_capacity(count), Vec::with_capacity(count));
    let mut block = 0;
    while r.len() < count {
        let n = BLOCK.min(count - r.len());
        for ours_turn in if block % 2 == 0 { [false, true] } else { [true, false] } {
            if ours_turn {
                let (sender, mut sender_events) = ours_login(url, token).await;
                // The sender's replies come as events: keep its stream drained.
                let drain = tokio::spawn(async move { while sender_events.next().await.is_some() {} });
                let (receiver, mut events) = ours_login(receiver_url, receiver_token).await;
                let sub = receiver.subscribe(receiver.chat_subscription()).await.expect("subscribe");
                ours_cross_trip(&sender, &receiver, &mut events, sub.uid(), &format!("warm ours {run} {block}")).await;
                for i in 0..n {
                    o.push(ours_cross_trip(&sender, &receiver, &mut events, sub.uid(), &format!("lat ours {run} {block} {i}")).await);
                }
                let _ = receiver.close().await;
                let _ = sender.close().await;
                let _ = drain.await;
            } else {
                let mut sender = raw_login(url, token).await;
                let mut receiver = raw_open(receiver_url, receiver_token).await;
                raw_cross_trip(&mut sender, &mut receiver, &format!("warm raw {run} {block}")).await;
                for i in 0..n {
                    r.push(raw_cross_trip(&mut sender, &mut receiver, &format!("lat raw {run} {block} {i}")).await);
                }
                let _ = receiver.close(None).await;
                let _ = sender.close(None).await;
            }
        }
        block += 1;
    }
    println!("{}", summary("raw tokio-tungstenite", r));
    println!("{}", summary("directus-chat Rust API", o));
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url = required("--url");
    let token = required("--token");
    let count: usize = arg("--count", 1000);
    let receiver_url: String = arg("--receiver-url", String::new());
    if !receiver_url.is_empty() {
        let receiver_token: String = arg("--receiver-token", token.clone());
        return across(&url, &receiver_url, &token, &receiver_token, count).await;
    }
    let run = std::process::id();
    let (mut r, mut o) = (Vec::with_capacity(count), Vec::with_capacity(count));
    let mut block = 0;
    while r.len() < count {
        let n = BLOCK.min(count - r.len());
        // Alternate who goes first, so neither always meets a server just woken by the other.
        for ours_turn in if block % 2 == 0 { [false, true] } else { [true, false] } {
            if ours_turn {
                let (client, mut events) = Client::connect(&url, ClientOptions::default()).await.expect("connect");
                client.login_with_token(&token).await.expect("login");
                let sub = client.subscribe(client.chat_subscription()).await.expect("subscribe");
                // One unmeasured round warms the path (and takes the catch-up read's answer).
                ours_round_trip(&client, &mut events, sub.uid(), &format!("warm ours {run} {block}")).await;
                for i in 0..n {
                    o.push(ours_round_trip(&client, &mut events, sub.uid(), &format!("lat ours {run} {block} {i}")).await);
                }
                let _ = client.close().await;
            } else {
                let mut raw = raw_open(&url, &token).await;
                raw_round_trip(&mut raw, &format!("warm raw {run} {block}")).await;
                for i in 0..n {
                    r.push(raw_round_trip(&mut raw, &format!("lat raw {run} {block} {i}")).await);
                }
                let _ = raw.close(None).await;
            }
        }
        block += 1;
    }
    println!("{}", summary("raw tokio-tungstenite", r));
    println!("{}", summary("directus-chat Rust API", o));
}
