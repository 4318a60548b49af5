//! The session: one per client, across its connections.
//!
//! It is made of small pure state machines, each taking inputs and returning actions
//! without touching a socket: [`auth`] (logins, renewal, the expiry window),
//! [`replies`] (what waits for an answer, with deadlines) and [`outgoing`] (requests
//! queued, on the wire, resent or failed after a lost connection), [`subscriptions`]
//! with their [`tracker`]s, [`heartbeat`] and [`reconnect`]; [`core`] composes them,
//! adapts them to what the server tells about itself (version, heartbeat, auth mode) and
//! routes every server message by the typed [`key`] of the request it answers. One thin
//! async loop, [`driver`], owns the socket and carries the actions out; events leave
//! through the client's [`outlet`]. Everything else talks to the loop through
//! [`Command`]s, so no lock is ever held around socket I/O or user code.

mod action;
mod auth;
mod core;
mod driver;
mod heartbeat;
pub(crate) mod key;
mod outgoing;
pub(crate) mod outlet;
mod reconnect;
mod renewal;
mod replies;
mod reply;
mod subscriptions;
#[cfg(test)]
mod task_size;
mod tracker;

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::error::Error;
use crate::options::ClientOptions;
use crate::protocol::{AuthCredentials, ItemsRequest, ServerInfo, SubscribeRequest};
use crate::transport::Endpoint;
pub(crate) use key::{Ids, Key};
pub(crate) use outlet::{Feed, Flow, Outlet, Queue, Target, View};
pub(crate) use reply::Reply;

/// A request to the session. Numbers come from the client's [`Ids`].
pub(crate) enum Command {
    Login {
        id: u64,
        credentials: AuthCredentials,
        reply: Reply,
    },
    Subscribe {
        id: u64,
        request: SubscribeRequest,
        reply: Reply,
    },
    Unsubscribe {
        id: u64,
        reply: Reply,
    },
    Items {
        id: u64,
        request: ItemsRequest,
        reply: Reply,
    },
    /// The user stopped waiting for request `id` (an `await` was dropped, a queued
    /// message was withdrawn): it completes now with [`Error::Cancelled`].
    Cancel {
        id: u64,
    },
    /// Skip the wait before the next connection attempt.
    ReconnectNow,
    /// What the server told about itself after a login (`GET /server/info`, read
    /// beside the session by `discovery`).
    ServerInfo {
        info: ServerInfo,
    },
    Close {
        reply: Reply,
    },
}

impl Command {
    /// The reply of this command, if it has one.
    pub(crate) fn into_reply(self) -> Option<Reply> {
        match self {
            Command::Login { reply, .. }
            | Command::Subscribe { reply, .. }
            | Command::Unsubscribe { reply, .. }
            | Command::Items { reply, .. }
            | Command::Close { reply } => Some(reply),
            Command::Cancel { .. } | Command::ReconnectNow | Command::ServerInfo { .. } => None,
        }
    }
}

/// The session's end of its command channel. Commands travel boxed: the channel
/// allocates its slots in blocks of 32 up front, and a block of boxes is 256 bytes
/// where a block of commands (up to ~230 bytes each) was over 7 KiB per session.
pub(crate) type Commands = mpsc::UnboundedReceiver<Box<Command>>;

/// The user side of a running session.
#[derive(Clone)]
pub(crate) struct SessionHandle {
    commands: mpsc::UnboundedSender<Box<Command>>,
}

impl SessionHandle {
    /// Hands a command to the session. If the session has ended, the command's reply
    /// is dropped, which reports [`Error::Closed`].
    pub(crate) fn send(&self, command: Command) {
        let _ = self.commands.send(Box::new(command));
    }

    /// Hands a command to the session, or gives it back if the session has ended.
    // The command comes back whole because its reply must be disarmed by the caller.
    #[allow(clippy::result_large_err)]
    pub(crate) fn try_send(&self, command: Command) -> Result<(), Command> {
        self.commands.send(Box::new(command)).map_err(|e| *e.0)
    }

    /// Whether the session task has ended.
    pub(crate) fn is_closed(&self) -> bool {
        self.commands.is_closed()
    }

    /// A handle that does not keep the session alive: the session still ends when the
    /// user's last handle is dropped (for parts of a client that live beside it, or that
    /// the session itself owns, like the chat view in its outlet).
    pub(crate) fn downgrade(&self) -> WeakSessionHandle {
        WeakSessionHandle(self.commands.downgrade())
    }
}

#[cfg(test)]
impl SessionHandle {
    /// A handle whose commands go to `tx`, for tests of parts that send commands.
    pub(crate) fn for_test(tx: mpsc::UnboundedSender<Box<Command>>) -> Self {
        SessionHandle { commands: tx }
    }
}

/// A [`SessionHandle`] that does not keep the session alive.
#[derive(Clone)]
pub(crate) struct WeakSessionHandle(mpsc::WeakUnboundedSender<Box<Command>>);

impl WeakSessionHandle {
    /// Hands a command to the session, or gives it back if the session has ended or
    /// every user handle is gone.
    #[allow(clippy::result_large_err)]
    pub(crate) fn try_send(&self, command: Command) -> Result<(), Command> {
        match self.0.upgrade() {
            Some(tx) => tx.send(Box::new(command)).map_err(|e| *e.0),
            None => Err(command),
        }
    }

    /// Hands a command to the session if it still runs; else the command (and its reply,
    /// which reports [`Error::Closed`]) is dropped. Never call it with a lock held that
    /// the reply's callback takes.
    pub(crate) fn send(&self, command: Command) {
        let _ = self.try_send(command);
    }
}

/// Starts a session task on the shared runtime, reporting to `outlet`. The receiver
/// tells how the first attempt to open the socket went.
pub(crate) fn start(
    endpoint: Endpoint,
    options: Arc<ClientOptions>,
    outlet: Arc<Outlet>,
    ids: Arc<Ids>,
) -> (SessionHandle, oneshot::Receiver<Result<(), Error>>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let (ready_tx, ready_rx) = oneshot::channel();
    crate::shutdown::register_session(&tx);
    crate::runtime::handle().spawn(driver::run(endpoint, options, outlet, ids, rx, ready_tx));
    (SessionHandle { commands: tx }, ready_rx)
}
