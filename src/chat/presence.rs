//! Presence, typing and read receipts per room, on a stock Directus with the schema
//! kit's `presence` and `read_receipts` collections (no server extension).
//!
//! - **Presence**: a client in a room keeps a row `"<user>:<room>"` there, written every
//!   [`PresenceConfig::heartbeat`]; the server stamps each write (`date_updated`), so
//!   every peer judges a row by the server's clock: online while its last write is
//!   younger than [`PresenceConfig::ttl`]. Each client estimates the server's clock from
//!   the dates in the answers to its own writes. A clean exit deletes the row; a
//!   client that vanishes (killed, network gone) stops writing and expires.
//! - **Typing**: the same row's `typing` flag, written at once when typing starts or is
//!   cleared and refreshed at most every [`PresenceConfig::typing_interval`]; peers
//!   drop it [`PresenceConfig::typing_ttl`] after its last write. Typing writes are
//!   heartbeats too.
//! - **Read receipts**: a row per user and room with the last read message and its
//!   date; a room's unread count (messages of others after one's marker) is counted by
//!   the server on entry and after every reconnect, then kept current from the room's
//!   new messages.
//!
//! Layers: `schema` holds the requests and rows, `machine` decides (pure, timers as
//! inputs), `driver` carries the decisions out, `api` is the [`crate::Client`] side.

use std::time::Duration;

mod api;
mod driver;
pub(crate) mod machine;
pub(crate) mod schema;

pub(crate) use driver::{Hub, Input};

/// Where presence and receipts live and how fast presence moves. Every client of a
/// chat should use the same timings: a peer judges a row with its own `ttl`, which
/// must leave room for the writer's `heartbeat`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresenceConfig {
    /// The presence collection. Default `presence` (the schema kit's).
    pub collection: String,
    /// The read receipts collection. Default `read_receipts`.
    pub receipts_collection: String,
    /// How often a client in a room refreshes its row when nothing else is written.
    /// Default 10 s: 6 writes per user and room per minute.
    pub heartbeat: Duration,
    /// How long after its last write a row counts as online. Default 25 s: two
    /// heartbeats may be late or lost before a user flickers offline, and a vanished
    /// client is offline for everyone at most 25 s after its last write.
    pub ttl: Duration,
    /// While the user types, the typing flag is written at most this often. Default
    /// 3.25 s: a little over 3 s, so that 30 s of typing are at most 10 writes (the
    /// first and 9 refreshes) plus the one that clears the flag, even when the 30 s end
    /// a few milliseconds after a refresh falls due (with exactly 3 s, the 10th refresh
    /// at 30.0 s made it 12 writes under load).
    pub typing_interval: Duration,
    /// Peers drop a typing flag this long after its last write. Default 5 s.
    pub typing_ttl: Duration,
    /// Whether [`crate::Client::join`] of a room also enters its presence (and
    /// [`crate::Client::leave`] exits it). Default false: presence writes to the
    /// database, so it is asked for ([`crate::Client::enter`]) or switched on here.
    pub on_join: bool,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        PresenceConfig {
            collection: "presence".into(),
            receipts_collection: "read_receipts".into(),
            heartbeat: Duration::from_secs(10),
            ttl: Duration::from_secs(25),
            typing_interval: Duration::from_millis(3_250),
            typing_ttl: Duration::from_secs(5),
            on_join: false,
        }
    }
}

/// A user present in a room.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The user's id.
    pub user: String,
    /// The user's first name, when readable.
    pub name: Option<String>,
    /// Whether the user is typing.
    pub typing: bool,
    /// The server's time of the user's last write (ISO 8601).
    pub seen: String,
}

/// A user who has read a message: their read marker is at it or later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reader {
    /// The user's id.
    pub user: String,
    /// The user's first name, when readable.
    pub name: Option<String>,
    /// The key of the last message they read.
    pub last_read: Option<String>,
    /// That message's date (ISO 8601).
    pub last_read_date: Option<String>,
}

/// What changed in a room one is in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PresenceEvent {
    /// A user came online or went offline (a clean exit, or no write within the TTL).
    Online {
        /// The room.
        room: String,
        /// The user's id.
        user: String,
        /// The user's first name, when readable.
        name: Option<String>,
        /// Online (true) or offline.
        online: bool,
    },
    /// A user started or stopped typing.
    Typing {
        /// The room.
        room: String,
        /// The user's id.
        user: String,
        /// The user's first name, when readable.
        name: Option<String>,
        /// Typing (true) or stopped.
        typing: bool,
    },
    /// The number of unread messages (by others, after one's read marker) changed.
    Unread {
        /// The room.
        room: String,
        /// How many.
        count: u64,
    },
    /// A user's read marker moved.
    Read {
        /// The room.
        room: String,
        /// The user's id.
        user: String,
        /// The user's first name, when readable.
        name: Option<String>,
        /// The key of the last message they read.
        last_read: Option<String>,
    },
}

impl PresenceEvent {
    /// The room the event is about.
    pub fn room(&self) -> &str {
        match self {
            PresenceEvent::Online { room, .. }
            | PresenceEvent::Typing { room, .. }
            | PresenceEvent::Unread { room, .. }
            | PresenceEvent::Read { room, .. } => room,
        }
    }

    /// The user the event is about (`None` for unread counts).
    pub fn user(&self) -> Option<&str> {
        match self {
            PresenceEvent::Online { user, .. } | PresenceEvent::Typing { user, .. } | PresenceEvent::Read { user, .. } => Some(user),
            PresenceEvent::Unread { .. } => None,
        }
    }

    /// The user's first name, when known.
    pub fn name(&self) -> Option<&str> {
        match self {
            PresenceEvent::Online { name, .. } | PresenceEvent::Typing { name, .. } | PresenceEvent::Read { name, .. } => name.as_deref(),
            PresenceEvent::Unread { .. } => None,
        }
    }

    /// A lower-case name of the kind: `online`, `typing`, `unread`, `read`.
    pub fn kind(&self) -> &'static str {
        match self {
            PresenceEvent::Online { .. } => "online",
            PresenceEvent::Typing { .. } => "typing",
            PresenceEvent::Unread { .. } => "unread",
            PresenceEvent::Read { .. } => "read",
        }
    }
}
