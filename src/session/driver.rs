//! The one async loop of a session: it owns the socket, feeds the session machine with
//! what happens (commands, frames, ticks, connections opened and lost) and carries out
//! the actions the machine returns. No decision is made here.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::{sync::oneshot, time::Instant};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::action::Action;
use super::core::{Control, Next, Session};
use super::reconnect::jitter_unit;
use super::{key::Ids, outlet::Outlet};
use super::{Command, Commands};
use crate::error::Error;
use crate::event::{CloseCause, ConnectionState, Event};
use crate::options::ClientOptions;
use crate::transport::{self, Endpoint, Socket};

/// Frames already buffered that are worked through in one go, their events handed over
/// together (see [`Outlet::hold`]).
const BURST: usize = 256;
/// How long a closing socket waits for the server's close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Why serving a connection ended.
enum Exit {
    Lost(String),
    Closed,
}

/// Runs a session to its end; whatever happens (a panic included), its last event is
/// `Closed`. `ready` hears how the first attempt to connect went.
pub(super) async fn run(
    endpoint: Endpoint,
    options: Arc<ClientOptions>,
    outlet: Arc<Outlet>,
    ids: Arc<Ids>,
    mut commands: Commands,
    ready: oneshot::Sender<Result<(), Error>>,
) {
    let guard = outlet.clone();
    let run = AssertUnwindSafe(drive(endpoint, options, outlet, ids, &mut commands, ready)).catch_unwind();
    if run.await.is_err() {
        log::error!("directus-chat session task panicked; closing it");
        refuse(&mut commands);
        let reason = Some("internal error in the session".into());
        guard.give(Event::State { state: ConnectionState::Closed, reason, attempt: 0, retry_in: None, cause: Some(CloseCause::Failed) });
    }
}

async fn drive(
    endpoint: Endpoint,
    options: Arc<ClientOptions>,
    outlet: Arc<Outlet>,
    ids: Arc<Ids>,
    commands: &mut Commands,
    ready: oneshot::Sender<Result<(), Error>>,
) {
    let mut ready = Some(ready);
    let mut session = Session::new(options.clone(), ids, Instant::now());
    let (reason, error, cause) = match endpoint.is_tls().then(|| transport::tls_config(&options.tls)).transpose() {
        Err(e) => {
            log::warn!("{e}");
            let _ = ready.take().map(|r| r.send(Err(e.clone())));
            (e.to_string(), e, CloseCause::Failed)
        }
        Ok(tls) => loop {
            session.connecting();
            settle(&mut session, &outlet);
            let opened = match offline(&mut session, commands, &outlet, transport::open(&endpoint, &options, tls.clone()), false).await {
                Offline::Done(opened) => opened,
                Offline::Skipped => continue, // not skippable: never returned here
                Offline::Closed => break ("closed by the client".into(), Error::Closed, CloseCause::ByUser),
            };
            if let Some(r) = ready.take() {
                let _ = r.send(opened.as_ref().map(drop).map_err(Clone::clone));
            }
            let next = match opened {
                Ok(mut socket) => {
                    log::info!("connected to {}", endpoint.redacted());
                    session.connected(Instant::now());
                    match serve(&mut session, &mut socket, commands, &outlet).await {
                        Exit::Closed => break ("closed by the client".into(), Error::Closed, CloseCause::ByUser),
                        Exit::Lost(reason) => {
                            log::warn!("connection lost: {reason}");
                            session.lost(reason, jitter_unit())
                        }
                    }
                }
                Err(e) => {
                    log::warn!("connecting failed: {e}");
                    session.connect_failed(e.to_string(), jitter_unit())
                }
            };
            settle(&mut session, &outlet);
            match next {
                Next::Retry(delay) => {
                    if let Offline::Closed = offline(&mut session, commands, &outlet, tokio::time::sleep(delay), true).await {
                        break ("closed by the client".into(), Error::Closed, CloseCause::ByUser);
                    }
                }
                Next::End { reason, error, cause } => break (reason, error, cause),
            }
        },
    };
    session.fail_all(&error);
    settle(&mut session, &outlet);
    refuse(commands);
    session.closed(reason, cause);
    settle(&mut session, &outlet);
}

/// How a wait while not connected ended.
enum Offline<T> {
    Done(T),
    /// The user asked to reconnect now.
    Skipped,
    Closed,
}

/// Takes commands and ticks while not connected, until `until` completes, the user asks
/// to reconnect now (if `skippable`: an attempt in progress is never restarted), or closes.
async fn offline<F: Future>(
    session: &mut Session,
    commands: &mut Commands,
    outlet: &Outlet,
    until: F,
    skippable: bool,
) -> Offline<F::Output> {
    tokio::pin!(until);
    loop {
        let wake = session.next_wake().unwrap_or_else(far);
        tokio::select! {
            out = &mut until => return Offline::Done(out),
            cmd = commands.recv() => {
                let control = take_command(session, cmd);
                settle(session, outlet);
                match control {
                    Control::Close => return Offline::Closed,
                    Control::ReconnectNow if skippable => return Offline::Skipped,
                    Control::ReconnectNow | Control::Continue => {}
                }
            }
            _ = tokio::time::sleep_until(wake) => {
                session.tick(Instant::now(), true);
                settle(session, outlet);
            }
        }
    }
}

fn take_command(session: &mut Session, cmd: Option<Box<Command>>) -> Control {
    match cmd {
        Some(cmd) => session.command(*cmd, Instant::now()),
        // Every handle of the client is gone: nobody can close it, so it closes.
        None => {
            session.begin_close(None, Instant::now());
            Control::Close
        }
    }
}

/// Serves an open connection until it is lost or the user closes. A close lets
/// requests already written finish first (see [`Session::close_due`]).
async fn serve(session: &mut Session, socket: &mut Socket, commands: &mut Commands, outlet: &Arc<Outlet>) -> Exit {
    if let Err(reason) = perform(session, socket, outlet).await {
        return Exit::Lost(reason);
    }
    loop {
        if session.close_due(Instant::now()) {
            let _ = tokio::time::timeout(CLOSE_GRACE, async {
                if socket.close(None).await.is_ok() {
                    while let Some(Ok(_)) = socket.next().await {}
                }
            })
            .await;
            return Exit::Closed;
        }
        let wake = session.next_wake().unwrap_or_else(far);
        // Bounded memory: while the user has too many events waiting, the socket is not read.
        let paused = outlet.is_full();
        let closing = session.is_closing();
        let step = tokio::select! {
            _ = outlet.room(), if paused => Ok(()),
            frame = socket.next(), if !paused => read_burst(session, socket, outlet, frame).await,
            cmd = commands.recv(), if !closing => {
                take_command(session, cmd);
                perform(session, socket, outlet).await
            }
            _ = tokio::time::sleep_until(wake) => {
                session.tick(Instant::now(), !outlet.is_full());
                perform(session, socket, outlet).await
            }
        };
        if let Err(reason) = step {
            // Closing anyway: the lost connection only ends the drain early.
            return if session.is_closing() { Exit::Closed } else { Exit::Lost(reason) };
        }
    }
}

/// A frame from the socket, then the frames already buffered behind it (up to
/// [`BURST`], and only while the user has room), their events handed over together.
async fn read_burst(
    session: &mut Session,
    socket: &mut Socket,
    outlet: &Arc<Outlet>,
    first: Option<Result<Message, WsError>>,
) -> Result<(), String> {
    let _hold = outlet.hold();
    let now = Instant::now(); // one reading for the burst: its frames were here together
    let mut result = read_one(session, first, now);
    for _ in 1..BURST {
        if result.is_err() || outlet.is_full() {
            break;
        }
        match socket.next().now_or_never() {
            Some(frame) => result = read_one(session, frame, now),
            None => break,
        }
    }
    let written = perform(session, socket, outlet).await;
    result.and(written)
}

fn read_one(session: &mut Session, frame: Option<Result<Message, WsError>>, now: Instant) -> Result<(), String> {
    match frame {
        Some(Ok(Message::Text(text))) => session.frame(&text, now),
        Some(Ok(Message::Binary(bytes))) => session.binary(bytes.len(), now),
        Some(Ok(Message::Close(frame))) => {
            return Err(match frame {
                Some(f) => format!("the server closed the connection ({}: {})", u16::from(f.code), f.reason),
                None => "the server closed the connection".into(),
            })
        }
        // WebSocket-level pings are answered by tungstenite itself.
        Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => session.heard(now),
        Some(Err(WsError::Capacity(e))) => return Err(format!("the server sent a message over max_message_size: {e}")),
        Some(Err(e)) => return Err(e.to_string()),
        None => return Err("the server closed the connection".into()),
    }
    Ok(())
}

/// Carries out the session's actions in order. Events and completions are never lost
/// to a failed write: every action runs, and the first write error is returned.
async fn perform(session: &mut Session, socket: &mut Socket, outlet: &Outlet) -> Result<(), String> {
    let mut result = Ok(());
    let mut wrote = false;
    for action in session.take_actions() {
        match action {
            Action::Write(frame) => {
                if result.is_ok() {
                    result = socket.feed(Message::Text(frame.into())).await.map_err(|e| format!("cannot send: {e}"));
                    wrote = true;
                }
            }
            Action::Emit(event) => outlet.give(event),
            Action::Reply(reply, outcome) => reply.send(outcome),
            Action::Drop(reason) => result = result.and(Err(reason)),
        }
    }
    if wrote && result.is_ok() {
        result = socket.flush().await.map_err(|e| format!("cannot send: {e}"));
    }
    result
}

/// Carries out the actions of a session that is not connected: nothing is written then.
fn settle(session: &mut Session, outlet: &Outlet) {
    for action in session.take_actions() {
        match action {
            Action::Emit(event) => outlet.give(event),
            Action::Reply(reply, outcome) => reply.send(outcome),
            Action::Write(_) | Action::Drop(_) => log::debug!("nothing to write to: not connected"),
        }
    }
}

/// Refuses every command still queued or sent later; their requests report `Closed`.
fn refuse(commands: &mut Commands) {
    commands.close();
    while let Ok(cmd) = commands.try_recv() {
        match *cmd {
            // A close on a closed session has nothing left to do: it succeeded.
            Command::Close { reply } => reply.send(Ok(serde_json::Value::Null)),
            other => drop(other),
        }
    }
}

fn far() -> Instant {
    Instant::now() + Duration::from_secs(3600)
}
