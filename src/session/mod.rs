//! The session actor: one task per client that owns the socket.
//!
//! The task connects, authenticates, answers the server's pings, keeps the map of
//! pending requests and the map of subscriptions by uid, reconnects with backoff, and
//! reports every change as an [`Event`] through the sink it was given. Everything else
//! talks to it through [`Command`]s, so no lock is ever held around socket I/O or user
//! code.

mod actor;
mod batch;
mod flow;
mod pending;
mod renewal;
mod reply;
mod retry;
mod supervisor;
mod tracker;

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::error::Error;
use crate::event::Event;
use crate::options::ClientOptions;
use crate::protocol::{AuthCredentials, ClientMessage, EventFilter};
use crate::transport::Endpoint;
pub(crate) use batch::Batch;
pub(crate) use flow::Flow;
pub(crate) use reply::Reply;
pub(crate) use retry::{retry_for, Retry};

/// Receives every event of a session, in order, on a runtime thread. It must not block.
pub(crate) type EventSink = Arc<dyn Fn(Event) + Send + Sync>;

/// What a subscription asks for; kept so it can be sent again after a reconnect.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SubscriptionSpec {
    pub collection: String,
    pub event: Option<EventFilter>,
    pub item: Option<Value>,
    pub query: Option<Value>,
    /// The primary key field, for gap-free joins and resubscribes.
    pub key_field: String,
}

/// A request to the session task.
pub(crate) enum Command {
    Login {
        credentials: AuthCredentials,
        reply: Reply,
    },
    Subscribe {
        uid: String,
        spec: SubscriptionSpec,
        reply: Reply,
    },
    Unsubscribe {
        uid: String,
        reply: Reply,
    },
    /// An `items` message whose uid is already set, and what to do with it if the
    /// connection drops before its answer.
    Items {
        message: ClientMessage,
        reply: Reply,
        retry: Retry,
    },
    Close {
        reply: Reply,
    },
}

impl Command {
    /// The reply of this command.
    pub(crate) fn into_reply(self) -> Reply {
        match self {
            Command::Login { reply, .. }
            | Command::Subscribe { reply, .. }
            | Command::Unsubscribe { reply, .. }
            | Command::Items { reply, .. }
            | Command::Close { reply } => reply,
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
}

/// Starts a session task on the shared runtime. The receiver tells when the socket is
/// first open (or why it could not be opened; the sink then also got `Closed`).
/// `sink` must count what it gives with `flow` (see [`Flow`]) and pass it through
/// `batch`, which the session holds while it works through buffered frames.
pub(crate) fn start(
    endpoint: Endpoint,
    options: Arc<ClientOptions>,
    sink: EventSink,
    flow: Arc<Flow>,
    batch: Arc<Batch>,
) -> (SessionHandle, oneshot::Receiver<Result<(), Error>>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let (ready_tx, ready_rx) = oneshot::channel();
    crate::shutdown::register_session(&tx);
    crate::runtime::handle().spawn(supervisor::run(endpoint, options, sink, flow, batch, rx, ready_tx));
    (SessionHandle { commands: tx }, ready_rx)
}
