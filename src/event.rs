//! What a session reports to its user.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::data::Data;
use crate::error::Error;
use crate::protocol::{ServerError, SubscriptionKind};

/// The state of a client's connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    /// Opening the WebSocket.
    Connecting,
    /// The WebSocket is open; not yet authenticated.
    Connected,
    /// The server accepted the credentials.
    Authenticated,
    /// The connection was lost or refused; the reason says why.
    Disconnected,
    /// The client is closed for good. This is always the last event.
    Closed,
}

impl ConnectionState {
    /// A lower-case name: `connecting`, `connected`, `authenticated`, `disconnected`, `closed`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Connecting => "connecting",
            ConnectionState::Connected => "connected",
            ConnectionState::Authenticated => "authenticated",
            ConnectionState::Disconnected => "disconnected",
            ConnectionState::Closed => "closed",
        }
    }
}

/// Why a client closed for good (on its final `Closed` state event).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CloseCause {
    /// The user closed it (close, dropping every handle, or the library's shutdown).
    ByUser,
    /// The connection was lost and the reconnect policy's attempts are spent.
    GaveUp,
    /// The server refused the credentials and nothing else is left to present.
    AuthRefused,
    /// The session could not run: TLS could not be set up, or an internal error.
    Failed,
}

impl CloseCause {
    /// A lower-case name: `by_user`, `gave_up`, `auth_refused`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseCause::ByUser => "by_user",
            CloseCause::GaveUp => "gave_up",
            CloseCause::AuthRefused => "auth_refused",
            CloseCause::Failed => "failed",
        }
    }
}

/// A subscription's uid as its events carry it: one text shared by all of them (an
/// event's copy is a reference count, not an allocation the I/O thread makes and the
/// reading thread frees). Reads, compares and prints as the text it is.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uid(Arc<str>);

impl Uid {
    /// The uid's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Uid {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Uid {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Uid {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Uid {
    fn from(s: &str) -> Self {
        Uid(s.into())
    }
}

impl From<String> for Uid {
    fn from(s: String) -> Self {
        Uid(s.into())
    }
}

impl From<Uid> for String {
    fn from(u: Uid) -> Self {
        u.0.as_ref().to_owned()
    }
}

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl PartialEq<str> for Uid {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Uid {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for Uid {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<Uid> for str {
    fn eq(&self, other: &Uid) -> bool {
        self == &*other.0
    }
}

impl PartialEq<Uid> for &str {
    fn eq(&self, other: &Uid) -> bool {
        *self == &*other.0
    }
}

impl PartialEq<Uid> for String {
    fn eq(&self, other: &Uid) -> bool {
        **self == *other.0
    }
}

/// One event of a client, delivered in the order the session saw it.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The connection changed state.
    State {
        /// The new state.
        state: ConnectionState,
        /// Why, for `Disconnected` and `Closed`.
        reason: Option<String>,
        /// Which connection attempt in a row this state belongs to: 0 for a connection
        /// that is (or was) open, n for the n-th attempt to open one since.
        attempt: u32,
        /// On `Disconnected`: when the next attempt starts, if one follows.
        retry_in: Option<Duration>,
        /// On `Closed`: why the client ended.
        cause: Option<CloseCause>,
    },
    /// A subscription event: `init` (the history), `create`, `update` or `delete`.
    Subscription {
        /// The subscription's uid.
        uid: Uid,
        /// Which event.
        kind: SubscriptionKind,
        /// Items (or keys, for `delete`); `null` on an `init` without data. Parsed when
        /// read, on the reading thread (see [`Data`]).
        data: Data,
    },
    /// A subscription was refused or ended by the server (also when the subscribe
    /// call itself returned the error).
    SubscriptionError {
        /// The subscription's uid.
        uid: Uid,
        /// What the server said.
        error: ServerError,
    },
    /// The outcome of a request made with a `*_nowait` call, by its request id.
    Reply {
        /// The id the call returned.
        request: u64,
        /// The server's data, or why the request failed.
        result: Result<Value, Error>,
    },
    /// An error not tied to one request: a server error without uid, an expired
    /// token, a frame that could not be decoded.
    Error {
        /// What went wrong.
        error: Error,
    },
    /// A well-formed message of a type this library does not know, kept as it came.
    Unknown(Value),
    /// An entry of the outbox changed state (see [`crate::Outbox`]): queued (its local
    /// echo), sending, sent, failed or cancelled.
    Outbox(Box<crate::outbox::OutboxEntry>),
    /// Presence, typing or an unread count changed in a room the client entered (see
    /// [`crate::Client::enter`]).
    Presence(crate::chat::PresenceEvent),
    /// Progress of an upload or a download (see [`crate::Upload`]): `done` bytes of
    /// `total` (when known) moved so far. Told when it starts, at each percent and at
    /// the end; the transfer's outcome follows as an [`Event::Reply`] with the same
    /// request id.
    Transfer {
        /// The request id the upload or download call returned.
        request: u64,
        /// Bytes moved so far.
        done: u64,
        /// The size of the file, when known.
        total: Option<u64>,
    },
}

impl Event {
    /// A state event with no reason, attempt or cause.
    pub(crate) fn state(state: ConnectionState) -> Event {
        Event::State { state, reason: None, attempt: 0, retry_in: None, cause: None }
    }

    /// What holding the event costs, in bytes, for the bound on buffered events
    /// ([`crate::ClientOptions::max_buffered_bytes`]): its data as the server sent it
    /// plus the event itself.
    pub(crate) fn weight(&self) -> usize {
        const EVENT: usize = std::mem::size_of::<Event>();
        match self {
            Event::Subscription { data, .. } => EVENT + data.weight(),
            _ => EVENT,
        }
    }

    /// Whether this is the final `Closed` state event.
    pub fn is_closed(&self) -> bool {
        matches!(self, Event::State { state: ConnectionState::Closed, .. })
    }
}
