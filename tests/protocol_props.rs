//! Property tests of the sans-IO protocol (run in CI; the fuzzer in fuzz/ goes deeper).

use directus_chat::protocol::{ClientMessage, ServerMessage};
use directus_chat::{AuthCredentials, ItemsRequest, Secret};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Objects shaped like server messages, with random field values.
fn server_like() -> impl Strategy<Value = Value> {
    let kind = prop::sample::select(vec!["auth", "subscription", "items", "ping", "pong", "server", "subscribe", "collab"]);
    let status = prop::option::of(prop::sample::select(vec!["ok", "error", "weird"]));
    let event = prop::option::of(prop::sample::select(vec!["init", "create", "update", "delete", "unsubscribe", "boom"]));
    (kind, status, event, prop::option::of(json_value()), prop::option::of(json_value()), prop::option::of(json_value())).prop_map(
        |(kind, status, event, uid, data, error)| {
            let mut m = Map::new();
            m.insert("type".into(), kind.into());
            if let Some(s) = status {
                m.insert("status".into(), s.into());
            }
            if let Some(e) = event {
                m.insert("event".into(), e.into());
            }
            for (k, v) in [("uid", uid), ("data", data), ("error", error)] {
                if let Some(v) = v {
                    m.insert(k.into(), v);
                }
            }
            Value::Object(m)
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn decoding_any_text_never_panics(text in ".{0,200}") {
        let _ = ServerMessage::decode(&text);
    }

    #[test]
    fn decoding_any_json_never_panics(v in json_value()) {
        let _ = ServerMessage::decode(&v.to_string());
    }

    #[test]
    fn server_shaped_messages_keep_their_uid(v in server_like()) {
        let text = v.to_string();
        let msg = ServerMessage::decode(&text).expect("objects with a string type decode");
        let expected = match v.get("uid") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        if !matches!(msg, ServerMessage::Unknown(_)) {
            prop_assert_eq!(msg.uid().map(str::to_owned), expected);
        }
    }

    #[test]
    fn client_messages_encode_to_one_json_object(collection in "[a-z_]{1,12}", text in ".{0,40}", uid in "[a-z0-9-]{1,10}", pw in ".{0,20}") {
        let items = ClientMessage::Items { request: ItemsRequest::create(collection.clone(), json!({"text": text})), uid: Some(uid.clone()) };
        let v: Value = serde_json::from_str(&items.encode()).unwrap();
        prop_assert_eq!(&v["type"], "items");
        prop_assert_eq!(&v["data"]["text"], &json!(text));
        prop_assert_eq!(&v["uid"], &json!(uid));
        let auth = ClientMessage::Auth { credentials: AuthCredentials::Password { email: "a@b.c".into(), password: Secret::new(pw.clone()) }, uid: None };
        let v: Value = serde_json::from_str(&auth.encode()).unwrap();
        prop_assert_eq!(&v["password"], &json!(pw));
        if pw.len() > 3 {
            let debug = format!("{:?}", auth);
            prop_assert!(!debug.contains(&pw));
        }
    }
}
