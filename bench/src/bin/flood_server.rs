//! A loopback server that speaks enough of the Directus realtime protocol for the
//! benchmarks: it accepts any `auth`, answers `ping`, `items` reads (empty) and creates,
//! and on every `subscribe` sends an empty `init` followed by `--events N` chat
//! `create` events back to back. With `--echo`, an `items` create is also pushed to the
//! connection's subscriptions as a `create` event, as Directus does.
//!
//! Listens on 127.0.0.1 on a free port, prints `PORT <n>` on stdout, and runs until
//! killed or until the process `--parent-pid` names has ended.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

use directus_chat_bench::{arg, create_frame, raise_nofile};

#[tokio::main]
async fn main() {
    let events: u64 = arg("--events", 0);
    let echo = std::env::args().any(|a| a == "--echo");
    raise_nofile();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    println!("PORT {}", listener.local_addr().expect("local address").port());
    // The driver reads the port from a pipe: flush it now.
    use std::io::Write;
    let _ = std::io::stdout().flush();
    // Never outlive the driver: stop when the process given by --parent-pid is gone.
    let parent: i32 = arg("--parent-pid", 0);
    if parent > 0 {
        std::thread::spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_millis(500));
            // SAFETY: signal 0 only checks that the process exists.
            if unsafe { libc::kill(parent, 0) } != 0 {
                std::process::exit(0);
            }
        });
    }
    loop {
        let Ok((tcp, _)) = listener.accept().await else { continue };
        let _ = tcp.set_nodelay(true);
        tokio::spawn(serve(tcp, events, echo));
    }
}

async fn serve(tcp: TcpStream, events: u64, echo: bool) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else { return };
    let mut subscriptions: Vec<String> = Vec::new();
    let mut next_id: u64 = 1_000_000_000;
    while let Some(Ok(msg)) = ws.next().await {
        let Message::Text(text) = msg else { continue };
        let Ok(v) = serde_json::from_str::<Value>(text.as_str()) else { continue };
        let uid = v.get("uid").cloned();
        let with_uid = |mut reply: Value| {
            if let Some(u) = &uid {
                reply["uid"] = u.clone();
            }
            Message::Text(reply.to_string().into())
        };
        let result = match v["type"].as_str().unwrap_or("") {
            "auth" => ws.send(with_uid(json!({"type": "auth", "status": "ok", "refresh_token": "bench-refresh"}))).await,
            "ping" => ws.send(with_uid(json!({"type": "pong"}))).await,
            "unsubscribe" => ws.send(with_uid(json!({"type": "subscription", "event": "unsubscribe"}))).await,
            "subscribe" => {
                let sub_uid = match &uid {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                subscriptions.push(sub_uid.clone());
                // Every frame is made before the init goes out, so the clients' clocks
                // (started by the init) time reading, not this server formatting.
                let frames = encode_frames(&sub_uid, events);
                let init = ws.send(with_uid(json!({"type": "subscription", "event": "init", "data": []}))).await;
                flood(&mut ws, init, &frames).await
            }
            "items" => {
                let action = v["action"].as_str().unwrap_or("");
                if action == "create" {
                    next_id += 1;
                    let mut item = v["data"].clone();
                    if !item.is_object() {
                        item = json!({});
                    }
                    item["id"] = json!(next_id);
                    item["date_created"] = json!("2026-11-25T09:00:00.000Z");
                    item["user_created"] = json!({"first_name": "Kevin"});
                    let reply = ws.send(with_uid(json!({"type": "items", "data": item.clone()}))).await;
                    let mut r = reply;
                    if echo {
                        for s in &subscriptions {
                            if r.is_ok() {
                                let ev = json!({"type": "subscription", "event": "create", "data": [item.clone()], "uid": s});
                                r = ws.send(Message::Text(ev.to_string().into())).await;
                            }
                        }
                    }
                    r
                } else {
                    ws.send(with_uid(json!({"type": "items", "data": []}))).await
                }
            }
            _ => Ok(()),
        };
        if result.is_err() {
            return;
        }
    }
}

type Ws = tokio_tungstenite::WebSocketStream<TcpStream>;

/// `events` create events as server-to-client WebSocket text frames (unmasked), back
/// to back in one buffer.
fn encode_frames(uid: &str, events: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(events as usize * 210);
    for i in 0..events {
        let payload = create_frame(uid, i + 1);
        out.push(0x81); // FIN + text
        match payload.len() {
            n if n < 126 => out.push(n as u8),
            n if n <= u16::MAX as usize => {
                out.push(126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(payload.as_bytes());
    }
    out
}

/// Writes the frames straight to the TCP stream: tungstenite's buffer is empty after
/// the flushed init, and one large write keeps this server far ahead of any client.
async fn flood(
    ws: &mut Ws,
    init: Result<(), tokio_tungstenite::tungstenite::Error>,
    frames: &[u8],
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    init?;
    ws.get_mut().write_all(frames).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_have_a_16_bit_length_header() {
        let f = encode_frames("1", 2);
        let one = create_frame("1", 1);
        assert_eq!(f[0], 0x81);
        assert_eq!(f[1], 126);
        assert_eq!(u16::from_be_bytes([f[2], f[3]]) as usize, one.len());
        assert_eq!(&f[4..4 + one.len()], one.as_bytes());
        assert_eq!(f[4 + one.len()], 0x81);
    }
}
