//! The session as one state machine: inputs in (a user command, a server frame, a timer
//! tick, a connection opened or lost), actions out (frames to write, events to emit,
//! requests to complete). It composes the smaller machines and routes every server
//! message by the typed key of the request it answers. No I/O happens here; the loop in
//! `driver` carries the actions out.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::action::{Action, Actions};
use super::auth::{Auth, Outcome};
use super::heartbeat::{Beat, Heartbeat};
use super::key::{Answer, Ids, Key};
use super::outgoing::{Outgoing, Retry};
use super::reconnect::{Plan, Reconnect};
use super::replies::Replies;
use super::reply::Reply;
use super::subscriptions::{Refusal, Subscriptions};
use super::tracker::Arrived;
use super::Command;
use crate::error::Error;
use crate::event::{CloseCause, ConnectionState, Event};
use crate::options::{AuthMode, ClientOptions};
use crate::protocol::{
    probe_answer, read_back_answer, ClientMessage, ErrorCode, MessageKind, RawJson, ServerError, ServerInfo, ServerMessage,
    SubscriptionKind,
};

/// How long a close waits for requests already on the wire.
const CLOSE_DRAIN: Duration = Duration::from_secs(5);

/// What the loop must do about a command beyond its actions.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Control {
    Continue,
    /// Stop waiting before the next connection attempt.
    ReconnectNow,
    /// The user closed: see [`Session::close_due`].
    Close,
}

/// What follows a lost connection or a failed attempt to open one.
#[derive(Debug, PartialEq)]
pub(crate) enum Next {
    /// Try again after this delay.
    Retry(Duration),
    /// The session ends.
    End { reason: String, error: Error, cause: CloseCause },
}

struct Closing {
    /// Every close asked for (a second close waits for the first).
    replies: Vec<Reply>,
    until: Instant,
}

/// What the uid probe found out: whether the server echoes the uid of every failed
/// request (Directus 12.4 and later). Until the probe or the server's version says so
/// the session sends one items request and one subscribe at a time, so that an error
/// without uid can only answer the one on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Uids {
    Unknown,
    /// A probe is on the wire.
    Probing,
    Echoed,
    Missing,
}

/// The state of one session across its connections.
pub(crate) struct Session {
    options: Arc<ClientOptions>,
    ids: Arc<Ids>,
    auth: Auth,
    subs: Subscriptions,
    replies: Replies,
    outgoing: Outgoing,
    heartbeat: Heartbeat,
    reconnect: Reconnect,
    connected: bool,
    uids: Uids,
    /// What the server's version says about uids on errors, once it told its version.
    version_uids: Option<bool>,
    /// Why the last open connection was lost, while attempts to reopen it fail.
    lost: Option<String>,
    closing: Option<Closing>,
    out: Actions,
}

impl Session {
    pub(crate) fn new(options: Arc<ClientOptions>, ids: Arc<Ids>, now: Instant) -> Self {
        let mut session = Session {
            auth: Auth::new(options.auth_mode == AuthMode::Public),
            subs: Subscriptions::new(options.track_limit),
            replies: Replies::default(),
            outgoing: Outgoing::new(options.max_queued),
            heartbeat: Heartbeat::new(options.heartbeat, now),
            reconnect: Reconnect::new(options.reconnect.clone()),
            connected: false,
            uids: Uids::Unknown,
            version_uids: None,
            lost: None,
            closing: None,
            out: Actions::default(),
            options,
            ids,
        };
        session.apply_uids();
        session
    }

    /// The actions of the inputs so far, in order.
    pub(crate) fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.out.list)
    }

    fn ready(&self) -> bool {
        self.auth.is_ready(self.connected)
    }

    /// After every input: the reads the machines asked for join the queue, what may go
    /// now is written, and the deadlines of what was written start.
    fn settle(&mut self, now: Instant) {
        for (key, frame) in std::mem::take(&mut self.out.reads) {
            let _ = self.outgoing.submit(key, frame, Retry::Drop, true);
        }
        for (key, frame) in self.outgoing.sendable(self.ready()) {
            if matches!(key, Key::CatchUp(_) | Key::ReadBack(_) | Key::Probe(_)) {
                // Nobody waits for these, but an answer that never comes must not keep
                // the items lane busy for ever: they time out like any request.
                self.replies.insert(key, Reply::ignore(), &mut self.out);
            }
            self.out.write_request(key, frame);
        }
        for key in self.out.written.drain(..) {
            self.replies.arm(key, now + self.options.request_timeout);
        }
    }

    /// What the server's answer to the uid probe taught (`None`: nothing).
    fn learn_uids(&mut self, echoed: Option<bool>) {
        self.uids = match echoed {
            Some(true) => {
                log::debug!("the uid probe: the server echoes uids on errors");
                Uids::Echoed
            }
            Some(false) => {
                log::info!("the uid probe: the server does not echo uids on errors (Directus before 12.4)");
                Uids::Missing
            }
            None => Uids::Unknown,
        };
        self.apply_uids();
    }

    /// Whether requests are pipelined: as the options say if they do, else as the
    /// server's version says, else as the probe found. A probe that saw an error without
    /// its uid outweighs a version that promises uids: sending one at a time is only
    /// slower, while pipelining on such a server would leave errors unmatched.
    fn echoed(&self) -> bool {
        match (self.options.error_uids, self.version_uids) {
            (Some(set), _) => set,
            (None, Some(version)) => version && self.uids != Uids::Missing,
            (None, None) => self.uids == Uids::Echoed,
        }
    }

    fn apply_uids(&mut self) {
        let serial = !self.echoed();
        self.outgoing.set_serial(serial);
        self.subs.set_serial(serial);
        // Subscribes held back behind one awaiting its answer in serial mode would wait
        // for ever once pipelined: nothing sends them on that answer any more.
        if !serial && self.ready() {
            self.subs.on_ready(&mut self.out);
        }
    }

    /// Whether the probe is still needed: nothing else says how errors are answered.
    fn needs_probe(&self) -> bool {
        self.uids == Uids::Unknown && self.options.error_uids.is_none() && self.version_uids.is_none()
    }

    /// What the server told about itself (after a login, see `discovery`): its version
    /// decides the uid question (the probe is skipped from then on, or overruled while
    /// on the wire), its heartbeat the liveness check, its auth mode whether requests
    /// may go before a login.
    fn server_info(&mut self, info: ServerInfo) {
        if let Some(heartbeat) = info.heartbeat {
            self.heartbeat.set_server(heartbeat);
        }
        if let Some(mode) = info.auth_mode {
            self.auth.set_public(mode == AuthMode::Public);
        }
        self.version_uids = info.echoes_error_uids();
        let decision = if self.echoed() { "requests are pipelined" } else { "requests go one at a time" };
        match (self.version_uids, self.options.error_uids) {
            (_, Some(_)) => log::info!("server: Directus {}; error uids as set in the options: {decision}", info.version),
            (Some(uids), None) => {
                let uids = if uids { "carry the request's uid" } else { "come without the request's uid (before 12.4.0)" };
                log::info!("server: Directus {}, whose errors {uids}: {decision}", info.version);
            }
            (None, None) => log::info!("server: Directus {} (not a release number; the uid probe decides): {decision}", info.version),
        }
        self.apply_uids();
    }

    /// When the loop must tick next, if at all.
    pub(crate) fn next_wake(&mut self) -> Option<Instant> {
        let heartbeat = if self.connected { self.heartbeat.next_wake() } else { None };
        [self.replies.next_deadline(), self.auth.next_wake(), heartbeat, self.closing.as_ref().map(|c| c.until)].into_iter().flatten().min()
    }

    // ---- commands

    pub(crate) fn command(&mut self, command: Command, now: Instant) -> Control {
        let control = match command {
            Command::Login { id, credentials, reply } => {
                let key = Key::Auth(id);
                match self.auth.login(key, credentials, self.connected, &mut self.out) {
                    Ok(()) => self.replies.insert(key, reply, &mut self.out),
                    Err(e) => self.out.reply(reply, Err(e)),
                }
                Control::Continue
            }
            Command::Subscribe { id, request, reply } => {
                self.replies.insert(Key::Subscribe(id), reply, &mut self.out);
                let ready = self.ready();
                self.subs.add(id, request, ready, &mut self.out);
                Control::Continue
            }
            Command::Unsubscribe { id, reply } => {
                self.unsubscribe(id, Some(reply));
                Control::Continue
            }
            Command::Items { id, request, reply } => {
                let key = Key::Items(id);
                let retry = Retry::of(&request);
                let repeated = request.repeated;
                let frame = ClientMessage::Items { request, uid: Some(key.uid()) }.encode();
                self.submit(key, frame, retry, Some(reply));
                if repeated {
                    self.outgoing.mark_repeated(key);
                }
                Control::Continue
            }
            Command::Cancel { id } => {
                if let Some(key) = self.replies.key_of(id) {
                    self.cancel(key, Error::Cancelled);
                }
                Control::Continue
            }
            Command::ReconnectNow => Control::ReconnectNow,
            Command::ServerInfo { info } => {
                self.server_info(info);
                Control::Continue
            }
            Command::Close { reply } => {
                self.begin_close(Some(reply), now);
                Control::Close
            }
        };
        self.settle(now);
        control
    }

    fn submit(&mut self, key: Key, frame: String, retry: Retry, reply: Option<Reply>) {
        match (self.outgoing.submit(key, frame, retry, self.ready()), reply) {
            (Ok(()), Some(reply)) => self.replies.insert(key, reply, &mut self.out),
            (Err(()), Some(reply)) => self.out.reply(reply, Err(Error::QueueFull)),
            (_, None) => {}
        }
    }

    fn unsubscribe(&mut self, id: u64, reply: Option<Reply>) {
        let Some(known) = self.subs.remove(id) else {
            if let Some(reply) = reply {
                self.out.reply(reply, Err(Error::InvalidArgument(format!("no subscription s-{id}"))));
            }
            return;
        };
        // A subscribe still waiting for its init will never get one now.
        self.replies.complete(
            Key::Subscribe(id),
            Err(Error::InvalidArgument("unsubscribed before the init arrived".into())),
            &mut self.out,
        );
        let key = Key::Unsubscribe(id);
        if !known || !self.connected {
            // The server does not know this subscription (any more).
            if let Some(reply) = reply {
                self.out.reply(reply, Ok(Value::Null));
            }
            return;
        }
        self.submit(key, ClientMessage::Unsubscribe { uid: Some(key.uid()) }.encode(), Retry::Unsubscribe, reply);
    }

    /// The user stopped waiting for `key`: it completes now with `error`. A request
    /// still queued is never sent; one on the wire is not sent again after a reconnect;
    /// a subscription ends.
    fn cancel(&mut self, key: Key, error: Error) {
        if !self.replies.complete(key, Err(error), &mut self.out) {
            return;
        }
        self.abandon(key);
    }

    /// Forgets what a request that nobody waits for any more left behind.
    fn abandon(&mut self, key: Key) {
        match key {
            Key::Subscribe(id) => {
                self.unsubscribe(id, None);
                // Its answer may never come; the next subscribe must not wait for it.
                self.subs.forget_answer(id, &mut self.out);
            }
            Key::Auth(_) => self.auth.cancel(key),
            Key::Items(_) | Key::Unsubscribe(_) => self.outgoing.withdraw(key),
            Key::ReadBack(_) | Key::CatchUp(_) => self.outgoing.forget(key),
            Key::Probe(_) => {
                self.outgoing.forget(key);
                self.learn_uids(None);
            }
        }
    }

    // ---- frames

    /// Something arrived from the server (a control frame included).
    pub(crate) fn heard(&mut self, now: Instant) {
        self.heartbeat.heard(now);
    }

    /// The text of one frame from the server.
    pub(crate) fn frame(&mut self, frame: &Utf8Bytes, now: Instant) {
        self.heartbeat.heard(now);
        match ServerMessage::decode_frame(frame) {
            Ok(message) => self.message(message, now),
            Err(e) => {
                log::warn!("undecodable frame from the server: {e}");
                self.out.emit(Event::Error { error: Error::Protocol(e.to_string()) });
            }
        }
        self.settle(now);
    }

    /// A binary frame, which Directus never sends.
    pub(crate) fn binary(&mut self, len: usize, now: Instant) {
        self.heartbeat.heard(now);
        self.out.emit(Event::Error { error: Error::Protocol(format!("ignored a binary frame of {len} bytes")) });
    }

    fn message(&mut self, message: ServerMessage, now: Instant) {
        match message {
            ServerMessage::Ping { uid } => self.out.write(&ClientMessage::Pong { uid: uid.map(Cow::into_owned) }),
            ServerMessage::Pong { .. } => {}
            ServerMessage::AuthOk { refresh_token, .. } => {
                let outcome = self.auth.on_ok(refresh_token, now);
                self.after_auth(outcome);
            }
            ServerMessage::Error { kind: MessageKind::Auth, error, .. } => {
                let outcome = self.auth.on_error(error, now, self.connected, &self.ids, &mut self.out);
                self.after_auth(outcome);
            }
            ServerMessage::Error { kind, uid, error } => self.error(kind, uid.map(Cow::into_owned), error),
            ServerMessage::Subscription { uid: Some(uid), kind: SubscriptionKind::Unsubscribe, .. } => {
                if let Some(key @ Key::Unsubscribe(_)) = Key::of_answer(&uid, Answer::Unsubscribe) {
                    self.outgoing.forget(key);
                    self.replies.complete(key, Ok(Value::Null), &mut self.out);
                }
            }
            ServerMessage::Subscription { uid: Some(uid), kind, data, items } => match Key::subscription_of(&uid) {
                Some(id) => {
                    if self.subs.on_event(id, kind, data.map(|data| Arrived { data, items }), &self.ids, &mut self.out) {
                        self.replies.complete(Key::Subscribe(id), Ok(Value::Null), &mut self.out);
                    }
                }
                None => log::debug!("dropped a {} event of a subscription this client did not make", kind.as_str()),
            },
            ServerMessage::Subscription { uid: None, kind, .. } => log::debug!("dropped a {} event without uid", kind.as_str()),
            ServerMessage::Items { uid: Some(uid), data, .. } => self.items_answer(&uid, data),
            ServerMessage::Items { uid: None, .. } => log::debug!("dropped an items answer without uid"),
            ServerMessage::Unknown(v) => self.out.emit(Event::Unknown(v)),
        }
    }

    fn items_answer(&mut self, uid: &str, data: RawJson) {
        let Some(key) = Key::of_answer(uid, Answer::Request) else {
            log::debug!("dropped an items answer for no request of this client");
            return;
        };
        if matches!(key, Key::CatchUp(_) | Key::ReadBack(_) | Key::Probe(_)) {
            // The session's own read: its placeholder (see `settle`) is done.
            self.replies.complete(key, Ok(Value::Null), &mut self.out);
        }
        match key {
            Key::CatchUp(read) => {
                self.outgoing.forget(key);
                self.subs.on_catch_up(read, data, &mut self.out);
            }
            Key::ReadBack(_) => {
                if let Some((create, one)) = self.outgoing.read_back_done(key) {
                    let result = read_back_answer(data.parse(), one).ok_or_else(|| {
                        Error::Protocol(format!("{create} was stored before the connection dropped, but reading it back found nothing"))
                    });
                    self.replies.complete(create, result, &mut self.out);
                }
            }
            Key::Probe(_) => {
                self.outgoing.forget(key);
                self.learn_uids(None);
            }
            Key::Items(_) => {
                self.outgoing.forget(key);
                if !self.replies.complete(key, Ok(data.parse()), &mut self.out) {
                    log::debug!("dropped the answer to {key}, which nobody waits for");
                }
            }
            _ => log::debug!("dropped an items answer for {key}"),
        }
    }

    fn error(&mut self, kind: MessageKind, uid: Option<String>, error: ServerError) {
        let answer = if kind == MessageKind::Unsubscribe { Answer::Unsubscribe } else { Answer::Request };
        let key = match &uid {
            Some(uid) => Key::of_answer(uid, answer),
            // Before 12.4 a failed items request is answered without its uid; it is the
            // one on the wire, as they go one at a time there.
            None if kind == MessageKind::Items => self.outgoing.lone_in_lane(),
            None => None,
        };
        match key {
            // Before 12.4 a refused subscribe has no uid either.
            None if uid.is_none() && kind == MessageKind::Subscribe => self.subscription_error(None, error),
            Some(Key::Subscribe(id)) => self.subscription_error(Some(id), error),
            Some(probe @ Key::Probe(_)) => {
                self.outgoing.forget(probe);
                self.replies.complete(probe, Ok(Value::Null), &mut self.out);
                self.learn_uids(if uid.is_some() { probe_answer(Some(&error.code)) } else { Some(false) });
            }
            Some(read @ Key::CatchUp(n)) => {
                self.outgoing.forget(read);
                self.replies.complete(read, Ok(Value::Null), &mut self.out);
                self.subs.on_catch_up_failed(n, &error);
            }
            Some(read @ Key::ReadBack(_)) => {
                self.replies.complete(read, Ok(Value::Null), &mut self.out);
                if let Some((create, _)) = self.outgoing.read_back_done(read) {
                    self.replies.complete(create, Err(Error::Server(error)), &mut self.out);
                }
            }
            Some(key @ (Key::Items(_) | Key::Unsubscribe(_))) => {
                if error.code == ErrorCode::RecordNotUnique && self.outgoing.duplicate(key, &self.ids) {
                    log::info!("request {key} was applied before the connection dropped; reading it back");
                    return;
                }
                self.outgoing.forget(key);
                if !self.replies.complete(key, Err(Error::Server(error.clone())), &mut self.out) {
                    self.out.emit(Event::Error { error: Error::Server(error) });
                }
            }
            _ => self.out.emit(Event::Error { error: Error::Server(error) }),
        }
    }

    fn subscription_error(&mut self, id: Option<u64>, error: ServerError) {
        match self.subs.on_error(id, error.clone(), self.auth.is_authenticated(), &mut self.out) {
            Refusal::Refused(id) => {
                self.replies.complete(Key::Subscribe(id), Err(Error::Server(error)), &mut self.out);
            }
            Refusal::Resync => {
                if self.ready() {
                    self.subs.on_ready(&mut self.out);
                }
            }
            Refusal::Ignored => {}
        }
    }

    fn after_auth(&mut self, outcome: Outcome) {
        // A refused login on a public server leaves the connection public: what waited
        // for the login goes with public permissions, as it would have without one.
        let refused = matches!(outcome.completed, Some((_, Err(_))));
        if let Some((key, result)) = outcome.completed {
            let result = result.map(|()| Value::Null).map_err(Error::Server);
            if !self.replies.complete(key, result.clone(), &mut self.out) {
                if let Err(error) = result {
                    self.out.emit(Event::Error { error });
                }
            }
        }
        if let Some(error) = outcome.report {
            self.out.emit(Event::Error { error: Error::Server(error) });
        }
        if outcome.expired {
            // Until the new login is processed the server sends no event this user may
            // see: subscribing again with the same uids after it turns a fresh `init`
            // into exactly what was missed (see `tracker`).
            self.subs.on_expired();
        }
        if outcome.authenticated || refused {
            if outcome.authenticated {
                self.out.emit(Event::state(ConnectionState::Authenticated));
            }
            self.become_ready();
        }
    }

    /// Sends what waited for the session to be ready: subscriptions first, then requests.
    fn become_ready(&mut self) {
        if !self.ready() {
            return;
        }
        if self.needs_probe() {
            // Ahead of everything else that waited: the sooner the server is known to
            // echo uids, the sooner requests are pipelined.
            let probe = Key::Probe(self.ids.next());
            let chat = &self.options.chat;
            self.outgoing.submit_first(probe, ClientMessage::uid_probe(&chat.collection, &chat.id_field, probe.uid()).encode());
            self.uids = Uids::Probing;
        }
        self.subs.on_ready(&mut self.out);
    }

    // ---- time

    /// A timer tick. `reading`: whether the session reads its socket (it does not while
    /// the user has too many events waiting).
    pub(crate) fn tick(&mut self, now: Instant, reading: bool) {
        for key in self.replies.expire(now, &mut self.out) {
            self.abandon(key);
            self.outgoing.forget(key);
        }
        self.auth.on_tick(now, &self.ids, &mut self.out);
        if self.connected {
            match self.heartbeat.tick(now, self.ready() && reading) {
                Beat::Quiet => {}
                Beat::Ping => self.out.write(&ClientMessage::Ping { uid: None }),
                Beat::Dead(reason) => self.out.list.push(Action::Drop(reason)),
            }
        }
        self.settle(now);
    }

    // ---- the connection

    /// An attempt to open the connection starts.
    pub(crate) fn connecting(&mut self) {
        let attempt = self.reconnect.attempts();
        self.out.emit(Event::State { state: ConnectionState::Connecting, reason: None, attempt, retry_in: None, cause: None });
    }

    /// The connection is open: log in again (or for the first time), then resubscribe
    /// and send what waited.
    pub(crate) fn connected(&mut self, now: Instant) {
        self.connected = true;
        self.lost = None;
        self.reconnect.connected();
        self.heartbeat.heard(now);
        self.out.emit(Event::state(ConnectionState::Connected));
        if !self.auth.on_connected(&self.ids, &mut self.out) {
            self.become_ready();
        }
        self.settle(now);
    }

    /// The connection was lost: settles what it leaves behind (unanswered requests fail
    /// unless they can be sent again safely, unsubscribes are done, subscriptions and a
    /// user login wait for the next connection) and says what follows.
    pub(crate) fn lost(&mut self, reason: String, unit: f64) -> Next {
        self.connected = false;
        self.auth.on_disconnected();
        self.replies.disarm_all();
        let replies = &self.replies;
        let settled = self.outgoing.disconnected(|key| replies.contains(key));
        for key in settled.done {
            self.replies.complete(key, Ok(Value::Null), &mut self.out);
        }
        for key in settled.failed {
            let why = format!("connection lost before the server answered ({reason}); the request may or may not have been applied");
            self.replies.complete(key, Err(Error::Connection(why)), &mut self.out);
        }
        self.subs.on_disconnected();
        if self.uids == Uids::Probing {
            self.uids = Uids::Unknown;
        }
        self.lost = Some(reason.clone());
        self.next(reason, unit)
    }

    /// An attempt to open the connection failed.
    pub(crate) fn connect_failed(&mut self, reason: String, unit: f64) -> Next {
        self.next(reason, unit)
    }

    fn next(&mut self, reason: String, unit: f64) -> Next {
        let attempt = self.reconnect.attempts();
        let disconnected =
            |retry_in| Event::State { state: ConnectionState::Disconnected, reason: Some(reason.clone()), attempt, retry_in, cause: None };
        if let Some(why) = self.auth.cannot_resume() {
            self.out.emit(disconnected(None));
            return Next::End { reason: why.clone(), error: Error::Connection(why), cause: CloseCause::AuthRefused };
        }
        match self.reconnect.plan(unit) {
            Plan::Retry { delay, .. } => {
                self.out.emit(disconnected(Some(delay)));
                Next::Retry(delay)
            }
            Plan::GiveUp { attempts } => {
                self.out.emit(disconnected(None));
                let first = self.lost.clone().unwrap_or(reason);
                let why = if attempts == 0 { first } else { format!("{first}; gave up after {attempts} reconnect attempts") };
                Next::End { reason: why.clone(), error: Error::Connection(why), cause: CloseCause::GaveUp }
            }
        }
    }

    // ---- the end

    /// The user closed (or dropped every handle): requests on the wire may finish first.
    pub(crate) fn begin_close(&mut self, reply: Option<Reply>, now: Instant) {
        let until = if self.connected { now + CLOSE_DRAIN } else { now };
        let closing = self.closing.get_or_insert_with(|| Closing { replies: Vec::new(), until });
        closing.replies.extend(reply);
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.is_some()
    }

    /// Whether a close may proceed: nothing on the wire waits any more, or the drain
    /// time is over.
    pub(crate) fn close_due(&self, now: Instant) -> bool {
        self.closing.as_ref().is_some_and(|c| !self.connected || self.outgoing.is_idle() || now >= c.until)
    }

    /// Fails everything still waiting with `error`.
    pub(crate) fn fail_all(&mut self, error: &Error) {
        self.replies.fail_all(error, &mut self.out);
        self.outgoing.clear();
    }

    /// The final event, with the answers to the closes that ended the session: those
    /// that become events just before it, the others after it.
    pub(crate) fn closed(&mut self, reason: String, cause: CloseCause) {
        let replies = self.closing.take().map_or_else(Vec::new, |c| c.replies);
        let (before, after): (Vec<Reply>, Vec<Reply>) = replies.into_iter().partition(Reply::is_before_closed);
        for reply in before {
            self.out.reply(reply, Ok(Value::Null));
        }
        self.out.emit(Event::State {
            state: ConnectionState::Closed,
            reason: Some(reason),
            attempt: 0,
            retry_in: None,
            cause: Some(cause),
        });
        for reply in after {
            self.out.reply(reply, Ok(Value::Null));
        }
    }
}

#[cfg(test)]
mod tests {
    //! The whole session from recorded frame sequences (Directus 12.4.0), no socket.

    use super::*;
    use crate::protocol::{AuthCredentials, ItemsRequest, ServerHeartbeat, SubscribeRequest};
    use crate::secret::Secret;
    use parking_lot::Mutex;
    use serde_json::json;

    type Outcomes = Arc<Mutex<Vec<(&'static str, Result<Value, Error>)>>>;

    struct Harness {
        s: Session,
        now: Instant,
        outcomes: Outcomes,
        frames: Vec<Value>,
        events: Vec<Event>,
    }

    impl Harness {
        fn new(options: ClientOptions) -> Self {
            let now = Instant::now();
            Harness {
                s: Session::new(Arc::new(options), Arc::new(Ids::default()), now),
                now,
                outcomes: Outcomes::default(),
                frames: Vec::new(),
                events: Vec::new(),
            }
        }

        fn reply(&self, tag: &'static str) -> Reply {
            let outcomes = self.outcomes.clone();
            Reply::new(move |r| outcomes.lock().push((tag, r)))
        }

        /// Carries out the actions the way the loop does; frames and events are kept.
        fn run(&mut self) {
            for action in self.s.take_actions() {
                match action {
                    Action::Write(f) => self.frames.push(serde_json::from_str(&f).unwrap()),
                    Action::Emit(e) => self.events.push(e),
                    Action::Reply(r, result) => r.send(result),
                    Action::Drop(reason) => panic!("dropped: {reason}"),
                }
            }
        }

        fn command(&mut self, c: Command) {
            self.s.command(c, self.now);
            self.run();
        }

        fn server(&mut self, frame: Value) {
            self.s.frame(&Utf8Bytes::from(frame.to_string()), self.now);
            self.run();
        }

        fn connect(&mut self) {
            self.s.connecting();
            self.s.connected(self.now);
            self.run();
        }

        fn wait(&mut self, secs: u64) {
            self.now += Duration::from_secs(secs);
            self.s.tick(self.now, true);
            self.run();
        }

        fn sent(&mut self) -> Vec<Value> {
            std::mem::take(&mut self.frames)
        }

        fn outcomes(&self) -> Vec<(&'static str, Result<Value, Error>)> {
            std::mem::take(&mut *self.outcomes.lock())
        }

        fn states(&mut self) -> Vec<ConnectionState> {
            std::mem::take(&mut self.events)
                .into_iter()
                .filter_map(|e| match e {
                    Event::State { state, .. } => Some(state),
                    _ => None,
                })
                .collect()
        }
    }

    fn password() -> AuthCredentials {
        AuthCredentials::Password { email: "kevin@example.com".into(), password: Secret::new("pw") }
    }

    fn chat() -> SubscribeRequest {
        SubscribeRequest::new("messages").query(json!({"limit": -1}))
    }

    impl Harness {
        /// Answers the capability probe the session sent (taking it out of what was
        /// sent) as Directus 12.4 does (`echo`: the error carries the uid) or as 10.x
        /// and 11.x do (no uid).
        /// Connected, logged in (refresh token `rt-1`) on a server that echoes uids, and
        /// subscribed to the chat as `s-2`, whose `init` had `data`.
        fn subscribed(&mut self, data: Value) {
            self.connect();
            self.command(Command::Login { id: 1, credentials: password(), reply: self.reply("login") });
            self.server(json!({"type":"auth","status":"ok","refresh_token":"rt-1","uid":"a-1"}));
            self.answer_probe(true);
            self.command(Command::Subscribe { id: 2, request: chat(), reply: self.reply("subscribe") });
            self.server(json!({"type":"subscription","event":"init","data":data,"uid":"s-2"}));
        }

        fn answer_probe(&mut self, echo: bool) {
            let at = self.frames.iter().position(|f| f["uid"].as_str().is_some_and(|u| u.starts_with("p-"))).expect("a probe was sent");
            let probe = self.frames.remove(at);
            let mut error = json!({"type":"items","status":"error","error":{"code":"INVALID_QUERY","message":"Invalid query."}});
            if echo {
                error["uid"] = probe["uid"].clone();
            }
            self.server(error);
        }
    }

    #[test]
    fn requests_made_before_the_login_wait_for_it_then_go_in_order() {
        let mut h = Harness::new(ClientOptions::default());
        h.connect();
        // Subscribe and send before logging in: nothing goes out, and nothing times out
        // while it waits (timeouts apply to the wire).
        h.command(Command::Subscribe { id: 1, request: chat(), reply: h.reply("subscribe") });
        h.command(Command::Items { id: 2, request: ItemsRequest::create("messages", json!({"text":"hi"})), reply: h.reply("send") });
        h.wait(3600);
        assert!(h.sent().is_empty() && h.outcomes().is_empty());
        h.command(Command::Login { id: 3, credentials: password(), reply: h.reply("login") });
        assert_eq!(h.sent(), vec![json!({"type":"auth","email":"kevin@example.com","password":"pw","uid":"a-3"})]);
        h.server(json!({"type":"auth","status":"ok","refresh_token":"rt-1","uid":"a-3"}));
        // The subscribe, and the probe first in the items lane: the send waits for it.
        assert_eq!(h.frames.len(), 2, "{:?}", h.frames);
        assert_eq!((h.frames[0]["type"].as_str(), h.frames[0]["uid"].as_str()), (Some("subscribe"), Some("s-1")));
        h.answer_probe(true);
        h.frames.remove(0);
        assert_eq!(h.sent(), vec![json!({"type":"items","collection":"messages","action":"create","data":{"text":"hi"},"uid":"r-2"})]);
        assert_eq!(h.outcomes(), vec![("login", Ok(Value::Null))]);
        h.server(json!({"type":"subscription","event":"init","data":[{"id":1,"text":"old"}],"uid":"s-1"}));
        h.server(json!({"type":"items","data":{"id":2,"text":"hi"},"uid":"r-2"}));
        assert_eq!(h.outcomes(), vec![("subscribe", Ok(Value::Null)), ("send", Ok(json!({"id":2,"text":"hi"})))]);
        // (The harness numbers its commands by hand; the session's own numbers start at 1.)
        assert_eq!(h.sent()[0]["uid"], "c-2", "the catch-up read after the init");
        assert_eq!(h.states(), vec![ConnectionState::Connecting, ConnectionState::Connected, ConnectionState::Authenticated]);
    }

    /// A subscribe made while another awaited its answer, before the probe said the
    /// server echoes uids: it goes out as soon as the session learns it may pipeline
    /// (it used to wait for ever: a presence entry made before the login hung).
    #[test]
    fn a_subscribe_held_back_before_the_probe_goes_out_once_pipelined() {
        let mut h = Harness::new(ClientOptions::default());
        h.connect();
        h.command(Command::Subscribe { id: 1, request: chat(), reply: h.reply("first") });
        h.command(Command::Login { id: 2, credentials: password(), reply: h.reply("login") });
        h.server(json!({"type":"auth","status":"ok","refresh_token":"rt-1","uid":"a-2"}));
        h.command(Command::Subscribe { id: 3, request: SubscribeRequest::new("directus_users"), reply: h.reply("second") });
        let uids: Vec<String> = h.frames.iter().filter_map(|f| f["uid"].as_str().map(str::to_owned)).collect();
        assert!(uids.contains(&"s-1".to_owned()) && !uids.contains(&"s-3".to_owned()), "serial until the probe answers: {uids:?}");
        h.answer_probe(true);
        h.server(json!({"type":"subscription","event":"init","data":[],"uid":"s-1"}));
        let uids: Vec<String> = h.sent().iter().filter_map(|f| f["uid"].as_str().map(str::to_owned)).collect();
        assert!(uids.contains(&"s-3".to_owned()), "{uids:?}");
    }

    #[test]
    fn on_a_server_without_uids_on_errors_requests_go_one_at_a_time_and_each_error_finds_its_request() {
        let mut h = Harness::new(ClientOptions { auth_mode: AuthMode::Public, ..ClientOptions::default() });
        h.connect();
        for (id, text) in [(1, "a"), (2, "b")] {
            h.command(Command::Items { id, request: ItemsRequest::create("messages", json!({ "text": text })), reply: h.reply(text) });
        }
        h.command(Command::Subscribe { id: 3, request: SubscribeRequest::new("secrets"), reply: h.reply("secrets") });
        h.command(Command::Subscribe { id: 4, request: chat(), reply: h.reply("chat") });
        // Directus 11: the probe's error has no uid.
        h.answer_probe(false);
        let sent = h.sent();
        let uids: Vec<&str> = sent.iter().filter_map(|f| f["uid"].as_str()).collect();
        assert_eq!(uids, vec!["s-3", "r-1"], "one subscribe and one items request at a time");
        // Both refusals come without uid, and each finds its request.
        h.server(json!({"type":"items","status":"error","error":{"code":"FORBIDDEN","message":"no"}}));
        assert_eq!(h.sent()[0]["uid"], "r-2", "the next goes once the first is answered");
        h.server(json!({"type":"subscribe","status":"error","error":{"code":"FORBIDDEN","message":"no"}}));
        assert_eq!(h.sent()[0]["uid"], "s-4");
        h.server(json!({"type":"items","data":{"id":9,"text":"b"},"uid":"r-2"}));
        let outcomes = h.outcomes();
        assert!(matches!(&outcomes[0], ("a", Err(Error::Server(e))) if e.code == ErrorCode::Forbidden), "{outcomes:?}");
        assert!(matches!(&outcomes[1], ("secrets", Err(Error::Server(e))) if e.code == ErrorCode::Forbidden), "{outcomes:?}");
        assert_eq!(outcomes[2], ("b", Ok(json!({"id":9,"text":"b"}))));
        assert!(!h.events.iter().any(|e| matches!(e, Event::Error { .. })), "nothing reported as unmatched");
        // A server that echoes uids (12.4) is pipelined.
        let mut h = Harness::new(ClientOptions { auth_mode: AuthMode::Public, ..ClientOptions::default() });
        h.connect();
        h.answer_probe(true);
        for id in 1..=3 {
            h.command(Command::Items { id, request: ItemsRequest::read("messages"), reply: h.reply("read") });
        }
        assert_eq!(h.sent().len(), 3);
    }

    #[test]
    fn a_request_on_the_wire_times_out_and_a_caller_deadline_counts_from_the_call() {
        let mut h = Harness::new(ClientOptions { auth_mode: AuthMode::Public, ..ClientOptions::default() });
        h.connect();
        h.answer_probe(true);
        h.command(Command::Items { id: 1, request: ItemsRequest::read("messages"), reply: h.reply("read") });
        assert_eq!(h.sent().len(), 1);
        h.wait(29);
        assert!(h.outcomes().is_empty());
        h.wait(1);
        assert_eq!(h.outcomes(), vec![("read", Err(Error::Timeout))]);
        // The answer coming late changes nothing.
        h.server(json!({"type":"items","data":[],"uid":"r-1"}));
        assert!(h.outcomes().is_empty());
        // Offline, a caller who waits from the call still times out.
        let _ = h.s.lost("cut".into(), 0.5);
        h.run();
        let reply = h.reply("blocking").by(h.now + Duration::from_secs(5));
        h.command(Command::Items { id: 2, request: ItemsRequest::read("messages"), reply });
        h.wait(5);
        assert_eq!(h.outcomes(), vec![("blocking", Err(Error::Timeout))]);
        h.connect();
        assert!(h.sent().iter().all(|f| f["uid"] != "r-2"), "a timed-out request is never sent");
    }

    #[test]
    fn a_lost_connection_resends_what_is_safe_fails_the_rest_and_resumes_with_the_rotated_token() {
        let mut h = Harness::new(ClientOptions::default());
        h.subscribed(json!([{"id":1,"text":"a"}]));
        let catch_up = h.sent().into_iter().find(|f| f["uid"].as_str().is_some_and(|u| u.starts_with("c-"))).expect("catch-up");
        h.server(json!({"type":"items","data":[],"uid":catch_up["uid"]}));
        h.command(Command::Items {
            id: 4,
            request: ItemsRequest::create("messages", json!({"text":"unkeyed"})),
            reply: h.reply("unkeyed"),
        });
        h.command(Command::Items {
            id: 5,
            request: ItemsRequest::create("messages", json!({"id":"u5","text":"keyed"})),
            reply: h.reply("keyed"),
        });
        h.sent();
        h.outcomes();
        h.events.clear();

        assert_eq!(h.s.lost("the server closed the connection".into(), 0.5), Next::Retry(Duration::from_secs(2)));
        h.run();
        let outcomes = h.outcomes();
        assert_eq!(outcomes.len(), 1, "{outcomes:?}");
        assert!(matches!(&outcomes[0], ("unkeyed", Err(Error::Connection(why))) if why.contains("may or may not")));
        match &h.events[..] {
            [Event::State { state: ConnectionState::Disconnected, attempt: 0, retry_in: Some(d), .. }] => {
                assert_eq!(*d, Duration::from_secs(2))
            }
            other => panic!("{other:?}"),
        }
        h.events.clear();

        // Back: the rotated refresh token first, then the subscription and the resend
        // (the server is known to echo uids: no probe again).
        h.connect();
        let auth = h.sent().remove(0);
        assert_eq!((auth["refresh_token"].as_str(), auth["type"].as_str()), (Some("rt-1"), Some("auth")));
        h.server(json!({"type":"auth","status":"ok","refresh_token":"rt-2","uid":auth["uid"]}));
        let sent = h.sent();
        assert_eq!(sent.iter().map(|f| f["uid"].as_str().unwrap()).collect::<Vec<_>>(), vec!["s-2", "r-5"]);
        // The keyed create had been stored: it meets itself and is read back.
        h.server(json!({"type":"items","status":"error","error":{"code":"RECORD_NOT_UNIQUE","message":"dup"},"uid":"r-5"}));
        let read = h.sent().remove(0);
        assert_eq!(read["query"]["filter"], json!({"id":{"_in":["u5"]}}));
        h.server(json!({"type":"items","data":[{"id":"u5","text":"keyed"}],"uid":read["uid"]}));
        assert_eq!(h.outcomes(), vec![("keyed", Ok(json!({"id":"u5","text":"keyed"})))]);
        // The new init is the difference only.
        h.server(json!({"type":"subscription","event":"init","data":[{"id":1,"text":"a"},{"id":"u5","text":"keyed"}],"uid":"s-2"}));
        let deliveries: Vec<(SubscriptionKind, Value)> = h
            .events
            .drain(..)
            .filter_map(|e| match e {
                Event::Subscription { kind, data, .. } => Some((kind, data.into_value())),
                _ => None,
            })
            .collect();
        assert_eq!(deliveries, vec![(SubscriptionKind::Create, json!([{"id":"u5","text":"keyed"}]))]);
    }

    #[test]
    fn a_repeated_keyed_create_that_meets_its_key_is_read_back_even_on_its_first_attempt_here() {
        let mut h = Harness::new(ClientOptions { auth_mode: AuthMode::Public, ..ClientOptions::default() });
        h.connect();
        h.answer_probe(true);
        // Another attempt of a create an earlier run (or a timed-out attempt) sent.
        let again = ItemsRequest::create("messages", json!({"client_key":"k1","text":"x"})).key_field("client_key").repeated();
        h.command(Command::Items { id: 1, request: again, reply: h.reply("again") });
        assert_eq!(h.sent().len(), 1);
        h.server(json!({"type":"items","status":"error","error":{"code":"RECORD_NOT_UNIQUE","message":"dup"},"uid":"r-1"}));
        let read = h.sent().remove(0);
        assert_eq!(read["query"]["filter"], json!({"client_key":{"_in":["k1"]}}));
        h.server(json!({"type":"items","data":[{"id":5,"client_key":"k1"}],"uid":read["uid"]}));
        assert_eq!(h.outcomes(), vec![("again", Ok(json!({"id":5,"client_key":"k1"})))]);
        // Without the mark, a first attempt that meets the key is a real conflict.
        let plain = ItemsRequest::create("messages", json!({"client_key":"k2"})).key_field("client_key");
        h.command(Command::Items { id: 9, request: plain, reply: h.reply("plain") });
        h.sent();
        h.server(json!({"type":"items","status":"error","error":{"code":"RECORD_NOT_UNIQUE","message":"dup"},"uid":"r-9"}));
        assert!(matches!(&h.outcomes()[..], [("plain", Err(Error::Server(e)))] if e.code == ErrorCode::RecordNotUnique));
        assert!(h.sent().is_empty(), "nothing read back");
    }

    #[test]
    fn an_expired_login_is_renewed_and_stale_subscriptions_catch_up() {
        let mut h = Harness::new(ClientOptions::default());
        h.subscribed(json!([]));
        h.sent();
        h.now += Duration::from_secs(8);
        h.server(json!({"type":"auth","status":"error","error":{"code":"TOKEN_EXPIRED","message":"Token expired."}}));
        let renewal = h.sent().remove(0);
        assert_eq!(renewal["refresh_token"], "rt-1");
        // In the window the server fails the subscription's event reads: not a refusal.
        h.server(json!({"type":"subscribe","status":"error","error":{"code":"FORBIDDEN","message":"no"},"uid":"s-2"}));
        assert!(!h.events.iter().any(|e| matches!(e, Event::SubscriptionError { .. } | Event::Error { .. })));
        h.server(json!({"type":"auth","status":"ok","refresh_token":"rt-2","uid":renewal["uid"]}));
        assert_eq!(h.sent()[0]["uid"], "s-2", "subscribed again to catch up");
        // The lifetime was learned (8 s): the next renewal comes at 6 s, before expiry.
        h.wait(6);
        let renewal = h.sent().remove(0);
        assert_eq!(renewal["refresh_token"], "rt-2");
        h.server(json!({"type":"auth","status":"ok","refresh_token":"rt-3","uid":renewal["uid"]}));
        // An unsolicited confirmation is not a second login.
        h.states();
        h.server(json!({"type":"auth","status":"ok"}));
        assert!(h.states().is_empty());
    }

    #[test]
    fn a_subscribe_that_times_out_ends_and_a_cancelled_request_never_goes() {
        let mut h = Harness::new(ClientOptions { auth_mode: AuthMode::Public, ..ClientOptions::default() });
        h.connect();
        h.command(Command::Subscribe { id: 1, request: chat(), reply: h.reply("subscribe") });
        h.command(Command::Subscribe { id: 2, request: SubscribeRequest::new("rooms"), reply: h.reply("second") });
        h.answer_probe(false);
        assert_eq!(h.sent().len(), 1, "one subscribe at a time on this server");
        h.wait(30);
        let outcomes = h.outcomes();
        assert_eq!(outcomes[0], ("subscribe", Err(Error::Timeout)));
        let sent = h.sent();
        assert!(sent.contains(&json!({"type":"unsubscribe","uid":"s-1"})), "the server is told: {sent:?}");
        assert!(sent.iter().any(|f| f["uid"] == "s-2" && f["type"] == "subscribe"), "and the next subscribe goes: {sent:?}");
        // A late init for the ended subscription delivers nothing.
        h.server(json!({"type":"subscription","event":"init","data":[{"id":1}],"uid":"s-1"}));
        assert!(!h.events.iter().any(|e| matches!(e, Event::Subscription { uid, .. } if uid == "s-1")));

        let _ = h.s.lost("cut".into(), 0.5);
        h.run();
        h.command(Command::Items { id: 7, request: ItemsRequest::read("messages"), reply: h.reply("read") });
        h.command(Command::Cancel { id: 7 });
        assert_eq!(h.outcomes().last(), Some(&("read", Err(Error::Cancelled))));
        h.connect();
        assert!(h.sent().iter().all(|f| f["uid"] != "r-7"));
    }

    #[test]
    fn a_close_waits_for_requests_on_the_wire_and_is_answered_after_closed() {
        let mut h = Harness::new(ClientOptions { auth_mode: AuthMode::Public, ..ClientOptions::default() });
        h.connect();
        h.answer_probe(true);
        h.command(Command::Items { id: 1, request: ItemsRequest::create("messages", json!({"text":"last"})), reply: h.reply("send") });
        h.command(Command::Close { reply: h.reply("close") });
        assert!(!h.s.close_due(h.now), "the send is on the wire");
        h.server(json!({"type":"items","data":{"id":9},"uid":"r-1"}));
        assert!(h.s.close_due(h.now));
        h.s.fail_all(&Error::Closed);
        h.s.closed("closed by the client".into(), CloseCause::ByUser);
        h.run();
        assert_eq!(h.outcomes(), vec![("send", Ok(json!({"id":9}))), ("close", Ok(Value::Null))]);
        assert!(matches!(h.events.last(), Some(Event::State { state: ConnectionState::Closed, cause: Some(CloseCause::ByUser), .. })));
    }

    fn info(version: &str, heartbeat: Option<ServerHeartbeat>, auth_mode: Option<AuthMode>) -> Command {
        let release = crate::protocol::Version::parse(version);
        Command::ServerInfo { info: ServerInfo { version: version.into(), release, heartbeat, auth_mode } }
    }

    fn logged_in(h: &mut Harness) {
        h.connect();
        h.command(Command::Login { id: 1, credentials: password(), reply: h.reply("login") });
        h.sent();
        h.server(json!({"type":"auth","status":"ok","refresh_token":"rt-1","uid":"a-1"}));
        assert_eq!(h.outcomes(), vec![("login", Ok(Value::Null))]);
    }

    fn uids_of(frames: &[Value]) -> Vec<String> {
        frames.iter().filter_map(|f| f["uid"].as_str().map(str::to_owned)).collect()
    }

    #[test]
    fn the_servers_version_overrules_the_probe_on_the_wire_and_spares_it_after_a_reconnect() {
        let mut h = Harness::new(ClientOptions::default());
        logged_in(&mut h);
        h.command(Command::Subscribe { id: 2, request: chat(), reply: h.reply("chat") });
        h.command(Command::Subscribe { id: 3, request: SubscribeRequest::new("rooms"), reply: h.reply("rooms") });
        let sent = uids_of(&h.frames);
        assert!(sent.iter().any(|u| u.starts_with("p-")) && sent.contains(&"s-2".into()) && !sent.contains(&"s-3".into()), "{sent:?}");
        // /server/info answers before the probe: 12.4.0 names every failed request.
        h.command(info("12.4.0", None, None));
        assert!(uids_of(&h.frames).contains(&"s-3".into()), "pipelined at once: {:?}", h.frames);
        h.answer_probe(true);
        h.sent();
        // After a reconnect the version is known: no probe, and requests are pipelined.
        let _ = h.s.lost("cut".into(), 0.5);
        h.connect();
        let auth = h.sent().remove(0);
        h.command(Command::Items { id: 4, request: ItemsRequest::read("messages"), reply: h.reply("a") });
        h.command(Command::Items { id: 5, request: ItemsRequest::read("messages"), reply: h.reply("b") });
        h.server(json!({"type":"auth","status":"ok","refresh_token":"rt-2","uid":auth["uid"]}));
        let sent = uids_of(&h.sent());
        assert!(!sent.iter().any(|u| u.starts_with("p-")), "no probe: {sent:?}");
        assert!(sent.contains(&"r-4".into()) && sent.contains(&"r-5".into()), "{sent:?}");
    }

    #[test]
    fn a_version_before_12_4_sends_one_at_a_time_and_a_probe_without_uid_outweighs_a_version_with() {
        // The probe said "uids" (it cannot, before 12.4, but the version decides).
        let mut h = Harness::new(ClientOptions::default());
        logged_in(&mut h);
        h.answer_probe(true);
        h.command(info("11.17.4", None, Some(AuthMode::Handshake)));
        h.sent();
        for id in [4, 5] {
            h.command(Command::Items { id, request: ItemsRequest::create("messages", json!({})), reply: h.reply("x") });
        }
        assert_eq!(uids_of(&h.sent()), vec!["r-4"], "one at a time");
        h.server(json!({"type":"items","status":"error","error":{"code":"FORBIDDEN","message":"no"}}));
        assert!(matches!(&h.outcomes()[..], [("x", Err(Error::Server(e)))] if e.code == ErrorCode::Forbidden));
        assert_eq!(uids_of(&h.sent()), vec!["r-5"]);
        // A probe answered without uid against a version that promises uids: one at a time.
        let mut h = Harness::new(ClientOptions::default());
        logged_in(&mut h);
        h.answer_probe(false);
        h.command(info("12.4.0", None, None));
        for id in [4, 5] {
            h.command(Command::Items { id, request: ItemsRequest::read("messages"), reply: h.reply("x") });
        }
        assert_eq!(uids_of(&h.sent()), vec!["r-4"]);
        // What the options say stands above both.
        let mut h = Harness::new(ClientOptions { error_uids: Some(true), ..ClientOptions::default() });
        logged_in(&mut h);
        h.command(info("10.13.4", None, None));
        for id in [4, 5] {
            h.command(Command::Items { id, request: ItemsRequest::read("messages"), reply: h.reply("x") });
        }
        assert_eq!(uids_of(&h.sent()), vec!["r-4", "r-5"], "no probe, pipelined as set");
    }

    #[test]
    fn the_servers_heartbeat_sets_how_long_silence_may_last() {
        let mut h = Harness::new(ClientOptions::default());
        logged_in(&mut h);
        h.answer_probe(true);
        h.command(info("12.4.0", Some(ServerHeartbeat::Every(Duration::from_secs(2))), None));
        h.sent();
        h.now += Duration::from_secs(6);
        h.s.tick(h.now, true);
        assert!(h.s.take_actions().iter().all(|a| !matches!(a, Action::Drop(_) | Action::Write(_))), "no ping of ours either");
        h.now += Duration::from_secs(1);
        h.s.tick(h.now, true);
        assert!(h.s.take_actions().iter().any(|a| matches!(a, Action::Drop(why) if why.contains("pings every 2s"))));
        // A server without a heartbeat: the client's own pings (every 30 s by default).
        let mut h = Harness::new(ClientOptions::default());
        logged_in(&mut h);
        h.answer_probe(true);
        h.command(info("12.4.0", Some(ServerHeartbeat::Disabled), None));
        h.sent();
        h.wait(30);
        assert_eq!(h.sent(), vec![json!({"type":"ping"})]);
    }

    #[test]
    fn on_a_public_server_requests_go_before_a_login_but_never_overtake_one() {
        let mut h = Harness::new(ClientOptions { auth_mode: AuthMode::Public, error_uids: Some(true), ..ClientOptions::default() });
        h.connect();
        h.command(Command::Items { id: 1, request: ItemsRequest::read("messages"), reply: h.reply("public") });
        assert_eq!(uids_of(&h.sent()), vec!["r-1"]);
        h.command(Command::Login { id: 2, credentials: password(), reply: h.reply("login") });
        h.command(Command::Items { id: 3, request: ItemsRequest::read("messages"), reply: h.reply("mine") });
        assert_eq!(uids_of(&h.sent()), vec!["a-2"], "the read waits for the login");
        h.server(json!({"type":"auth","status":"ok","refresh_token":"rt-1","uid":"a-2"}));
        assert_eq!(uids_of(&h.sent()), vec!["r-3"]);
        // A new connection: the re-login first, again.
        let _ = h.s.lost("cut".into(), 0.5);
        h.connect();
        h.command(Command::Items { id: 4, request: ItemsRequest::read("messages"), reply: h.reply("later") });
        let sent = h.sent();
        assert_eq!((sent.len(), sent[0]["type"].as_str()), (1, Some("auth")), "{sent:?}");
        // A refused login leaves the connection public: what waited goes.
        let mut h = Harness::new(ClientOptions { auth_mode: AuthMode::Public, error_uids: Some(true), ..ClientOptions::default() });
        h.connect();
        h.command(Command::Login { id: 1, credentials: password(), reply: h.reply("login") });
        h.command(Command::Subscribe { id: 2, request: chat(), reply: h.reply("chat") });
        assert_eq!(uids_of(&h.sent()), vec!["a-1"]);
        h.server(json!({"type":"auth","status":"error","error":{"code":"AUTH_FAILED","message":"no"},"uid":"a-1"}));
        assert_eq!(uids_of(&h.sent()), vec!["s-2"]);
    }

    #[test]
    fn a_close_that_becomes_an_event_is_answered_just_before_closed_and_a_waiting_one_after() {
        let mut h = Harness::new(ClientOptions { auth_mode: AuthMode::Public, ..ClientOptions::default() });
        h.connect();
        h.command(Command::Close { reply: h.reply("waiting") });
        h.command(Command::Close { reply: h.reply("event").before_closed() });
        assert!(h.outcomes().is_empty(), "a second close waits for the first");
        h.s.fail_all(&Error::Closed);
        h.s.closed("closed by the client".into(), CloseCause::ByUser);
        let order: Vec<&str> =
            h.s.take_actions()
                .iter()
                .filter_map(|a| match a {
                    Action::Reply(r, Ok(_)) if r.is_before_closed() => Some("event reply"),
                    Action::Reply(_, Ok(_)) => Some("waiting reply"),
                    Action::Emit(Event::State { state: ConnectionState::Closed, .. }) => Some("closed"),
                    // The uid probe, failed by the close.
                    Action::Reply(_, Err(Error::Closed)) => None,
                    other => panic!("{other:?}"),
                })
                .collect();
        assert_eq!(order, vec!["event reply", "closed", "waiting reply"]);
    }

    #[test]
    fn the_policy_gives_up_and_a_refused_login_ends_the_session() {
        let policy = crate::options::ReconnectPolicy { max_attempts: Some(1), ..Default::default() };
        let mut h = Harness::new(ClientOptions { reconnect: policy, ..ClientOptions::default() });
        h.connect();
        assert!(matches!(h.s.lost("cut".into(), 0.5), Next::Retry(_)));
        match h.s.connect_failed("refused".into(), 0.5) {
            Next::End { reason, cause: CloseCause::GaveUp, .. } => assert_eq!(reason, "cut; gave up after 1 reconnect attempts"),
            other => panic!("{other:?}"),
        }
        let mut h = Harness::new(ClientOptions::default());
        h.connect();
        h.command(Command::Login { id: 1, credentials: password(), reply: h.reply("login") });
        h.server(json!({"type":"auth","status":"error","error":{"code":"AUTH_FAILED","message":"Authentication handshake failed."}}));
        assert!(matches!(h.outcomes()[0], ("login", Err(Error::Server(ref e))) if e.code == ErrorCode::AuthFailed));
        assert!(matches!(h.s.lost("the server closed the connection".into(), 0.5), Next::End { cause: CloseCause::AuthRefused, .. }));
    }
}
