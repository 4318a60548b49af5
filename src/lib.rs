//! # directus-chat
//!
//! An embeddable client for the realtime (WebSocket) API of [Directus]: log in over
//! the socket, subscribe to a collection, get its history and every change as it
//! happens, send items, answer the server's heartbeat.
//!
//! The crate is layered:
//! - [`protocol`]: every message as Rust types with encode and decode, no I/O;
//! - a session per client (internal): small pure state machines (authentication,
//!   requests, subscriptions, heartbeat, reconnect) driven by one async loop that owns
//!   the socket on a shared tokio runtime;
//! - [`Client`]: the Rust API, async and runtime-agnostic;
//! - [`outbox`]: sends written to a local SQLite file first, resumed after a crash and
//!   stored exactly once ([`ClientOptions::outbox_path`], [`Client::outbox`]);
//! - the C ABI (`dchat_*`, see `include/directus_chat.h`) and the Python module.
//!
//! The runtime and every other thread of the library start on demand; [`shutdown`]
//! closes every client of the process and joins them all (before unloading the
//! library, or at the end of a plugin's life).
//!
//! ```no_run
//! # async fn demo() -> directus_chat::Result<()> {
//! use directus_chat::{Client, ClientOptions, Event};
//! let (client, mut events) = Client::connect("ws://127.0.0.1:8055/websocket", ClientOptions::default()).await?;
//! client.login("kevin@example.com", "secret").await?;
//! client.subscribe(client.chat_subscription()).await?;
//! client.send_message("hello").await?;
//! while let Some(event) = events.next().await {
//!     if let Event::Subscription { data, .. } = &event {
//!         for m in client.chat().messages(data) {
//!             println!("{}: {}", m.author.as_deref().unwrap_or("?"), m.text);
//!         }
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! [Directus]: https://directus.io

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod blocking;
pub mod chat;
mod client;
mod data;
mod discovery;
mod error;
mod event;
pub mod ffi;
pub mod files;
pub mod log_hub;
mod options;
pub mod outbox;
pub mod protocol;
mod runtime;
mod secret;
mod session;
mod shutdown;
mod threads;
mod transport;

pub use chat::{ChatConfig, ChatEvent, ChatEventKind, ChatMessage, Identity, Member, MessageView, PresenceConfig, PresenceEvent, Reader};
pub use client::{Client, Consumption, Events, Subscription};
pub use data::Data;
pub use error::{Error, ErrorKind, OutboxFault, Result};
pub use event::{CloseCause, ConnectionState, Event, Uid};
pub use files::{FileInfo, Upload};
pub use options::{AuthMode, ClientOptions, ReconnectPolicy, TlsOptions, TlsRoots};
pub use outbox::{Outbox, OutboxEntry, OutboxState};
pub use protocol::{
    AuthCredentials, ErrorCode, EventFilter, ItemAction, ItemsRequest, ServerError, ServerHeartbeat, ServerInfo, SubscribeRequest,
    SubscriptionKind,
};
pub use secret::Secret;
pub use shutdown::shutdown;
