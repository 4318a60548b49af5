//! What a session does with each frame and each command, connected or not.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use serde_json::Value;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::pending::Pending;
use super::renewal::Renewal;
use super::retry::{read_back, Retry};
use super::tracker::Tracker;
use super::{Batch, Command, Commands, EventSink, Flow, Reply, SubscriptionSpec};
use crate::error::Error;
use crate::event::{ConnectionState, Event};
use crate::options::{AuthMode, ClientOptions};
use crate::protocol::{AuthCredentials, ClientMessage, ItemAction, ServerError, ServerMessage, SubscriptionKind};
use crate::secret::Secret;
use crate::transport::Socket;

/// Why [`Actor::serve`] returned.
pub(super) enum Exit {
    /// The user closed the client (or dropped every handle).
    Closed(Option<Reply>),
    /// The connection ended for this reason.
    Lost(String),
}

/// Which credentials an authentication attempt presents.
enum AuthSource {
    /// A login the user asked for; its reply is pending under the attempt's uid.
    User(AuthCredentials),
    /// The newest refresh token, presented by the session itself.
    Refresh,
    /// The credentials of the user's last successful login, presented again.
    Stored,
}

struct AuthAttempt {
    uid: String,
    source: AuthSource,
}

/// An items request until its answer, kept so it can be sent again.
struct Sent {
    frame: String,
    collection: String,
    retry: Retry,
    /// Sent again after a lost connection at least once.
    retried: bool,
}

/// Where a subscription stands with the server on the current connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SubState {
    /// The server does not know it: it is sent once the session is ready.
    Unsent,
    /// Sent, and its `init` has not come yet: an error now is a refusal.
    Awaiting,
    /// Registered on the server.
    Live,
    /// Registered on the server, but it skipped events (its reads failed while the
    /// login was expired): sent again with the same uid once authenticated, which
    /// replaces it and brings an `init` to catch up from.
    Stale,
}

struct Sub {
    spec: SubscriptionSpec,
    state: SubState,
    /// What was delivered, for collection-wide subscriptions (the others have no item
    /// list in their `init` to compare with).
    tracker: Option<Tracker>,
}

impl Sub {
    fn new(spec: SubscriptionSpec, state: SubState, track_limit: usize) -> Self {
        let tracked = spec.event.is_none() && spec.item.is_none();
        let tracker = tracked.then(|| Tracker::new(&spec.key_field, spec.query.as_ref(), track_limit));
        Sub { spec, state, tracker }
    }

    /// The read that finds items created between the server computing the `init` and
    /// registering the subscription: the subscription's own query, with the key.
    fn catch_up(&self, uid: String) -> Option<ClientMessage> {
        // The server refuses `items` on system collections.
        if self.tracker.is_none() || self.spec.collection.starts_with("directus_") {
            return None;
        }
        let mut query = self.spec.query.clone().unwrap_or_else(|| Value::Object(Default::default()));
        if let Some(Value::Array(fields)) = query.get_mut("fields") {
            let key = &self.spec.key_field;
            if !fields.iter().any(|f| f.as_str().is_some_and(|f| f == "*" || f == key)) {
                fields.push(Value::String(key.clone()));
            }
        }
        Some(ClientMessage::Items {
            collection: self.spec.collection.clone(),
            action: ItemAction::Read,
            data: None,
            id: None,
            ids: None,
            query: Some(query),
            uid: Some(uid),
        })
    }
}

const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// How long a close waits for requests already on the wire.
const CLOSE_DRAIN: Duration = Duration::from_secs(5);
const UNSUBSCRIBE_PREFIX: &str = "unsubscribe:";
/// Frames already buffered that are worked through in one go, their events handed
/// over together (see [`Batch`]).
const BURST: usize = 256;

/// The state of one session across its connections.
pub(super) struct Actor {
    options: Arc<ClientOptions>,
    sink: EventSink,
    flow: Arc<Flow>,
    batch: Arc<Batch>,
    socket: Option<Socket>,
    pending: Pending,
    subscriptions: HashMap<String, Sub>,
    /// Frames waiting until the session is ready, with the key of their pending request.
    outbox: VecDeque<(String, String)>,
    /// Keys of requests written on the current connection and not answered yet, with
    /// the order they were written in.
    in_flight: HashMap<String, u64>,
    next_seq: u64,
    /// Items requests until their answer.
    sent: HashMap<String, Sent>,
    /// Read-backs of duplicate creates in flight: read uid → create uid.
    read_backs: HashMap<String, String>,
    next_read_back: u64,
    /// Catch-up reads in flight: request uid → subscription uid.
    catch_ups: HashMap<String, String>,
    next_catch_up: u64,
    authenticated: bool,
    auth_attempt: Option<AuthAttempt>,
    /// A user login that was in flight when the connection was lost; sent again first.
    parked_login: Option<AuthAttempt>,
    credentials: Option<AuthCredentials>,
    refresh_token: Option<Secret>,
    /// Set when the session cannot authenticate again, so reconnecting is pointless.
    fatal: Option<String>,
    next_auth: u64,
    renewal: Renewal,
    last_heard: Instant,
    ping_sent: bool,
}

impl Actor {
    pub(super) fn new(options: Arc<ClientOptions>, sink: EventSink, flow: Arc<Flow>, batch: Arc<Batch>, socket: Socket) -> Self {
        Actor {
            options,
            sink,
            flow,
            batch,
            socket: Some(socket),
            pending: Pending::default(),
            subscriptions: HashMap::new(),
            outbox: VecDeque::new(),
            in_flight: HashMap::new(),
            next_seq: 0,
            sent: HashMap::new(),
            read_backs: HashMap::new(),
            next_read_back: 0,
            catch_ups: HashMap::new(),
            next_catch_up: 0,
            authenticated: false,
            auth_attempt: None,
            parked_login: None,
            credentials: None,
            refresh_token: None,
            fatal: None,
            next_auth: 0,
            renewal: Renewal::default(),
            last_heard: Instant::now(),
            ping_sent: false,
        }
    }

    fn emit(&self, event: Event) {
        (self.sink)(event)
    }

    fn ready(&self) -> bool {
        self.socket.is_some() && (self.authenticated || self.options.auth_mode == AuthMode::Public)
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.options.request_timeout
    }

    /// When the timer branch must wake: the next request deadline or heartbeat step.
    fn next_wake(&mut self) -> Instant {
        let far = Instant::now() + Duration::from_secs(3600);
        let mut wake = self.pending.next_deadline().unwrap_or(far);
        if let Some(renew) = self.renewal.due() {
            wake = wake.min(renew);
        }
        if let (Some(hb), true) = (self.options.heartbeat, self.socket.is_some()) {
            let step = if self.ping_sent { self.last_heard + hb * 2 } else { self.last_heard + hb };
            wake = wake.min(step);
        }
        wake
    }

    // ---- connected

    /// Serves the current connection until it is lost or the user closes.
    ///
    /// A close lets requests already written finish first (up to [`CLOSE_DRAIN`]), so a
    /// message sent just before closing is not left in doubt.
    pub(super) async fn serve(&mut self, commands: &mut Commands) -> Exit {
        let mut closing: Option<(Option<Reply>, Instant)> = None;
        loop {
            if let Some((_, until)) = &closing {
                if (self.in_flight.is_empty() && self.read_backs.is_empty()) || Instant::now() >= *until {
                    let reply = closing.take().and_then(|(r, _)| r);
                    self.close_socket().await;
                    return Exit::Closed(reply);
                }
            }
            let mut wake = self.next_wake();
            if let Some((_, until)) = &closing {
                wake = wake.min(*until);
            }
            // Bounded memory: while the user has `max_buffered_events` waiting, the
            // socket is not read.
            let flow = self.flow.clone();
            let paused = flow.is_full();
            let Some(socket) = self.socket.as_mut() else { return Exit::Lost("not connected".into()) };
            let step = tokio::select! {
                _ = flow.room(), if paused => Ok(()),
                frame = socket.next(), if !paused => self.on_frames(frame).await,
                cmd = commands.recv(), if closing.is_none() => match cmd.map(|c| *c) {
                    Some(Command::Close { reply }) => {
                        closing = Some((Some(reply), Instant::now() + CLOSE_DRAIN));
                        Ok(())
                    }
                    Some(cmd) => self.on_command(cmd).await,
                    None => {
                        closing = Some((None, Instant::now() + CLOSE_DRAIN));
                        Ok(())
                    }
                },
                _ = tokio::time::sleep_until(wake) => self.on_timer().await,
            };
            if let Err(reason) = step {
                if let Some((reply, _)) = closing {
                    // Closing anyway: the lost connection only ends the drain early.
                    self.socket = None;
                    return Exit::Closed(reply);
                }
                return Exit::Lost(reason);
            }
        }
    }

    /// A frame from the socket, then the frames already buffered behind it (up to
    /// [`BURST`], and only while the user has room), with their events handed over
    /// together when done.
    async fn on_frames(&mut self, first: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>) -> Result<(), String> {
        let _hold = self.batch.hold();
        let mut result = self.on_socket_item(first).await;
        for _ in 1..BURST {
            if result.is_err() || self.flow.is_full() {
                break;
            }
            let Some(socket) = self.socket.as_mut() else { break };
            match socket.next().now_or_never() {
                Some(frame) => result = self.on_socket_item(frame).await,
                None => break,
            }
        }
        result
    }

    async fn on_socket_item(&mut self, frame: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>) -> Result<(), String> {
        match frame {
            Some(Ok(msg)) => {
                self.last_heard = Instant::now();
                self.ping_sent = false;
                self.on_frame(msg).await
            }
            Some(Err(tokio_tungstenite::tungstenite::Error::Capacity(e))) => {
                Err(format!("the server sent a message over max_message_size ({} bytes): {e}", self.options.max_message_size))
            }
            Some(Err(e)) => Err(e.to_string()),
            None => Err("the server closed the connection".into()),
        }
    }

    /// Fails requests past their deadline and forgets what was kept for them.
    fn expire(&mut self, now: Instant) {
        self.pending.expire(now);
        let pending = &self.pending;
        self.in_flight.retain(|k, _| pending.contains(k));
        self.sent.retain(|k, _| pending.contains(k));
    }

    async fn on_timer(&mut self) -> Result<(), String> {
        let now = Instant::now();
        self.expire(now);
        if self.renewal.take_due(now) && self.authenticated && self.auth_attempt.is_none() {
            log::info!("renewing the login before the server expires it");
            self.authenticate_again().await?;
        }
        let Some(hb) = self.options.heartbeat else { return Ok(()) };
        if !self.ready() || self.flow.is_full() {
            // Before authentication in handshake mode any frame but `auth` makes the
            // server hang up, so the client's own pings wait until then; and while the
            // user is not taking events, silence is ours, not the server's.
            self.last_heard = now;
            return Ok(());
        }
        if self.ping_sent && now >= self.last_heard + hb * 2 {
            return Err(format!("no answer from the server for {:?}", hb * 2));
        }
        if !self.ping_sent && now >= self.last_heard + hb {
            self.ping_sent = true;
            self.write(&ClientMessage::Ping { uid: None }).await?;
        }
        Ok(())
    }

    async fn close_socket(&mut self) {
        if let Some(mut socket) = self.socket.take() {
            let _ = tokio::time::timeout(CLOSE_GRACE, async {
                if socket.close(None).await.is_ok() {
                    while let Some(Ok(_)) = socket.next().await {}
                }
            })
            .await;
        }
    }

    async fn write(&mut self, message: &ClientMessage) -> Result<(), String> {
        self.write_text(message.encode()).await
    }

    async fn write_text(&mut self, text: String) -> Result<(), String> {
        match self.socket.as_mut() {
            Some(socket) => socket.send(Message::Text(text.into())).await.map_err(|e| format!("cannot send: {e}")),
            None => Err("not connected".into()),
        }
    }

    /// Sends a request frame now, or queues it until the session is ready.
    fn mark_in_flight(&mut self, key: String) {
        self.next_seq += 1;
        self.in_flight.insert(key, self.next_seq);
    }

    async fn send_or_queue(&mut self, key: String, frame: String) -> Result<(), String> {
        if self.ready() {
            self.mark_in_flight(key);
            self.write_text(frame).await
        } else if self.outbox.len() >= self.options.max_queued {
            self.pending.complete(&key, Err(Error::QueueFull));
            Ok(())
        } else {
            self.outbox.push_back((key, frame));
            Ok(())
        }
    }

    /// Sends what waited for the session to be ready: subscriptions first, then requests.
    async fn become_ready(&mut self) -> Result<(), String> {
        let unsent: Vec<(String, ClientMessage)> = self
            .subscriptions
            .iter()
            .filter(|(_, s)| matches!(s.state, SubState::Unsent | SubState::Stale))
            .map(|(uid, s)| (uid.clone(), subscribe_message(uid, &s.spec)))
            .collect();
        for (uid, msg) in unsent {
            if let Some(s) = self.subscriptions.get_mut(&uid) {
                s.state = SubState::Awaiting;
            }
            self.write(&msg).await?;
        }
        while self.ready() {
            let Some((key, frame)) = self.outbox.pop_front() else { break };
            // A request that timed out while it waited is not sent at all.
            if self.pending.contains(&key) {
                self.mark_in_flight(key);
                self.write_text(frame).await?;
            }
        }
        Ok(())
    }

    async fn authenticate(&mut self, source: AuthSource, uid: String) -> Result<(), String> {
        let credentials = match &source {
            AuthSource::User(c) => c.clone(),
            AuthSource::Refresh => AuthCredentials::RefreshToken(self.refresh_token.clone().unwrap_or_default()),
            AuthSource::Stored => match &self.credentials {
                Some(c) => c.clone(),
                None => return Ok(()),
            },
        };
        self.auth_attempt = Some(AuthAttempt { uid: uid.clone(), source });
        self.write(&ClientMessage::Auth { credentials, uid: Some(uid) }).await
    }

    /// Presents the newest refresh token, or else the stored credentials, again.
    async fn authenticate_again(&mut self) -> Result<(), String> {
        let source = if self.refresh_token.is_some() { AuthSource::Refresh } else { AuthSource::Stored };
        let uid = self.new_auth_uid();
        self.authenticate(source, uid).await
    }

    fn new_auth_uid(&mut self) -> String {
        self.next_auth += 1;
        format!("auth-{}", self.next_auth)
    }

    // ---- commands

    pub(super) async fn on_command(&mut self, cmd: Command) -> Result<(), String> {
        match cmd {
            Command::Login { credentials, reply } => {
                if self.auth_attempt.as_ref().is_some_and(|a| matches!(a.source, AuthSource::User(_))) || self.parked_login.is_some() {
                    reply.send(Err(Error::InvalidArgument("a login is already in progress".into())));
                    return Ok(());
                }
                let uid = self.new_auth_uid();
                self.pending.insert(uid.clone(), reply, self.deadline());
                if self.socket.is_some() {
                    self.authenticate(AuthSource::User(credentials), uid).await
                } else {
                    self.parked_login = Some(AuthAttempt { uid, source: AuthSource::User(credentials) });
                    Ok(())
                }
            }
            Command::Subscribe { uid, spec, reply } => {
                self.pending.insert(uid.clone(), reply, self.deadline());
                let msg = subscribe_message(&uid, &spec);
                let send_now = self.ready();
                let state = if send_now { SubState::Awaiting } else { SubState::Unsent };
                self.subscriptions.insert(uid, Sub::new(spec, state, self.options.track_limit));
                if send_now {
                    self.write(&msg).await?;
                }
                Ok(())
            }
            Command::Unsubscribe { uid, reply } => {
                let Some(sub) = self.subscriptions.remove(&uid) else {
                    reply.send(Err(Error::InvalidArgument(format!("no subscription with uid {uid}"))));
                    return Ok(());
                };
                // A subscribe still waiting for its init will never get one now.
                self.pending.complete(&uid, Err(Error::InvalidArgument("unsubscribed before the init arrived".into())));
                if sub.state == SubState::Unsent || self.socket.is_none() {
                    // The server does not know this subscription (any more).
                    reply.send(Ok(Value::Null));
                    return Ok(());
                }
                let key = format!("{UNSUBSCRIBE_PREFIX}{uid}");
                self.pending.insert(key.clone(), reply, self.deadline());
                self.send_or_queue(key, ClientMessage::Unsubscribe { uid: Some(uid) }.encode()).await
            }
            Command::Items { message, reply, retry } => {
                let uid = message.uid().unwrap_or_default().to_owned();
                let frame = message.encode();
                if let ClientMessage::Items { collection, .. } = message {
                    self.sent.insert(uid.clone(), Sent { frame: frame.clone(), collection, retry, retried: false });
                }
                self.pending.insert(uid.clone(), reply, self.deadline());
                self.send_or_queue(uid, frame).await
            }
            Command::Close { reply } => {
                // Handled by `serve` and `idle_until`; kept total so no reply is lost.
                reply.send(Ok(Value::Null));
                Ok(())
            }
        }
    }

    // ---- frames

    async fn on_frame(&mut self, frame: Message) -> Result<(), String> {
        match frame {
            Message::Text(text) => match ServerMessage::decode(text.as_str()) {
                Ok(msg) => self.on_message(msg).await,
                Err(e) => {
                    log::warn!("undecodable frame from the server: {e}");
                    self.emit(Event::Error { error: Error::Protocol(e.to_string()) });
                    Ok(())
                }
            },
            Message::Binary(b) => {
                self.emit(Event::Error { error: Error::Protocol(format!("ignored a binary frame of {} bytes", b.len())) });
                Ok(())
            }
            Message::Close(frame) => Err(match frame {
                Some(f) => format!("the server closed the connection ({}: {})", u16::from(f.code), f.reason),
                None => "the server closed the connection".into(),
            }),
            // WebSocket-level pings are answered by tungstenite itself.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Ok(()),
        }
    }

    fn complete(&mut self, key: &str, result: Result<Value, Error>) -> bool {
        self.in_flight.remove(key);
        self.sent.remove(key);
        self.pending.complete(key, result)
    }

    /// A retried create met its own first attempt (`RECORD_NOT_UNIQUE`): read the
    /// stored items back and answer with them. False if this error is not that case.
    async fn read_back_duplicate(&mut self, uid: &str, error: &ServerError) -> Result<bool, String> {
        if error.code != "RECORD_NOT_UNIQUE" {
            return Ok(false);
        }
        let Some(Sent { retry: Retry::CreateWithKeys { single, keys }, retried: true, collection, .. }) = self.sent.get(uid) else {
            return Ok(false);
        };
        self.next_read_back += 1;
        let rb_uid = format!("readback-{}", self.next_read_back);
        let msg = read_back(collection, *single, keys, rb_uid.clone());
        log::info!("request {uid} was applied before the connection dropped; reading it back");
        self.in_flight.remove(uid);
        self.read_backs.insert(rb_uid, uid.to_owned());
        self.write(&msg).await?;
        Ok(true)
    }

    async fn on_message(&mut self, msg: ServerMessage) -> Result<(), String> {
        match msg {
            ServerMessage::Ping { uid } => self.write(&ClientMessage::Pong { uid }).await?,
            ServerMessage::Pong { .. } => {}
            ServerMessage::AuthOk { refresh_token, .. } => self.on_auth_ok(refresh_token).await?,
            ServerMessage::Error { kind, uid, error } => self.on_error(kind, uid, error).await?,
            ServerMessage::Subscription { uid: Some(uid), kind, data } => {
                if kind == SubscriptionKind::Unsubscribe {
                    self.complete(&format!("{UNSUBSCRIBE_PREFIX}{uid}"), Ok(Value::Null));
                } else if self.subscriptions.contains_key(&uid) {
                    self.on_subscription_event(uid, kind, data.unwrap_or(Value::Null)).await?;
                } else {
                    log::debug!("dropped a {} event for ended subscription {uid}", kind.as_str());
                }
            }
            ServerMessage::Subscription { uid: None, kind, .. } => {
                log::debug!("dropped a {} event without uid", kind.as_str());
            }
            ServerMessage::Items { uid: Some(uid), data, .. } if self.catch_ups.contains_key(&uid) => {
                let sub_uid = self.catch_ups.remove(&uid).unwrap_or_default();
                let missed = self.subscriptions.get_mut(&sub_uid).and_then(|s| s.tracker.as_mut()).and_then(|t| t.on_catch_up(data));
                if let Some((kind, data)) = missed {
                    log::info!("caught up {} item(s) the join window hid from {sub_uid}", data.as_array().map_or(0, Vec::len));
                    self.emit(Event::Subscription { uid: sub_uid, kind, data });
                }
            }
            ServerMessage::Items { uid: Some(uid), data, .. } if self.read_backs.contains_key(&uid) => {
                let original = self.read_backs.remove(&uid).unwrap_or_default();
                self.complete(&original, Ok(data));
            }
            ServerMessage::Items { uid, data, .. } => {
                let known = uid.as_deref().is_some_and(|u| self.complete(u, Ok(data)));
                if !known {
                    log::debug!("dropped an items answer for no pending request");
                }
            }
            ServerMessage::Unknown(v) => self.emit(Event::Unknown(v)),
        }
        Ok(())
    }

    /// A subscription event through the subscription's tracker: the first `init` as it
    /// is (completing the subscribe), later ones as the missed changes, each followed by
    /// a catch-up read; live events without the items delivered already.
    async fn on_subscription_event(&mut self, uid: String, kind: SubscriptionKind, data: Value) -> Result<(), String> {
        if kind == SubscriptionKind::Init {
            self.pending.complete(&uid, Ok(Value::Null));
            if let Some(sub) = self.subscriptions.get_mut(&uid) {
                sub.state = SubState::Live;
            }
        }
        let Some(sub) = self.subscriptions.get_mut(&uid) else { return Ok(()) };
        let Some(tracker) = sub.tracker.as_mut() else {
            self.emit(Event::Subscription { uid, kind, data });
            return Ok(());
        };
        let out = if kind == SubscriptionKind::Init { tracker.on_init(data) } else { tracker.on_event(kind, data).into_iter().collect() };
        let catch_up = if kind == SubscriptionKind::Init && tracker.wants_catch_up() {
            self.next_catch_up += 1;
            let catch_up_uid = format!("catchup-{}", self.next_catch_up);
            sub.catch_up(catch_up_uid.clone()).map(|msg| (catch_up_uid, msg))
        } else {
            None
        };
        for (kind, data) in out {
            self.emit(Event::Subscription { uid: uid.clone(), kind, data });
        }
        if let Some((catch_up_uid, msg)) = catch_up {
            self.catch_ups.insert(catch_up_uid, uid);
            self.write(&msg).await?;
        }
        Ok(())
    }

    async fn on_auth_ok(&mut self, refresh_token: Option<Secret>) -> Result<(), String> {
        if refresh_token.is_some() {
            self.refresh_token = refresh_token;
        }
        self.authenticated = true;
        self.fatal = None;
        if let Some(attempt) = self.auth_attempt.take() {
            if let AuthSource::User(credentials) = attempt.source {
                // A rotated refresh token is kept above; the one used here is spent.
                if !matches!(credentials, AuthCredentials::RefreshToken(_)) {
                    self.credentials = Some(credentials);
                }
                self.pending.complete(&attempt.uid, Ok(Value::Null));
            }
        }
        log::info!("authenticated");
        self.renewal.authenticated(Instant::now());
        self.emit(Event::State { state: ConnectionState::Authenticated, reason: None });
        self.become_ready().await
    }

    async fn on_error(&mut self, kind: String, uid: Option<String>, error: ServerError) -> Result<(), String> {
        if kind == "auth" {
            return self.on_auth_error(error).await;
        }
        let Some(uid) = uid else {
            self.emit(Event::Error { error: Error::Server(error) });
            return Ok(());
        };
        if let Some(sub_uid) = self.catch_ups.remove(&uid) {
            // Only a refinement failed; the subscription itself stands.
            log::warn!("catch-up read for {sub_uid} failed: {}", error.code);
            return Ok(());
        }
        if let Some(original) = self.read_backs.remove(&uid) {
            self.complete(&original, Err(Error::Server(error)));
            return Ok(());
        }
        if self.read_back_duplicate(&uid, &error).await? {
            return Ok(());
        }
        let sub_state = self.subscriptions.get(&uid).map(|s| s.state);
        if kind == "subscribe" && !self.authenticated && sub_state.is_some_and(|s| s != SubState::Awaiting) {
            // Not a refusal: while the login renews, the server fails every event read of
            // the subscriptions it keeps, and they are already marked to catch up.
            log::info!("subscription {uid} skipped an event while the login renews; it catches up after");
        } else if kind == "subscribe" && self.subscriptions.remove(&uid).is_some() {
            // Reported on the stream too: a subscription made without waiting has no
            // other way to learn it was refused.
            self.pending.complete(&uid, Err(Error::Server(error.clone())));
            self.emit(Event::SubscriptionError { uid, error });
        } else if kind == "unsubscribe" {
            self.complete(&format!("{UNSUBSCRIBE_PREFIX}{uid}"), Err(Error::Server(error)));
        } else if !self.complete(&uid, Err(Error::Server(error.clone()))) {
            self.emit(Event::Error { error: Error::Server(error) });
        }
        Ok(())
    }

    async fn on_auth_error(&mut self, error: ServerError) -> Result<(), String> {
        // Whatever failed, the server has dropped this connection's permissions.
        self.authenticated = false;
        match self.auth_attempt.take() {
            Some(AuthAttempt { uid, source: AuthSource::User(_) }) => {
                if self.credentials.is_none() && self.refresh_token.is_none() {
                    self.fatal = Some(format!("authentication failed ({})", error.code));
                }
                if !self.pending.complete(&uid, Err(Error::Server(error.clone()))) {
                    self.emit(Event::Error { error: Error::Server(error) });
                }
            }
            Some(AuthAttempt { source: AuthSource::Refresh, .. }) => {
                log::warn!("refreshing the session failed: {}", error.code);
                self.refresh_token = None;
                if self.credentials.is_none() {
                    self.fatal = Some(format!("re-authentication failed ({})", error.code));
                }
                self.emit(Event::Error { error: Error::Server(error) });
                // With a password or static token left, try those right away.
                if self.credentials.is_some() && self.socket.is_some() {
                    let uid = self.new_auth_uid();
                    self.authenticate(AuthSource::Stored, uid).await?;
                }
            }
            Some(AuthAttempt { source: AuthSource::Stored, .. }) => {
                log::warn!("re-authentication failed: {}", error.code);
                self.fatal = Some(format!("re-authentication failed ({})", error.code));
                self.emit(Event::Error { error: Error::Server(error) });
            }
            None if error.code == "TOKEN_EXPIRED" && (self.refresh_token.is_some() || self.credentials.is_some()) => {
                log::info!("access token expired; authenticating again");
                self.renewal.expired(Instant::now());
                // Until the new login is processed the server sends no event this user
                // may see: subscribing again with the same uids after it turns a fresh
                // `init` into exactly what was missed (see `tracker`).
                for sub in self.subscriptions.values_mut() {
                    if sub.state == SubState::Live {
                        sub.state = SubState::Stale;
                    }
                }
                self.authenticate_again().await?;
            }
            None => self.emit(Event::Error { error: Error::Server(error) }),
        }
        Ok(())
    }

    // ---- disconnected

    /// Settles what the lost connection leaves behind: unanswered item requests fail
    /// (they may or may not have been applied), unsubscribes are done (the server forgot
    /// the subscription with the connection), subscriptions and a user login wait to be
    /// sent again.
    pub(super) fn on_disconnect(&mut self, reason: &str) {
        self.socket = None;
        self.authenticated = false;
        self.ping_sent = false;
        self.renewal.disconnected();
        let mut unanswered: Vec<(u64, String)> = self.in_flight.drain().map(|(k, seq)| (seq, k)).collect();
        // A create being read back goes again as it was: the read-back follows again.
        unanswered.extend(self.read_backs.drain().map(|(_, original)| (0, original)));
        unanswered.sort();
        let mut resend = Vec::new();
        for (_, key) in unanswered {
            if key.starts_with(UNSUBSCRIBE_PREFIX) {
                self.pending.complete(&key, Ok(Value::Null));
                continue;
            }
            match self.sent.get_mut(&key) {
                Some(sent) if sent.retry != Retry::Never => {
                    sent.retried = true;
                    resend.push((key, sent.frame.clone()));
                }
                _ => {
                    let why =
                        format!("connection lost before the server answered ({reason}); the request may or may not have been applied");
                    self.complete(&key, Err(Error::Connection(why)));
                }
            }
        }
        // First in line once the session is ready again, in their original order.
        for item in resend.into_iter().rev() {
            self.outbox.push_front(item);
        }
        for sub in self.subscriptions.values_mut() {
            sub.state = SubState::Unsent;
        }
        // Their answers are lost with the connection; the next init asks again.
        self.catch_ups.clear();
        if let Some(attempt) = self.auth_attempt.take() {
            if matches!(attempt.source, AuthSource::User(_)) {
                self.parked_login = Some(attempt);
            }
        }
    }

    /// Why reconnecting cannot help, if it cannot.
    pub(super) fn cannot_resume(&self) -> Option<String> {
        if self.parked_login.is_some() {
            return None;
        }
        self.fatal.clone()
    }

    /// Takes commands while disconnected until `until`; returns `Some` when the user
    /// closed (with the close's reply, if any).
    pub(super) async fn idle_until(&mut self, commands: &mut Commands, until: Instant) -> Option<Option<Reply>> {
        loop {
            let wake = self.next_wake().min(until);
            tokio::select! {
                cmd = commands.recv() => match cmd.map(|c| *c) {
                    Some(Command::Close { reply }) => return Some(Some(reply)),
                    None => return Some(None),
                    Some(cmd) => {
                        // Not connected: nothing is written, so this cannot fail.
                        let _ = self.on_command(cmd).await;
                    }
                },
                _ = tokio::time::sleep_until(wake) => {
                    self.expire(Instant::now());
                    if Instant::now() >= until {
                        return None;
                    }
                }
            }
        }
    }

    /// Takes a new connection into use: authenticates again, then resubscribes and
    /// sends what waited. A failure here shows up as a lost connection in `serve`.
    pub(super) async fn resume(&mut self, socket: Socket) {
        self.socket = Some(socket);
        self.last_heard = Instant::now();
        let result = if let Some(AuthAttempt { uid, source }) = self.parked_login.take() {
            self.authenticate(source, uid).await
        } else if self.refresh_token.is_some() {
            let uid = self.new_auth_uid();
            self.authenticate(AuthSource::Refresh, uid).await
        } else if self.credentials.is_some() {
            let uid = self.new_auth_uid();
            self.authenticate(AuthSource::Stored, uid).await
        } else {
            self.become_ready().await
        };
        if let Err(e) = result {
            log::warn!("resuming the session failed: {e}");
        }
    }

    /// Fails everything still waiting with `error`.
    pub(super) fn finish(&mut self, error: &Error) {
        self.pending.fail_all(error);
        self.outbox.clear();
        self.in_flight.clear();
        self.sent.clear();
        self.read_backs.clear();
    }
}

fn subscribe_message(uid: &str, spec: &SubscriptionSpec) -> ClientMessage {
    ClientMessage::Subscribe {
        collection: spec.collection.clone(),
        event: spec.event,
        item: spec.item.clone(),
        query: spec.query.clone(),
        uid: Some(uid.to_owned()),
    }
}
