//! The chat API (issue 12) against a real Directus seeded with the schema kit: rooms,
//! older history by keyset while others post, edits and deletions as chat events, who
//! am I, extra fields on send with the client key.

mod support;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use directus_chat::{ChatConfig, ChatEvent, ChatEventKind, ChatMessage, Client, ClientOptions, ConnectionState, ErrorKind, Event, Events};
use serde_json::{json, Value};
use support::directus::{Directus, User};

const WAIT: Duration = Duration::from_secs(20);

fn unique(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

async fn connect_as(server: &Directus, user: &User, options: ClientOptions) -> (Client, Events) {
    let (client, events) = Client::connect(&server.ws_url(), options).await.expect("connect");
    client.login(&user.email, &user.password).await.expect("login");
    (client, events)
}

/// A room made by the admin (messages refer to rooms: the room must exist).
fn make_room(server: &Directus, tag: &str) -> String {
    let id = unique(tag);
    let out = server.rest("POST", "/items/rooms", Some(&json!({"id": id, "name": tag}).to_string()));
    assert!(out.contains(&id), "room {id} not made: {out}");
    id
}

/// A third chat user (the test bed seeds two), with the kit's role.
fn third_user(server: &Directus) -> User {
    let email = format!("{}@example.com", unique("cleo"));
    let password = "cleo-password-1".to_owned();
    let role = server.env("DCHAT_ROLE_ID").expect("the test bed names the chat role");
    let body = json!({"email": email, "password": password, "first_name": "Cleo", "role": role});
    let out: Value = serde_json::from_str(&server.rest("POST", "/users", Some(&body.to_string()))).expect("JSON");
    let id = out["data"]["id"].as_str().unwrap_or_else(|| panic!("user not made: {out}")).to_owned();
    User { id, email, password, name: "Cleo".into(), token: String::new() }
}

/// Chat events of `client` until `done` says so, or panics after `WAIT`.
async fn chat_events_until(client: &Client, events: &mut Events, mut done: impl FnMut(&[ChatEvent]) -> bool) -> Vec<ChatEvent> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done(&seen) {
        let ev = match tokio::time::timeout_at(deadline, events.next()).await {
            Ok(Some(ev)) => ev,
            Ok(None) => panic!("event stream ended"),
            Err(_) => panic!("not done within {WAIT:?}; chat events so far: {seen:#?}"),
        };
        if let Event::State { state: ConnectionState::Disconnected | ConnectionState::Closed, reason, .. } = &ev {
            panic!("connection ended: {reason:?}");
        }
        if let Some(ce) = client.chat_event(&ev) {
            seen.push(ce);
        }
    }
    seen
}

/// The chat events that arrive within `quiet`.
async fn chat_events_for(client: &Client, events: &mut Events, quiet: Duration) -> Vec<ChatEvent> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + quiet;
    while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, events.next()).await {
        if let Some(ce) = client.chat_event(&ev) {
            seen.push(ce);
        }
    }
    seen
}

fn texts_with(events: &[ChatEvent], marker: &str) -> Vec<(Option<String>, String)> {
    events
        .iter()
        .filter(|e| e.kind == ChatEventKind::Created)
        .flat_map(|e| e.messages.iter().map(move |m| (e.room.clone(), m.clone())))
        .filter(|(_, m)| m.text.contains(marker))
        .map(|(room, m)| (room, m.text))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_users_in_two_rooms_see_only_their_room_and_a_third_in_both_sees_both() {
    let server = Directus::shared();
    let (alpha, beta) = (make_room(server, "alpha"), make_room(server, "beta"));
    let cleo_user = third_user(server);
    let (kevin, mut kevin_events) = connect_as(server, &server.user1(), ClientOptions::default()).await;
    let (ada, mut ada_events) = connect_as(server, &server.user2(), ClientOptions::default()).await;
    let (cleo, mut cleo_events) = connect_as(server, &cleo_user, ClientOptions::default()).await;

    kevin.join(Some(&alpha)).await.expect("kevin joins alpha");
    ada.join(Some(&beta)).await.expect("ada joins beta");
    cleo.join(Some(&alpha)).await.expect("cleo joins alpha");
    cleo.join(Some(&beta)).await.expect("cleo joins beta");
    // Joining asked who each one is.
    assert_eq!(kevin.me().map(|m| m.id), Some(server.user1().id));
    assert_eq!(cleo.me().and_then(|m| m.first_name).as_deref(), Some("Cleo"));

    let marker = unique("rooms");
    for i in 0..3 {
        let m = kevin.send_to(Some(&alpha), &format!("{marker} alpha {i}")).await.expect("send to alpha");
        assert_eq!((m.room.as_deref(), m.own), (Some(alpha.as_str()), true), "the answer is one's own message in alpha");
        ada.send_to(Some(&beta), &format!("{marker} beta {i}")).await.expect("send to beta");
    }
    kevin.send_message(&format!("{marker} lobby")).await.expect("send to the lobby");

    let want = |room: &str, name: &str| -> Vec<(Option<String>, String)> {
        (0..3).map(|i| (Some(room.to_owned()), format!("{marker} {name} {i}"))).collect()
    };
    let (alpha_want, beta_want) = (want(&alpha, "alpha"), want(&beta, "beta"));

    let k = chat_events_until(&kevin, &mut kevin_events, |e| texts_with(e, &marker).len() >= 3).await;
    let a = chat_events_until(&ada, &mut ada_events, |e| texts_with(e, &marker).len() >= 3).await;
    let c = chat_events_until(&cleo, &mut cleo_events, |e| texts_with(e, &marker).len() >= 6).await;
    // Nothing else comes later (the lobby message and the other room's never do).
    let (k2, a2, c2) = tokio::join!(
        chat_events_for(&kevin, &mut kevin_events, Duration::from_secs(2)),
        chat_events_for(&ada, &mut ada_events, Duration::from_secs(2)),
        chat_events_for(&cleo, &mut cleo_events, Duration::from_secs(2))
    );
    let all = |a: Vec<ChatEvent>, b: Vec<ChatEvent>| a.into_iter().chain(b).collect::<Vec<_>>();
    let (k, a, c) = (all(k, k2), all(a, a2), all(c, c2));
    assert_eq!(texts_with(&k, &marker), alpha_want, "kevin: alpha only, in order");
    assert_eq!(texts_with(&a, &marker), beta_want, "ada: beta only, in order");
    let mut cleo_got = texts_with(&c, &marker);
    cleo_got.sort();
    let mut cleo_want: Vec<_> = alpha_want.iter().chain(&beta_want).cloned().collect();
    cleo_want.sort();
    assert_eq!(cleo_got, cleo_want, "cleo: both rooms, each message once, named by its room");
    for e in &c {
        for m in &e.messages {
            assert_eq!(m.room, e.room, "every message is in its event's room");
            assert!(!m.own, "cleo wrote none of them");
            assert!(m.author_id.is_some(), "each message names its author's id");
        }
    }
    assert!(k.iter().flat_map(|e| &e.messages).filter(|m| m.text.contains(&marker)).all(|m| m.own), "kevin's own messages");

    // A deletion in alpha reaches Cleo once, in alpha (the server tells both of her
    // subscriptions), and never Ada.
    let gone = k.iter().flat_map(|e| &e.messages).find(|m| m.text == format!("{marker} alpha 0")).expect("sent").id.clone();
    kevin.delete_message(&gone).await.expect("kevin deletes his message");
    let c = chat_events_until(&cleo, &mut cleo_events, |e| e.iter().any(|e| e.kind == ChatEventKind::Deleted)).await;
    let c2 = chat_events_for(&cleo, &mut cleo_events, Duration::from_secs(2)).await;
    let deletions: Vec<_> = all(c, c2).into_iter().filter(|e| e.kind == ChatEventKind::Deleted).map(|e| (e.room, e.deleted)).collect();
    assert_eq!(deletions, vec![(Some(alpha.clone()), vec![gone.clone()])]);
    let a = chat_events_for(&ada, &mut ada_events, Duration::from_secs(1)).await;
    assert!(a.iter().all(|e| e.kind != ChatEventKind::Deleted), "not ada's room: {a:?}");

    // Leaving: no more events of that room.
    cleo.leave(Some(&beta)).await.expect("leave beta");
    ada.send_to(Some(&beta), &format!("{marker} after leave")).await.expect("send");
    let c = chat_events_for(&cleo, &mut cleo_events, Duration::from_secs(2)).await;
    assert!(texts_with(&c, "after leave").is_empty(), "{c:?}");
    for client in [kevin, ada, cleo] {
        client.close().await.expect("close");
    }
}

/// The room's messages in the database, in the order "date, then key".
fn database_order(server: &Directus, room: &str) -> Vec<String> {
    let path = format!("/items/messages?filter[room][_eq]={room}&sort=date_created,id&limit=-1&fields=id");
    let out: Value = serde_json::from_str(&server.rest("GET", &path, None)).expect("JSON");
    out["data"].as_array().expect("rows").iter().map(|r| r["id"].to_string().trim_matches('"').to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn paging_back_through_1000_messages_while_another_user_posts_yields_each_once_in_order() {
    let server = Directus::shared();
    let room = make_room(server, "paging");
    // 1,000 messages, made by the admin in batches.
    for batch in 0..5 {
        let items: Vec<Value> = (0..200).map(|i| json!({"text": format!("old {}", batch * 200 + i), "room": room})).collect();
        let out = server.rest("POST", "/items/messages", Some(&Value::Array(items).to_string()));
        assert!(out.contains("\"data\""), "seed failed: {}", &out[..out.len().min(300)]);
    }
    // Some share a date (ties are ordered by key), in groups across the borders of the
    // history (the newest 100) and of pages (every 50 from there).
    let seeded = database_order(server, &room);
    assert_eq!(seeded.len(), 1000);
    for group in [&seeded[296..304], &seeded[346..354], &seeded[597..603], &seeded[897..903]] {
        let dates: Value =
            serde_json::from_str(&server.rest("GET", &format!("/items/messages/{}?fields=date_created", group[0]), None)).unwrap();
        let keys: Vec<Value> = group.iter().map(|k| json!(k.parse::<i64>().unwrap())).collect();
        let body = json!({"keys": keys, "data": {"date_created": dates["data"]["date_created"]}});
        server.rest("PATCH", "/items/messages", Some(&body.to_string()));
    }
    let seeded = database_order(server, &room);

    let (kevin, mut kevin_events) = connect_as(server, &server.user1(), ClientOptions::default()).await;
    let (ada, _ada_events) = connect_as(server, &server.user2(), ClientOptions::default()).await;
    kevin.join(Some(&room)).await.expect("join");
    // The history (newest 100) is the subscription's first event.
    let history = chat_events_until(&kevin, &mut kevin_events, |e| e.iter().any(|e| e.kind == ChatEventKind::History)).await;
    let mut shown: Vec<ChatMessage> = history.into_iter().filter(|e| e.kind == ChatEventKind::History).flat_map(|e| e.messages).collect();
    assert_eq!(shown.len(), 100, "the newest 100 as history");

    // Ada posts 100 messages while Kevin pages back.
    let poster = {
        let (ada, room) = (ada.clone(), room.clone());
        tokio::spawn(async move {
            let mut keys = Vec::new();
            for i in 0..100 {
                keys.push(ada.send_to(Some(&room), &format!("new {i}")).await.expect("ada posts").id);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            keys
        })
    };
    let mut live: Vec<ChatMessage> = Vec::new();
    let mut pages = 0;
    loop {
        let page = kevin.load_older(Some(&room), None, 50).await.expect("page");
        // Live events keep arriving meanwhile: take what is there.
        while let Some(ev) = kevin_events.try_next() {
            if let Some(ce) = kevin.chat_event(&ev) {
                assert_eq!(ce.room.as_deref(), Some(room.as_str()));
                if ce.kind == ChatEventKind::Created {
                    live.extend(ce.messages);
                }
            }
        }
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 50);
        pages += 1;
        // Each page is older than everything shown so far, oldest first.
        shown.splice(0..0, page);
    }
    assert_eq!(pages, 18, "900 older messages in pages of 50");
    let posted = poster.await.expect("poster");
    let deadline = tokio::time::Instant::now() + WAIT;
    while live.len() < posted.len() {
        let ev = tokio::time::timeout_at(deadline, kevin_events.next()).await.expect("live events").expect("stream");
        if let Some(ce) = kevin.chat_event(&ev) {
            if ce.kind == ChatEventKind::Created {
                live.extend(ce.messages);
            }
        }
    }

    let shown_keys: Vec<String> = shown.iter().map(|m| m.id.clone()).collect();
    assert_eq!(shown_keys, seeded, "history and pages: each of the 1,000 once, in the order date then key");
    let live_keys: Vec<String> = live.iter().map(|m| m.id.clone()).collect();
    assert_eq!(live_keys, posted, "the live stream: each new message once, in order");
    let shown_set: HashSet<&String> = shown_keys.iter().collect();
    assert!(live_keys.iter().all(|k| !shown_set.contains(k)), "pages and live events never overlap");
    assert!(live.iter().all(|m| !m.own) && shown.iter().all(|m| !m.own));
    kevin.close().await.expect("close");
    ada.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edit_and_a_delete_reach_the_other_user_and_editing_another_users_message_is_forbidden() {
    let server = Directus::shared();
    let room = make_room(server, "edits");
    let (kevin, mut kevin_events) = connect_as(server, &server.user1(), ClientOptions::default()).await;
    let (ada, mut ada_events) = connect_as(server, &server.user2(), ClientOptions::default()).await;
    kevin.join(Some(&room)).await.expect("join");
    ada.join(Some(&room)).await.expect("join");

    let mine = kevin.send_to(Some(&room), "first version").await.expect("send");
    assert!(!mine.edited);
    let edited = kevin.edit_message(&mine.id, "second version").await.expect("edit own message");
    assert_eq!((edited.text.as_str(), edited.edited, edited.own), ("second version", true, true));
    let hers = ada.send_to(Some(&room), "ada's words").await.expect("send");

    // Someone else's message: refused by the server, and unchanged.
    let denied = kevin.edit_message(&hers.id, "not yours").await.expect_err("editing ada's message");
    assert_eq!(denied.kind(), ErrorKind::Forbidden, "{denied:?}");
    assert_eq!(denied.code(), "FORBIDDEN");
    let denied = kevin.delete_message(&hers.id).await.expect_err("deleting ada's message");
    assert_eq!(denied.code(), "FORBIDDEN");

    kevin.delete_message(&mine.id).await.expect("delete own message");
    let seen = chat_events_until(&ada, &mut ada_events, |e| e.iter().any(|e| e.kind == ChatEventKind::Deleted)).await;
    let edits: Vec<&ChatMessage> = seen.iter().filter(|e| e.kind == ChatEventKind::Edited).flat_map(|e| &e.messages).collect();
    assert_eq!(edits.len(), 1, "{seen:#?}");
    assert_eq!((edits[0].id.as_str(), edits[0].text.as_str(), edits[0].edited), (mine.id.as_str(), "second version", true));
    assert!(!edits[0].own, "ada did not write it");
    assert_eq!(edits[0].author.as_deref(), Some("Kevin"));
    let deleted: Vec<_> = seen.iter().filter(|e| e.kind == ChatEventKind::Deleted).collect();
    assert_eq!((deleted[0].room.as_deref(), deleted[0].deleted.clone()), (Some(room.as_str()), vec![mine.id.clone()]));
    // Kevin's own view: his edit, his deletion, Ada's message not edited.
    let k = chat_events_until(&kevin, &mut kevin_events, |e| e.iter().any(|e| e.kind == ChatEventKind::Deleted)).await;
    assert!(k.iter().filter(|e| e.kind == ChatEventKind::Edited).flat_map(|e| &e.messages).all(|m| m.id == mine.id && m.own));
    kevin.close().await.expect("close");
    ada.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn who_am_i_after_login_and_after_logging_in_as_someone_else() {
    let server = Directus::shared();
    let (kevin_u, ada_u) = (server.user1(), server.user2());
    let (client, _events) = connect_as(server, &kevin_u, ClientOptions::default()).await;
    assert_eq!(client.me(), None, "not asked yet: the chat API is not in use");
    let me = client.whoami().await.expect("who am I");
    assert_eq!(
        (me.id.as_str(), me.first_name.as_deref(), me.email.as_deref()),
        (kevin_u.id.as_str(), Some("Kevin"), Some(kevin_u.email.as_str()))
    );
    assert_eq!(client.me(), Some(me));
    // A new login changes the user, and the login returns once the new one is known.
    client.login_with_token(&ada_u.token).await.expect("login as ada");
    assert_eq!(client.me().map(|m| m.id), Some(ada_u.id.clone()));
    let m = client.send_message(&unique("as ada")).await.expect("send");
    assert!(m.own && m.author_id.as_deref() == Some(ada_u.id.as_str()));
    client.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn extra_fields_on_send_keep_the_client_key() {
    let server = Directus::shared();
    let room = make_room(server, "extra");
    let options = ClientOptions { chat: ChatConfig::kit(), ..ClientOptions::default() };
    let (kevin, mut events) = connect_as(server, &server.user1(), options).await;
    kevin.join(Some(&room)).await.expect("join");
    let m = kevin.send_with("with extras", json!({ "room": room })).await.expect("send with extra fields");
    assert_eq!(m.room.as_deref(), Some(room.as_str()));
    let key = m.raw["client_key"].as_str().expect("a client key was made").to_owned();
    assert_eq!(key.len(), 36);
    // The key is unique in the database: a second message with it is refused (what
    // makes a retried send meet its first attempt instead of doubling).
    let dup = kevin.send_with("again", json!({ "room": room, "client_key": key })).await.expect_err("same client key");
    assert_eq!(dup.code(), "RECORD_NOT_UNIQUE");
    let nowait = kevin.send_to_nowait(Some(&room), "no wait").expect("send without waiting");
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut created = HashMap::new();
    let mut replied = false;
    while !(replied && created.len() >= 2) {
        let ev = tokio::time::timeout_at(deadline, events.next()).await.expect("events").expect("stream");
        if let Event::Reply { request, result } = &ev {
            assert_eq!(*request, nowait);
            assert!(result.as_ref().expect("stored")["client_key"].is_string());
            replied = true;
        }
        if let Some(ce) = kevin.chat_event(&ev) {
            for m in ce.messages.into_iter().filter(|_| ce.kind == ChatEventKind::Created) {
                created.insert(m.text.clone(), m);
            }
        }
    }
    assert!(created.contains_key("with extras") && created.contains_key("no wait") && !created.contains_key("again"));
    kevin.close().await.expect("close");
}
