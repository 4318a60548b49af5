//! Messages from the server to the client.

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::codes::{ErrorCode, MessageKind};
use super::json::{self, Members, Tape};
use super::raw::{self, RawJson};
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

/// One frame the server sent. Borrows its uid from the frame's text; the data of
/// subscription events and items answers stays raw ([`RawJson`]), parsed by whoever
/// reads it.
#[derive(Clone, Debug, PartialEq)]
pub enum ServerMessage<'a> {
    /// `{"type":"auth","status":"ok"}`: authentication succeeded.
    AuthOk {
        /// The uid of the auth request, if it had one.
        uid: Option<Cow<'a, str>>,
        /// A new refresh token (after email/password or refresh-token logins).
        refresh_token: Option<Secret>,
    },
    /// `{"type", "status":"error", "error":{code, message}, "uid"?}`.
    Error {
        /// The `type` of the failed message (`auth`, `subscribe`, `items`, `server`, ...).
        kind: MessageKind,
        /// The uid of the failed request, if the server knew it.
        uid: Option<Cow<'a, str>>,
        /// What went wrong.
        error: ServerError,
    },
    /// `{"type":"subscription","event", "data"?, "uid"?}`.
    Subscription {
        /// The subscription's uid.
        uid: Option<Cow<'a, str>>,
        /// Which event.
        kind: SubscriptionKind,
        /// Items (init/create/update), keys (delete), or a single item or key for
        /// single-item subscriptions. Absent on an `init` of a filtered subscription.
        data: Option<RawJson>,
        /// Where the items of `data` are, and their members, when it is an array:
        /// noted as the frame was read.
        items: Option<Tape>,
    },
    /// `{"type":"items","data","meta"?,"uid"?}`: the result of an items request.
    Items {
        /// The uid of the request.
        uid: Option<Cow<'a, str>>,
        /// The server's result.
        data: RawJson,
        /// Metadata, when the query asked for it.
        meta: Option<Value>,
    },
    /// `{"type":"ping"}`: the server's heartbeat; answer with a pong.
    Ping {
        /// The ping's uid, if any.
        uid: Option<Cow<'a, str>>,
    },
    /// `{"type":"pong","uid"?}`: the answer to a client ping.
    Pong {
        /// The uid of the ping.
        uid: Option<Cow<'a, str>>,
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

/// The members of a server message, as slices of the frame: each read as needed, so an
/// unexpected shape in one never makes the frame undecodable.
#[derive(Default)]
struct Envelope<'a> {
    /// Where the items of `data` are, when it is an array.
    items: Tape,
    kind: Option<&'a str>,
    status: Option<&'a str>,
    event: Option<&'a str>,
    uid: Option<&'a str>,
    data: Option<&'a str>,
    meta: Option<&'a str>,
    error: Option<&'a str>,
    refresh_token: Option<&'a str>,
}

impl<'a> Envelope<'a> {
    /// Reads the frame's members (the last of a repeated name counts, as in a parsed
    /// object), checking that the whole frame is JSON.
    fn read(src: &'a str) -> Result<Envelope<'a>, DecodeError> {
        let invalid = |e: json::Invalid| DecodeError::InvalidJson(format!("not JSON at byte {}", e.0));
        let Some(mut members) = Members::of(src) else {
            // Not an object: JSON of another kind, or no JSON.
            return Err(json::check(src).map_or_else(invalid, |()| DecodeError::NotAMessage));
        };
        let mut e = Envelope::default();
        let mut items = Tape::default();
        while let Some((name, value)) = members.next_member_noting("data", &mut items).map_err(invalid)? {
            let escaped;
            let name = match name.plain() {
                Some(plain) => plain,
                None => {
                    escaped = name.text();
                    &escaped
                }
            };
            if name == "data" {
                // A repeated member: only the last one's items.
                std::mem::swap(&mut e.items, &mut items);
                items = Tape::default();
            }
            let slot = match name {
                "type" => &mut e.kind,
                "status" => &mut e.status,
                "event" => &mut e.event,
                "uid" => &mut e.uid,
                "data" => &mut e.data,
                "meta" => &mut e.meta,
                "error" => &mut e.error,
                "refresh_token" => &mut e.refresh_token,
                _ => continue,
            };
            *slot = Some(value);
        }
        members.finish().map_err(invalid)?;
        Ok(e)
    }
}

/// The text of a JSON string (borrowed unless it had escapes); `None` for other values.
fn text(value: Option<&str>) -> Option<Cow<'_, str>> {
    value.filter(|v| v.starts_with('"')).and_then(json::scalar_text)
}

/// A uid as text: a string, or a number as serde_json writes it (`1e3` is `1000.0`).
fn uid_of(value: Option<&str>) -> Option<Cow<'_, str>> {
    let value = value?;
    match value.as_bytes().first() {
        Some(b'"') => text(Some(value)),
        Some(b'-' | b'0'..=b'9') => serde_json::from_str::<serde_json::Number>(value).ok().map(|n| Cow::Owned(n.to_string())),
        _ => None,
    }
}

fn error_of(value: Option<&str>) -> ServerError {
    let mut error = ServerError { code: ErrorCode::Unknown, message: String::new() };
    let Some(value) = value else { return error };
    if let Some(message) = text(Some(value)) {
        error.message = message.into_owned();
    } else if let Some(mut members) = Members::of(value) {
        while let Ok(Some((name, v))) = members.next_member() {
            if name.is("code") {
                if let Some(code) = text(Some(v)) {
                    error.code = ErrorCode::parse(&code);
                }
            } else if name.is("message") {
                error.message = text(Some(v)).map(Cow::into_owned).unwrap_or_default();
            }
        }
    }
    error
}

impl<'a> ServerMessage<'a> {
    /// Decodes the text of one WebSocket frame (copying the data it keeps; see
    /// [`ServerMessage::decode_frame`]).
    ///
    /// Valid JSON objects with an unknown `type` (or a known type in a shape this
    /// version does not know) decode to [`ServerMessage::Unknown`], never to an error.
    pub fn decode(text: &'a str) -> Result<ServerMessage<'a>, DecodeError> {
        Self::decode_in(text, None)
    }

    /// Decodes a frame as it came from the socket: the data kept points into the
    /// frame's bytes instead of copying them.
    pub fn decode_frame(frame: &'a Utf8Bytes) -> Result<ServerMessage<'a>, DecodeError> {
        Self::decode_in(frame.as_str(), Some(frame))
    }

    fn decode_in(src: &'a str, frame: Option<&Utf8Bytes>) -> Result<ServerMessage<'a>, DecodeError> {
        let envelope = Envelope::read(src)?;
        let Some(kind) = text(envelope.kind) else { return Err(DecodeError::NotAMessage) };
        let keep = |value: &str| match frame {
            Some(f) => RawJson::within(f, value),
            None => RawJson::new(value.to_owned()),
        };
        let uid = uid_of(envelope.uid);
        let status = text(envelope.status);
        if status.as_deref() == Some("error") {
            let error = error_of(envelope.error);
            return Ok(ServerMessage::Error { kind: MessageKind::parse(&kind), uid, error });
        }
        let event = text(envelope.event).and_then(|e| SubscriptionKind::parse(&e));
        Ok(match (kind.as_ref(), event, envelope.data) {
            ("auth", _, _) if status.as_deref() == Some("ok") => {
                let refresh_token = text(envelope.refresh_token).map(|t| Secret::new(t.into_owned()));
                ServerMessage::AuthOk { uid, refresh_token }
            }
            ("subscription", Some(kind), data) => {
                // Frames too long for the tape's offsets are read without one.
                let items = data.filter(|d| d.starts_with('[') && src.len() < 1 << 31).map(|_| envelope.items);
                ServerMessage::Subscription { uid, kind, data: data.filter(|d| *d != "null").map(keep), items }
            }
            ("items", _, Some(data)) => {
                let meta = envelope.meta.map(raw::parse);
                ServerMessage::Items { uid, data: keep(data), meta }
            }
            ("ping", _, _) => ServerMessage::Ping { uid },
            ("pong", _, _) => ServerMessage::Pong { uid },
            _ => ServerMessage::Unknown(raw::parse(src)),
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
            ServerMessage::Subscription { uid, kind: SubscriptionKind::Init, data: Some(d), .. } => {
                assert_eq!(uid.as_deref(), Some("sub1"));
                assert_eq!(d.parse()[0]["user_created"]["first_name"], "Kevin");
            }
            other => panic!("{other:?}"),
        }
        // A subscribe with an event filter gets an init without data.
        let init = ServerMessage::decode(r#"{"type":"subscription","event":"init","uid":"s2"}"#).unwrap();
        assert_eq!(init, ServerMessage::Subscription { uid: Some("s2".into()), kind: SubscriptionKind::Init, data: None, items: None });
        let del = ServerMessage::decode(r#"{"type":"subscription","event":"delete","data":["3","4"],"uid":"s"}"#).unwrap();
        assert_eq!(
            del,
            ServerMessage::Subscription {
                uid: Some("s".into()),
                kind: SubscriptionKind::Delete,
                data: Some(RawJson::new(r#"["3","4"]"#)),
                items: Some(tape_of(r#"["3","4"]"#))
            }
        );
        let unsub = ServerMessage::decode(r#"{"type":"subscription","event":"unsubscribe","uid":"s"}"#).unwrap();
        assert_eq!(
            unsub,
            ServerMessage::Subscription { uid: Some("s".into()), kind: SubscriptionKind::Unsubscribe, data: None, items: None }
        );
    }

    fn tape_of(array: &str) -> Tape {
        let frame = format!("{{\"data\":{array}}}");
        let mut m = Members::of(&frame).unwrap();
        let mut tape = Tape::default();
        while m.next_member_noting("data", &mut tape).unwrap().is_some() {}
        tape
    }

    #[test]
    fn items_result_and_heartbeat() {
        let m = ServerMessage::decode(r#"{"type":"items","data":{"id":1,"text":"hi"},"uid":"c1"}"#).unwrap();
        assert_eq!(m, ServerMessage::Items { uid: Some("c1".into()), data: RawJson::new(r#"{"id":1,"text":"hi"}"#), meta: None });
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
        assert_eq!(ServerMessage::decode(r#"["ping"]"#), Err(DecodeError::NotAMessage), "an array is no message");
        assert_eq!(ServerMessage::decode(r#"{"type":"ping","uid":1e3}"#).unwrap().uid(), Some("1000.0"));
        // A member of an unexpected shape never makes the frame undecodable.
        assert_eq!(ServerMessage::decode(r#"{"type":"pong","status":5,"event":[]}"#).unwrap(), ServerMessage::Pong { uid: None });
        // Escaped text is read as its value; data points into the frame it came in.
        let frame = Utf8Bytes::from(r#"{"type":"subscription","event":"create","data":[{"id":1}],"uid":"s-1"}"#);
        match ServerMessage::decode_frame(&frame).unwrap() {
            ServerMessage::Subscription { uid, data: Some(d), .. } => {
                assert_eq!(uid.as_deref(), Some("s-1"));
                assert_eq!(d.as_str().as_ptr(), frame.as_str()[47..].as_ptr());
            }
            other => panic!("{other:?}"),
        }
        // An error without an error object still decodes, with a placeholder code.
        let m = ServerMessage::decode(r#"{"type":"items","status":"error","uid":"x"}"#).unwrap();
        assert!(matches!(m, ServerMessage::Error { error: ServerError { ref code, .. }, .. } if *code == ErrorCode::Unknown));
    }
}
