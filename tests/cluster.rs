//! Chat across a Directus cluster (scripts/cluster.sh): two instances sharing PostgreSQL
//! and Redis, nginx in front. Realtime events travel between instances on the Redis bus.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use directus_chat::{Client, ClientOptions, ConnectionState, Event, Events, Subscription, SubscriptionKind};
use serde_json::Value;
use support::cluster::{Cluster, ClusterOptions, Instance};

const MESSAGES: usize = 50;

/// Every create event of `sub` whose text starts with `tag`, counted by text, until each
/// of the `expected` texts has arrived or `within` has passed.
async fn collect(
    client: &Client,
    events: &mut Events,
    sub: &Subscription,
    tag: &str,
    expected: usize,
    within: Duration,
) -> BTreeMap<String, usize> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + within;
    while seen.len() < expected {
        let ev = match tokio::time::timeout_at(deadline, events.next()).await {
            Ok(Some(ev)) => ev,
            Ok(None) => panic!("event stream ended"),
            Err(_) => break,
        };
        match ev {
            Event::Subscription { uid, kind: SubscriptionKind::Create, data } if uid == sub.uid() => {
                for m in client.chat().messages(&data) {
                    if m.text.starts_with(tag) {
                        *seen.entry(m.text).or_default() += 1;
                    }
                }
            }
            Event::State { state: ConnectionState::Disconnected | ConnectionState::Closed, reason, .. } => {
                panic!("connection ended: {reason:?}")
            }
            _ => {}
        }
    }
    seen
}

async fn joined(url: &str) -> (Client, Events) {
    Client::connect(url, ClientOptions::default()).await.expect("connect")
}

#[tokio::test(flavor = "multi_thread")]
async fn users_on_two_instances_see_every_message() {
    let cluster = Cluster::start(ClusterOptions::default());
    let (kevin_u, ada_u) = (cluster.user1(), cluster.user2());

    // Kevin talks to instance A, Ada to instance B, both directly (not through nginx).
    let (kevin, mut kevin_events) = joined(&cluster.instance_ws_url(Instance::A)).await;
    kevin.login(&kevin_u.email, &kevin_u.password).await.expect("kevin logs in on A");
    let (ada, mut ada_events) = joined(&cluster.instance_ws_url(Instance::B)).await;
    ada.login_with_token(&ada_u.token).await.expect("ada logs in on B");
    let kevin_sub = kevin.subscribe(kevin.chat_subscription()).await.expect("kevin subscribes");
    let ada_sub = ada.subscribe(ada.chat_subscription()).await.expect("ada subscribes");

    let tag = format!("cluster-{}", std::process::id());
    let mut sent = Vec::new();
    for i in 0..MESSAGES {
        // Turn about: half the messages are made on A, half on B.
        let (who, name) = if i % 2 == 0 { (&kevin, &kevin_u.name) } else { (&ada, &ada_u.name) };
        let text = format!("{tag} {i:02} from {name}");
        let stored = who.send_message(&text).await.unwrap_or_else(|e| panic!("send {i}: {e}"));
        assert_eq!(stored.text, text);
        sent.push(text);
    }

    for (who, client, events, sub) in [("Kevin (A)", &kevin, &mut kevin_events, &kevin_sub), ("Ada (B)", &ada, &mut ada_events, &ada_sub)] {
        let seen = collect(client, events, sub, &tag, MESSAGES, Duration::from_secs(30)).await;
        let missing: Vec<_> = sent.iter().filter(|t| !seen.contains_key(*t)).collect();
        let doubled: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
        assert!(missing.is_empty(), "{who} missed {} of {MESSAGES}: {missing:?}", missing.len());
        assert!(doubled.is_empty(), "{who} got some twice: {doubled:?}");
        eprintln!("{who}: {} of {MESSAGES} messages, each once", seen.len());
    }

    // The shared database holds each exactly once, whichever instance stored it.
    let rows: Value = serde_json::from_str(&cluster.rest(
        "GET",
        &format!("/items/{}?limit=-1&fields=text&filter[text][_starts_with]={tag}", cluster.collection()),
        None,
    ))
    .unwrap();
    let mut texts: Vec<String> = rows["data"].as_array().expect("rows").iter().map(|r| r["text"].as_str().unwrap().to_owned()).collect();
    texts.sort();
    let mut expected = sent.clone();
    expected.sort();
    assert_eq!(texts, expected);

    for c in [kevin, ada] {
        c.close().await.unwrap();
    }
}
