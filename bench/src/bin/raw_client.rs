//! The raw baseline: tokio-tungstenite reading the frames and serde_json parsing each
//! into a `Value`, the least work a Rust client can do. Prints one JSON line.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use directus_chat_bench::{arg, required, FloodCount, IDLE, TOKEN};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url = required("--url");
    let sent: u64 = arg("--events", 0);
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("connect");
    let send = |v: Value| Message::Text(v.to_string().into());
    ws.send(send(json!({"type": "auth", "access_token": TOKEN, "uid": "auth"}))).await.expect("auth");
    ws.send(send(json!({"type": "subscribe", "collection": "messages", "uid": "chat",
        "query": {"fields": ["*", "user_created.first_name"], "sort": "-date_created", "limit": 100}})))
        .await
        .expect("subscribe");
    let mut count: Option<FloodCount> = None;
    loop {
        let next = tokio::time::timeout(IDLE, ws.next()).await;
        let Ok(Some(Ok(Message::Text(text)))) = next else {
            if matches!(next, Ok(Some(Ok(_)))) {
                continue;
            }
            break;
        };
        let v: Value = serde_json::from_str(text.as_str()).expect("JSON");
        match (v["type"].as_str(), v["event"].as_str()) {
            (Some("subscription"), Some("init")) => count = Some(FloodCount::start()),
            (Some("subscription"), Some("create")) => {
                if let Some(c) = count.as_mut() {
                    c.add(v["data"].as_array().map_or(0, |a| a.len() as u64));
                    if c.delivered >= sent {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    let count = count.expect("no init arrived");
    println!("{}", count.report("raw tokio-tungstenite + serde_json", sent, json!({})));
}
