//! The outbox: sends that survive a crash of the app, each stored exactly once and
//! reported as the database has it.
//!
//! With [`crate::ClientOptions::outbox_path`] set, [`Outbox::send`] and
//! [`Outbox::send_message`] write the create to a local SQLite file before they return,
//! give it a local id and a key made by the client, and deliver its local echo at once
//! as an [`crate::Event::Outbox`]. Entries go to the server one at a time, in the order
//! they were queued, and move through [`OutboxState`]s, each reported as an event:
//! `Queued`, `Sending`, then `Sent` (with the stored item) or `Failed` (with the error
//! and whether retrying can help).
//!
//! - **Never timed out**: a timeout ends a wire attempt, not the entry; a lost
//!   connection, a wire timeout or a rate limit makes the outbox try again, with the
//!   same key, until the server answers. The key (a uuid in the primary key, or on
//!   integer-keyed collections in a unique field such as the schema kit's `client_key`)
//!   makes a second attempt meet the first: the server says `RECORD_NOT_UNIQUE` and the
//!   session reads the stored item back. So an entry is `Sent` exactly when the
//!   database has it, once.
//! - **Crash-proof**: a new client on the same file resumes every entry in order; one
//!   that was on its way when the app died is sent again and meets itself if it had
//!   arrived. Another client holding the file gets `OUTBOX_LOCKED`; a damaged or
//!   foreign file is refused (`OUTBOX_CORRUPT`, `OUTBOX_FOREIGN`) and left untouched.
//! - **Local echo**: every event of an entry carries its [`OutboxEntry::key`], and the
//!   chat messages the server sends carry the same key ([`crate::ChatMessage::key`]):
//!   a view keyed by it shows each message once, pending, then as stored.
//! - **The app stays in charge**: [`Outbox::list`], [`Outbox::cancel`] and
//!   [`Outbox::edit`] work on entries that never went out (or failed);
//!   [`Outbox::retry`] sends a failed one again.

mod driver;
mod machine;
mod store;

use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::chat::ChatConfig;
use crate::error::{Error, Result};
use crate::protocol::ItemsRequest;
use crate::session::{Ids, Outlet, WeakSessionHandle};

/// Where an outbox entry stands; each change is reported as an [`crate::Event::Outbox`].
#[derive(Clone, Debug, PartialEq)]
pub enum OutboxState {
    /// Written to the outbox and waiting for its turn. Reported when queued (the local
    /// echo), edited, retried, or found in the file by a new client.
    Queued,
    /// With the session: on the wire, or waiting for the connection and the login.
    /// Reported at each attempt ([`OutboxEntry::attempts`] counts them); it stays in
    /// this state across lost connections and wire timeouts while the outbox tries again.
    Sending,
    /// Stored by the server, once; `item` is the item as stored. The entry has left the
    /// outbox.
    Sent {
        /// The stored item.
        item: Value,
    },
    /// The server refused it and trying again by itself cannot help. It stays in the
    /// outbox (and its file) until the app retries, edits or cancels it.
    Failed {
        /// What the server said (its code, e.g. `FORBIDDEN`, `FAILED_VALIDATION`).
        error: Error,
        /// Whether retrying may help: true when the refusal depends on the server's
        /// state (permissions, a server error, a row it refers to), false when the
        /// message itself was refused (invalid, too long, a duplicate unique value).
        retryable: bool,
    },
    /// Removed by the app before it was sent; the server never got it.
    Cancelled,
}

impl OutboxState {
    /// A lower-case name: `queued`, `sending`, `sent`, `failed`, `cancelled`.
    pub fn as_str(&self) -> &'static str {
        match self {
            OutboxState::Queued => "queued",
            OutboxState::Sending => "sending",
            OutboxState::Sent { .. } => "sent",
            OutboxState::Failed { .. } => "failed",
            OutboxState::Cancelled => "cancelled",
        }
    }
}

/// One create in the outbox, as of one of its events.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxEntry {
    /// Its number in this outbox: the order it was queued in; never reused.
    pub local_id: u64,
    /// The key the client made for it (a uuid), or the one its data carried: the value
    /// of `key_field` in `data` and in the stored item.
    pub key: String,
    /// The collection it is created in.
    pub collection: String,
    /// The unique field holding `key`: the primary key, or a field such as `client_key`.
    pub key_field: String,
    /// The item as queued (with its key).
    pub data: Value,
    /// Where it stands.
    pub state: OutboxState,
    /// How many times it was handed to the server (across runs of the app).
    pub attempts: u32,
    /// When it was queued, in milliseconds since the Unix epoch.
    pub queued_at_ms: u64,
    /// Whether the outbox made the key (a new uuid) rather than the app: such a key can
    /// only ever be in the table through an attempt of this entry.
    pub(crate) own_key: bool,
}

impl OutboxEntry {
    /// The keyed create this entry sends.
    pub fn request(&self) -> ItemsRequest {
        ItemsRequest::create(self.collection.clone(), self.data.clone()).key_field(self.key_field.clone())
    }

    /// The item: as stored once `Sent`, else as queued.
    pub fn item(&self) -> &Value {
        match &self.state {
            OutboxState::Sent { item } => item,
            _ => &self.data,
        }
    }

    /// The entry as JSON: `local_id`, `key`, `collection`, `key_field`, `data`, `state`,
    /// `attempts`, `queued_at_ms`, and `item` when sent, `error` (`{code, message}`) and
    /// `retryable` when failed.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "local_id": self.local_id,
            "key": self.key,
            "collection": self.collection,
            "key_field": self.key_field,
            "data": self.data,
            "state": self.state.as_str(),
            "attempts": self.attempts,
            "queued_at_ms": self.queued_at_ms,
        });
        match &self.state {
            OutboxState::Sent { item } => v["item"] = item.clone(),
            OutboxState::Failed { error, retryable } => {
                v["error"] = json!({ "code": error.code(), "message": error.to_string() });
                v["retryable"] = Value::Bool(*retryable);
            }
            _ => {}
        }
        v
    }
}

/// A client's outbox (see the [module](self) docs). Cheap to clone; from
/// [`crate::Client::outbox`].
///
/// Its calls write the outbox file before they return (a disk sync, typically a few
/// milliseconds) and may be made from any thread; they fail with [`Error::Closed`] once
/// the client has ended, when the file is closed and its entries wait for the next
/// client that opens it.
#[derive(Clone)]
pub struct Outbox {
    core: Arc<driver::Core>,
    chat: Arc<ChatConfig>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").field("path", &self.core.path()).finish_non_exhaustive()
    }
}

/// An opened outbox file and what it holds, before the client's session starts.
pub(crate) struct Opened {
    store: store::Store,
    entries: Vec<OutboxEntry>,
}

/// Opens and locks the outbox file at `path` (made if missing) and reads its entries.
pub(crate) fn open(path: &Path) -> Result<Opened> {
    let store = store::Store::open(path)?;
    let entries = store.load()?;
    Ok(Opened { store, entries })
}

impl Outbox {
    /// Starts the outbox of a client whose session reports to `outlet`.
    pub(crate) fn start(opened: Opened, outlet: Arc<Outlet>, session: WeakSessionHandle, ids: Arc<Ids>, chat: ChatConfig) -> Outbox {
        let core = driver::Core::start(opened.store, opened.entries, outlet, session, ids);
        Outbox { core, chat: Arc::new(chat) }
    }

    /// Queues a create of one item (`data` an object). Its key is the text in the
    /// request's key field ([`ItemsRequest::key_field`]) or, when that is missing, a new
    /// uuid put there. For exactly-once sends that field must be unique on the server:
    /// the primary key of a uuid-keyed collection, or a unique field such as
    /// `client_key`. Returns the entry (`Queued`) once it is written to the file.
    pub fn send(&self, request: ItemsRequest) -> Result<OutboxEntry> {
        self.core.enqueue(request)
    }

    /// Queues a chat message (see [`ChatConfig`]): its key goes in the primary key with
    /// [`ChatConfig::client_ids`], else in [`ChatConfig::client_key_field`].
    pub fn send_message(&self, text: &str) -> Result<OutboxEntry> {
        let chat = &self.chat;
        let field = chat.outbox_key_field();
        let mut data = chat.new_message(text);
        // The outbox makes the key itself, so that it knows nothing else can hold it.
        if let Some(fields) = data.as_object_mut() {
            fields.remove(field);
        }
        self.send(ItemsRequest::create(chat.collection.clone(), data).key_field(field))
    }

    /// The entries not yet over (queued, being sent, failed), oldest first.
    pub fn list(&self) -> Vec<OutboxEntry> {
        self.core.list()
    }

    /// Removes an entry that never went out, or that failed; reported as `Cancelled`.
    /// An entry that was handed to the server may be stored already, so it cannot be
    /// cancelled ([`Error::InvalidArgument`]).
    pub fn cancel(&self, local_id: u64) -> Result<OutboxEntry> {
        self.core.cancel(local_id)
    }

    /// Changes the data of an entry that never went out (or failed): the fields of
    /// `patch` (a JSON object) replace those queued; the key cannot change. Reported
    /// with the entry's state (`Queued`, or `Failed` until it is retried).
    pub fn edit(&self, local_id: u64, patch: Value) -> Result<OutboxEntry> {
        self.core.edit(local_id, &patch)
    }

    /// Changes the text of a queued chat message (see [`Outbox::edit`]).
    pub fn edit_text(&self, local_id: u64, text: &str) -> Result<OutboxEntry> {
        self.edit(local_id, json!({ self.chat.text_field.clone(): text }))
    }

    /// Puts a failed entry back in the queue, in its place, with its key.
    pub fn retry(&self, local_id: u64) -> Result<OutboxEntry> {
        self.core.retry(local_id)
    }

    /// The file of this outbox.
    pub fn path(&self) -> &Path {
        self.core.path()
    }

    /// Resolves once the file is closed and its lock released (after the client ended).
    pub(crate) async fn released(&self) {
        self.core.released().await
    }
}
