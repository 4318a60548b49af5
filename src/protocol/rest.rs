//! The few REST calls a realtime client needs besides the socket: files travel over
//! HTTP (`POST /files`, `GET /assets/<id>`), with a token from `POST /auth/login` or
//! `POST /auth/refresh`. Paths, bodies and answers as plain data, no I/O.

use serde_json::{json, Value};

use super::codes::ErrorCode;
use super::server::ServerError;
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
}
