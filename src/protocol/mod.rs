//! The Directus realtime protocol as plain data: message types, codes, encoding and
//! decoding.
//!
//! This module does no I/O. [`ClientMessage::encode`] turns a request into the text of
//! one WebSocket frame and [`ServerMessage::decode`] turns the text of one frame into a
//! typed message, so the whole protocol can be unit-tested without a socket. The shapes
//! follow the server's `websocket/messages.js` (Directus 10.4 to 12). It is the only
//! place that knows the protocol's strings: error codes, message types, which
//! collections are the server's own.

mod client;
mod codes;
mod dates;
pub mod json;
mod queries;
pub mod raw;
mod requests;
mod rest;
mod server;

pub use client::{AuthCredentials, ClientMessage, EventFilter, ItemAction};
pub use codes::{ErrorCode, MessageKind};
pub use dates::{format_date_ms, parse_date_ms};
pub use queries::{count_and_max, newest_first, query, read_count_and_max, Filter, CURRENT_USER, USERS_COLLECTION, USER_FIELDS, USER_KEY};
pub use raw::{ItemKey, RawJson};
pub use requests::{is_system_collection, probe_answer, read_back_answer, ItemsRequest, SubscribeRequest};
pub use rest::{
    asset_path, is_expired_token, login_body, parse_error, parse_server_info, parse_tokens, refresh_body, FileInfo, RestTokens,
    ServerHeartbeat, ServerInfo, Version, FILES_PATH, FILE_FIELDS, FILE_PART, LOGIN_PATH, REFRESH_PATH, SERVER_INFO_PATH,
    UPGRADE_TOKEN_PARAM,
};
pub use server::{DecodeError, ServerError, ServerMessage, SubscriptionKind};
