//! Messages from the server to the client.

use std::fmt;

use serde_json::{Map, Value};

use super::codes::{ErrorCode, MessageKind};
use crate::secret::Secret;

/// An error the server reported: `{"error": {"code", "message"}}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerError {
    /// The Directus error code, e.g. `AUTH_FAILED`, `FORBIDDEN`, `TOKEN_EXPIRED`.
    pub code: ErrorCode,
    /// The server's human-readable message.
    pub message: String,
}

impl ServerError {
    /// An error with this code and message.
    pub fn new(code: impl Into<ErrorCode>, message: impl Into<String>) -> Self {
        ServerError { code: code.into(), message: message.into() }
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// The event of a `subscription` message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubscriptionKind {
    /// The first message of a subscription: the current items (the history).
    Init,
    /// Items were created.
    Create,
    /// Items were updated.
    Update,
    /// Items were deleted; the data holds their keys.
    Delete,
    /// The server confirms an unsubscribe.
    Unsubscribe,
}

impl SubscriptionKind {
    /// The wire name of the event.
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionKind::Init => "init",
            SubscriptionKind::Create => "create",
            SubscriptionKind::Update => "update",
            SubscriptionKind::Delete => "delete",
            SubscriptionKind::Unsubscribe => "unsubscribe",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "init" => SubscriptionKind::Init,
            "create" => SubscriptionKind::Create,
            "update" => SubscriptionKind::Update,
            "delete" => SubscriptionKind::Delete,
            "unsubscribe" => SubscriptionKind::Unsubscribe,
            _ => return None,
        })
    }
}

/// One frame the server sent.
#[derive(Clone, Debug, PartialEq)]
pub enum ServerMessage {
    /// `{"type":"auth","status":"ok"}`: authentication succeeded.
    AuthOk {
        /// The uid of the auth request, if it had one.
        uid: Option<String>,
        /// A new refresh token (after email/password or refresh-token logins).
        refresh_token: Option<Secret>,
    },
    /// `{"type", "status":"error", "error":{code, message}, "uid"?}`.
    Error {
        /// The `type` of the failed message (`auth`, `subscribe`, `items`, `server`, ...).
        kind: MessageKind,
        /// The uid of the failed request, if the server knew it.
        uid: Option<String>,
        /// What went wrong.
        error: ServerError,
    },
    /// `{"type":"subscription","event", "data"?, "uid"?}`.
    Subscription {
        /// The subscription's uid.
        uid: Option<String>,
        /// Which event.
        kind: SubscriptionKind,
        /// Items (init/create/update), keys (delete), or a single item or key for
        /// single-item subscriptions. Absent on an `init` of a filtered subscription.
        data: Option<Value>,
    },
    /// `{"type":"items","data","meta"?,"uid"?}`: the result of an items request.
    Items {
        /// The uid of the request.
        uid: Option<String>,
        /// The server's result.
        data: Value,
        /// Metadata, when the query asked for it.
        meta: Option<Value>,
    },
    /// `{"type":"ping"}`: the server's heartbeat; answer with a pong.
    Ping {
        /// The ping's uid, if any.
        uid: Option<String>,
    },
    /// `{"type":"pong","uid"?}`: the answer to a client ping.
    Pong {
        /// The uid of the ping.
        uid: Option<String>,
    },
    /// Any other well-formed message, kept as it arrived.
    Unknown(Value),
}

/// Why a frame could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The text is not JSON.
    InvalidJson(String),
    /// The JSON is not an object with a string `type`.
    NotAMessage,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::InvalidJson(e) => write!(f, "frame is not valid JSON: {e}"),
            DecodeError::NotAMessage => f.write_str("frame is not a JSON object with a string \"type\""),
        }
    }
}

impl std::error::Error for DecodeError {}

fn uid_of(m: &Map<String, Value>) -> Option<String> {
    match m.get("uid") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn error_of(m: &mut Map<String, Value>) -> ServerError {
    let mut code = ErrorCode::Unknown;
    let mut message = String::new();
    match m.remove("error") {
        Some(Value::Object(mut e)) => {
            if let Some(Value::String(c)) = e.remove("code") {
                code = ErrorCode::parse(&c);
            }
            if let Some(Value::String(s)) = e.remove("message") {
                message = s;
            }
        }
        Some(Value::String(s)) => message = s,
        _ => {}
    }
    ServerError { code, message }
}

impl ServerMessage {
    /// Decodes the text of one WebSocket frame.
    ///
    /// Valid JSON objects with an unknown `type` (or a known type in a shape this
    /// version does not know) decode to [`ServerMessage::Unknown`], never to an error.
    pub fn decode(text: &str) -> Result<ServerMessage, DecodeError> {
        let value: Value = serde_json::from_str(text).map_err(|e| DecodeError::InvalidJson(e.to_string()))?;
        Self::from_json(value)
    }

    /// Interprets an already parsed JSON value as a server message.
    pub fn from_json(value: Value) -> Result<ServerMessage, DecodeError> {
        let mut m = match value {
            Value::Object(m) => m,
            _ => return Err(DecodeError::NotAMessage),
        };
        let kind = match m.get("type") {
            Some(Value::String(t)) => t.clone(),
            _ => return Err(DecodeError::NotAMessage),
        };
        let uid = uid_of(&m);
        if m.get("status").and_then(Value::as_str) == Some("error") {
            let error = error_of(&mut m);
            return Ok(ServerMessage::Error { kind: MessageKind::parse(&kind), uid, error });
        }
        Ok(match kind.as_str() {
            "auth" if m.get("status").and_then(Value::as_str) == Some("ok") => {
                let refresh_token = match m.remove("refresh_token") {
                    Some(Value::String(t)) => Some(Secret::new(t)),
                    _ => None,
                };
                ServerMessage::AuthOk { uid, refresh_token }
            }
            "subscription" => match m.get("event").and_then(Value::as_str).and_then(SubscriptionKind::parse) {
                Some(event) => ServerMessage::Subscription { uid, kind: event, data: m.remove("data") },
                None => ServerMessage::Unknown(Value::Object(m)),
            },
            "items" if m.contains_key("data") => {
                let data = m.remove("data").unwrap_or(Value::Null);
                ServerMessage::Items { uid, data, meta: m.remove("meta") }
            }
            "ping" => ServerMessage::Ping { uid },
            "pong" => ServerMessage::Pong { uid },
            _ => ServerMessage::Unknown(Value::Object(m)),
        })
    }

    /// The uid the message carries, if any.
    pub fn uid(&self) -> Option<&str> {
        match self {
            ServerMessage::AuthOk { uid, .. }
            | ServerMessage::Error { uid, .. }
            | ServerMessage::Subscription { uid, .. }
            | ServerMessage::Items { uid, .. }
            | ServerMessage::Ping { uid }
            | ServerMessage::Pong { uid } => uid.as_deref(),
            ServerMessage::Unknown(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Frames below were captured from a local Directus 12.4.0 (see the test-bed notes).

    #[test]
    fn auth_ok_with_refresh_token() {
        let m = ServerMessage::decode(r#"{"type":"auth","status":"ok","refresh_token":"abc.def"}"#).unwrap();
        match &m {
            ServerMessage::AuthOk { uid: None, refresh_token: Some(t) } => assert_eq!(t.expose(), "abc.def"),
            other => panic!("{other:?}"),
        }
        assert!(!format!("{m:?}").contains("abc.def"), "refresh token leaked into Debug");
    }

    #[test]
    fn auth_failed_without_uid() {
        let m = ServerMessage::decode(
            r#"{"type":"auth","status":"error","error":{"code":"AUTH_FAILED","message":"Authentication handshake failed."}}"#,
        )
        .unwrap();
        assert_eq!(
            m,
            ServerMessage::Error {
                kind: MessageKind::Auth,
                uid: None,
                error: ServerError::new(ErrorCode::AuthFailed, "Authentication handshake failed.")
            }
        );
    }

    #[test]
    fn forbidden_items_error_carries_uid() {
        let m = ServerMessage::decode(
            r#"{"type":"items","status":"error","error":{"code":"FORBIDDEN","message":"You don't have permission to access this."},"uid":"bad1"}"#,
        )
        .unwrap();
        match m {
            ServerMessage::Error { kind, uid, error } => {
                assert_eq!(kind, MessageKind::Items);
                assert_eq!(uid.as_deref(), Some("bad1"));
                assert_eq!(error.code, "FORBIDDEN");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn subscription_events() {
        let init = ServerMessage::decode(
            r#"{"type":"subscription","event":"init","data":[{"id":1,"text":"hi","date_created":"2026-11-24T10:00:00.000Z","user_created":{"first_name":"Kevin"}}],"uid":"sub1"}"#,
        )
        .unwrap();
        match init {
            ServerMessage::Subscription { uid, kind: SubscriptionKind::Init, data: Some(d) } => {
                assert_eq!(uid.as_deref(), Some("sub1"));
                assert_eq!(d[0]["user_created"]["first_name"], "Kevin");
            }
            other => panic!("{other:?}"),
        }
        // A subscribe with an event filter gets an init without data.
        let init = ServerMessage::decode(r#"{"type":"subscription","event":"init","uid":"s2"}"#).unwrap();
        assert_eq!(init, ServerMessage::Subscription { uid: Some("s2".into()), kind: SubscriptionKind::Init, data: None });
        let del = ServerMessage::decode(r#"{"type":"subscription","event":"delete","data":["3","4"],"uid":"s"}"#).unwrap();
        assert_eq!(
            del,
            ServerMessage::Subscription { uid: Some("s".into()), kind: SubscriptionKind::Delete, data: Some(json!(["3", "4"])) }
        );
        let unsub = ServerMessage::decode(r#"{"type":"subscription","event":"unsubscribe","uid":"s"}"#).unwrap();
        assert_eq!(unsub, ServerMessage::Subscription { uid: Some("s".into()), kind: SubscriptionKind::Unsubscribe, data: None });
    }

    #[test]
    fn items_result_and_heartbeat() {
        let m = ServerMessage::decode(r#"{"type":"items","data":{"id":1,"text":"hi"},"uid":"c1"}"#).unwrap();
        assert_eq!(m, ServerMessage::Items { uid: Some("c1".into()), data: json!({"id":1,"text":"hi"}), meta: None });
        assert_eq!(ServerMessage::decode(r#"{"type":"ping"}"#).unwrap(), ServerMessage::Ping { uid: None });
        assert_eq!(ServerMessage::decode(r#"{"type":"pong","uid":7}"#).unwrap(), ServerMessage::Pong { uid: Some("7".into()) });
    }

    #[test]
    fn server_invalid_payload() {
        let m = ServerMessage::decode(
            r#"{"type":"server","status":"error","error":{"code":"INVALID_PAYLOAD","message":"Unable to parse the incoming message."}}"#,
        )
        .unwrap();
        assert!(
            matches!(m, ServerMessage::Error { ref kind, uid: None, ref error } if *kind == MessageKind::Server && error.code == ErrorCode::InvalidPayload)
        );
    }

    #[test]
    fn unknown_and_broken_frames() {
        let m = ServerMessage::decode(r#"{"type":"collab","action":"join","room":"x"}"#).unwrap();
        assert_eq!(m, ServerMessage::Unknown(json!({"type":"collab","action":"join","room":"x"})));
        let m = ServerMessage::decode(r#"{"type":"subscription","event":"explode"}"#).unwrap();
        assert!(matches!(m, ServerMessage::Unknown(_)));
        assert!(matches!(ServerMessage::decode("{not json"), Err(DecodeError::InvalidJson(_))));
        assert_eq!(ServerMessage::decode("[1,2]"), Err(DecodeError::NotAMessage));
        assert_eq!(ServerMessage::decode(r#"{"type":5}"#), Err(DecodeError::NotAMessage));
        assert_eq!(ServerMessage::decode("null"), Err(DecodeError::NotAMessage));
        // An error without an error object still decodes, with a placeholder code.
        let m = ServerMessage::decode(r#"{"type":"items","status":"error","uid":"x"}"#).unwrap();
        assert!(matches!(m, ServerMessage::Error { error: ServerError { ref code, .. }, .. } if *code == ErrorCode::Unknown));
    }
}
