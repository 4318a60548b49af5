//! Faults a real Directus cannot be made to produce, from a scripted mock server:
//! garbage frames, binary frames, unknown message types, a connection cut while
//! requests are in flight, a server that never answers.

use std::time::Duration;

use directus_chat::{Client, ClientOptions, ConnectionState, Error, Event, ItemsRequest, ReconnectPolicy, SubscriptionKind};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// Serves one connection with `script` on a free loopback port; returns its URL.
async fn mock(script: impl FnOnce(Ws) -> futures_util::future::BoxFuture<'static, ()> + Send + 'static) -> String {
    let mut script = Some(script);
    mock_each(1, move |_, ws| script.take().expect("one connection")(ws)).await
}

/// Serves `count` connections one after another, each with `script(index, ws)`.
async fn mock_each(
    count: usize,
    mut script: impl FnMut(usize, Ws) -> futures_util::future::BoxFuture<'static, ()> + Send + 'static,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/websocket", listener.local_addr().unwrap());
    tokio::spawn(async move {
        for i in 0..count {
            let (tcp, _) = listener.accept().await.unwrap();
            let ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            script(i, ws).await;
        }
    });
    url
}

/// The defaults, for a mock server: it cannot answer the capability probe as Directus
/// does, so the session is told that the server echoes uids (as 12.4 does); and it
/// serves no REST API (a `GET /server/info` would be taken for the next WebSocket).
fn mock_options() -> ClientOptions {
    ClientOptions { error_uids: Some(true), discovery: false, ..ClientOptions::default() }
}

fn no_reconnect() -> ClientOptions {
    ClientOptions { reconnect: ReconnectPolicy::never(), ..mock_options() }
}

async fn recv_json(ws: &mut Ws) -> Value {
    loop {
        match ws.next().await.expect("client frame").expect("ws ok") {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            _ => continue,
        }
    }
}

async fn send_json(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

async fn accept_auth(ws: &mut Ws) {
    let auth = recv_json(ws).await;
    assert_eq!(auth["type"], "auth");
    send_json(ws, json!({"type":"auth","status":"ok","uid": auth["uid"], "refresh_token":"r1"})).await;
}

fn disconnect_reason(events: &[Event]) -> Option<String> {
    events.iter().find_map(|e| match e {
        Event::State { state: ConnectionState::Disconnected, reason, .. } => reason.clone(),
        _ => None,
    })
}

fn states_of(events: &[Event]) -> Vec<ConnectionState> {
    events.iter().filter_map(|e| if let Event::State { state, .. } = e { Some(*state) } else { None }).collect()
}

async fn collect_until_closed(events: &mut directus_chat::Events) -> Vec<Event> {
    let mut all = Vec::new();
    while let Some(e) = tokio::time::timeout(Duration::from_secs(10), events.next()).await.expect("events end") {
        all.push(e);
    }
    all
}

#[tokio::test]
async fn garbage_binary_and_unknown_frames_are_events_and_the_session_lives() {
    let url = mock(|mut ws| {
        Box::pin(async move {
            accept_auth(&mut ws).await;
            ws.send(Message::Text("{not json".into())).await.unwrap();
            ws.send(Message::Binary(vec![0xff, 0x00, 0x13].into())).await.unwrap();
            send_json(&mut ws, json!({"type":"collab","room":"x"})).await;
            send_json(&mut ws, json!([1, 2, 3])).await;
            send_json(&mut ws, json!({"type":"ping"})).await;
            // The client must answer the ping with a pong, then its request is served.
            let pong = recv_json(&mut ws).await;
            assert_eq!(pong, json!({"type":"pong"}));
            let req = recv_json(&mut ws).await;
            assert_eq!(req["type"], "items");
            send_json(&mut ws, json!({"type":"items","data":[{"id":1}],"uid":req["uid"]})).await;
            let _ = ws.next().await; // wait for the client's close
        })
    })
    .await;
    let (client, mut events) = Client::connect(&url, mock_options()).await.unwrap();
    client.login_with_token("static").await.unwrap();
    // Give the server's frames time to arrive before the request.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let data = client.request(ItemsRequest::read("messages")).await.unwrap();
    assert_eq!(data, json!([{"id":1}]));
    client.close().await.unwrap();
    let all = collect_until_closed(&mut events).await;
    let protocol_errors = all.iter().filter(|e| matches!(e, Event::Error { error: Error::Protocol(_) })).count();
    assert_eq!(protocol_errors, 3, "bad JSON, binary frame and non-object each reported: {all:#?}");
    assert!(all.iter().any(|e| matches!(e, Event::Unknown(v) if v["type"] == "collab")));
    assert!(all.last().unwrap().is_closed());
}

#[tokio::test]
async fn a_cut_connection_fails_every_pending_request_once_and_closes() {
    let url = mock(|mut ws| {
        Box::pin(async move {
            accept_auth(&mut ws).await;
            // Read three requests, answer none, then cut the TCP connection.
            for _ in 0..3 {
                recv_json(&mut ws).await;
            }
            drop(ws);
        })
    })
    .await;
    let (client, mut events) = Client::connect(&url, no_reconnect()).await.unwrap();
    client.login_with_token("static").await.unwrap();
    let calls = (0..3).map(|i| client.create("messages", json!({"text": i})));
    let results = futures_util::future::join_all(calls).await;
    for r in &results {
        assert!(matches!(r, Err(Error::Connection(_))), "{r:?}");
    }
    let all = collect_until_closed(&mut events).await;
    let states = states_of(&all);
    assert_eq!(
        states,
        vec![
            ConnectionState::Connecting,
            ConnectionState::Connected,
            ConnectionState::Authenticated,
            ConnectionState::Disconnected,
            ConnectionState::Closed
        ]
    );
    // Later calls fail at once.
    assert_eq!(client.read("messages", json!({})).await, Err(Error::Closed));
    assert_eq!(client.send_message_nowait("late"), Err(Error::Closed));
}

#[tokio::test]
async fn a_server_that_never_answers_times_requests_out() {
    let url = mock(|mut ws| {
        Box::pin(async move {
            // Swallow everything, answer nothing.
            while let Some(Ok(_)) = ws.next().await {}
        })
    })
    .await;
    let options = ClientOptions { request_timeout: Duration::from_millis(300), ..mock_options() };
    let (client, _events) = Client::connect(&url, options).await.unwrap();
    assert_eq!(client.login_with_token("t").await, Err(Error::Timeout));
    // Requests made before the login succeeded wait for it, then time out too.
    assert_eq!(client.read("messages", json!({})).await, Err(Error::Timeout));
}

#[tokio::test]
async fn connect_errors_are_clear() {
    // Nothing listens on this port.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let err = Client::connect(&format!("ws://127.0.0.1:{port}/websocket"), mock_options()).await.unwrap_err();
    assert!(matches!(err, Error::Connection(_)), "{err:?}");
    let err = Client::connect("gopher://x", mock_options()).await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
}

#[tokio::test]
async fn reconnects_reauthenticates_with_the_rotated_token_and_resubscribes_without_gaps_or_duplicates() {
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let url = mock_each(2, move |i, mut ws| {
        let seen = seen_tx.clone();
        Box::pin(async move {
            if i == 0 {
                let auth = recv_json(&mut ws).await;
                assert_eq!(auth["email"], "kevin@example.com");
                send_json(&mut ws, json!({"type":"auth","status":"ok","uid":auth["uid"],"refresh_token":"rotated-1"})).await;
                let sub = recv_json(&mut ws).await;
                send_json(&mut ws, json!({"type":"subscription","event":"init","data":[{"id":1,"text":"a"}],"uid":sub["uid"]})).await;
                seen.send(sub).unwrap();
                // The catch-up read after the init: nothing was missed this time.
                let catch_up = recv_json(&mut ws).await;
                assert_eq!((catch_up["type"].as_str(), catch_up["action"].as_str()), (Some("items"), Some("read")), "{catch_up}");
                send_json(&mut ws, json!({"type":"items","data":[{"id":1,"text":"a"}],"uid":catch_up["uid"]})).await;
                let _ = recv_json(&mut ws).await; // the user's create, never answered: cut now
                return;
            }
            // Second connection: refresh-token auth first, then the same subscription.
            let auth = recv_json(&mut ws).await;
            seen.send(auth.clone()).unwrap();
            send_json(&mut ws, json!({"type":"auth","status":"ok","uid":auth["uid"],"refresh_token":"rotated-2"})).await;
            let sub = recv_json(&mut ws).await;
            seen.send(sub.clone()).unwrap();
            // While away: 1 was edited, 2 was created.
            send_json(
                &mut ws,
                json!({"type":"subscription","event":"init","data":[{"id":1,"text":"a!"},{"id":2,"text":"b"}],"uid":sub["uid"]}),
            )
            .await;
            // The catch-up read finds 3, hidden by the join window; 2 is not repeated.
            let mut catch_up = recv_json(&mut ws).await;
            while catch_up["action"] != "read" {
                // The create queued while disconnected goes out right after the login.
                assert_eq!(catch_up["action"], "create", "{catch_up}");
                send_json(&mut ws, json!({"type":"items","data":{"id":4},"uid":catch_up["uid"]})).await;
                catch_up = recv_json(&mut ws).await;
            }
            send_json(
                &mut ws,
                json!({"type":"items","data":[{"id":1,"text":"a!"},{"id":2,"text":"b"},{"id":3,"text":"c"}],"uid":catch_up["uid"]}),
            )
            .await;
            // A live create of 3 arriving late must not show it twice.
            send_json(&mut ws, json!({"type":"subscription","event":"create","data":[{"id":3,"text":"c"}],"uid":sub["uid"]})).await;
            loop {
                match ws.next().await {
                    Some(Ok(Message::Text(t))) => {
                        let req: Value = serde_json::from_str(t.as_str()).unwrap();
                        if req["action"] == "create" {
                            send_json(&mut ws, json!({"type":"items","data":{"id":4},"uid":req["uid"]})).await;
                        }
                    }
                    Some(Ok(_)) => {}
                    _ => break,
                }
            }
        })
    })
    .await;
    let options = ClientOptions {
        reconnect: ReconnectPolicy { first_delay: Duration::from_millis(50), ..ReconnectPolicy::default() },
        ..mock_options()
    };
    let (client, mut events) = Client::connect(&url, options).await.unwrap();
    client.login("kevin@example.com", "pw").await.unwrap();
    let sub = client.subscribe(directus_chat::SubscribeRequest::new("messages").query(json!({"limit": -1}))).await.unwrap();
    let first_sub = seen_rx.recv().await.unwrap();
    // This request is cut off with the connection: it fails, it is not silently resent.
    let lost = client.create("messages", json!({"text":"in flight"})).await;
    assert!(matches!(lost, Err(Error::Connection(_))), "{lost:?}");
    // Made while reconnecting: waits, then goes out after re-authentication.
    let queued = client.create("messages", json!({"text":"queued"})).await.unwrap();
    assert_eq!(queued, json!({"id":4}));
    let auth = seen_rx.recv().await.unwrap();
    assert_eq!(auth["refresh_token"], "rotated-1", "re-auth uses the newest refresh token: {auth}");
    assert!(auth.get("password").is_none());
    let resub = seen_rx.recv().await.unwrap();
    assert_eq!(resub["uid"], first_sub["uid"], "same uid after reconnect");
    assert_eq!(resub["query"], first_sub["query"]);
    // Wait for the late live create of 3 (after the catch-up), then close.
    let mut all = Vec::new();
    loop {
        let e = tokio::time::timeout(Duration::from_secs(10), events.next()).await.expect("event").expect("open");
        let done = matches!(&e, Event::Subscription { data, .. } if data.to_string().contains("\"id\":3"));
        all.push(e);
        if done {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    client.close().await.unwrap();
    all.extend(collect_until_closed(&mut events).await);
    let delivered: Vec<(SubscriptionKind, Value)> = all
        .iter()
        .filter_map(|e| match e {
            Event::Subscription { uid, kind, data } if uid == sub.uid() => Some((*kind, data.value().clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        delivered,
        vec![
            (SubscriptionKind::Init, json!([{"id":1,"text":"a"}])),
            (SubscriptionKind::Create, json!([{"id":2,"text":"b"}])),
            (SubscriptionKind::Update, json!([{"id":1,"text":"a!"}])),
            (SubscriptionKind::Create, json!([{"id":3,"text":"c"}])),
        ],
        "one init, then exactly the missed changes, nothing twice"
    );
    let states = states_of(&all);
    assert_eq!(
        states,
        vec![
            ConnectionState::Connecting,
            ConnectionState::Connected,
            ConnectionState::Authenticated,
            ConnectionState::Disconnected,
            ConnectionState::Connecting,
            ConnectionState::Connected,
            ConnectionState::Authenticated,
            ConnectionState::Closed
        ]
    );
}

#[tokio::test]
async fn stalled_server_is_detected_by_the_client_heartbeat() {
    let url = mock(|mut ws| {
        Box::pin(async move {
            accept_auth(&mut ws).await;
            // Read (so TCP stays open) but never answer anything again.
            while let Some(Ok(_)) = ws.next().await {}
        })
    })
    .await;
    let options = ClientOptions { heartbeat: Some(Duration::from_millis(200)), ..no_reconnect() };
    let (client, mut events) = Client::connect(&url, options).await.unwrap();
    client.login_with_token("t").await.unwrap();
    let all = collect_until_closed(&mut events).await;
    let reason = disconnect_reason(&all);
    assert!(reason.as_deref().is_some_and(|r| r.contains("no answer")), "{all:?}");
}

#[tokio::test]
async fn close_lets_requests_on_the_wire_finish() {
    let url = mock(|mut ws| {
        Box::pin(async move {
            accept_auth(&mut ws).await;
            let req = recv_json(&mut ws).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            send_json(&mut ws, json!({"type":"items","data":{"id":9},"uid":req["uid"]})).await;
            while let Some(Ok(_)) = ws.next().await {}
        })
    })
    .await;
    let (client, mut events) = Client::connect(&url, no_reconnect()).await.unwrap();
    client.login_with_token("t").await.unwrap();
    let id = client.send_message_nowait("last words").unwrap();
    client.close().await.unwrap();
    let all = collect_until_closed(&mut events).await;
    let reply = all.iter().find_map(|e| match e {
        Event::Reply { request, result } if *request == id => Some(result.clone()),
        _ => None,
    });
    assert_eq!(reply, Some(Ok(json!({"id":9}))), "{all:?}");
}

#[tokio::test]
async fn a_keyed_create_cut_off_is_retried_and_read_back_never_doubled() {
    let url = mock_each(2, move |i, mut ws| {
        Box::pin(async move {
            accept_auth(&mut ws).await;
            if i == 0 {
                // The create arrives (and, say, is stored); the answer is lost with the line.
                let create = recv_json(&mut ws).await;
                assert_eq!(create["data"]["id"], "u-1");
                let update = recv_json(&mut ws).await;
                assert_eq!(update["action"], "update");
                return;
            }
            // Sent again, in order: the create meets its first attempt, the update is applied.
            let create = recv_json(&mut ws).await;
            assert_eq!((create["action"].as_str(), create["data"]["id"].as_str()), (Some("create"), Some("u-1")), "{create}");
            let err = json!({"type":"items","status":"error","uid":create["uid"],
                             "error":{"code":"RECORD_NOT_UNIQUE","message":"Value \"u-1\" for field \"id\" has to be unique."}});
            send_json(&mut ws, err).await;
            let update = recv_json(&mut ws).await;
            assert_eq!(update["action"], "update", "{update}");
            send_json(&mut ws, json!({"type":"items","data":{"id":"u-0","text":"edited"},"uid":update["uid"]})).await;
            let read = recv_json(&mut ws).await;
            assert_eq!(read["action"], "read", "{read}");
            assert_eq!(read["query"]["filter"], json!({"id":{"_in":["u-1"]}}), "{read}");
            send_json(&mut ws, json!({"type":"items","data":[{"id":"u-1","text":"once"}],"uid":read["uid"]})).await;
            while let Some(Ok(_)) = ws.next().await {}
        })
    })
    .await;
    let options = ClientOptions {
        reconnect: ReconnectPolicy { first_delay: Duration::from_millis(50), ..ReconnectPolicy::default() },
        ..mock_options()
    };
    let (client, _events) = Client::connect(&url, options).await.unwrap();
    client.login_with_token("t").await.unwrap();
    let create = client.create("messages", json!({"id":"u-1","text":"once"}));
    let update = client.update("messages", "u-0", json!({"text":"edited"}));
    let (created, updated) = tokio::join!(create, update);
    assert_eq!(created, Ok(json!({"id":"u-1","text":"once"})), "the create is answered with what was stored");
    assert_eq!(updated, Ok(json!({"id":"u-0","text":"edited"})));
    client.close().await.unwrap();
}

#[tokio::test]
async fn a_burst_of_create_events_is_delivered_whole_and_in_order() {
    const N: usize = 5_000;
    let url = mock(|mut ws| {
        Box::pin(async move {
            accept_auth(&mut ws).await;
            let sub = recv_json(&mut ws).await;
            send_json(&mut ws, json!({"type":"subscription","event":"init","data":[],"uid":sub["uid"]})).await;
            // Back to back, without waiting for the client: the JS SDK's iterator kept 175 of 1,000.
            for i in 0..N {
                let ev = json!({"type":"subscription","event":"create","uid":sub["uid"],
                                "data":[{"id":i,"text":format!("burst {i}"),"date_created":"2026-11-24T10:00:00.000Z","user_created":{"first_name":"Kevin"}}]});
                ws.feed(Message::Text(ev.to_string().into())).await.unwrap();
            }
            ws.flush().await.unwrap();
            while let Some(Ok(_)) = ws.next().await {}
        })
    })
    .await;
    let (client, mut events) = Client::connect(&url, no_reconnect()).await.unwrap();
    client.login_with_token("t").await.unwrap();
    let sub = client.subscribe(directus_chat::SubscribeRequest::new("messages").query(json!({"limit": -1}))).await.unwrap();
    let mut ids = Vec::with_capacity(N);
    while ids.len() < N {
        match tokio::time::timeout(Duration::from_secs(10), events.next()).await.expect("burst delivered").expect("open") {
            Event::Subscription { uid, kind: SubscriptionKind::Create, data } if uid == sub.uid() => {
                ids.extend(data.as_array().unwrap().iter().map(|i| i["id"].as_u64().unwrap() as usize))
            }
            _ => {}
        }
    }
    assert_eq!(ids, (0..N).collect::<Vec<_>>());
    client.close().await.unwrap();
}

#[tokio::test]
async fn an_oversized_frame_ends_the_connection_with_a_reason() {
    let url = mock(|mut ws| {
        Box::pin(async move {
            accept_auth(&mut ws).await;
            let big = "x".repeat(64 * 1024);
            send_json(&mut ws, json!({"type":"collab","blob":big})).await;
            while let Some(Ok(_)) = ws.next().await {}
        })
    })
    .await;
    let options = ClientOptions { max_message_size: 16 * 1024, ..no_reconnect() };
    let (client, mut events) = Client::connect(&url, options).await.unwrap();
    client.login_with_token("t").await.unwrap();
    let all = collect_until_closed(&mut events).await;
    let reason = disconnect_reason(&all);
    assert!(reason.as_deref().is_some_and(|r| r.contains("max_message_size")), "{all:?}");
}

#[tokio::test]
async fn a_server_that_never_completes_the_upgrade_times_the_connect_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/websocket", listener.local_addr().unwrap());
    tokio::spawn(async move {
        // Accept TCP, say nothing.
        let (_tcp, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let options = ClientOptions { connect_timeout: Duration::from_millis(300), ..no_reconnect() };
    let started = std::time::Instant::now();
    let err = Client::connect(&url, options).await.unwrap_err();
    assert!(matches!(&err, Error::Connection(m) if m.contains("timed out")), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_who_stops_reading_holds_the_server_back_and_loses_nothing() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    const N: usize = 20_000;
    let pushed = Arc::new(AtomicUsize::new(0));
    let counter = pushed.clone();
    let url = mock(move |mut ws| {
        Box::pin(async move {
            accept_auth(&mut ws).await;
            let sub = recv_json(&mut ws).await;
            send_json(&mut ws, json!({"type":"subscription","event":"init","data":[],"uid":sub["uid"]})).await;
            let _catch_up = recv_json(&mut ws).await;
            let pad = "p".repeat(1000);
            for i in 0..N {
                let ev = json!({"type":"subscription","event":"create","uid":sub["uid"],"data":[{"id":i,"pad":pad}]});
                if ws.send(Message::Text(ev.to_string().into())).await.is_err() {
                    return;
                }
                counter.store(i + 1, Ordering::SeqCst);
            }
            while let Some(Ok(_)) = ws.next().await {}
        })
    })
    .await;
    let options = ClientOptions { max_buffered_events: 100, ..no_reconnect() };
    let (client, mut events) = Client::connect(&url, options).await.unwrap();
    client.login_with_token("t").await.unwrap();
    let sub = client.subscribe(directus_chat::SubscribeRequest::new("messages").query(json!({"limit": -1}))).await.unwrap();
    // Not reading: the session stops reading too, and the server's writes back up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let while_stalled = pushed.load(Ordering::SeqCst);
    assert!(while_stalled < N, "the server could push everything ({while_stalled}) while nobody read");
    let mut next = 0;
    while next < N {
        match tokio::time::timeout(Duration::from_secs(20), events.next()).await.expect("events flow again").expect("open") {
            Event::Subscription { uid, kind: SubscriptionKind::Create, data } if uid == sub.uid() => {
                for item in data.as_array().unwrap() {
                    assert_eq!(item["id"].as_u64(), Some(next as u64), "in order, none lost");
                    next += 1;
                }
            }
            _ => {}
        }
    }
    eprintln!("server pushed {while_stalled} of {N} events while the user was not reading; all {N} delivered after");
    client.close().await.unwrap();
}

#[tokio::test]
async fn a_full_queue_fails_the_request_that_does_not_fit() {
    let url = mock(|mut ws| {
        Box::pin(async move {
            // Never answers the login: requests wait in the queue.
            while let Some(Ok(_)) = ws.next().await {}
        })
    })
    .await;
    let options = ClientOptions { max_queued: 2, request_timeout: Duration::from_secs(2), ..no_reconnect() };
    let (client, _events) = Client::connect(&url, options).await.unwrap();
    let login = client.login_with_token("t");
    let a = client.read("messages", json!({}));
    let b = client.read("messages", json!({}));
    let c = client.read("messages", json!({}));
    let (_, a, b, c) = tokio::join!(login, a, b, c);
    assert_eq!(c, Err(Error::QueueFull), "the third does not fit");
    assert_eq!((a, b), (Err(Error::Timeout), Err(Error::Timeout)), "the queued ones end too");
}

#[tokio::test]
async fn invalid_utf8_in_a_text_frame_closes_with_a_reason_and_the_client_recovers() {
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    let url = mock_each(2, |i, mut ws| {
        Box::pin(async move {
            accept_auth(&mut ws).await;
            if i == 0 {
                let bad = Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true);
                let _ = ws.send(Message::Frame(bad)).await;
                while let Some(Ok(_)) = ws.next().await {}
                return;
            }
            let req = recv_json(&mut ws).await;
            send_json(&mut ws, json!({"type":"items","data":[],"uid":req["uid"]})).await;
            while let Some(Ok(_)) = ws.next().await {}
        })
    })
    .await;
    let options = ClientOptions {
        reconnect: ReconnectPolicy { first_delay: Duration::from_millis(50), ..ReconnectPolicy::default() },
        ..mock_options()
    };
    let (client, mut events) = Client::connect(&url, options).await.unwrap();
    client.login_with_token("t").await.unwrap();
    let mut reason = None;
    while reason.is_none() {
        if let Event::State { state: ConnectionState::Disconnected, reason: r, .. } = events.next().await.unwrap() {
            reason = r;
        }
    }
    assert!(reason.as_deref().is_some_and(|r| r.to_lowercase().contains("utf")), "{reason:?}");
    // Recovered: authenticated again on a new connection, and requests work.
    assert_eq!(client.read("messages", json!({})).await, Ok(json!([])));
    client.close().await.unwrap();
}
