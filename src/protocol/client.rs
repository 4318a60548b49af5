//! Messages from the client to the server.

use serde_json::{Map, Value};

use super::requests::{ItemsRequest, SubscribeRequest};
use crate::secret::Secret;

/// How a connection authenticates: exactly one of the three forms the server accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthCredentials {
    /// Email and password; the server answers with a refresh token.
    Password {
        /// The user's email address.
        email: String,
        /// The user's password.
        password: Secret,
    },
    /// An access token: a static user token or a JWT from a REST login.
    AccessToken(Secret),
    /// A refresh token; the server answers with a new one (they rotate).
    RefreshToken(Secret),
}

/// The event filter of a subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventFilter {
    /// Only item creations.
    Create,
    /// Only item updates.
    Update,
    /// Only item deletions.
    Delete,
}

impl EventFilter {
    /// The wire name of the filter.
    pub fn as_str(self) -> &'static str {
        match self {
            EventFilter::Create => "create",
            EventFilter::Update => "update",
            EventFilter::Delete => "delete",
        }
    }

    /// Parses a wire name (`create`, `update`, `delete`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "create" => Some(EventFilter::Create),
            "update" => Some(EventFilter::Update),
            "delete" => Some(EventFilter::Delete),
            _ => None,
        }
    }
}

/// The four item actions of an `items` request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ItemAction {
    /// Create one item (`data` is an object) or many (`data` is an array).
    Create,
    /// Read one item (`id`), several (`ids`) or by `query`.
    Read,
    /// Update by `id`, `ids` or `query` with `data`.
    Update,
    /// Delete by `id`, `ids` or `query`.
    Delete,
}

impl ItemAction {
    /// The wire name of the action.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemAction::Create => "create",
            ItemAction::Read => "read",
            ItemAction::Update => "update",
            ItemAction::Delete => "delete",
        }
    }

    /// Parses a wire name (`create`, `read`, `update`, `delete`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "create" => Some(ItemAction::Create),
            "read" => Some(ItemAction::Read),
            "update" => Some(ItemAction::Update),
            "delete" => Some(ItemAction::Delete),
            _ => None,
        }
    }
}

/// One frame the client sends.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientMessage {
    /// `{"type":"auth", ...credentials}`.
    Auth {
        /// The credentials to present.
        credentials: AuthCredentials,
        /// Echoed on the server's answer when present.
        uid: Option<String>,
    },
    /// `{"type":"subscribe", collection, event?, item?, query?, uid?}`.
    Subscribe {
        /// What to subscribe to.
        request: SubscribeRequest,
        /// The subscription's uid; events carry it.
        uid: Option<String>,
    },
    /// `{"type":"unsubscribe", uid?}`; without uid every subscription ends.
    Unsubscribe {
        /// The subscription to end.
        uid: Option<String>,
    },
    /// `{"type":"items", collection, action, ...}`.
    Items {
        /// The request.
        request: ItemsRequest,
        /// Echoed on the answer.
        uid: Option<String>,
    },
    /// `{"type":"ping", uid?}`: the server answers with a pong.
    Ping {
        /// Echoed on the pong.
        uid: Option<String>,
    },
    /// `{"type":"pong", uid?}`: the answer to a server ping.
    Pong {
        /// The uid of the ping being answered, if it had one.
        uid: Option<String>,
    },
}

fn put(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), v);
    }
}

fn put_str(map: &mut Map<String, Value>, key: &str, value: &Option<String>) {
    put(map, key, value.clone().map(Value::String));
}

/// A primary key as it is sent: integer keys as text. Directus matches an update or a
/// delete to item subscriptions by comparing the event's keys with the subscription's
/// item as text, so an integer key sent as a number never reaches another client's item
/// subscription (every version from 10.13 to 12.4; REST calls, whose keys come from the
/// URL, always send text).
fn key_on_wire(key: &Value) -> Value {
    match key {
        Value::Number(n) => Value::String(n.to_string()),
        other => other.clone(),
    }
}

impl ClientMessage {
    /// The JSON object of this message.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        match self {
            ClientMessage::Auth { credentials, uid } => {
                m.insert("type".into(), "auth".into());
                match credentials {
                    AuthCredentials::Password { email, password } => {
                        m.insert("email".into(), email.clone().into());
                        m.insert("password".into(), password.expose().into());
                    }
                    AuthCredentials::AccessToken(t) => {
                        m.insert("access_token".into(), t.expose().into());
                    }
                    AuthCredentials::RefreshToken(t) => {
                        m.insert("refresh_token".into(), t.expose().into());
                    }
                }
                put_str(&mut m, "uid", uid);
            }
            ClientMessage::Subscribe { request: r, uid } => {
                m.insert("type".into(), "subscribe".into());
                m.insert("collection".into(), r.collection.clone().into());
                put(&mut m, "event", r.event.map(|e| e.as_str().into()));
                put(&mut m, "item", r.item.clone());
                put(&mut m, "query", r.query.clone());
                put_str(&mut m, "uid", uid);
            }
            ClientMessage::Unsubscribe { uid } => {
                m.insert("type".into(), "unsubscribe".into());
                put_str(&mut m, "uid", uid);
            }
            ClientMessage::Items { request: r, uid } => {
                m.insert("type".into(), "items".into());
                m.insert("collection".into(), r.collection.clone().into());
                m.insert("action".into(), r.action.as_str().into());
                put(&mut m, "data", r.data.clone());
                put(&mut m, "id", r.id.as_ref().map(key_on_wire));
                put(&mut m, "ids", r.ids.as_ref().map(|ids| Value::Array(ids.iter().map(key_on_wire).collect())));
                put(&mut m, "query", r.query.clone());
                put_str(&mut m, "uid", uid);
            }
            ClientMessage::Ping { uid } => {
                m.insert("type".into(), "ping".into());
                put_str(&mut m, "uid", uid);
            }
            ClientMessage::Pong { uid } => {
                m.insert("type".into(), "pong".into());
                put_str(&mut m, "uid", uid);
            }
        }
        Value::Object(m)
    }

    /// The text of the WebSocket frame for this message.
    pub fn encode(&self) -> String {
        self.to_json().to_string()
    }

    /// The uid this message carries, if any.
    pub fn uid(&self) -> Option<&str> {
        match self {
            ClientMessage::Auth { uid, .. }
            | ClientMessage::Subscribe { uid, .. }
            | ClientMessage::Unsubscribe { uid }
            | ClientMessage::Items { uid, .. }
            | ClientMessage::Ping { uid }
            | ClientMessage::Pong { uid } => uid.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn enc(m: ClientMessage) -> Value {
        serde_json::from_str(&m.encode()).unwrap()
    }

    #[test]
    fn auth_forms() {
        let pw = ClientMessage::Auth {
            credentials: AuthCredentials::Password { email: "kevin@example.com".into(), password: "pw".into() },
            uid: None,
        };
        assert_eq!(enc(pw), json!({"type":"auth","email":"kevin@example.com","password":"pw"}));
        let at = ClientMessage::Auth { credentials: AuthCredentials::AccessToken("tok".into()), uid: Some("a1".into()) };
        assert_eq!(enc(at), json!({"type":"auth","access_token":"tok","uid":"a1"}));
        let rt = ClientMessage::Auth { credentials: AuthCredentials::RefreshToken("r".into()), uid: None };
        assert_eq!(enc(rt), json!({"type":"auth","refresh_token":"r"}));
    }

    #[test]
    fn auth_debug_hides_secrets() {
        let pw = ClientMessage::Auth {
            credentials: AuthCredentials::Password { email: "k@e.com".into(), password: "hunter2".into() },
            uid: None,
        };
        assert!(!format!("{pw:?}").contains("hunter2"));
        let t = AuthCredentials::RefreshToken("sekrit-token".into());
        assert!(!format!("{t:?}").contains("sekrit"));
    }

    #[test]
    fn subscribe_as_in_the_seed_guides() {
        let m = ClientMessage::Subscribe {
            request: SubscribeRequest::new("messages").query(json!({"fields":["*","user_created.first_name"],"sort":"date_created"})),
            uid: Some("sub1".into()),
        };
        assert_eq!(
            enc(m),
            json!({"type":"subscribe","collection":"messages",
                   "query":{"fields":["*","user_created.first_name"],"sort":"date_created"},"uid":"sub1"})
        );
        let m = ClientMessage::Subscribe { request: SubscribeRequest::new("messages").event(EventFilter::Update).item(7), uid: None };
        assert_eq!(enc(m), json!({"type":"subscribe","collection":"messages","event":"update","item":7}));
    }

    #[test]
    fn items_and_control_messages() {
        let m = ClientMessage::Items { request: ItemsRequest::create("messages", json!({"text":"hi"})), uid: Some("c1".into()) };
        assert_eq!(enc(m), json!({"type":"items","collection":"messages","action":"create","data":{"text":"hi"},"uid":"c1"}));
        let m = ClientMessage::Items { request: ItemsRequest::delete("messages").ids(vec![json!(1), json!("u2")]), uid: None };
        assert_eq!(enc(m), json!({"type":"items","collection":"messages","action":"delete","ids":["1","u2"]}), "integer keys as text");
        let m = ClientMessage::Items { request: ItemsRequest::update("messages", json!({"text":"x"})).id(7), uid: None };
        assert_eq!(enc(m)["id"], json!("7"));
        assert_eq!(enc(ClientMessage::Unsubscribe { uid: Some("s".into()) }), json!({"type":"unsubscribe","uid":"s"}));
        assert_eq!(enc(ClientMessage::Ping { uid: None }), json!({"type":"ping"}));
        assert_eq!(enc(ClientMessage::Pong { uid: None }), json!({"type":"pong"}));
    }

    #[test]
    fn names_round_trip() {
        for a in [ItemAction::Create, ItemAction::Read, ItemAction::Update, ItemAction::Delete] {
            assert_eq!(ItemAction::parse(a.as_str()), Some(a));
        }
        for e in [EventFilter::Create, EventFilter::Update, EventFilter::Delete] {
            assert_eq!(EventFilter::parse(e.as_str()), Some(e));
        }
        assert_eq!(ItemAction::parse("upsert"), None);
        assert_eq!(EventFilter::parse("init"), None);
    }
}
