//! The presence machine from recorded shapes of Directus 12.4 answers, with the time
//! as an input.

use super::*;
use crate::protocol::ServerError;
use serde_json::json;

const ME: &str = "u-me";
const ADA: &str = "u-ada";
const T0: i64 = 1_795_636_500_000;

fn machine() -> Machine {
    Machine::new(PresenceConfig::default(), ChatConfig::kit(), Arc::new(Ids::default()))
}

fn date(ms: i64) -> String {
    format_date_ms(ms)
}

fn row(user: &str, typing: bool, at: i64) -> Value {
    json!({"id": format!("{user}:general"), "room": "general", "typing": typing,
           "user": {"id": user, "first_name": user.trim_start_matches("u-")}, "date_updated": date(at)})
}

/// Requests among the actions, with their tokens.
fn requests(actions: &[Action]) -> Vec<(Token, ItemsRequest)> {
    actions
        .iter()
        .filter_map(|a| if let Action::Request { token, request } = a { Some((token.clone(), request.clone())) } else { None })
        .collect()
}

fn emitted(actions: &[Action]) -> Vec<PresenceEvent> {
    actions.iter().filter_map(|a| if let Action::Emit(e) = a { Some(e.clone()) } else { None }).collect()
}

/// Enters "general" and answers the first write; returns the subscription numbers
/// (presence, receipts, messages).
fn entered(m: &mut Machine) -> (u64, u64, u64) {
    m.enter("general", ME, T0, Some(99));
    let actions = m.take();
    let subs: Vec<u64> = actions.iter().filter_map(|a| if let Action::Subscribe { id, .. } = a { Some(*id) } else { None }).collect();
    assert_eq!(subs.len(), 3);
    let writes = requests(&actions);
    assert_eq!(writes.len(), 1, "one write on entry");
    assert_eq!(writes[0].0, Token::Presence { room: "general".into(), create: true });
    m.answer(writes[0].0.clone(), Ok(row(ME, false, T0)), T0 + 20);
    assert!(matches!(m.take().as_slice(), [Action::Done { waiter: 99, result: Ok(_) }]));
    (subs[0], subs[1], subs[2])
}

#[test]
fn heartbeats_keep_a_row_and_peers_expire_by_the_servers_clock() {
    let mut m = machine();
    let (presence, _, _) = entered(&mut m);
    m.event(presence, SubscriptionKind::Init, &json!([row(ME, false, T0), row(ADA, false, T0 - 20_000)]), T0 + 30);
    let ev = emitted(&m.take());
    let online: Vec<_> = ev
        .iter()
        .filter_map(|e| if let PresenceEvent::Online { user, online: true, .. } = e { Some(user.as_str()) } else { None })
        .collect();
    assert_eq!(online, [ADA, ME]);
    // Ada's last write was 20 s before T0: the TTL of 25 s ends at T0 + 5 s.
    m.tick(T0 + 4_900);
    assert!(emitted(&m.take()).is_empty());
    m.tick(T0 + 5_100);
    assert_eq!(
        emitted(&m.take()),
        [PresenceEvent::Online { room: "general".into(), user: ADA.into(), name: Some("ada".into()), online: false }]
    );
    // Our heartbeat: an update 10 s after the last write, not before.
    m.tick(T0 + 9_900);
    assert!(requests(&m.take()).is_empty());
    m.tick(T0 + 10_000);
    let w = requests(&m.take());
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].0, Token::Presence { room: "general".into(), create: false });
    assert_eq!(w[0].1.data_value(), Some(&json!({"typing": false})));
    assert_eq!(m.online("general").unwrap().iter().map(|m| m.user.as_str()).collect::<Vec<_>>(), [ME]);
}

#[test]
fn the_server_clock_is_estimated_from_our_writes() {
    let mut m = machine();
    m.enter("general", ME, T0, None);
    let w = requests(&m.take());
    // The server is 60 s ahead of us.
    m.answer(w[0].0.clone(), Ok(row(ME, false, T0 + 60_000)), T0 + 10);
    m.take();
    let (presence, ..) = (m.subs.iter().find(|(_, v)| v.1 == Watch::Presence).map(|(k, _)| *k).unwrap(), 0);
    // Ada wrote 30 s ago by the server's clock: offline for us too, although by our
    // own clock her date is in the future.
    m.event(presence, SubscriptionKind::Create, &json!([row(ADA, false, T0 + 30_000)]), T0 + 20);
    assert!(emitted(&m.take()).iter().all(|e| !matches!(e, PresenceEvent::Online { user, .. } if user == ADA)));
}

#[test]
fn a_clean_exit_and_a_deletion_of_another_rooms_row() {
    let mut m = machine();
    let (presence, _, _) = entered(&mut m);
    m.event(presence, SubscriptionKind::Init, &json!([row(ADA, false, T0)]), T0 + 30);
    m.take();
    // Deletions of every room reach every subscription: another room's row is not Ada's here.
    m.event(presence, SubscriptionKind::Delete, &json!([format!("{ADA}:other")]), T0 + 40);
    assert!(emitted(&m.take()).is_empty());
    m.event(presence, SubscriptionKind::Delete, &json!([format!("{ADA}:general")]), T0 + 50);
    assert_eq!(
        emitted(&m.take()),
        [PresenceEvent::Online { room: "general".into(), user: ADA.into(), name: Some("ada".into()), online: false }]
    );
    m.exit("general", Some(7));
    let a = m.take();
    assert_eq!(a.iter().filter(|a| matches!(a, Action::Unsubscribe { .. })).count(), 3);
    let w = requests(&a);
    assert_eq!(w[0].1.action_kind(), crate::protocol::ItemAction::Delete);
    m.answer(w[0].0.clone(), Ok(json!(format!("{ME}:general"))), T0 + 60);
    assert!(matches!(m.take().as_slice(), [Action::Done { waiter: 7, result: Ok(_) }]));
    assert!(m.online("general").is_none());
    assert!(m.set_typing("general", true, T0).is_err());
}

#[test]
fn an_upsert_switches_between_create_and_update() {
    let mut m = machine();
    m.enter("general", ME, T0, None);
    let w = requests(&m.take());
    let dup = Error::Server(ServerError::new(ErrorCode::RecordNotUnique, "exists"));
    m.answer(w[0].0.clone(), Err(dup), T0 + 10);
    let w = requests(&m.take());
    assert_eq!(w[0].0, Token::Presence { room: "general".into(), create: false }, "it exists: update it");
    let gone = Error::Server(ServerError::new(ErrorCode::Forbidden, "no"));
    m.answer(w[0].0.clone(), Err(gone.clone()), T0 + 20);
    let w = requests(&m.take());
    assert_eq!(w[0].0, Token::Presence { room: "general".into(), create: true }, "gone: create it");
    // A server that refuses both does not make a loop: an error, and a pause.
    m.answer(w[0].0.clone(), Err(gone), T0 + 30);
    let a = m.take();
    assert!(requests(&a).is_empty());
    assert!(a.iter().any(|a| matches!(a, Action::Error(_))));
    m.tick(T0 + 2_100);
    assert_eq!(requests(&m.take()).len(), 1, "tried again after the pause");
}

/// Continuous typing for 30 s (a keystroke every 200 ms), then a stop: at most 11
/// writes, and no heartbeat in between.
#[test]
fn typing_writes_at_most_every_three_seconds() {
    let mut m = machine();
    let (presence, _, _) = entered(&mut m);
    let mut writes = Vec::new();
    let mut t = T0 + 1_000;
    let answer = |m: &mut Machine, t: i64, writes: &mut Vec<(i64, bool)>| {
        for (token, req) in requests(&m.take()) {
            writes.push((t, req.data_value().unwrap()["typing"].as_bool().unwrap()));
            m.answer(token, Ok(row(ME, true, t)), t + 15);
        }
    };
    while t < T0 + 31_000 {
        m.set_typing("general", true, t).unwrap();
        answer(&mut m, t, &mut writes);
        if (t - T0) % 250 == 0 {
            m.tick(t);
            answer(&mut m, t, &mut writes);
        }
        t += 200;
    }
    m.set_typing("general", false, t).unwrap();
    answer(&mut m, t, &mut writes);
    assert!(writes.len() <= 11, "{writes:?}");
    assert_eq!(writes.first().map(|w| w.1), Some(true));
    assert_eq!(writes.last(), Some(&(t, false)), "a stop clears at once");
    assert!(writes.windows(2).all(|w| w[1].0 - w[0].0 >= 3_000 || !w[1].1), "{writes:?}");
    // Peers: typing from the row, gone 5 s after its last write without a refresh.
    m.event(presence, SubscriptionKind::Update, &json!([row(ADA, true, t)]), t + 10);
    assert!(emitted(&m.take()).contains(&PresenceEvent::Typing {
        room: "general".into(),
        user: ADA.into(),
        name: Some("ada".into()),
        typing: true
    }));
    m.tick(t + 4_900);
    assert!(emitted(&m.take()).is_empty());
    m.tick(t + 5_100);
    assert_eq!(
        emitted(&m.take()),
        [PresenceEvent::Typing { room: "general".into(), user: ADA.into(), name: Some("ada".into()), typing: false }],
        "typing expires, presence stays"
    );
}

#[test]
fn typing_that_lapses_is_cleared_by_the_next_heartbeat_not_by_a_write_of_its_own() {
    let mut m = machine();
    entered(&mut m);
    m.set_typing("general", true, T0 + 1_000).unwrap();
    let w = requests(&m.take());
    assert_eq!(w.len(), 1);
    m.answer(w[0].0.clone(), Ok(row(ME, true, T0 + 1_000)), T0 + 1_010);
    m.take();
    for t in (T0 + 1_250..T0 + 10_999).step_by(250) {
        m.tick(t);
        assert!(requests(&m.take()).is_empty(), "no write at {}", t - T0);
    }
    m.tick(T0 + 11_000);
    let w = requests(&m.take());
    assert_eq!(w[0].1.data_value(), Some(&json!({"typing": false})), "the heartbeat says not typing");
}

fn answer_count(m: &mut Machine, n: u64, max: Option<i64>) {
    let w = requests(&m.take());
    let (token, req) = w.iter().find(|(t, _)| matches!(t, Token::Count { .. })).cloned().expect("a count");
    assert!(req.query.as_ref().unwrap().get("aggregate").is_some());
    m.answer(token, Ok(json!([{"count": n, "max": {"date_created": max.map(date)}}])), T0);
}

#[test]
fn unread_counts_from_the_server_then_from_new_messages_without_double_counting() {
    let mut m = machine();
    let (_, receipts, messages) = entered(&mut m);
    let mine = json!({"id": format!("{ME}:general"), "room": "general", "user": {"id": ME}, "last_read": "5", "last_read_date": date(T0)});
    m.event(receipts, SubscriptionKind::Init, &json!([mine]), T0);
    assert!(requests(&m.take()).iter().all(|(t, _)| !matches!(t, Token::Count { .. })), "not before the messages are watched");
    m.event(messages, SubscriptionKind::Init, &Value::Null, T0);
    // A message arrives while the count is on the way: newer than what the count saw.
    let w = requests(&m.take());
    let (token, _) = w.iter().find(|(t, _)| matches!(t, Token::Count { .. })).cloned().unwrap();
    let msg = |id: u32, at: i64, user: &str| json!([{"id": id, "date_created": date(at), "user_created": user}]);
    m.event(messages, SubscriptionKind::Create, &msg(8, T0 + 3_000, ADA), T0);
    m.event(messages, SubscriptionKind::Create, &msg(7, T0 + 2_000, ADA), T0);
    m.answer(token, Ok(json!([{"count": 2, "max": {"date_created": date(T0 + 2_000)}}])), T0);
    assert_eq!(emitted(&m.take()), [PresenceEvent::Unread { room: "general".into(), count: 3 }], "7 was counted, 8 was not");
    m.event(messages, SubscriptionKind::Create, &msg(9, T0 + 4_000, ADA), T0);
    m.event(messages, SubscriptionKind::Create, &msg(10, T0 + 5_000, ME), T0);
    m.event(messages, SubscriptionKind::Create, &msg(9, T0 + 4_000, ADA), T0);
    assert_eq!(m.unread("general"), Some(4), "one's own and repeats do not count");
    // Marking read writes the receipt, then counts again.
    m.mark_read("general", "9", Some(date(T0 + 4_000)), Some(5)).unwrap();
    let w = requests(&m.take());
    assert!(matches!(&w[0].0, Token::Receipt { create: false, .. }), "one's receipt exists: update");
    m.answer(
        w[0].0.clone(),
        Ok(json!({"id": format!("{ME}:general"), "room":"general", "user": ME, "last_read":"9", "last_read_date": date(T0 + 4_000)})),
        T0,
    );
    let a = m.take();
    assert!(a.iter().any(|a| matches!(a, Action::Done { waiter: 5, result: Ok(_) })));
    let count = requests(&a).into_iter().find(|(t, _)| matches!(t, Token::Count { .. })).unwrap();
    assert!(count.1.query.as_ref().unwrap().to_string().contains(&date(T0 + 4_000)));
    m.answer(count.0, Ok(json!([{"count": 0, "max": {"date_created": null}}])), T0);
    assert_eq!(emitted(&m.take()), [PresenceEvent::Unread { room: "general".into(), count: 0 }]);
    // After a reconnect the new-messages subscription's init counts again.
    m.reconnected(T0 + 1);
    m.take();
    m.event(messages, SubscriptionKind::Init, &Value::Null, T0 + 2);
    answer_count(&mut m, 2, Some(T0 + 9_000));
    assert_eq!(m.unread("general"), Some(2));
}

#[test]
fn readers_by_marker_date_and_read_events() {
    let mut m = machine();
    let (_, receipts, _) = entered(&mut m);
    let r = |user: &str, last: &str, at: i64| json!({"id": format!("{user}:general"), "room":"general", "user": {"id": user, "first_name": "x"}, "last_read": last, "last_read_date": date(at)});
    m.event(receipts, SubscriptionKind::Init, &json!([r(ADA, "4", T0)]), T0);
    assert!(emitted(&m.take()).is_empty(), "the init tells nothing");
    let readers =
        |m: &Machine, id: &str, at: i64| m.readers("general", id, Some(&date(at))).unwrap().into_iter().map(|r| r.user).collect::<Vec<_>>();
    assert_eq!(readers(&m, "4", T0), [ADA]);
    assert_eq!(readers(&m, "3", T0 - 1_000), [ADA], "an older message is read too");
    assert!(readers(&m, "5", T0 + 1_000).is_empty());
    m.event(receipts, SubscriptionKind::Update, &json!([r(ADA, "5", T0 + 1_000)]), T0);
    assert_eq!(
        emitted(&m.take()),
        [PresenceEvent::Read { room: "general".into(), user: ADA.into(), name: Some("x".into()), last_read: Some("5".into()) }]
    );
    assert_eq!(readers(&m, "5", T0 + 1_000), [ADA]);
}

#[test]
fn a_reconnect_writes_the_row_at_once() {
    let mut m = machine();
    entered(&mut m);
    m.tick(T0 + 3_000);
    assert!(requests(&m.take()).is_empty());
    m.reconnected(T0 + 3_100);
    assert_eq!(requests(&m.take()).len(), 1);
}

/// A heartbeat shorter than the typing TTL: a heartbeat after a keystroke carries the
/// flag on, the next one without a keystroke writes it off, so a stopped typist is not
/// kept typing by heartbeats.
#[test]
fn short_heartbeats_do_not_keep_a_stopped_typist_typing() {
    let cfg = PresenceConfig {
        heartbeat: std::time::Duration::from_secs(2),
        ttl: std::time::Duration::from_secs(6),
        ..PresenceConfig::default()
    };
    let mut m = Machine::new(cfg, ChatConfig::kit(), Arc::new(Ids::default()));
    m.enter("general", ME, T0, None);
    let w = requests(&m.take());
    m.answer(w[0].0.clone(), Ok(row(ME, false, T0)), T0 + 10);
    m.take();
    let mut flags = Vec::new();
    m.set_typing("general", true, T0 + 500).unwrap();
    for t in (T0 + 500..T0 + 9_000).step_by(250) {
        if t == T0 + 1_500 {
            m.set_typing("general", true, t).unwrap(); // one more keystroke
        }
        m.tick(t);
        for (token, req) in requests(&m.take()) {
            flags.push((t - T0, req.data_value().unwrap()["typing"].as_bool().unwrap()));
            m.answer(token, Ok(row(ME, false, t)), t + 5);
        }
    }
    assert_eq!(flags, [(500, true), (2_500, true), (4_500, false), (6_500, false), (8_500, false)]);
}
