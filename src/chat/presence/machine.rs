//! The decisions of presence, typing and read receipts, without a socket or a clock:
//! inputs (calls, subscription events, answers, the time in ms) in, [`Action`]s out.
//!
//! Times are local wall-clock milliseconds given by the caller; the server's clock is
//! estimated from the dates the server stamps on our own writes (see [`ServerClock`]).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use serde_json::Value;

use super::schema::{self, PresenceRow, ReceiptRow};
use super::{Member, PresenceConfig, PresenceEvent, Reader};
use crate::chat::ChatConfig;
use crate::error::Error;
use crate::protocol::{format_date_ms, parse_date_ms, read_count_and_max, ErrorCode, ItemsRequest, SubscribeRequest, SubscriptionKind};
use crate::session::Ids;

/// What a request of the machine was for, handed back with its answer.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Token {
    /// A write of one's presence row (`create`: else an update).
    Presence { room: String, create: bool },
    /// The delete of a clean exit, completing `waiter`.
    Exit { waiter: Option<u64> },
    /// A write of one's read marker.
    Receipt { room: String, create: bool, message: String, date: String, waiter: Option<u64>, flips: u8 },
    /// The date of a message to be marked read.
    MessageDate { room: String, message: String, waiter: Option<u64> },
    /// An unread count, of generation `generation`.
    Count { room: String, generation: u64, since: Option<String> },
}

/// What the driver does for the machine.
#[derive(Debug)]
pub(crate) enum Action {
    /// Sends an items request; its answer comes back with `token`.
    Request { token: Token, request: ItemsRequest },
    /// Subscribes (its events come back by subscription number).
    Subscribe { id: u64, request: SubscribeRequest },
    /// Ends a subscription.
    Unsubscribe { id: u64 },
    /// Tells the user.
    Emit(PresenceEvent),
    /// Tells the user about a failure not tied to a call.
    Error(Error),
    /// Completes a call that waited.
    Done { waiter: u64, result: Result<Value, Error> },
}

/// The server's clock as seen from here: its time minus ours. A write's date is stamped
/// before its answer arrives, so each sample is at most the true offset; the greatest
/// of the recent ones is the best estimate.
#[derive(Debug, Default)]
pub(crate) struct ServerClock {
    samples: VecDeque<i64>,
}

impl ServerClock {
    const KEEP: usize = 8;

    pub(crate) fn sample(&mut self, server_ms: i64, local_ms: i64) {
        self.samples.push_back(server_ms - local_ms);
        while self.samples.len() > Self::KEEP {
            self.samples.pop_front();
        }
    }

    /// The server's time now, by estimate (the local time until a sample arrived).
    pub(crate) fn now(&self, local_ms: i64) -> i64 {
        local_ms + self.samples.iter().copied().max().unwrap_or(0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Known {
    Unknown,
    Exists,
    Absent,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Watch {
    Presence,
    Receipts,
    Messages,
}

/// One's own row in a room and when to write it.
#[derive(Debug)]
struct Own {
    row: Known,
    in_flight: bool,
    /// Local time of the last write issued; `None`: write at once (entry, reconnect).
    last_write: Option<i64>,
    /// Local time of the last `set_typing(true)`.
    typing_call: Option<i64>,
    /// The typing flag of the last write issued.
    typing_written: bool,
    /// `set_typing(false)` while the row says typing: clear at once.
    clear_now: bool,
    /// Create/update switches in a row without a success (a guard against a loop when
    /// the server refuses both).
    flips: u8,
    /// After a failure, no write before this time.
    retry_at: Option<i64>,
    /// The call waiting for the first write.
    waiter: Option<u64>,
    writes: u64,
}

impl Own {
    fn new(waiter: Option<u64>) -> Own {
        Own {
            row: Known::Unknown,
            in_flight: false,
            last_write: None,
            typing_call: None,
            typing_written: false,
            clear_now: false,
            flips: 0,
            retry_at: None,
            waiter,
            writes: 0,
        }
    }
}

#[derive(Debug)]
struct Row {
    name: Option<String>,
    typing: bool,
    updated_ms: i64,
}

#[derive(Debug, Default)]
struct Unread {
    /// One's read marker's date, as the server sent it.
    since: Option<String>,
    receipts_synced: bool,
    /// The new-messages subscription is live (its `init` arrived).
    live: bool,
    count: Option<u64>,
    /// The generation of the count on the way, if one is.
    counting: Option<u64>,
    generation: u64,
    /// New messages that arrived while a count was on the way: key, date, author.
    pending: Vec<(String, i64, Option<String>)>,
    /// The count covers every message up to this date.
    watermark: Option<i64>,
    counted: HashSet<String>,
    emitted: Option<u64>,
}

#[derive(Debug)]
struct RoomState {
    subs: Vec<u64>,
    own: Own,
    rows: HashMap<String, Row>,
    /// What the user was told per user: (online, typing).
    shown: HashMap<String, (bool, bool, Option<String>)>,
    receipts: HashMap<String, ReceiptRow>,
    unread: Unread,
}

/// Presence, typing and receipts of every room a client is in.
pub(crate) struct Machine {
    cfg: PresenceConfig,
    chat: ChatConfig,
    ids: Arc<Ids>,
    me: Option<String>,
    clock: ServerClock,
    rooms: HashMap<String, RoomState>,
    subs: HashMap<u64, (String, Watch)>,
    out: Vec<Action>,
}

fn error_code(e: &Error) -> Option<&ErrorCode> {
    match e {
        Error::Server(s) => Some(&s.code),
        _ => None,
    }
}

impl Machine {
    pub(crate) fn new(cfg: PresenceConfig, chat: ChatConfig, ids: Arc<Ids>) -> Machine {
        Machine { cfg, chat, ids, me: None, clock: ServerClock::default(), rooms: HashMap::new(), subs: HashMap::new(), out: Vec::new() }
    }

    /// The actions decided since the last call.
    pub(crate) fn take(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.out)
    }

    fn ms(d: std::time::Duration) -> i64 {
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
    }

    // ---- calls

    /// Enters `room` as user `me`: subscribes to its presence, receipts and new
    /// messages and writes one's row; `waiter` completes with the first write.
    pub(crate) fn enter(&mut self, room: &str, me: &str, now: i64, waiter: Option<u64>) {
        self.me = Some(me.to_owned());
        if self.rooms.contains_key(room) {
            if let Some(w) = waiter {
                self.out.push(Action::Done { waiter: w, result: Ok(Value::Null) });
            }
            return;
        }
        let mut subs = Vec::new();
        let mut requests = vec![
            (Watch::Presence, schema::presence_subscription(&self.cfg, room)),
            (Watch::Receipts, schema::receipts_subscription(&self.cfg, room)),
        ];
        requests.extend(schema::new_messages_subscription(&self.chat, room).map(|r| (Watch::Messages, r)));
        for (watch, request) in requests {
            let id = self.ids.next();
            subs.push(id);
            self.subs.insert(id, (room.to_owned(), watch));
            self.out.push(Action::Subscribe { id, request });
        }
        let state = RoomState {
            subs,
            own: Own::new(waiter),
            rows: HashMap::new(),
            shown: HashMap::new(),
            receipts: HashMap::new(),
            unread: Unread::default(),
        };
        self.rooms.insert(room.to_owned(), state);
        self.step(room, now);
    }

    /// Exits `room`: its subscriptions end, one's row is deleted (peers see the exit at
    /// once), and nothing more of the room is told.
    pub(crate) fn exit(&mut self, room: &str, waiter: Option<u64>) {
        let (Some(state), Some(me)) = (self.rooms.remove(room), self.me.clone()) else {
            if let Some(w) = waiter {
                self.out.push(Action::Done { waiter: w, result: Ok(Value::Null) });
            }
            return;
        };
        for id in state.subs {
            self.subs.remove(&id);
            self.out.push(Action::Unsubscribe { id });
        }
        if let Some(w) = state.own.waiter {
            self.out.push(Action::Done { waiter: w, result: Err(Error::Cancelled) });
        }
        let request = schema::presence_delete(&self.cfg, &me, room);
        self.out.push(Action::Request { token: Token::Exit { waiter }, request });
    }

    /// Whether the client is in `room`.
    pub(crate) fn entered(&self, room: &str) -> bool {
        self.rooms.contains_key(room)
    }

    /// The user types (`true`, call it with every keystroke) or stopped (`false`).
    pub(crate) fn set_typing(&mut self, room: &str, typing: bool, now: i64) -> Result<(), Error> {
        let state = self.rooms.get_mut(room).ok_or_else(|| not_entered(room))?;
        if typing {
            state.own.typing_call = Some(now);
            state.own.clear_now = false;
        } else {
            state.own.typing_call = None;
            state.own.clear_now = state.own.typing_written;
        }
        self.step(room, now);
        Ok(())
    }

    /// Marks `message` (with its `date`, when known) as read in `room`.
    pub(crate) fn mark_read(&mut self, room: &str, message: &str, date: Option<String>, waiter: Option<u64>) -> Result<(), Error> {
        if !self.rooms.contains_key(room) {
            return Err(not_entered(room));
        }
        match date {
            Some(date) => self.write_receipt(room, message, date, waiter, 0),
            None => {
                let request = schema::message_date_request(&self.chat, message);
                let token = Token::MessageDate { room: room.to_owned(), message: message.to_owned(), waiter };
                self.out.push(Action::Request { token, request });
            }
        }
        Ok(())
    }

    fn write_receipt(&mut self, room: &str, message: &str, date: String, waiter: Option<u64>, flips: u8) {
        let (Some(state), Some(me)) = (self.rooms.get(room), self.me.as_deref()) else {
            if let Some(w) = waiter {
                self.out.push(Action::Done { waiter: w, result: Err(not_entered(room)) });
            }
            return;
        };
        let create = !state.receipts.contains_key(me);
        let request = if create {
            schema::receipt_create(&self.cfg, me, room, message, &date)
        } else {
            schema::receipt_update(&self.cfg, me, room, message, &date)
        };
        let token = Token::Receipt { room: room.to_owned(), create, message: message.to_owned(), date, waiter, flips };
        self.out.push(Action::Request { token, request });
    }

    // ---- the connection

    /// Logged in again on a new connection: every row is written at once (it may have
    /// expired meanwhile), and unread counts are counted again once the new-messages
    /// subscriptions are back.
    pub(crate) fn reconnected(&mut self, now: i64) {
        let rooms: Vec<String> = self.rooms.keys().cloned().collect();
        for room in rooms {
            if let Some(state) = self.rooms.get_mut(&room) {
                state.own.last_write = None;
                state.unread.live = false;
            }
            self.step(&room, now);
        }
    }

    /// The time passed: writes that are due, rows that expired.
    pub(crate) fn tick(&mut self, now: i64) {
        let rooms: Vec<String> = self.rooms.keys().cloned().collect();
        for room in rooms {
            self.step(&room, now);
        }
    }

    // ---- answers

    /// The answer of a request made with `token`.
    pub(crate) fn answer(&mut self, token: Token, result: Result<Value, Error>, now: i64) {
        match token {
            Token::Presence { room, create } => self.presence_written(&room, create, result, now),
            Token::Exit { waiter } => {
                if let Some(w) = waiter {
                    // A row already gone (expired and cleaned, never written) is exited too.
                    let result = match result {
                        Err(e) if error_code(&e) == Some(&ErrorCode::Forbidden) => Ok(Value::Null),
                        r => r,
                    };
                    self.out.push(Action::Done { waiter: w, result });
                }
            }
            Token::MessageDate { room, message, waiter } => {
                let date = result.and_then(|data| {
                    schema::message_date(&self.chat, &data).ok_or_else(|| Error::Protocol(format!("message {message} has no date")))
                });
                match date {
                    Ok(date) => self.write_receipt(&room, &message, date, waiter, 0),
                    Err(e) => self.fail(waiter, e),
                }
            }
            Token::Receipt { room, create, message, date, waiter, flips } => match result {
                Ok(row) => {
                    if let (Some(state), Some(r)) = (self.rooms.get_mut(&room), ReceiptRow::parse(&row)) {
                        state.receipts.insert(r.user.clone(), r);
                    }
                    self.set_since(&room, Some(date), true);
                    if let Some(w) = waiter {
                        self.out.push(Action::Done { waiter: w, result: Ok(row) });
                    }
                }
                Err(e) if flips < 2 && switches(create, &e) => {
                    if let (Some(state), Some(me)) = (self.rooms.get_mut(&room), self.me.clone()) {
                        if create {
                            // It exists: a placeholder until the subscription tells.
                            let row =
                                ReceiptRow { user: me.clone(), name: None, room: room.clone(), last_read: None, last_read_date: None };
                            state.receipts.insert(me, row);
                        } else {
                            state.receipts.remove(&me);
                        }
                    }
                    self.write_receipt(&room, &message, date, waiter, flips + 1);
                }
                Err(e) => self.fail(waiter, e),
            },
            Token::Count { room, generation, since } => self.counted(&room, generation, since, result),
        }
    }

    fn fail(&mut self, waiter: Option<u64>, e: Error) {
        match waiter {
            Some(w) => self.out.push(Action::Done { waiter: w, result: Err(e) }),
            None => self.out.push(Action::Error(e)),
        }
    }

    fn presence_written(&mut self, room: &str, create: bool, result: Result<Value, Error>, now: i64) {
        let heartbeat = Self::ms(self.cfg.heartbeat);
        let Some(state) = self.rooms.get_mut(room) else { return };
        let own = &mut state.own;
        own.in_flight = false;
        match result {
            Ok(row) => {
                own.row = Known::Exists;
                own.flips = 0;
                own.retry_at = None;
                if let Some(server) = schema::written_at(&row) {
                    self.clock.sample(server, now);
                }
                if let Some(w) = own.waiter.take() {
                    self.out.push(Action::Done { waiter: w, result: Ok(row) });
                }
            }
            Err(e) if own.flips < 2 && switches(create, &e) => {
                // The row's existence was not what we thought: the other way at once.
                own.row = if create { Known::Exists } else { Known::Absent };
                own.flips += 1;
                own.last_write = None;
            }
            Err(e) => {
                own.flips = 0;
                // Try again with the next heartbeat (the session resends over
                // reconnects by itself; this is the server refusing).
                own.retry_at = Some(now + heartbeat.min(2_000));
                own.row = Known::Unknown;
                own.last_write = None;
                match own.waiter.take() {
                    Some(w) => self.out.push(Action::Done { waiter: w, result: Err(e) }),
                    None => self.out.push(Action::Error(e)),
                }
            }
        }
        self.step(room, now);
    }

    // ---- subscription events

    /// An event of one of our subscriptions.
    pub(crate) fn event(&mut self, id: u64, kind: SubscriptionKind, data: &Value, now: i64) {
        let Some((room, watch)) = self.subs.get(&id).cloned() else { return };
        match watch {
            Watch::Presence => self.presence_event(&room, kind, data),
            Watch::Receipts => self.receipts_event(&room, kind, data),
            Watch::Messages => self.messages_event(&room, kind, data),
        }
        self.step(&room, now);
    }

    /// One of our subscriptions was refused: presence cannot work in that room.
    pub(crate) fn refused(&mut self, id: u64, error: Error) {
        if self.subs.contains_key(&id) {
            self.out.push(Action::Error(error));
        }
    }

    fn presence_event(&mut self, room: &str, kind: SubscriptionKind, data: &Value) {
        let Some(state) = self.rooms.get_mut(room) else { return };
        let items: &[Value] = match data {
            Value::Array(a) => a,
            _ => &[],
        };
        match kind {
            SubscriptionKind::Init | SubscriptionKind::Create | SubscriptionKind::Update => {
                if kind == SubscriptionKind::Init {
                    state.rows.clear();
                }
                for row in items.iter().filter_map(PresenceRow::parse).filter(|r| r.room == room) {
                    state.rows.insert(row.user, Row { name: row.name, typing: row.typing, updated_ms: row.updated_ms });
                }
            }
            SubscriptionKind::Delete => {
                // Every deletion of the collection reaches every subscription: only
                // this room's rows count.
                for key in items.iter().filter_map(Value::as_str) {
                    if let Some((user, r)) = schema::split_row_id(key) {
                        if r == room {
                            state.rows.remove(user);
                        }
                    }
                }
            }
            SubscriptionKind::Unsubscribe => {}
        }
    }

    fn receipts_event(&mut self, room: &str, kind: SubscriptionKind, data: &Value) {
        let me = self.me.clone();
        let Some(state) = self.rooms.get_mut(room) else { return };
        let items: &[Value] = match data {
            Value::Array(a) => a,
            _ => &[],
        };
        let mut since = None;
        match kind {
            SubscriptionKind::Init | SubscriptionKind::Create | SubscriptionKind::Update => {
                for row in items.iter().filter_map(ReceiptRow::parse).filter(|r| r.room == room) {
                    if Some(&row.user) == me.as_ref() {
                        since = Some(row.last_read_date.clone());
                    }
                    if kind != SubscriptionKind::Init {
                        let changed = state.receipts.get(&row.user).map(|r| &r.last_read) != Some(&row.last_read);
                        if changed {
                            self.out.push(Action::Emit(PresenceEvent::Read {
                                room: room.to_owned(),
                                user: row.user.clone(),
                                name: row.name.clone(),
                                last_read: row.last_read.clone(),
                            }));
                        }
                    }
                    state.receipts.insert(row.user.clone(), row);
                }
            }
            SubscriptionKind::Delete => {
                for key in items.iter().filter_map(Value::as_str) {
                    if let Some((user, r)) = schema::split_row_id(key) {
                        if r == room {
                            state.receipts.remove(user);
                        }
                    }
                }
            }
            SubscriptionKind::Unsubscribe => {}
        }
        let first = kind == SubscriptionKind::Init && !state.unread.receipts_synced;
        state.unread.receipts_synced = true;
        match since {
            Some(s) => self.set_since(room, s, false),
            None if first => self.recount(room),
            None => {}
        }
    }

    /// One's read marker in `room` is at `since` now: count again if it moved (or when
    /// `force`d, after one's own mark).
    fn set_since(&mut self, room: &str, since: Option<String>, force: bool) {
        let Some(state) = self.rooms.get_mut(room) else { return };
        let moved = state.unread.since != since;
        state.unread.since = since;
        if moved || force || state.unread.count.is_none() {
            self.recount(room);
        }
    }

    fn recount(&mut self, room: &str) {
        let Some(state) = self.rooms.get_mut(room) else { return };
        let u = &mut state.unread;
        if !u.receipts_synced || !u.live || self.me.is_none() {
            return;
        }
        let Some(request) = schema::unread_count_request(&self.chat, room, u.since.as_deref()) else { return };
        u.generation += 1;
        u.counting = Some(u.generation);
        u.pending.clear();
        let token = Token::Count { room: room.to_owned(), generation: u.generation, since: u.since.clone() };
        self.out.push(Action::Request { token, request });
    }

    fn counted(&mut self, room: &str, generation: u64, since: Option<String>, result: Result<Value, Error>) {
        let date_field = self.chat.date_field.clone();
        let me = self.me.clone();
        let Some(state) = self.rooms.get_mut(room) else { return };
        let u = &mut state.unread;
        if u.counting != Some(generation) {
            return;
        }
        u.counting = None;
        let Some((n, max)) = result.as_ref().ok().and_then(|data| read_count_and_max(data, &date_field)) else {
            let e = result.err().unwrap_or_else(|| Error::Protocol("the unread count's answer has no count".into()));
            self.out.push(Action::Error(e));
            return;
        };
        let since_ms = since.as_ref().and_then(|s| parse_date_ms(&Value::from(s.as_str())));
        let watermark = max.as_ref().and_then(parse_date_ms).max(since_ms);
        let mut count = n;
        u.counted.clear();
        for (key, date, author) in std::mem::take(&mut u.pending) {
            if author.is_some() && author == me {
                continue;
            }
            if watermark.is_none_or(|w| date > w) && u.counted.insert(key) {
                count += 1;
            }
        }
        u.watermark = watermark;
        u.count = Some(count);
        self.emit_unread(room);
    }

    fn messages_event(&mut self, room: &str, kind: SubscriptionKind, data: &Value) {
        let me = self.me.clone();
        let chat = self.chat.clone();
        let Some(state) = self.rooms.get_mut(room) else { return };
        match kind {
            SubscriptionKind::Init => {
                // The subscription is live (again): what arrives from now on is new.
                state.unread.live = true;
                self.recount(room);
            }
            SubscriptionKind::Create => {
                let items: Vec<Value> = match data {
                    Value::Array(a) => a.clone(),
                    v @ Value::Object(_) => vec![v.clone()],
                    _ => Vec::new(),
                };
                let u = &mut state.unread;
                for (key, date, author) in items.iter().filter_map(|i| schema::new_message(&chat, i)) {
                    if u.counting.is_some() {
                        u.pending.push((key, date, author));
                        continue;
                    }
                    if u.count.is_none() || (author.is_some() && author == me) {
                        continue;
                    }
                    if u.watermark.is_none_or(|w| date > w) && u.counted.insert(key) {
                        u.count = u.count.map(|c| c + 1);
                    }
                }
                self.emit_unread(room);
            }
            _ => {}
        }
    }

    fn emit_unread(&mut self, room: &str) {
        let Some(state) = self.rooms.get_mut(room) else { return };
        let u = &mut state.unread;
        if let Some(count) = u.count {
            if u.emitted != Some(count) {
                u.emitted = Some(count);
                self.out.push(Action::Emit(PresenceEvent::Unread { room: room.to_owned(), count }));
            }
        }
    }

    // ---- the per-room step: writes due, what peers see

    fn step(&mut self, room: &str, now: i64) {
        self.write_if_due(room, now);
        self.judge(room, now);
    }

    fn write_if_due(&mut self, room: &str, now: i64) {
        let (heartbeat, interval, typing_ttl) =
            (Self::ms(self.cfg.heartbeat), Self::ms(self.cfg.typing_interval), Self::ms(self.cfg.typing_ttl));
        let Some(me) = self.me.clone() else { return };
        let Some(state) = self.rooms.get_mut(room) else { return };
        let own = &mut state.own;
        if own.in_flight || own.retry_at.is_some_and(|t| now < t) {
            return;
        }
        // The flag says "typing" only with a keystroke since the last write: a heartbeat
        // without one writes it off, so it never keeps a stopped typist on peers'
        // screens longer than the typing TTL after their last keystroke.
        let fresh = own.typing_call.is_some_and(|t| own.last_write.is_none_or(|w| t > w));
        let typing = fresh && own.typing_call.is_some_and(|t| now - t < typing_ttl);
        let due = match own.last_write {
            None => true,
            Some(last) => (typing && !own.typing_written) || own.clear_now || (typing && now - last >= interval) || now - last >= heartbeat,
        };
        if !due {
            return;
        }
        let create = own.row != Known::Exists;
        let request = if create {
            schema::presence_create(&self.cfg, &me, room, typing)
        } else {
            schema::presence_update(&self.cfg, &me, room, typing)
        };
        own.in_flight = true;
        own.last_write = Some(now);
        own.typing_written = typing;
        own.clear_now = false;
        own.writes += 1;
        self.out.push(Action::Request { token: Token::Presence { room: room.to_owned(), create }, request });
    }

    /// Compares what peers' rows say now with what the user was told, and tells the
    /// difference.
    fn judge(&mut self, room: &str, now: i64) {
        let server_now = self.clock.now(now);
        let (ttl, typing_ttl) = (Self::ms(self.cfg.ttl), Self::ms(self.cfg.typing_ttl));
        let Some(state) = self.rooms.get_mut(room) else { return };
        let mut users: Vec<String> = state.rows.keys().chain(state.shown.keys()).cloned().collect();
        users.sort();
        users.dedup();
        for user in users {
            let (online, typing, name) = match state.rows.get(&user) {
                Some(r) => {
                    let online = r.updated_ms + ttl > server_now;
                    (online, online && r.typing && r.updated_ms + typing_ttl > server_now, r.name.clone())
                }
                None => (false, false, state.shown.get(&user).and_then(|s| s.2.clone())),
            };
            let (was_online, was_typing) = state.shown.get(&user).map_or((false, false), |s| (s.0, s.1));
            let r = room.to_owned();
            if was_typing && !typing {
                self.out.push(Action::Emit(PresenceEvent::Typing {
                    room: r.clone(),
                    user: user.clone(),
                    name: name.clone(),
                    typing: false,
                }));
            }
            if was_online != online {
                self.out.push(Action::Emit(PresenceEvent::Online { room: r.clone(), user: user.clone(), name: name.clone(), online }));
            }
            if typing && !was_typing {
                self.out.push(Action::Emit(PresenceEvent::Typing { room: r, user: user.clone(), name: name.clone(), typing: true }));
            }
            if online || typing {
                state.shown.insert(user, (online, typing, name));
            } else {
                state.shown.remove(&user);
            }
        }
    }

    // ---- what the user asks

    /// Who is online in `room` (as last told), by user id; `None` when not in it.
    pub(crate) fn online(&self, room: &str) -> Option<Vec<Member>> {
        let state = self.rooms.get(room)?;
        let mut members: Vec<Member> = state
            .shown
            .iter()
            .filter(|(_, s)| s.0)
            .map(|(user, s)| Member {
                user: user.clone(),
                name: s.2.clone(),
                typing: s.1,
                seen: state.rows.get(user).map(|r| format_date_ms(r.updated_ms)).unwrap_or_default(),
            })
            .collect();
        members.sort_by(|a, b| a.user.cmp(&b.user));
        Some(members)
    }

    /// The unread count of `room`, once counted.
    pub(crate) fn unread(&self, room: &str) -> Option<u64> {
        self.rooms.get(room)?.unread.count
    }

    /// Users whose read marker in `room` is at a message of `date` or later.
    pub(crate) fn readers(&self, room: &str, message: &str, date: Option<&str>) -> Option<Vec<Reader>> {
        let state = self.rooms.get(room)?;
        let at = date.and_then(|d| parse_date_ms(&Value::from(d)));
        let mut readers: Vec<Reader> = state
            .receipts
            .values()
            .filter(|r| {
                let by_date = r.last_read_date.as_ref().and_then(|d| parse_date_ms(&Value::from(d.as_str())));
                r.last_read.as_deref() == Some(message) || matches!((by_date, at), (Some(d), Some(a)) if d >= a)
            })
            .map(|r| Reader {
                user: r.user.clone(),
                name: r.name.clone(),
                last_read: r.last_read.clone(),
                last_read_date: r.last_read_date.clone(),
            })
            .collect();
        readers.sort_by(|a, b| a.user.cmp(&b.user));
        Some(readers)
    }

    /// How many presence writes this client issued in `room` (for tests and the
    /// writes-per-minute figures).
    pub(crate) fn writes(&self, room: &str) -> Option<u64> {
        Some(self.rooms.get(room)?.own.writes)
    }
}

/// Whether a failed upsert should switch between create and update: a create that met
/// the row, or an update refused because the row is gone.
fn switches(create: bool, e: &Error) -> bool {
    match error_code(e) {
        Some(ErrorCode::RecordNotUnique) => create,
        Some(ErrorCode::Forbidden) => !create,
        _ => false,
    }
}

fn not_entered(room: &str) -> Error {
    Error::InvalidArgument(format!("not in room {room:?}: enter it first"))
}

#[cfg(test)]
mod tests;
