//! Settings of a client: timeouts, TLS trust, limits and the chat schema.

use std::time::Duration;

use crate::chat::ChatConfig;

/// Where the trusted root certificates for `wss://` come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TlsRoots {
    /// The Mozilla roots bundled into the library (webpki-roots). Works everywhere.
    #[default]
    Bundled,
    /// The operating system's trust store.
    System,
    /// No built-in roots: only the CAs given in [`TlsOptions::extra_ca_pem`].
    None,
}

/// TLS settings. Certificates are always verified; there is no switch to turn that off.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// The built-in roots to trust.
    pub roots: TlsRoots,
    /// Extra CA certificates (PEM, one or more) to trust besides the roots, e.g. a
    /// company CA or a test CA.
    pub extra_ca_pem: Option<String>,
}

/// How the connection authenticates, as set on the server by `WEBSOCKETS_REST_AUTH`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AuthMode {
    /// The first frame must be `auth` (the server's default). Requests made before
    /// [`crate::Client::login`] wait until the login succeeds.
    #[default]
    Handshake,
    /// The server accepts requests with public permissions before any login, so
    /// requests made before the first login are sent at once. Once a user logs in,
    /// requests wait for that login (and for the re-login on every new connection):
    /// the server handles frames concurrently, so one sent right behind an `auth` could
    /// run with public permissions.
    Public,
    /// The upgrade itself must carry a token (`?access_token=`; the server answers
    /// 401 otherwise). The first connection uses the URL as given (put the token there);
    /// every reconnect after a login puts a current access token of the user on the URL
    /// (the one given to the login, or the REST side's, see [`ClientOptions::rest_url`]).
    Strict,
}

impl AuthMode {
    /// The server's name for the mode (`WEBSOCKETS_REST_AUTH`): `handshake`, `public`
    /// or `strict`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Handshake => "handshake",
            AuthMode::Public => "public",
            AuthMode::Strict => "strict",
        }
    }
}

/// When and how often a lost connection is opened again.
///
/// The delay before attempt `n` (from 0) is `first_delay * factor^n`, capped at
/// `max_delay`, with up to `jitter` (a fraction) of it added or removed at random so
/// that many clients do not reconnect in lockstep after a server restart.
#[derive(Clone, Debug, PartialEq)]
pub struct ReconnectPolicy {
    /// The delay before the first attempt. Default 2 s.
    pub first_delay: Duration,
    /// How much each delay grows. Default 1.5.
    pub factor: f64,
    /// The longest delay. Default 30 s.
    pub max_delay: Duration,
    /// How many attempts in a row before giving up: `Some(0)` never reconnects,
    /// `None` tries forever. Default `Some(20)`. The count restarts after a success.
    pub max_attempts: Option<u32>,
    /// The random spread of each delay, from 0 to 1. Default 0.2.
    pub jitter: f64,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            first_delay: Duration::from_secs(2),
            factor: 1.5,
            max_delay: Duration::from_secs(30),
            max_attempts: Some(20),
            jitter: 0.2,
        }
    }
}

impl ReconnectPolicy {
    /// Never reconnect: a lost connection closes the client.
    pub fn never() -> Self {
        ReconnectPolicy { max_attempts: Some(0), ..Self::default() }
    }

    /// Reconnect forever.
    pub fn forever() -> Self {
        ReconnectPolicy { max_attempts: None, ..Self::default() }
    }

    /// The delay before attempt `attempt` (from 0), given a random `unit` in [0, 1).
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let base = self.first_delay.as_secs_f64() * self.factor.max(1.0).powi(attempt.min(1000) as i32);
        let base = base.min(self.max_delay.as_secs_f64());
        let spread = self.jitter.clamp(0.0, 1.0) * base * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        Duration::from_secs_f64((base + spread).max(0.0))
    }

    /// Whether attempt `attempt` (from 0) may be made.
    pub fn allows(&self, attempt: u32) -> bool {
        self.max_attempts.is_none_or(|max| attempt < max)
    }
}

/// Settings of a [`crate::Client`].
#[derive(Clone, Debug, PartialEq)]
pub struct ClientOptions {
    /// How long opening the WebSocket (TCP, TLS, upgrade) may take.
    pub connect_timeout: Duration,
    /// How long a request (login, subscribe, items, unsubscribe) waits for its answer.
    pub request_timeout: Duration,
    /// TLS trust for `wss://` URLs.
    pub tls: TlsOptions,
    /// The largest message accepted from the server, in bytes; a larger one is an
    /// error event and ends the connection.
    pub max_message_size: usize,
    /// The server's authentication mode.
    pub auth_mode: AuthMode,
    /// How many requests may wait for the login or a reconnect before a new one fails
    /// with [`crate::Error::QueueFull`].
    pub max_queued: usize,
    /// Reconnection after a lost connection.
    pub reconnect: ReconnectPolicy,
    /// How many events may wait for the user (in `Events`, a poll queue, or the
    /// callback thread) before the session stops reading the socket until the user
    /// catches up. Memory stays bounded; a user who stalls longer than the server's
    /// heartbeat period is disconnected by the server and caught up, without gaps,
    /// after reconnecting.
    pub max_buffered_events: usize,
    /// How many bytes of events may wait for the user before the session stops reading
    /// the socket, as with [`ClientOptions::max_buffered_events`] (whichever is reached
    /// first): an event counts the bytes its data had on the wire plus the event
    /// itself. Default 2 MiB.
    pub max_buffered_bytes: usize,
    /// How many items per subscription the session remembers (key and digest) to
    /// deliver what was missed across a reconnect exactly once. Beyond it the oldest
    /// are forgotten: an item older than that which reappears counts as new.
    pub track_limit: usize,
    /// How long the connection may be silent before the client sends a ping; with no
    /// answer within the same time again, the connection counts as lost. `None` turns
    /// the client's own liveness check off (the server's pings are always answered).
    pub heartbeat: Option<Duration>,
    /// Whether the server names the failed request (echoes its uid) on every error, as
    /// Directus 12.4 and later do. Before 12.4 a failed `items` request or a refused
    /// subscribe is answered without its uid, so the session sends them one at a time to
    /// know which one failed. `None` (the default): the session finds out with one probe
    /// (a read that fails on every version) after each login until it knows, and sends
    /// one at a time until then. `Some(_)` skips the probe.
    pub error_uids: Option<bool>,
    /// The chat schema used by the chat helpers.
    pub chat: ChatConfig,
    /// A file for the client's outbox (see [`crate::Outbox`]): sends written there
    /// survive a crash of the app and are resumed, in order, by the next client that
    /// opens it. `None` (the default): no outbox.
    pub outbox_path: Option<std::path::PathBuf>,
    /// The base URL of the server's REST API, for attachments (uploads and downloads)
    /// and capability discovery. `None` (the default): the socket's URL over http(s)
    /// without its `/websocket` path, which is where Directus serves both.
    pub rest_url: Option<String>,
    /// Whether the client reads what the server tells about itself (`GET /server/info`
    /// over REST) after each login and adapts to it (see [`crate::Client::server_info`]).
    /// Default on. Off, the session goes by behaviour alone, and a password login makes
    /// no REST login of its own until an attachment needs one.
    pub discovery: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            tls: TlsOptions::default(),
            max_message_size: 16 << 20,
            auth_mode: AuthMode::default(),
            max_queued: 1024,
            reconnect: ReconnectPolicy::default(),
            track_limit: 10_000,
            max_buffered_events: 100_000,
            max_buffered_bytes: 2 << 20,
            heartbeat: Some(Duration::from_secs(30)),
            error_uids: None,
            chat: ChatConfig::default(),
            outbox_path: None,
            rest_url: None,
            discovery: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters() {
        let p = ReconnectPolicy { jitter: 0.0, ..ReconnectPolicy::default() };
        assert_eq!(p.delay(0, 0.5), Duration::from_secs(2));
        assert_eq!(p.delay(1, 0.5), Duration::from_secs(3));
        assert_eq!(p.delay(2, 0.5), Duration::from_secs_f64(4.5));
        assert_eq!(p.delay(30, 0.5), Duration::from_secs(30));
        let j = ReconnectPolicy::default();
        assert_eq!(j.delay(0, 0.0), Duration::from_secs_f64(1.6));
        assert_eq!(j.delay(0, 1.0), Duration::from_secs_f64(2.4));
        assert!(j.allows(19) && !j.allows(20));
        assert!(!ReconnectPolicy::never().allows(0));
        assert!(ReconnectPolicy::forever().allows(u32::MAX));
    }
}
