//! The life of a session: first connect, serve, reconnect with backoff, finish.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::actor::{Actor, Exit};
use super::{Batch, Command, Commands, EventSink, Flow};
use crate::error::Error;
use crate::event::{ConnectionState, Event};
use crate::options::ClientOptions;
use crate::transport::{self, Endpoint};

/// Runs a session to its end; whatever happens (a panic included), the sink's last
/// event is `Closed`.
pub(super) async fn run(
    endpoint: Endpoint,
    options: Arc<ClientOptions>,
    sink: EventSink,
    flow: Arc<Flow>,
    batch: Arc<Batch>,
    mut commands: Commands,
    ready: oneshot::Sender<Result<(), Error>>,
) {
    let guard = sink.clone();
    let run = AssertUnwindSafe(supervise(endpoint, options, sink, flow, batch, &mut commands, ready)).catch_unwind();
    if run.await.is_err() {
        log::error!("directus-chat session task panicked; closing it");
        refuse_commands(&mut commands);
        guard(Event::State { state: ConnectionState::Closed, reason: Some("internal error in the session".into()) });
    }
}

async fn supervise(
    endpoint: Endpoint,
    options: Arc<ClientOptions>,
    sink: EventSink,
    flow: Arc<Flow>,
    batch: Arc<Batch>,
    commands: &mut Commands,
    ready: oneshot::Sender<Result<(), Error>>,
) {
    let tls = match endpoint.is_tls().then(|| transport::tls_config(&options.tls)).transpose() {
        Ok(tls) => tls,
        Err(e) => return fail_to_start(&sink, commands, ready, e),
    };
    sink(Event::State { state: ConnectionState::Connecting, reason: None });
    let socket = match transport::open(&endpoint, &options, tls.clone()).await {
        Ok(s) => s,
        Err(e) => return fail_to_start(&sink, commands, ready, e),
    };
    log::info!("connected to {}", endpoint.redacted());
    sink(Event::State { state: ConnectionState::Connected, reason: None });
    let _ = ready.send(Ok(()));

    let mut actor = Actor::new(options.clone(), sink.clone(), flow, batch, socket);
    let mut attempt: u32 = 0;
    let (reason, error, close_reply) = loop {
        let reason = match actor.serve(commands).await {
            Exit::Closed(reply) => break ("closed by the client".to_string(), Error::Closed, reply),
            Exit::Lost(reason) => reason,
        };
        log::warn!("connection lost: {reason}");
        actor.on_disconnect(&reason);
        sink(Event::State { state: ConnectionState::Disconnected, reason: Some(reason.clone()) });
        if let Some(why) = actor.cannot_resume() {
            break (why.clone(), Error::Connection(why), None);
        }
        // Attempts until one connects, the user closes, or the policy gives up.
        let outcome = loop {
            if !options.reconnect.allows(attempt) {
                let why = if attempt == 0 { reason.clone() } else { format!("{reason}; gave up after {attempt} reconnect attempts") };
                break Err((why.clone(), Error::Connection(why), None));
            }
            let delay = options.reconnect.delay(attempt, random_unit());
            attempt += 1;
            if let Some(reply) = actor.idle_until(commands, Instant::now() + delay).await {
                break Err(("closed by the client".to_string(), Error::Closed, reply));
            }
            sink(Event::State { state: ConnectionState::Connecting, reason: None });
            match transport::open(&endpoint, &options, tls.clone()).await {
                Ok(socket) => {
                    log::info!("reconnected to {} (attempt {attempt})", endpoint.redacted());
                    sink(Event::State { state: ConnectionState::Connected, reason: None });
                    break Ok(socket);
                }
                Err(e) => {
                    log::warn!("reconnect attempt {attempt} failed: {e}");
                    sink(Event::State { state: ConnectionState::Disconnected, reason: Some(e.to_string()) });
                }
            }
        };
        match outcome {
            Ok(socket) => {
                attempt = 0;
                actor.resume(socket).await;
            }
            Err(end) => break end,
        }
    };
    actor.finish(&error);
    drop(actor);
    refuse_commands(commands);
    sink(Event::State { state: ConnectionState::Closed, reason: Some(reason) });
    if let Some(reply) = close_reply {
        reply.send(Ok(Value::Null));
    }
}

fn fail_to_start(sink: &EventSink, commands: &mut Commands, ready: oneshot::Sender<Result<(), Error>>, e: Error) {
    log::warn!("{e}");
    sink(Event::State { state: ConnectionState::Disconnected, reason: Some(e.to_string()) });
    refuse_commands(commands);
    sink(Event::State { state: ConnectionState::Closed, reason: Some(e.to_string()) });
    let _ = ready.send(Err(e));
}

/// Refuses every command still queued or sent later; their replies report `Closed`.
fn refuse_commands(commands: &mut Commands) {
    commands.close();
    while let Ok(cmd) = commands.try_recv() {
        match *cmd {
            // A close on a closed session has nothing left to do: it succeeded.
            Command::Close { reply } => reply.send(Ok(Value::Null)),
            other => drop(other),
        }
    }
}

/// A number in [0, 1) for backoff jitter; quality does not matter, spread does.
fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}
