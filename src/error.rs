//! The library's error type.

use std::fmt;

use crate::protocol::ServerError;

/// Everything that can go wrong with a request or a connection.
///
/// Messages never contain passwords or tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The server answered the request with an error, e.g. `AUTH_FAILED`,
    /// `FORBIDDEN`, `INVALID_PAYLOAD`; [`Error::code`] gives the Directus code.
    Server(ServerError),
    /// The connection failed or was lost before the request got its answer.
    Connection(String),
    /// No answer came within the configured time.
    Timeout,
    /// The client was closed (by the user, or for good after a fatal error).
    Closed,
    /// An argument was not acceptable (bad URL, bad JSON, empty collection name, ...).
    InvalidArgument(String),
    /// TLS could not be set up (bad CA PEM, no roots).
    Tls(String),
    /// The queue of requests waiting for the connection is full.
    QueueFull,
    /// The server sent something this library cannot read (bad JSON, a binary frame).
    Protocol(String),
    /// The call would wait for the thread it runs on: it was made from a thread of the
    /// library (an event callback, the log callback, a wake hook), e.g. [`crate::shutdown`].
    InCallback,
    /// [`crate::shutdown`] ran out of time; the text names what did not end (clients,
    /// threads), which was left running.
    ShutdownTimeout(String),
}

impl Error {
    /// A stable, upper-case code: the server's code for [`Error::Server`], else one of
    /// `CONNECTION`, `TIMEOUT` (also for [`Error::ShutdownTimeout`]), `CLOSED`,
    /// `INVALID_ARGUMENT`, `TLS`, `QUEUE_FULL`, `PROTOCOL`, `IN_CALLBACK`.
    pub fn code(&self) -> &str {
        match self {
            Error::Server(e) => &e.code,
            Error::Connection(_) => "CONNECTION",
            Error::Timeout => "TIMEOUT",
            Error::Closed => "CLOSED",
            Error::InvalidArgument(_) => "INVALID_ARGUMENT",
            Error::Tls(_) => "TLS",
            Error::QueueFull => "QUEUE_FULL",
            Error::Protocol(_) => "PROTOCOL",
            Error::InCallback => "IN_CALLBACK",
            Error::ShutdownTimeout(_) => "TIMEOUT",
        }
    }

    /// Whether this is an authentication failure reported by the server.
    pub fn is_auth(&self) -> bool {
        matches!(self, Error::Server(e) if matches!(e.code.as_str(), "AUTH_FAILED" | "TOKEN_EXPIRED" | "AUTH_TIMEOUT" | "INVALID_CREDENTIALS"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Server(e) => write!(f, "server error {e}"),
            Error::Connection(r) => write!(f, "connection error: {r}"),
            Error::Timeout => f.write_str("timed out waiting for the server"),
            Error::Closed => f.write_str("the client is closed"),
            Error::InvalidArgument(r) => write!(f, "invalid argument: {r}"),
            Error::Tls(r) => write!(f, "TLS error: {r}"),
            Error::QueueFull => f.write_str("the queue of waiting requests is full"),
            Error::Protocol(r) => write!(f, "protocol error: {r}"),
            Error::InCallback => f.write_str(
                "not allowed on a thread of the library (an event callback, the log callback, a wake hook): it would wait for itself",
            ),
            Error::ShutdownTimeout(what) => write!(f, "shutdown timed out; still running: {what}"),
        }
    }
}

impl std::error::Error for Error {}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
