//! The few REST calls a realtime client needs besides the socket: files travel over
//! HTTP (`POST /files`, `GET /assets/<id>`), with a token from `POST /auth/login` or
//! `POST /auth/refresh`; what the server tells about itself comes from
//! `GET /server/info`. Paths, bodies and answers as plain data, no I/O.

use std::time::Duration;

use serde_json::{json, Value};

use super::codes::ErrorCode;
use super::server::ServerError;
use crate::options::AuthMode;
use crate::secret::Secret;

/// The path of file uploads (multipart: the fields first, the file part last, as the
/// server reads the stream in order).
pub const FILES_PATH: &str = "files";
/// The path of REST logins.
pub const LOGIN_PATH: &str = "auth/login";
/// The path of token refreshes.
pub const REFRESH_PATH: &str = "auth/refresh";
/// The multipart field of the file itself.
pub const FILE_PART: &str = "file";
/// The path of the server's description of itself: its version and WebSocket settings
/// for a logged-in user, little more than the project's name for anyone else
/// (`services/server.js`, `if (this.accountability?.user)`, on 10.x, 11.x and 12.x).
pub const SERVER_INFO_PATH: &str = "server/info";
/// The query parameter of a token on the WebSocket upgrade (`?access_token=`), which
/// authenticates the connection in any mode and is required in `strict` mode.
pub const UPGRADE_TOKEN_PARAM: &str = "access_token";

/// The path of a file's contents.
pub fn asset_path(file_id: &str) -> String {
    format!("assets/{file_id}")
}

/// The body of a REST login with email and password; `mode: json` returns the tokens
/// in the answer instead of a cookie.
pub fn login_body(email: &str, password: &Secret) -> Value {
    json!({ "email": email, "password": password.expose(), "mode": "json" })
}

/// The body of a token refresh.
pub fn refresh_body(refresh_token: &Secret) -> Value {
    json!({ "refresh_token": refresh_token.expose(), "mode": "json" })
}

/// The tokens of a REST login or refresh.
#[derive(Debug)]
pub struct RestTokens {
    /// The access token for `Authorization: Bearer`.
    pub access: Secret,
    /// The refresh token (they rotate: each refresh returns a new one).
    pub refresh: Option<Secret>,
    /// The access token's lifetime in milliseconds.
    pub expires_ms: Option<u64>,
}

/// Reads the tokens of `{"data": {"access_token", "refresh_token", "expires"}}`.
pub fn parse_tokens(body: &Value) -> Result<RestTokens, String> {
    let data = body.get("data").ok_or("the login answer has no data")?;
    let access = data.get("access_token").and_then(Value::as_str).ok_or("the login answer has no access token")?;
    Ok(RestTokens {
        access: Secret::new(access),
        refresh: data.get("refresh_token").and_then(Value::as_str).map(Secret::new),
        expires_ms: data.get("expires").and_then(Value::as_u64),
    })
}

/// What the server stored for an uploaded file: the parts a chat shows.
#[derive(Clone, Debug, PartialEq)]
pub struct FileInfo {
    /// The file's id (a uuid): what a message's file field holds.
    pub id: String,
    /// The name it was uploaded with (`filename_download`).
    pub name: Option<String>,
    /// Its MIME type (`type`).
    pub mime: Option<String>,
    /// Its size in bytes (`filesize`; Directus 10 sends it as a string).
    pub size: Option<u64>,
    /// The whole file object as the server sent it.
    pub raw: Value,
}

/// The fields of a file object, relative to the relation that holds it: what a chat
/// query asks for to show an attachment.
pub const FILE_FIELDS: [&str; 4] = ["id", "filename_download", "type", "filesize"];

impl FileInfo {
    /// Reads a file object (`{"id", "filename_download", "type", "filesize", ...}`), or
    /// a bare id where the relation was not expanded. `None` for anything else (null:
    /// no file).
    pub fn from_value(v: &Value) -> Option<FileInfo> {
        match v {
            Value::String(id) => Some(FileInfo { id: id.clone(), name: None, mime: None, size: None, raw: v.clone() }),
            Value::Object(o) => {
                let id = o.get("id")?.as_str()?.to_owned();
                let text = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
                let size = match o.get("filesize") {
                    Some(Value::Number(n)) => n.as_u64(),
                    Some(Value::String(s)) => s.parse().ok(),
                    _ => None,
                };
                Some(FileInfo { id, name: text("filename_download"), mime: text("type"), size, raw: v.clone() })
            }
            _ => None,
        }
    }

    /// Reads the answer of an upload: `{"data": {file object}}`.
    pub fn from_upload_answer(body: &Value) -> Option<FileInfo> {
        FileInfo::from_value(body.get("data")?)
    }
}

/// A Directus release number (`major.minor.patch`; a pre-release suffix such as
/// `-rc.1` is not kept).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// The major release (10, 11, 12, ...).
    pub major: u32,
    /// The minor release.
    pub minor: u32,
    /// The patch release.
    pub patch: u32,
}

/// The first release whose every error answering a request carries the request's uid:
/// `WebSocketError.fromError(error, type, uid)` in `websocket/errors.js` of
/// `@directus/api` 39.2.0 (Directus 12.4.0); 39.1.0 (12.3.1), 39.0.0 (12.3.0), 35.2.0
/// (11.17.4) and 21.0.2 (10.13.4) drop it (docs/server-versions.md, section 1).
const FIRST_WITH_ERROR_UIDS: Version = Version { major: 12, minor: 4, patch: 0 };

impl Version {
    /// Reads `"12.4.0"` (also `"12.4.0-rc.1"`, `"v12.4.0"`); `None` for anything else.
    pub fn parse(text: &str) -> Option<Version> {
        let text = text.trim().trim_start_matches('v');
        let core = text.split(['-', '+']).next()?;
        let mut parts = core.split('.').map(|p| p.parse::<u32>().ok());
        let (major, minor, patch) = (parts.next()??, parts.next()??, parts.next()??);
        parts.next().is_none().then_some(Version { major, minor, patch })
    }

    /// Whether this release answers every failed request with its uid (12.4.0 and
    /// later). Before, errors from the data layer (FORBIDDEN, INVALID_QUERY,
    /// RECORD_NOT_UNIQUE, ...) come without it.
    pub fn echoes_error_uids(self) -> bool {
        self >= FIRST_WITH_ERROR_UIDS
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The server's own heartbeat on the WebSocket (`WEBSOCKETS_HEARTBEAT_ENABLED`,
/// `WEBSOCKETS_HEARTBEAT_PERIOD`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServerHeartbeat {
    /// The server pings every client this often and closes one that sends nothing
    /// within the next period.
    Every(Duration),
    /// The server never pings: only the client's own pings keep an idle connection
    /// alive (through proxies that close silent ones) and find out that it died.
    Disabled,
}

/// What a Directus server tells a logged-in user about itself (`GET /server/info`).
#[derive(Clone, Debug, PartialEq)]
pub struct ServerInfo {
    /// The release as the server names it (e.g. `12.4.0`).
    pub version: String,
    /// The release's parts, when the name is a release number.
    pub release: Option<Version>,
    /// The server's heartbeat; `None` when it does not say (no `websocket` block).
    pub heartbeat: Option<ServerHeartbeat>,
    /// How the realtime endpoint authenticates (`WEBSOCKETS_REST_AUTH`); `None` when
    /// the server does not say.
    pub auth_mode: Option<AuthMode>,
}

impl ServerInfo {
    /// Whether the server answers every failed request with its uid; `None` when the
    /// version is not a release number.
    pub fn echoes_error_uids(&self) -> Option<bool> {
        self.release.map(Version::echoes_error_uids)
    }

    /// As JSON for the C and Python surfaces: `{"version", "major", "minor", "patch",
    /// "heartbeat": seconds | false | null, "auth_mode": "handshake" | "public" |
    /// "strict" | null, "error_uids": bool | null}`.
    pub fn to_json(&self) -> Value {
        let heartbeat = match self.heartbeat {
            Some(ServerHeartbeat::Every(d)) if d.subsec_nanos() == 0 => json!(d.as_secs()),
            Some(ServerHeartbeat::Every(d)) => json!(d.as_secs_f64()),
            Some(ServerHeartbeat::Disabled) => json!(false),
            None => Value::Null,
        };
        json!({
            "version": self.version,
            "major": self.release.map(|v| v.major),
            "minor": self.release.map(|v| v.minor),
            "patch": self.release.map(|v| v.patch),
            "heartbeat": heartbeat,
            "auth_mode": self.auth_mode.map(AuthMode::as_str),
            "error_uids": self.echoes_error_uids(),
        })
    }
}

/// Reads the answer of `GET /server/info`: `{"data": {"version", "websocket": {"rest":
/// {"authentication"}, "heartbeat": 30 | false}}}`. `None` when it names no version,
/// which is what the server answers a caller that is not a user (no token, or a token
/// of no user): the client then behaves as if it had not asked.
pub fn parse_server_info(body: &Value) -> Option<ServerInfo> {
    let data = body.get("data")?;
    let version = data.get("version")?.as_str()?.to_owned();
    let websocket = data.get("websocket").filter(|w| w.is_object());
    // `WEBSOCKETS_HEARTBEAT_PERIOD` reaches the answer as the environment gave it: a
    // number once cast, but a string is read too.
    let seconds = |h: &Value| match h {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    let heartbeat = websocket.and_then(|w| w.get("heartbeat")).and_then(|h| match h {
        Value::Bool(false) => Some(ServerHeartbeat::Disabled),
        // A period of 0 (or nonsense) tells nothing usable.
        other => seconds(other).filter(|s| s.is_finite() && *s > 0.0).map(|s| ServerHeartbeat::Every(Duration::from_secs_f64(s))),
    });
    let auth_mode = websocket.and_then(|w| w.pointer("/rest/authentication")).and_then(Value::as_str).and_then(|m| match m {
        "handshake" => Some(AuthMode::Handshake),
        "public" => Some(AuthMode::Public),
        "strict" => Some(AuthMode::Strict),
        _ => None,
    });
    Some(ServerInfo { release: Version::parse(&version), version, heartbeat, auth_mode })
}

/// The error of a failed REST call: the first of `{"errors": [{"message", "extensions":
/// {"code"}}]}`, else the HTTP status.
pub fn parse_error(status: u16, body: &[u8]) -> ServerError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let first = v.get("errors").and_then(|e| e.get(0));
    let code = first.and_then(|e| e.pointer("/extensions/code")).and_then(Value::as_str).map(ErrorCode::from);
    let message = first.and_then(|e| e.get("message")).and_then(Value::as_str);
    let code = code.unwrap_or(match status {
        401 => ErrorCode::InvalidCredentials,
        403 => ErrorCode::Forbidden,
        503 => ErrorCode::ServiceUnavailable,
        _ => ErrorCode::Other(format!("HTTP_{status}")),
    });
    ServerError::new(code, message.map_or_else(|| format!("HTTP status {status}"), str::to_owned))
}

/// Whether a failed REST call is worth one more try with a renewed token.
pub fn is_expired_token(error: &ServerError) -> bool {
    matches!(error.code, ErrorCode::TokenExpired | ErrorCode::InvalidToken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_of_a_login_answer() {
        let t = parse_tokens(&json!({"data": {"access_token": "a", "refresh_token": "r", "expires": 900000}})).unwrap();
        assert_eq!((t.access.expose(), t.refresh.unwrap().expose().to_owned(), t.expires_ms), ("a", "r".to_owned(), Some(900000)));
        assert!(parse_tokens(&json!({"errors": []})).is_err());
    }

    #[test]
    fn file_objects_of_every_version() {
        let f =
            FileInfo::from_value(&json!({"id": "u1", "filename_download": "a.png", "type": "image/png", "filesize": "5242880"})).unwrap();
        assert_eq!((f.name.as_deref(), f.mime.as_deref(), f.size), (Some("a.png"), Some("image/png"), Some(5242880)));
        assert_eq!(FileInfo::from_value(&json!({"id": "u1", "filesize": 12})).unwrap().size, Some(12));
        assert_eq!(FileInfo::from_value(&json!("u2")).unwrap().id, "u2");
        assert!(FileInfo::from_value(&Value::Null).is_none());
        assert_eq!(FileInfo::from_upload_answer(&json!({"data": {"id": "u3"}})).unwrap().id, "u3");
    }

    #[test]
    fn rest_errors_keep_the_directus_code() {
        let e = parse_error(401, br#"{"errors":[{"message":"Token expired.","extensions":{"code":"TOKEN_EXPIRED"}}]}"#);
        assert!(is_expired_token(&e));
        assert_eq!(e.message, "Token expired.");
        assert_eq!(parse_error(403, b"<html>").code, ErrorCode::Forbidden);
        assert_eq!(parse_error(413, b"").code, ErrorCode::Other("HTTP_413".into()));
    }

    #[test]
    fn bodies_carry_the_secrets_only_where_sent() {
        let b = login_body("a@b.c", &Secret::new("pw"));
        assert_eq!(b["password"], "pw");
        assert_eq!(b["mode"], "json");
        assert_eq!(refresh_body(&Secret::new("r"))["refresh_token"], "r");
        assert_eq!(asset_path("u1"), "assets/u1");
    }

    #[test]
    fn release_numbers_and_the_first_with_uids_on_errors() {
        let v = |t| Version::parse(t);
        assert_eq!(v("12.4.0"), Some(Version { major: 12, minor: 4, patch: 0 }));
        assert_eq!(v("v11.17.4-rc.1"), Some(Version { major: 11, minor: 17, patch: 4 }));
        assert_eq!(v("12.4"), None);
        assert_eq!(v("12.4.0.1"), None);
        assert_eq!(v("next"), None);
        assert!(!v("10.13.4").unwrap().echoes_error_uids());
        assert!(!v("11.17.4").unwrap().echoes_error_uids());
        assert!(!v("12.3.1").unwrap().echoes_error_uids());
        assert!(v("12.4.0").unwrap().echoes_error_uids());
        assert!(v("13.0.0").unwrap().echoes_error_uids());
        assert_eq!(v("12.4.0").unwrap().to_string(), "12.4.0");
    }

    #[test]
    fn server_info_of_every_version() {
        // The capabilities section of docs/server-versions/frames-V.txt, trimmed.
        let info = parse_server_info(&json!({"data": {"project": {"project_name": "Directus"}, "version": "11.17.4",
            "websocket": {"rest": {"authentication": "handshake", "path": "/websocket"}, "graphql": false, "heartbeat": 30}}}))
        .unwrap();
        assert_eq!(info.version, "11.17.4");
        assert_eq!(info.heartbeat, Some(ServerHeartbeat::Every(Duration::from_secs(30))));
        assert_eq!((info.auth_mode, info.echoes_error_uids()), (Some(AuthMode::Handshake), Some(false)));
        let info = parse_server_info(&json!({"data": {"version": "12.4.0",
            "websocket": {"rest": {"authentication": "strict"}, "heartbeat": false}}}))
        .unwrap();
        assert_eq!((info.heartbeat, info.auth_mode), (Some(ServerHeartbeat::Disabled), Some(AuthMode::Strict)));
        assert_eq!(info.to_json()["heartbeat"], json!(false));
        assert_eq!(info.to_json()["error_uids"], json!(true));
        // A period given as text; the REST side of the socket disabled; no websocket block.
        let info = parse_server_info(&json!({"data": {"version": "10.13.4", "websocket": {"rest": false, "heartbeat": "25"}}})).unwrap();
        assert_eq!((info.heartbeat, info.auth_mode), (Some(ServerHeartbeat::Every(Duration::from_secs(25))), None));
        assert_eq!(info.to_json()["heartbeat"], json!(25));
        let info = parse_server_info(&json!({"data": {"version": "main", "websocket": false}})).unwrap();
        assert_eq!((info.release, info.heartbeat, info.auth_mode, info.echoes_error_uids()), (None, None, None, None));
        // Anyone but a user: no version, nothing learned.
        assert!(parse_server_info(&json!({"data": {"project": {"project_name": "Directus"}}})).is_none());
        assert!(parse_server_info(&json!({"errors": [{"message": "no"}]})).is_none());
    }
}
