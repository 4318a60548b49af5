//! Our Rust API against the flood server: login with a token, the chat subscription,
//! and every `create` event taken from `Events`, each message's text read as an app
//! shows it (`ChatConfig::read_messages`, as the C client reads it through the chat
//! accessors). Prints one JSON line.

use directus_chat::{Client, ClientOptions, Event, SubscriptionKind};
use serde_json::json;

use directus_chat_bench::{arg, required, FloodCount, IDLE, TOKEN};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url = required("--url");
    let sent: u64 = arg("--events", 0);
    let (client, mut events) = Client::connect(&url, ClientOptions::default()).await.expect("connect");
    client.login_with_token(TOKEN).await.expect("login");
    let sub = client.subscribe(client.chat_subscription()).await.expect("subscribe");
    // `subscribe` returns when the init has arrived: the flood starts now.
    let mut count = FloodCount::start();
    let mut text_bytes = 0;
    while let Ok(Some(event)) = tokio::time::timeout(IDLE, events.next()).await {
        if let Event::Subscription { uid, kind: SubscriptionKind::Create, data } = &event {
            if uid == sub.uid() {
                let texts = client.chat().read_messages(data, None, |m| m.text.len());
                text_bytes += texts.iter().sum::<usize>();
                count.add(texts.len() as u64);
                if count.delivered >= sent {
                    break;
                }
            }
        }
    }
    println!("{}", count.report("directus-chat Rust API", sent, json!({ "text_bytes": text_bytes })));
    let _ = client.close().await;
}
