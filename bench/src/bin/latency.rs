//! Round-trip latency against a real Directus: the time from sending a chat message to
//! receiving the subscription's `create` event for it, for our Rust API and for a raw
//! tokio-tungstenite client, alternating message by message so both see the same
//! server state. Prints one JSON line per client with p50/p99 in milliseconds.

use std::time::{Duration, Instant};

use directus_chat::{Client, ClientOptions, Event, SubscriptionKind};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use directus_chat_bench::{arg, required};

type Raw = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const WAIT: Duration = Duration::from_secs(10);

async fn raw_open(url: &str, token: &str) -> Raw {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("raw connect");
    let send = |v: Value| Message::Text(v.to_string().into());
    ws.send(send(json!({"type": "auth", "access_token": token}))).await.expect("raw auth");
    ws.send(send(json!({"type": "subscribe", "collection": "messages", "uid": "chat",
        "query": {"fields": ["*", "user_created.first_name"], "sort": "-date_created", "limit": 100}})))
        .await
        .expect("raw subscribe");
    // Wait for the init.
    loop {
        let Some(Ok(Message::Text(t))) = ws.next().await else { panic!("raw: no init") };
        let v: Value = serde_json::from_str(t.as_str()).expect("JSON");
        if v["type"] == "ping" {
            ws.send(send(json!({"type": "pong"}))).await.expect("pong");
        }
        if v["event"] == "init" {
            return ws;
        }
    }
}

async fn raw_round_trip(ws: &mut Raw, text: &str) -> Duration {
    let start = Instant::now();
    let msg = json!({"type": "items", "collection": "messages", "action": "create", "data": {"text": text}, "uid": "send"});
    ws.send(Message::Text(msg.to_string().into())).await.expect("raw send");
    loop {
        let next = tokio::time::timeout(WAIT, ws.next()).await.expect("raw: no create event in time");
        let Some(Ok(Message::Text(t))) = next else { panic!("raw: connection ended") };
        let v: Value = serde_json::from_str(t.as_str()).expect("JSON");
        if v["type"] == "ping" {
            ws.send(Message::Text(json!({"type": "pong"}).to_string().into())).await.expect("pong");
        }
        if v["event"] == "create" && v["data"][0]["text"] == text {
            return start.elapsed();
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

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url = required("--url");
    let token = required("--token");
    let count: usize = arg("--count", 1000);
    let mut raw = raw_open(&url, &token).await;
    let (client, mut events) = Client::connect(&url, ClientOptions::default()).await.expect("connect");
    client.login_with_token(&token).await.expect("login");
    let sub = client.subscribe(client.chat_subscription()).await.expect("subscribe");
    let run = std::process::id();
    // A few unmeasured rounds warm both paths (server caches, allocator).
    for i in 0..5 {
        raw_round_trip(&mut raw, &format!("warm raw {run} {i}")).await;
        ours_round_trip(&client, &mut events, sub.uid(), &format!("warm ours {run} {i}")).await;
    }
    let (mut r, mut o) = (Vec::with_capacity(count), Vec::with_capacity(count));
    for i in 0..count {
        // Alternate who goes first so neither always meets a server just woken by the other.
        if i % 2 == 0 {
            r.push(raw_round_trip(&mut raw, &format!("lat raw {run} {i}")).await);
            o.push(ours_round_trip(&client, &mut events, sub.uid(), &format!("lat ours {run} {i}")).await);
        } else {
            o.push(ours_round_trip(&client, &mut events, sub.uid(), &format!("lat ours {run} {i}")).await);
            r.push(raw_round_trip(&mut raw, &format!("lat raw {run} {i}")).await);
        }
    }
    println!("{}", summary("raw tokio-tungstenite", r));
    println!("{}", summary("directus-chat Rust API", o));
    let _ = client.close().await;
}
