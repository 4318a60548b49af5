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
    /// The user cancelled the request before its outcome was known. If it had been
    /// sent already, the server may still apply it.
    Cancelled,
    /// The call would wait for the thread it runs on: it was made from a thread of the
    /// library (an event callback, the log callback, a wake hook), e.g. [`crate::shutdown`].
    InCallback,
    /// [`crate::shutdown`] ran out of time; the text names what did not end (clients,
    /// threads), which was left running.
    ShutdownTimeout(String),
    /// The outbox file cannot be used (see [`OutboxFault`]); the text names the file and
    /// says why. The file is left as it was.
    Outbox(OutboxFault, String),
}

/// Why an outbox file cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutboxFault {
    /// Another client (in this process or another) has it open: `OUTBOX_LOCKED`.
    Locked,
    /// It is damaged, or not a SQLite database at all: `OUTBOX_CORRUPT`.
    Corrupt,
    /// It is a SQLite database of another application: `OUTBOX_FOREIGN`.
    Foreign,
    /// A newer version of this library wrote it: `OUTBOX_VERSION`.
    Version,
    /// Reading or writing it failed (disk full, permissions): `OUTBOX_IO`.
    Io,
}

impl OutboxFault {
    /// The code: `OUTBOX_LOCKED`, `OUTBOX_CORRUPT`, `OUTBOX_FOREIGN`, `OUTBOX_VERSION`, `OUTBOX_IO`.
    pub fn code(self) -> &'static str {
        match self {
            OutboxFault::Locked => "OUTBOX_LOCKED",
            OutboxFault::Corrupt => "OUTBOX_CORRUPT",
            OutboxFault::Foreign => "OUTBOX_FOREIGN",
            OutboxFault::Version => "OUTBOX_VERSION",
            OutboxFault::Io => "OUTBOX_IO",
        }
    }
}

impl Error {
    /// A stable, upper-case code: the server's code for [`Error::Server`], else one of
    /// `CONNECTION`, `TIMEOUT` (also for [`Error::ShutdownTimeout`]), `CLOSED`,
    /// `INVALID_ARGUMENT`, `TLS`, `QUEUE_FULL`, `PROTOCOL`, `CANCELLED`, `IN_CALLBACK`,
    /// or an outbox code ([`OutboxFault::code`]).
    pub fn code(&self) -> &str {
        match self {
            Error::Server(e) => e.code.as_str(),
            Error::Connection(_) => "CONNECTION",
            Error::Timeout => "TIMEOUT",
            Error::Closed => "CLOSED",
            Error::InvalidArgument(_) => "INVALID_ARGUMENT",
            Error::Tls(_) => "TLS",
            Error::QueueFull => "QUEUE_FULL",
            Error::Protocol(_) => "PROTOCOL",
            Error::Cancelled => "CANCELLED",
            Error::InCallback => "IN_CALLBACK",
            Error::ShutdownTimeout(_) => "TIMEOUT",
            Error::Outbox(fault, _) => fault.code(),
        }
    }

    /// Whether this is an authentication failure reported by the server.
    pub fn is_auth(&self) -> bool {
        matches!(self, Error::Server(e) if e.code.is_auth())
    }

    /// What kind of failure this is, for surfaces that map errors to types of their own
    /// (C status codes, Python exception classes).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Server(e) if e.code.is_auth() => ErrorKind::Auth,
            Error::Server(e) if e.code.is_forbidden() => ErrorKind::Forbidden,
            Error::Server(_) => ErrorKind::Server,
            Error::Connection(_) => ErrorKind::Connection,
            Error::Timeout => ErrorKind::Timeout,
            Error::Closed => ErrorKind::Closed,
            Error::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Error::Tls(_) => ErrorKind::Tls,
            Error::QueueFull => ErrorKind::QueueFull,
            Error::Protocol(_) => ErrorKind::Protocol,
            Error::Cancelled => ErrorKind::Cancelled,
            Error::InCallback => ErrorKind::InCallback,
            Error::ShutdownTimeout(_) => ErrorKind::Timeout,
            Error::Outbox(..) => ErrorKind::Outbox,
        }
    }
}

/// The kind of an [`Error`]. Servers of different versions say different codes for
/// one failure (Directus before 12.3 says `INVALID_COLLECTION` where later versions say
/// `FORBIDDEN`); both are [`ErrorKind::Forbidden`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The server refused or dropped the authentication.
    Auth,
    /// The user may not reach what was asked for.
    Forbidden,
    /// Any other refusal by the server.
    Server,
    /// See [`Error::Connection`].
    Connection,
    /// See [`Error::Timeout`].
    Timeout,
    /// See [`Error::Closed`].
    Closed,
    /// See [`Error::InvalidArgument`].
    InvalidArgument,
    /// See [`Error::Tls`].
    Tls,
    /// See [`Error::QueueFull`].
    QueueFull,
    /// See [`Error::Protocol`].
    Protocol,
    /// See [`Error::Cancelled`].
    Cancelled,
    /// See [`Error::InCallback`].
    InCallback,
    /// See [`Error::Outbox`].
    Outbox,
}

impl ErrorKind {
    /// A lower-case name: `auth`, `forbidden`, `server`, `connection`, `timeout`,
    /// `closed`, `invalid_argument`, `tls`, `queue_full`, `protocol`, `cancelled`,
    /// `in_callback`, `outbox`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Auth => "auth",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::Server => "server",
            ErrorKind::Connection => "connection",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Closed => "closed",
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::Tls => "tls",
            ErrorKind::QueueFull => "queue_full",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::InCallback => "in_callback",
            ErrorKind::Outbox => "outbox",
        }
    }

    /// The kind of an error known only by its code ([`Error::code`]): a library code,
    /// or else a server's.
    pub fn of_code(code: &str) -> ErrorKind {
        match code {
            "CONNECTION" => ErrorKind::Connection,
            "TIMEOUT" => ErrorKind::Timeout,
            "CLOSED" => ErrorKind::Closed,
            "INVALID_ARGUMENT" => ErrorKind::InvalidArgument,
            "TLS" => ErrorKind::Tls,
            "QUEUE_FULL" => ErrorKind::QueueFull,
            "PROTOCOL" => ErrorKind::Protocol,
            "CANCELLED" => ErrorKind::Cancelled,
            "IN_CALLBACK" => ErrorKind::InCallback,
            outbox if outbox.starts_with("OUTBOX_") => ErrorKind::Outbox,
            server => Error::Server(crate::protocol::ServerError::new(server, "")).kind(),
        }
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
            Error::Cancelled => f.write_str("the request was cancelled"),
            Error::InCallback => f.write_str(
                "not allowed on a thread of the library (an event callback, the log callback, a wake hook): it would wait for itself",
            ),
            Error::ShutdownTimeout(what) => write!(f, "shutdown timed out; still running: {what}"),
            Error::Outbox(_, r) => write!(f, "outbox error: {r}"),
        }
    }
}

impl std::error::Error for Error {}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
