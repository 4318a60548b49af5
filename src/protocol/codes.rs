//! The codes of the protocol as types: Directus error codes and the message kinds an
//! error can answer. Nothing outside this module compares them as strings.

use std::fmt;

/// A Directus error code, as sent in `{"error": {"code": ...}}`.
///
/// The codes a realtime client meets are variants; anything else is kept as
/// [`ErrorCode::Other`]. Compares equal to its wire text (`code == "FORBIDDEN"`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `AUTH_FAILED`: the credentials were refused (the handshake failed).
    AuthFailed,
    /// `AUTH_TIMEOUT`: no `auth` came in time after an expiry or in handshake mode.
    AuthTimeout,
    /// `TOKEN_EXPIRED`: the connection's access token expired; a new `auth` is awaited.
    TokenExpired,
    /// `INVALID_CREDENTIALS`: wrong email or password (REST logins and some versions).
    InvalidCredentials,
    /// `INVALID_TOKEN`: a token that is not valid (REST and some versions).
    InvalidToken,
    /// `INVALID_PAYLOAD`: the message did not match the server's schema.
    InvalidPayload,
    /// `INVALID_COLLECTION`: no such collection, a system collection over `items`, or
    /// (before 12.3) a collection the user may not read.
    InvalidCollection,
    /// `INVALID_QUERY`: the query is not valid for the collection.
    InvalidQuery,
    /// `FORBIDDEN`: the user may not do this.
    Forbidden,
    /// `RECORD_NOT_UNIQUE`: a unique value (a primary key) exists already.
    RecordNotUnique,
    /// `REQUESTS_EXCEEDED`: the server's rate limiter refused the message.
    RequestsExceeded,
    /// `SERVICE_UNAVAILABLE`: the server cannot serve now (locked license, overload).
    ServiceUnavailable,
    /// `INTERNAL_SERVER_ERROR`: the server failed.
    InternalServerError,
    /// An error object without a code.
    Unknown,
    /// Any other code, as sent.
    Other(String),
}

const NAMED: [(ErrorCode, &str); 14] = [
    (ErrorCode::AuthFailed, "AUTH_FAILED"),
    (ErrorCode::AuthTimeout, "AUTH_TIMEOUT"),
    (ErrorCode::TokenExpired, "TOKEN_EXPIRED"),
    (ErrorCode::InvalidCredentials, "INVALID_CREDENTIALS"),
    (ErrorCode::InvalidToken, "INVALID_TOKEN"),
    (ErrorCode::InvalidPayload, "INVALID_PAYLOAD"),
    (ErrorCode::InvalidCollection, "INVALID_COLLECTION"),
    (ErrorCode::InvalidQuery, "INVALID_QUERY"),
    (ErrorCode::Forbidden, "FORBIDDEN"),
    (ErrorCode::RecordNotUnique, "RECORD_NOT_UNIQUE"),
    (ErrorCode::RequestsExceeded, "REQUESTS_EXCEEDED"),
    (ErrorCode::ServiceUnavailable, "SERVICE_UNAVAILABLE"),
    (ErrorCode::InternalServerError, "INTERNAL_SERVER_ERROR"),
    (ErrorCode::Unknown, "UNKNOWN"),
];

impl ErrorCode {
    /// The code from its wire text.
    pub fn parse(code: &str) -> ErrorCode {
        NAMED.iter().find(|(_, name)| *name == code).map_or_else(|| ErrorCode::Other(code.to_owned()), |(c, _)| c.clone())
    }

    /// The wire text of the code.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorCode::Other(code) => code,
            known => NAMED.iter().find(|(c, _)| c == known).map_or("UNKNOWN", |(_, name)| name),
        }
    }

    /// Whether the server refused or dropped the connection's authentication.
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            ErrorCode::AuthFailed
                | ErrorCode::AuthTimeout
                | ErrorCode::TokenExpired
                | ErrorCode::InvalidCredentials
                | ErrorCode::InvalidToken
        )
    }

    /// Whether the user may not reach what was asked for. Directus before 12.3 says
    /// `INVALID_COLLECTION` for a collection the user may not read where later versions
    /// say `FORBIDDEN`; both count.
    pub fn is_forbidden(&self) -> bool {
        matches!(self, ErrorCode::Forbidden | ErrorCode::InvalidCollection)
    }
}

impl ErrorCode {
    /// Whether the refusal passes by itself: a rate limit, an overloaded or locked
    /// server, a login that expired and is being renewed.
    pub fn is_transient(&self) -> bool {
        matches!(self, ErrorCode::RequestsExceeded | ErrorCode::ServiceUnavailable | ErrorCode::TokenExpired | ErrorCode::AuthTimeout)
    }

    /// Whether the server refused the content of the request itself (it fails
    /// validation, is too long, breaks a unique or not-null rule, or is malformed): only
    /// a change of the request can help.
    pub fn rejects_content(&self) -> bool {
        match self {
            ErrorCode::InvalidPayload | ErrorCode::InvalidQuery | ErrorCode::RecordNotUnique => true,
            ErrorCode::Other(code) => matches!(
                code.as_str(),
                "FAILED_VALIDATION"
                    | "VALUE_TOO_LONG"
                    | "VALUE_OUT_OF_RANGE"
                    | "CONTAINS_NULL_VALUES"
                    | "NOT_NULL_VIOLATION"
                    | "CONTENT_TOO_LARGE"
                    | "UNPROCESSABLE_CONTENT"
                    | "UNSUPPORTED_MEDIA_TYPE"
            ),
            _ => false,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for ErrorCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl From<&str> for ErrorCode {
    fn from(code: &str) -> Self {
        ErrorCode::parse(code)
    }
}

/// The `type` of a server message that reports an error: which kind of request failed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// An `auth` message (a login, or the expiry of one).
    Auth,
    /// A `subscribe` message.
    Subscribe,
    /// An `unsubscribe` message.
    Unsubscribe,
    /// An `items` message.
    Items,
    /// No request in particular (`server`: e.g. a frame that did not parse).
    Server,
    /// Any other type, as sent.
    Other(String),
}

impl MessageKind {
    /// The kind from the message's `type`.
    pub fn parse(kind: &str) -> MessageKind {
        match kind {
            "auth" => MessageKind::Auth,
            "subscribe" => MessageKind::Subscribe,
            "unsubscribe" => MessageKind::Unsubscribe,
            "items" => MessageKind::Items,
            "server" => MessageKind::Server,
            other => MessageKind::Other(other.to_owned()),
        }
    }

    /// The wire text of the kind.
    pub fn as_str(&self) -> &str {
        match self {
            MessageKind::Auth => "auth",
            MessageKind::Subscribe => "subscribe",
            MessageKind::Unsubscribe => "unsubscribe",
            MessageKind::Items => "items",
            MessageKind::Server => "server",
            MessageKind::Other(kind) => kind,
        }
    }
}

impl PartialEq<&str> for MessageKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_keep_unknown_ones() {
        for (code, name) in NAMED {
            assert_eq!(ErrorCode::parse(name), code);
            assert_eq!(code.as_str(), name);
        }
        let other = ErrorCode::parse("LICENSE_LOCKED");
        assert_eq!(other, ErrorCode::Other("LICENSE_LOCKED".into()));
        assert_eq!(other, "LICENSE_LOCKED");
        assert!(ErrorCode::TokenExpired.is_auth() && !ErrorCode::Forbidden.is_auth());
        assert!(ErrorCode::InvalidCollection.is_forbidden() && ErrorCode::Forbidden.is_forbidden());
    }

    #[test]
    fn kinds_round_trip() {
        for name in ["auth", "subscribe", "unsubscribe", "items", "server", "collab"] {
            assert_eq!(MessageKind::parse(name).as_str(), name);
        }
        assert_eq!(MessageKind::parse("subscribe"), "subscribe");
    }
}
