//! The Directus realtime protocol as plain data: message types, encoding and decoding.
//!
//! This module does no I/O. [`ClientMessage::encode`] turns a request into the text of
//! one WebSocket frame and [`ServerMessage::decode`] turns the text of one frame into a
//! typed message, so the whole protocol can be unit-tested without a socket. The shapes
//! follow the server's `websocket/messages.js` (Directus 11 and 12).

mod client;
mod server;

pub use client::{AuthCredentials, ClientMessage, EventFilter, ItemAction};
pub use server::{DecodeError, ServerError, ServerMessage, SubscriptionKind};
