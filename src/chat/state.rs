//! The chat state of one client, and the view every event passes on its way out.
//!
//! The view runs in the session's event order (see `session::outlet::View`), which is
//! what makes it exact:
//! - it names the room of each joined room's events and puts their messages oldest
//!   first (date, then key), so item `i` of an event is message `i` on every surface;
//! - it remembers which message was shown in which room, so that a deletion reaches
//!   only the room the message was in: Directus sends every delete to every subscription
//!   of the collection whatever its filter (`handlers/subscribe`), which would tell a
//!   user in two rooms of each deletion twice, once in the wrong room;
//! - it remembers the oldest message shown per room, where `load_older` continues;
//! - it fetches the logged-in user after each (re-)login once the chat API is in use,
//!   and keeps that subscription's events to itself.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use once_cell::sync::OnceCell;
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::watch;

use super::event::{ChatEvent, ChatEventKind};
use super::history::{Cursor, Pages, Shown};
use super::identity::Identity;
use super::presence::machine::Machine;
use super::presence::{Hub, Input};
use super::rooms::{Joined, Room};
use super::{compare_keys, ChatConfig};
use crate::client::Subscription;
use crate::data::Data;
use crate::error::{Error, Result};
use crate::event::{ConnectionState, Event};
use crate::protocol::SubscriptionKind;
use crate::session::{Command, Ids, Outlet, Reply, View, WeakSessionHandle};

/// How the view reaches the session: weakly, because the session owns the view.
struct Link {
    session: WeakSessionHandle,
    ids: Arc<Ids>,
}

#[derive(Default)]
struct IdentityState {
    known: Option<Identity>,
    error: Option<Error>,
    /// The chat API is in use: fetch the user after every (re-)login.
    wanted: bool,
    /// A login happened since the last fetch started.
    stale: bool,
    /// The identity subscription in flight: its number and the number of the fetch.
    fetching: Option<(u64, u64)>,
    started: u64,
}

struct Inner {
    joined: Joined,
    shown: Shown,
    pages: Pages,
    identity: IdentityState,
    /// uids of identity subscriptions: their events never leave.
    hidden: HashSet<String>,
}

/// The chat side of a client: its schema, joined rooms, what it showed, who it is.
pub(crate) struct ChatState {
    config: ChatConfig,
    inner: Mutex<Inner>,
    /// Whether the chat API was used at all: until then the view lets everything pass
    /// without taking its lock.
    active: AtomicBool,
    authenticated: AtomicBool,
    link: OnceCell<Link>,
    /// The number of the last identity fetch that ended (with a user or an error).
    settled: watch::Sender<u64>,
    this: Weak<ChatState>,
    /// Presence, typing and receipts, once used.
    presence: OnceCell<Arc<Hub>>,
}

impl ChatState {
    /// The state of a client with this chat schema, remembering up to `cap` shown messages.
    pub(crate) fn new(config: ChatConfig, cap: usize) -> Arc<Self> {
        Arc::new_cyclic(|this| ChatState {
            config,
            inner: Mutex::new(Inner {
                joined: Joined::default(),
                shown: Shown::new(cap),
                pages: Pages::default(),
                identity: IdentityState::default(),
                hidden: HashSet::new(),
            }),
            active: AtomicBool::new(false),
            authenticated: AtomicBool::new(false),
            link: OnceCell::new(),
            settled: watch::channel(0).0,
            this: this.clone(),
            presence: OnceCell::new(),
        })
    }

    /// Connects the state to its running session.
    pub(crate) fn attach(&self, session: WeakSessionHandle, ids: Arc<Ids>) {
        let _ = self.link.set(Link { session, ids });
    }

    /// The chat schema.
    pub(crate) fn config(&self) -> &ChatConfig {
        &self.config
    }

    /// The presence side, started on first use.
    pub(crate) fn presence(&self, outlet: &Arc<Outlet>) -> Result<&Arc<Hub>> {
        let link = self.link.get().ok_or(Error::Closed)?;
        self.activate();
        Ok(self.presence.get_or_init(|| {
            let machine = Machine::new(self.config.presence.clone(), self.config.clone(), link.ids.clone());
            Hub::start(machine, link.session.clone(), outlet, link.ids.clone())
        }))
    }

    /// The presence side, if started.
    pub(crate) fn presence_started(&self) -> Option<&Arc<Hub>> {
        self.presence.get()
    }

    fn activate(&self) {
        self.active.store(true, Ordering::Release);
    }

    // ---- rooms and pages, from the client's calls

    /// A room subscription is about to be sent.
    pub(crate) fn joining(&self, sub: &Subscription, room: Room) {
        self.activate();
        self.inner.lock().joined.insert(sub.uid().to_owned(), sub.id(), room);
    }

    /// A room subscription ended.
    pub(crate) fn left(&self, sub: &Subscription) {
        self.inner.lock().joined.remove(sub.uid());
    }

    /// The subscriptions joined to `room`.
    pub(crate) fn subscriptions_of(&self, room: Option<&str>) -> Vec<u64> {
        self.inner.lock().joined.subscriptions_of(room)
    }

    /// The room of a joined subscription.
    pub(crate) fn room_of_subscription(&self, uid: &str) -> Option<Room> {
        if !self.active.load(Ordering::Acquire) {
            return None;
        }
        self.inner.lock().joined.room_of(uid).cloned()
    }

    /// Request `request` fetches a page of `room`.
    pub(crate) fn paging(&self, request: u64, room: Room) {
        self.activate();
        self.inner.lock().pages.insert(request, room);
    }

    /// The room of a history page request.
    pub(crate) fn room_of_page(&self, request: u64) -> Option<Room> {
        if !self.active.load(Ordering::Acquire) {
            return None;
        }
        self.inner.lock().pages.room_of(request).cloned()
    }

    /// Where a page before `before` (a shown message's key; `None`: the oldest shown of
    /// `room`) starts. `Ok(None)`: from the newest message (nothing of the room shown).
    pub(crate) fn cursor(&self, room: &Room, before: Option<&str>) -> Result<Option<Cursor>> {
        let inner = self.inner.lock();
        match before {
            None => Ok(inner.shown.oldest(room).cloned()),
            Some(key) => inner.shown.cursor_at(key).map(Some).ok_or_else(|| {
                Error::InvalidArgument(format!("message {key} was not shown by this client (or has no date): its place is unknown"))
            }),
        }
    }

    /// A history page arrived: its messages are shown, oldest first.
    pub(crate) fn page_answer(&self, room: &Room, result: Result<Value>) -> Result<Value> {
        let mut data = result?;
        self.shown_items(&mut self.inner.lock(), room, &mut data);
        Ok(data)
    }

    /// Records the items of `data` as shown in `room` and sorts them oldest first.
    fn shown_items(&self, inner: &mut Inner, room: &Room, data: &mut Value) {
        let c = &self.config;
        let Value::Array(items) = data else { return };
        for item in items.iter() {
            let key = item.get(&c.id_field).and_then(key_text);
            if let Some(key) = key {
                let date = item.get(&c.date_field).and_then(Value::as_str);
                inner.shown.record(&key, room.clone(), date);
            }
        }
        let date = |v: &Value| v.get(&c.date_field).and_then(Value::as_str).map(str::to_owned);
        let key = |v: &Value| v.get(&c.id_field).and_then(key_text).unwrap_or_default();
        items.sort_by(|a, b| date(a).cmp(&date(b)).then_with(|| compare_keys(&key(a), &key(b))));
    }

    // ---- identity

    /// The logged-in user, when known.
    pub(crate) fn me(&self) -> Option<Identity> {
        if !self.active.load(Ordering::Acquire) {
            return None;
        }
        self.inner.lock().identity.known.clone()
    }

    fn me_id(&self) -> Option<String> {
        if !self.active.load(Ordering::Acquire) {
            return None;
        }
        self.inner.lock().identity.known.as_ref().map(|i| i.id.clone())
    }

    /// The user asked to log in: the identity changes with it. Returns the fetch number
    /// to wait for when the chat API is in use.
    pub(crate) fn login_requested(&self) -> Option<u64> {
        let mut inner = self.inner.lock();
        // Until the new login's user is known, no message counts as the user's own.
        inner.identity.stale = true;
        inner.identity.known = None;
        inner.identity.error = None;
        inner.identity.wanted.then_some(inner.identity.started + 1)
    }

    /// A login of the user succeeded. The session reports the login's answer before its
    /// `Authenticated` state passes the view, so a call made right after the login
    /// returns would not know yet that it may ask who the user is.
    pub(crate) fn logged_in(&self) {
        self.authenticated.store(true, Ordering::Release);
    }

    /// The chat API is in use: from now on the user is fetched after every login. Starts
    /// a fetch now if logged in and none is known or on the way. Returns the fetch to
    /// wait for, if any.
    pub(crate) fn want_identity(&self) -> Option<u64> {
        self.activate();
        let start = {
            let mut inner = self.inner.lock();
            inner.identity.wanted = true;
            if let Some((_, n)) = inner.identity.fetching {
                return Some(n);
            }
            if inner.identity.known.is_some() && !inner.identity.stale {
                return None;
            }
            if !self.authenticated.load(Ordering::Acquire) {
                return None;
            }
            self.prepare_fetch(&mut inner)
        };
        start.map(|(n, command, session)| {
            session.send(command);
            n
        })
    }

    /// Fetches the user now (after an explicit request), whatever is known.
    pub(crate) fn refetch_identity(&self) -> Option<u64> {
        self.activate();
        let start = {
            let mut inner = self.inner.lock();
            inner.identity.wanted = true;
            self.prepare_fetch(&mut inner)
        };
        start.map(|(n, command, session)| {
            session.send(command);
            n
        })
    }

    /// Waits until fetch `n` (or a later one) ended, at most `timeout`; then the user as
    /// known, or why it is not.
    pub(crate) async fn identity_after(&self, n: u64, timeout: Duration) -> Result<Identity> {
        let mut rx = self.settled.subscribe();
        let waited = tokio::time::timeout(timeout, async move { rx.wait_for(|s| *s >= n).await.map(drop) }).await;
        let inner = self.inner.lock();
        match (&inner.identity.known, &inner.identity.error, waited) {
            (Some(me), _, _) => Ok(me.clone()),
            (None, Some(e), _) => Err(e.clone()),
            (None, None, Err(_)) => Err(Error::Timeout),
            (None, None, Ok(_)) => Err(Error::Closed),
        }
    }

    /// Makes the identity subscription (replacing one in flight); to be sent once the
    /// lock is released, because a command the session no longer takes is dropped and
    /// its reply's callback takes the lock.
    fn prepare_fetch(&self, inner: &mut Inner) -> Option<(u64, Command, SessionSend)> {
        let link = self.link.get()?;
        let mut commands = Vec::new();
        if let Some((old, _)) = inner.identity.fetching.take() {
            commands.push(Command::Unsubscribe { id: old, reply: Reply::ignore() });
        }
        let id = link.ids.next();
        let sub = Subscription::from_id(id);
        inner.hidden.insert(sub.uid().to_owned());
        inner.identity.started += 1;
        let n = inner.identity.started;
        inner.identity.fetching = Some((id, n));
        inner.identity.stale = false;
        let this = self.this.clone();
        // A subscribe that fails (refused, timed out, closed) ends its fetch here; one
        // that succeeds ends it with its `init`, which the view sees first.
        let reply = Reply::new(move |result| {
            if let (Err(e), Some(state)) = (result, this.upgrade()) {
                state.identity_failed(id, e);
            }
        });
        let subscribe = Command::Subscribe { id, request: Identity::request(), reply };
        let session = SessionSend { session: link.session.clone(), before: commands };
        Some((n, subscribe, session))
    }

    fn identity_failed(&self, id: u64, error: Error) {
        let n = {
            let mut inner = self.inner.lock();
            match inner.identity.fetching {
                Some((f, n)) if f == id => {
                    log::warn!("could not learn who the logged-in user is: {error}");
                    inner.identity.fetching = None;
                    inner.identity.error = Some(error);
                    n
                }
                _ => return,
            }
        };
        self.settled.send_modify(|s| *s = (*s).max(n));
    }

    /// The identity subscription's init: the user.
    fn identity_init(&self, inner: &mut Inner, uid: &str, data: &Value) -> Option<(u64, WeakSessionHandle)> {
        let (id, n) = inner.identity.fetching?;
        if Subscription::from_id(id).uid() != uid {
            return None;
        }
        inner.identity.fetching = None;
        match Identity::from_init(data) {
            Some(me) => {
                log::info!("logged in as user {}", me.id);
                inner.identity.known = Some(me);
                inner.identity.error = None;
            }
            None => {
                inner.identity.known = None;
                inner.identity.error = Some(Error::Protocol("the users subscription named no user".into()));
            }
        }
        self.settled.send_modify(|s| *s = (*s).max(n));
        self.link.get().map(|l| (id, l.session.clone()))
    }

    // ---- reading events

    /// The chat event of `event`, if it is one: an event of a joined room or the answer
    /// of a history page.
    pub(crate) fn chat_event(&self, event: &Event) -> Option<ChatEvent> {
        let me = self.me_id();
        match event {
            Event::Subscription { uid, kind, data } => {
                let room = self.room_of_subscription(uid)?;
                let subscription = Subscription::id_of_uid(uid).unwrap_or(0);
                let kind = match kind {
                    SubscriptionKind::Init => ChatEventKind::History,
                    SubscriptionKind::Create => ChatEventKind::Created,
                    SubscriptionKind::Update => ChatEventKind::Edited,
                    SubscriptionKind::Delete => ChatEventKind::Deleted,
                    SubscriptionKind::Unsubscribe => return None,
                };
                let (messages, deleted) = match kind {
                    ChatEventKind::Deleted => (Vec::new(), deleted_keys(data)),
                    _ => (self.config.messages_for(data, me.as_deref()), Vec::new()),
                };
                Some(ChatEvent { room, kind, messages, deleted, subscription, request: 0 })
            }
            Event::Reply { request, result: Ok(data) } => {
                let room = self.room_of_page(*request)?;
                let messages = self.config.messages_for(data, me.as_deref());
                Some(ChatEvent { room, kind: ChatEventKind::Older, messages, deleted: Vec::new(), subscription: 0, request: *request })
            }
            _ => None,
        }
    }

    /// The user id the own flags of an event are judged by, at the time it is read.
    pub(crate) fn own_id(&self) -> Option<String> {
        self.me_id()
    }
}

/// The keys of a delete event, as text.
pub(crate) fn deleted_keys(data: &Value) -> Vec<String> {
    match data {
        Value::Array(keys) => keys.iter().filter_map(key_text).collect(),
        other => key_text(other).into_iter().collect(),
    }
}

fn key_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Commands for the session, sent in order once no lock is held.
struct SessionSend {
    session: WeakSessionHandle,
    before: Vec<Command>,
}

impl SessionSend {
    fn send(self, command: Command) {
        for c in self.before {
            self.session.send(c);
        }
        self.session.send(command);
    }
}

impl View for ChatState {
    fn view(&self, event: &mut Event) -> bool {
        if let Event::State { state, .. } = event {
            let now = *state == ConnectionState::Authenticated;
            let before = self.authenticated.swap(now, Ordering::AcqRel);
            if let Some(hub) = self.presence.get() {
                if now && !before {
                    hub.input(Input::Reconnected);
                } else if *state == ConnectionState::Closed {
                    hub.input(Input::Closed);
                }
            }
            if now && self.active.load(Ordering::Acquire) {
                let start = {
                    let mut inner = self.inner.lock();
                    // Renewals of the same login keep the user; a new connection's login
                    // or the user's own login may not.
                    if inner.identity.wanted && (!before || inner.identity.stale) {
                        self.prepare_fetch(&mut inner)
                    } else {
                        None
                    }
                };
                if let Some((_, command, session)) = start {
                    session.send(command);
                }
            }
            return true;
        }
        if !self.active.load(Ordering::Acquire) {
            return true;
        }
        if let Some(hub) = self.presence.get() {
            match event {
                Event::Subscription { uid, kind, data } if hub.owns_uid(uid) => {
                    if let Some(id) = Subscription::id_of_uid(uid) {
                        hub.input(Input::Event { id, kind: *kind, data: std::mem::take(data).into_value() });
                    }
                    return false;
                }
                // Refusals reach the machine through the subscribe's reply.
                Event::SubscriptionError { uid, .. } if hub.owns_uid(uid) => return false,
                _ => {}
            }
        }
        let mut unsubscribe = None;
        let keep = {
            let mut inner = self.inner.lock();
            match event {
                Event::Subscription { uid, kind, data } => {
                    if inner.hidden.contains(uid.as_str()) {
                        if *kind == SubscriptionKind::Init {
                            unsubscribe = self.identity_init(&mut inner, uid, data);
                        }
                        false
                    } else if let Some(room) = inner.joined.room_of(uid).cloned() {
                        match kind {
                            SubscriptionKind::Delete => {
                                // Only this room's messages: the server tells every
                                // subscription of every deletion.
                                let mine: Vec<Value> = match data.value() {
                                    Value::Array(keys) => keys
                                        .iter()
                                        .filter(|k| key_text(k).is_some_and(|k| inner.shown.room_of(&k) == Some(&room)))
                                        .cloned()
                                        .collect(),
                                    _ => Vec::new(),
                                };
                                let keep = !mine.is_empty();
                                *data = Data::from(Value::Array(mine));
                                keep
                            }
                            SubscriptionKind::Init | SubscriptionKind::Create | SubscriptionKind::Update => {
                                // Sorted in place: the surfaces read item i as message i.
                                let mut items = std::mem::take(data).into_value();
                                self.shown_items(&mut inner, &room, &mut items);
                                *data = Data::from(items);
                                true
                            }
                            SubscriptionKind::Unsubscribe => true,
                        }
                    } else {
                        true
                    }
                }
                Event::SubscriptionError { uid, error } => {
                    if inner.hidden.contains(uid.as_str()) {
                        drop(inner);
                        if let Some(id) = Subscription::id_of_uid(uid) {
                            self.identity_failed(id, Error::Server(error.clone()));
                        }
                        return false;
                    }
                    // A refused room is no room.
                    inner.joined.remove(uid);
                    true
                }
                _ => true,
            }
        };
        if let Some((id, session)) = unsubscribe {
            session.send(Command::Unsubscribe { id, reply: Reply::ignore() });
        }
        keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ErrorCode, ServerError};
    use serde_json::json;

    fn sub(id: u64) -> Subscription {
        Subscription::from_id(id)
    }

    fn event(id: u64, kind: SubscriptionKind, data: Value) -> Event {
        Event::Subscription { uid: sub(id).uid().into(), kind, data: data.into() }
    }

    #[test]
    fn rooms_get_their_messages_oldest_first_and_only_their_deletions() {
        let s = ChatState::new(ChatConfig::default(), 100);
        s.joining(&sub(1), Some("a".into()));
        s.joining(&sub(2), Some("b".into()));
        let mut init_a = event(
            1,
            SubscriptionKind::Init,
            json!([{"id":3,"room":"a","date_created":"2026-01-01T00:00:02.000Z"},{"id":1,"room":"a","date_created":"2026-01-01T00:00:01.000Z"}]),
        );
        assert!(s.view(&mut init_a));
        let Event::Subscription { data, .. } = &init_a else { panic!() };
        assert_eq!(data[0]["id"], 1, "oldest first");
        let mut create_b = event(2, SubscriptionKind::Create, json!([{"id":4,"room":"b","date_created":"2026-01-01T00:00:03.000Z"}]));
        assert!(s.view(&mut create_b));
        // The server sends the deletion of 4 (room b) to both subscriptions.
        let mut del_on_a = event(1, SubscriptionKind::Delete, json!(["4"]));
        let mut del_on_b = event(2, SubscriptionKind::Delete, json!(["4"]));
        assert!(!s.view(&mut del_on_a), "not room a's");
        assert!(s.view(&mut del_on_b));
        let ce = s.chat_event(&del_on_b).unwrap();
        assert_eq!((ce.room.as_deref(), ce.kind, ce.deleted.clone()), (Some("b"), ChatEventKind::Deleted, vec!["4".to_owned()]));
        // A mixed deletion keeps only the room's keys; never-shown keys are nobody's.
        let mut mixed = event(1, SubscriptionKind::Delete, json!([1, "4", 99]));
        assert!(s.view(&mut mixed));
        assert_eq!(s.chat_event(&mixed).unwrap().deleted, vec!["1".to_owned()]);
        // Other subscriptions pass untouched.
        let mut other = event(7, SubscriptionKind::Delete, json!(["4"]));
        assert!(s.view(&mut other));
        assert_eq!(s.cursor(&Some("a".into()), None).unwrap().map(|c| c.key), Some("1".into()));
        assert!(s.cursor(&Some("a".into()), Some("nope")).is_err());
    }

    #[test]
    fn a_page_is_shown_and_named() {
        let s = ChatState::new(ChatConfig::default(), 100);
        s.paging(9, None);
        let page = s
            .page_answer(
                &None,
                Ok(json!([{"id":8,"date_created":"2026-01-01T00:00:08.000Z","user_created":{"id":"me"}},{"id":7,"date_created":"2026-01-01T00:00:08.000Z"}])),
            )
            .unwrap();
        assert_eq!(page[0]["id"], 7, "same date: by key");
        assert_eq!(s.cursor(&None, None).unwrap().map(|c| c.key), Some("7".into()));
        let e = s.chat_event(&Event::Reply { request: 9, result: Ok(page) }).unwrap();
        assert_eq!(e.kind, ChatEventKind::Older);
        assert_eq!(e.messages.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["7", "8"]);
        assert!(!e.messages[1].own, "nobody is logged in");
    }

    #[test]
    fn identity_events_stay_inside_and_a_refusal_is_reported_to_the_waiter() {
        let s = ChatState::new(ChatConfig::default(), 100);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let handle = crate::session::SessionHandle::for_test(tx);
        s.attach(handle.downgrade(), Arc::new(Ids::default()));
        assert_eq!(s.want_identity(), None, "not logged in: nothing to fetch yet");
        assert!(s.view(&mut Event::state(ConnectionState::Authenticated)));
        let Some(cmd) = rx.try_recv().ok() else { panic!("a fetch starts with the login") };
        // The replies are kept: a dropped one would end its fetch as closed.
        let Command::Subscribe { id, request, reply: _first } = *cmd else { panic!() };
        assert_eq!(request.collection_name(), "directus_users");
        let mut init = event(id, SubscriptionKind::Init, json!([{"id":"u-1","first_name":"Kevin"}]));
        assert!(!s.view(&mut init), "the user's own subscription never shows");
        assert!(matches!(rx.try_recv().map(|c| *c), Ok(Command::Unsubscribe { id: u, .. }) if u == id));
        assert_eq!(s.me().map(|m| m.id), Some("u-1".into()));
        // A renewal of the same login keeps the user.
        assert!(s.view(&mut Event::state(ConnectionState::Authenticated)));
        assert!(rx.try_recv().is_err());
        // A new connection's login fetches again.
        for state in [ConnectionState::Disconnected, ConnectionState::Connecting, ConnectionState::Connected] {
            assert!(s.view(&mut Event::state(state)));
        }
        assert!(rx.try_recv().is_err(), "nothing before the login");
        assert!(s.view(&mut Event::state(ConnectionState::Authenticated)));
        let Command::Subscribe { id: again, reply: _third, .. } = *rx.try_recv().unwrap() else { panic!() };
        assert_ne!(again, id);
        assert!(!s.view(&mut event(again, SubscriptionKind::Init, json!([{"id":"u-1","first_name":"Kevin"}]))));
        assert!(matches!(rx.try_recv().map(|c| *c), Ok(Command::Unsubscribe { id: u, .. }) if u == again));
        assert_eq!(s.me().map(|m| m.id), Some("u-1".into()));
        // A new login of the user fetches again (and may be someone else).
        let n = s.login_requested().unwrap();
        assert!(s.view(&mut Event::state(ConnectionState::Authenticated)));
        let Command::Subscribe { id, reply: _second, .. } = *rx.try_recv().unwrap() else { panic!() };
        let refusal = ServerError::new(ErrorCode::Forbidden, "no");
        assert!(!s.view(&mut Event::SubscriptionError { uid: sub(id).uid().into(), error: refusal }));
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let r = rt.block_on(s.identity_after(n, Duration::from_secs(1)));
        assert!(matches!(r, Err(Error::Server(e)) if e.code == ErrorCode::Forbidden));
    }
}
