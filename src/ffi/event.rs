//! `dchat_event`: one event, read through accessor functions.

use std::collections::HashMap;
use std::ffi::{c_char, CString};
use std::sync::Arc;

use once_cell::sync::OnceCell;
use parking_lot::Mutex;

use super::connection::dchat_close_cause;
use super::status::{boundary, boundary_value};
use crate::chat::rooms::Room;
use crate::chat::state::ChatState;
use crate::chat::MessageView;
use crate::client::Subscription;
use crate::data::Data;
use crate::error::Error;
use crate::event::{ConnectionState, Event};
use crate::protocol::SubscriptionKind;

/// What an event is about.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum dchat_kind {
    /// The connection changed state: see `dchat_event_state` and `dchat_event_text`.
    DCHAT_EVENT_STATE = 0,
    /// A subscription event: history (`init`), create, update or delete.
    DCHAT_EVENT_SUBSCRIPTION = 1,
    /// The server refused or ended a subscription.
    DCHAT_EVENT_SUBSCRIPTION_ERROR = 2,
    /// The outcome of a `dchat_send` / `dchat_items_nowait` request.
    DCHAT_EVENT_REPLY = 3,
    /// An error not tied to a request (expired token, undecodable frame, ...).
    DCHAT_EVENT_ERROR = 4,
    /// A message of a type this library does not know; its JSON is kept.
    DCHAT_EVENT_UNKNOWN = 5,
    /// An outbox entry changed state: see `dchat_event_outbox_state` and the other
    /// `dchat_event_outbox_*` accessors; its item is the JSON, its chat message (the
    /// local echo) is message 0; a failure has a code and text.
    DCHAT_EVENT_OUTBOX = 6,
    /// A user came online or went offline in a room the client entered
    /// (`dchat_enter`): `dchat_event_room`, `dchat_event_user_id`,
    /// `dchat_event_user_name`, `dchat_event_flag` (1 online, 0 offline).
    DCHAT_EVENT_PRESENCE = 7,
    /// A user started (`dchat_event_flag` 1) or stopped (0) typing in an entered room.
    DCHAT_EVENT_TYPING = 8,
    /// The unread count of an entered room changed: `dchat_event_room`,
    /// `dchat_event_count`.
    DCHAT_EVENT_UNREAD = 9,
    /// A user's read marker moved in an entered room: `dchat_event_user_id`,
    /// `dchat_event_last_read` (the key of the last message they read).
    DCHAT_EVENT_READ = 10,
    /// Progress of an upload or download (`dchat_upload_nowait`,
    /// `dchat_download_nowait`): see `dchat_event_transfer`; `dchat_event_request` names
    /// the transfer. Its outcome follows as a `DCHAT_EVENT_REPLY` with the same id.
    DCHAT_EVENT_TRANSFER = 11,
}

/// Connection states.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum dchat_state {
    /// Opening the WebSocket.
    DCHAT_STATE_CONNECTING = 0,
    /// Open, not authenticated.
    DCHAT_STATE_CONNECTED = 1,
    /// Authenticated.
    DCHAT_STATE_AUTHENTICATED = 2,
    /// The connection was lost; the text says why.
    DCHAT_STATE_DISCONNECTED = 3,
    /// Closed for good: always the last event of a client.
    DCHAT_STATE_CLOSED = 4,
}

/// The event of a subscription event.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum dchat_sub_event {
    /// Not a subscription event.
    DCHAT_SUB_NONE = 0,
    /// The history, first event of a subscription.
    DCHAT_SUB_INIT = 1,
    /// Items were created.
    DCHAT_SUB_CREATE = 2,
    /// Items were updated.
    DCHAT_SUB_UPDATE = 3,
    /// Items were deleted; the JSON holds their keys.
    DCHAT_SUB_DELETE = 4,
}

/// The C strings of one chat message, in one buffer: a message is read for up to nine
/// fields, and one allocation for all of them cost a fifth of what one per field did
/// (callgrind, event flood).
#[derive(Clone)]
pub(super) struct Message {
    /// The fields' texts, each followed by a NUL.
    buf: Box<[u8]>,
    /// Where each field starts in `buf` (by [`Field`]), or `NONE`.
    at: [u32; FIELDS],
    pub(super) own: bool,
    /// The attached file, where the schema has a file field (see `files.rs`).
    pub(super) file: Option<MessageFile>,
}

/// A field of a chat message, as C reads it.
#[derive(Clone, Copy)]
pub(super) enum Field {
    Id,
    Key,
    Text,
    Author,
    Date,
    Room,
    AuthorId,
    Updated,
}

const FIELDS: usize = 8;
const NONE: u32 = u32::MAX;

impl Message {
    fn of(m: &MessageView<'_>) -> Self {
        let fields: [Option<&str>; FIELDS] = [
            Some(&m.id),
            Some(&m.key),
            Some(&m.text),
            m.author.as_deref(),
            m.date.as_deref(),
            m.room.as_deref(),
            m.author_id.as_deref(),
            m.updated.as_deref(),
        ];
        let mut buf = Vec::with_capacity(fields.iter().flatten().map(|f| f.len() + 1).sum());
        let mut at = [NONE; FIELDS];
        for (slot, field) in at.iter_mut().zip(fields) {
            if let Some(text) = field {
                *slot = u32::try_from(buf.len()).unwrap_or(NONE);
                // Interior NULs cannot cross into C strings; they are dropped rather
                // than truncating (text without one, all but hostile input, is copied
                // as a block).
                if text.contains('\0') {
                    buf.extend(text.bytes().filter(|&b| b != 0));
                } else {
                    buf.extend_from_slice(text.as_bytes());
                }
                buf.push(0);
            }
        }
        let file = m.file().as_ref().and_then(MessageFile::of);
        Message { buf: buf.into_boxed_slice(), at, own: m.own, file }
    }

    /// The field as a C string borrowed from the message; NULL when it has none.
    pub(super) fn ptr(&self, field: Field) -> *const c_char {
        match self.at[field as usize] {
            NONE => std::ptr::null(),
            at => self.buf[at as usize..].as_ptr().cast(),
        }
    }

    /// Whether the message has the field.
    pub(super) fn has(&self, field: Field) -> bool {
        self.at[field as usize] != NONE
    }
}

/// The attachment of a chat message: its id, name, MIME type and size.
#[derive(Clone)]
pub(super) struct MessageFile {
    pub(super) id: CString,
    pub(super) name: Option<CString>,
    pub(super) mime: Option<CString>,
    pub(super) size: Option<u64>,
}

impl MessageFile {
    fn of(f: &crate::FileInfo) -> Option<Self> {
        Some(MessageFile { id: c(&f.id), name: f.name.as_deref().map(c), mime: f.mime.as_deref().map(c), size: f.size })
    }
}

/// One event. In callback mode it is borrowed for the duration of the callback; from
/// `dchat_poll` it is owned by the caller and freed with `dchat_event_free`. Strings
/// returned by its accessors live as long as the event.
pub struct dchat_event {
    pub(super) kind: dchat_kind,
    state: dchat_state,
    sub_event: dchat_sub_event,
    subscription: u64,
    request: u64,
    /// The error code (Directus code or library code), for errors and failed replies.
    code: Option<CString>,
    /// The reason of a state change or the message of an error.
    text: Option<CString>,
    pub(super) data: Data,
    /// For state events: the attempt, the delay before the next one, why it closed
    /// (see `connection.rs`).
    pub(crate) attempt: u32,
    pub(crate) retry_ms: i64,
    pub(crate) cause: dchat_close_cause,
    chat: Arc<ChatState>,
    json: OnceCell<CString>,
    messages: OnceCell<Vec<Message>>,
    /// For `DCHAT_EVENT_OUTBOX`: the entry's parts.
    pub(super) outbox: Option<super::outbox::EventOutbox>,
    /// For chat events (a joined room's events, history pages): the room.
    pub(super) chat_room: Option<Room>,
    pub(super) room_text: Option<CString>,
    pub(super) deleted: OnceCell<Vec<CString>>,
    /// For presence, typing, unread and read events.
    pub(super) presence: Option<super::presence::EventPresence>,
    /// Strings handed out by the item accessors, by item and JSON pointer: they live as
    /// long as the event (a CString's bytes stay put when the map grows).
    pub(super) strings: Mutex<HashMap<(usize, Box<str>), CString>>,
    /// For `DCHAT_EVENT_TRANSFER`: bytes moved and the total (-1: unknown).
    pub(super) transfer: (u64, i64),
}

pub(super) fn c(text: &str) -> CString {
    // Interior NULs cannot cross into C strings; they are dropped rather than truncating.
    // Text without one (all but hostile input) is copied once.
    CString::new(text).unwrap_or_else(|_| CString::new(text.replace('\0', "")).unwrap_or_default())
}

impl dchat_event {
    pub(crate) fn new(event: Event, chat: Arc<ChatState>) -> Self {
        let chat_room = match &event {
            Event::Subscription { uid, .. } => chat.room_of_subscription(uid),
            Event::Reply { request, result: Ok(_) } => chat.room_of_page(*request),
            _ => None,
        };
        Self::with_room(event, chat, chat_room)
    }

    /// An event read as a chat event of `chat_room` when that is set (the blocking
    /// calls' answers, which no registry names).
    pub(super) fn with_room(event: Event, chat: Arc<ChatState>, chat_room: Option<Room>) -> Self {
        let mut e = dchat_event {
            kind: dchat_kind::DCHAT_EVENT_STATE,
            state: dchat_state::DCHAT_STATE_CONNECTED,
            sub_event: dchat_sub_event::DCHAT_SUB_NONE,
            subscription: 0,
            request: 0,
            code: None,
            text: None,
            data: Data::null(),
            attempt: 0,
            retry_ms: -1,
            cause: dchat_close_cause::DCHAT_CLOSE_NONE,
            chat,
            json: OnceCell::new(),
            messages: OnceCell::new(),
            outbox: None,
            room_text: chat_room.as_ref().and_then(|r| r.as_deref().map(c)),
            chat_room,
            deleted: OnceCell::new(),
            presence: None,
            strings: Mutex::new(HashMap::new()),
            transfer: (0, -1),
        };
        let set_error = |e: &mut dchat_event, err: &Error| {
            e.code = Some(c(err.code()));
            e.text = Some(c(&err.to_string()));
        };
        match event {
            Event::State { state, reason, attempt, retry_in, cause } => {
                e.attempt = attempt;
                e.retry_ms = retry_in.map_or(-1, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
                e.cause = dchat_close_cause::of(cause);
                e.state = match state {
                    ConnectionState::Connecting => dchat_state::DCHAT_STATE_CONNECTING,
                    ConnectionState::Connected => dchat_state::DCHAT_STATE_CONNECTED,
                    ConnectionState::Authenticated => dchat_state::DCHAT_STATE_AUTHENTICATED,
                    ConnectionState::Disconnected => dchat_state::DCHAT_STATE_DISCONNECTED,
                    ConnectionState::Closed => dchat_state::DCHAT_STATE_CLOSED,
                };
                e.text = reason.as_deref().map(c);
            }
            Event::Subscription { uid, kind, data } => {
                e.kind = dchat_kind::DCHAT_EVENT_SUBSCRIPTION;
                e.subscription = Subscription::id_of_uid(&uid).unwrap_or(0);
                e.sub_event = match kind {
                    SubscriptionKind::Init => dchat_sub_event::DCHAT_SUB_INIT,
                    SubscriptionKind::Create => dchat_sub_event::DCHAT_SUB_CREATE,
                    SubscriptionKind::Update => dchat_sub_event::DCHAT_SUB_UPDATE,
                    SubscriptionKind::Delete => dchat_sub_event::DCHAT_SUB_DELETE,
                    SubscriptionKind::Unsubscribe => dchat_sub_event::DCHAT_SUB_NONE,
                };
                e.data = data;
            }
            Event::SubscriptionError { uid, error } => {
                e.kind = dchat_kind::DCHAT_EVENT_SUBSCRIPTION_ERROR;
                e.subscription = Subscription::id_of_uid(&uid).unwrap_or(0);
                set_error(&mut e, &Error::Server(error));
            }
            Event::Reply { request, result } => {
                e.kind = dchat_kind::DCHAT_EVENT_REPLY;
                e.request = request;
                match result {
                    Ok(data) => e.data = data.into(),
                    Err(err) => set_error(&mut e, &err),
                }
            }
            Event::Error { error } => {
                e.kind = dchat_kind::DCHAT_EVENT_ERROR;
                set_error(&mut e, &error);
            }
            Event::Unknown(v) => {
                e.kind = dchat_kind::DCHAT_EVENT_UNKNOWN;
                e.data = v.into();
            }
            Event::Outbox(entry) => {
                e.kind = dchat_kind::DCHAT_EVENT_OUTBOX;
                if let crate::outbox::OutboxState::Failed { error, .. } = &entry.state {
                    set_error(&mut e, error);
                }
                e.data = entry.item().clone().into();
                e.outbox = Some(super::outbox::EventOutbox::new(*entry));
            }
            Event::Presence(p) => {
                e.kind = match &p {
                    crate::chat::PresenceEvent::Online { .. } => dchat_kind::DCHAT_EVENT_PRESENCE,
                    crate::chat::PresenceEvent::Typing { .. } => dchat_kind::DCHAT_EVENT_TYPING,
                    crate::chat::PresenceEvent::Unread { .. } => dchat_kind::DCHAT_EVENT_UNREAD,
                    crate::chat::PresenceEvent::Read { .. } => dchat_kind::DCHAT_EVENT_READ,
                };
                e.room_text = Some(c(p.room()));
                e.presence = Some(super::presence::EventPresence::new(&p));
            }
            Event::Transfer { request, done, total } => {
                e.kind = dchat_kind::DCHAT_EVENT_TRANSFER;
                e.request = request;
                e.transfer = (done, total.map_or(-1, |t| i64::try_from(t).unwrap_or(i64::MAX)));
            }
        }
        e
    }

    pub(super) fn messages(&self) -> &[Message] {
        self.messages.get_or_init(|| {
            let config = self.chat.config();
            let page = self.kind == dchat_kind::DCHAT_EVENT_REPLY && self.chat_room.is_some();
            let shown = match (&self.outbox, self.kind) {
                (Some(o), _) if o.collection == config.collection => {
                    return config.echo_parts(&self.data, &o.key_text).iter().map(Message::of).collect();
                }
                (_, dchat_kind::DCHAT_EVENT_SUBSCRIPTION) => self.sub_event != dchat_sub_event::DCHAT_SUB_DELETE,
                _ => page,
            };
            if !shown {
                return Vec::new();
            }
            config.read_messages(&self.data, self.chat.own_id().as_deref(), Message::of)
        })
    }

    /// A copy that lives on its own (the strings the item accessors handed out stay the
    /// original's: each event keeps its own).
    pub(super) fn duplicate(&self) -> Self {
        dchat_event {
            kind: self.kind,
            state: self.state,
            sub_event: self.sub_event,
            subscription: self.subscription,
            request: self.request,
            code: self.code.clone(),
            text: self.text.clone(),
            data: self.data.clone(),
            attempt: self.attempt,
            retry_ms: self.retry_ms,
            cause: self.cause,
            chat: self.chat.clone(),
            json: self.json.clone(),
            // Copied as read so far: the copy shows the messages the original showed,
            // even if the user became known meanwhile.
            messages: self.messages.clone(),
            outbox: self.outbox.clone(),
            chat_room: self.chat_room.clone(),
            room_text: self.room_text.clone(),
            deleted: self.deleted.clone(),
            presence: self.presence.clone(),
            strings: Mutex::new(HashMap::new()),
            transfer: self.transfer,
        }
    }

    /// The keys a delete event of a joined room names (only that room's).
    pub(super) fn deleted(&self) -> &[CString] {
        self.deleted.get_or_init(|| {
            if self.sub_event != dchat_sub_event::DCHAT_SUB_DELETE {
                return Vec::new();
            }
            crate::chat::state::deleted_keys(&self.data).iter().map(|k| c(k)).collect()
        })
    }
}

pub(crate) fn with_event<T: Copy>(event: *const dchat_event, fallback: T, f: impl FnOnce(&dchat_event) -> T) -> T {
    // SAFETY: the caller passes NULL or an event that is still valid.
    match unsafe { event.as_ref() } {
        Some(e) => boundary_value(fallback, || f(e)),
        None => fallback,
    }
}

pub(super) fn opt_ptr(s: Option<&CString>) -> *const c_char {
    s.map_or(std::ptr::null(), |s| s.as_ptr())
}

/// The kind of the event. NULL gives `DCHAT_EVENT_ERROR`.
#[no_mangle]
pub extern "C" fn dchat_event_kind(event: *const dchat_event) -> dchat_kind {
    with_event(event, dchat_kind::DCHAT_EVENT_ERROR, |e| e.kind)
}

/// For `DCHAT_EVENT_STATE`: the new state. NULL gives `DCHAT_STATE_CLOSED`.
#[no_mangle]
pub extern "C" fn dchat_event_state(event: *const dchat_event) -> dchat_state {
    with_event(event, dchat_state::DCHAT_STATE_CLOSED, |e| e.state)
}

/// For subscription events: init, create, update or delete; else `DCHAT_SUB_NONE`.
#[no_mangle]
pub extern "C" fn dchat_event_sub_event(event: *const dchat_event) -> dchat_sub_event {
    with_event(event, dchat_sub_event::DCHAT_SUB_NONE, |e| e.sub_event)
}

/// For subscription events and errors: the subscription id `dchat_subscribe` gave; else 0.
#[no_mangle]
pub extern "C" fn dchat_event_subscription(event: *const dchat_event) -> u64 {
    with_event(event, 0, |e| e.subscription)
}

/// For `DCHAT_EVENT_REPLY`: the request id `dchat_send` / `dchat_items_nowait` gave; else 0.
#[no_mangle]
pub extern "C" fn dchat_event_request(event: *const dchat_event) -> u64 {
    with_event(event, 0, |e| e.request)
}

/// The error code of errors and failed replies (`FORBIDDEN`, `TOKEN_EXPIRED`,
/// `CONNECTION`, ...); NULL otherwise, so a reply with a code has failed.
#[no_mangle]
pub extern "C" fn dchat_event_code(event: *const dchat_event) -> *const c_char {
    with_event(event, std::ptr::null(), |e| opt_ptr(e.code.as_ref()))
}

/// A readable text: the reason of a state change or the message of an error; NULL
/// when there is none.
#[no_mangle]
pub extern "C" fn dchat_event_text(event: *const dchat_event) -> *const c_char {
    with_event(event, std::ptr::null(), |e| opt_ptr(e.text.as_ref()))
}

/// The event's data as JSON: the items of a subscription event (keys for delete), the
/// server's data of a reply, the whole message of an unknown event; `null` when there
/// is none. NULL only for a NULL event.
#[no_mangle]
pub extern "C" fn dchat_event_json(event: *const dchat_event) -> *const c_char {
    with_event(event, std::ptr::null(), |e| e.json.get_or_init(|| c(&e.data.json())).as_ptr())
}

/// How many chat messages the event holds: the items of an init, create or update
/// event, read with the client's chat schema.
#[no_mangle]
pub extern "C" fn dchat_event_message_count(event: *const dchat_event) -> usize {
    with_event(event, 0, |e| e.messages().len())
}

/// The primary key of chat message `index`, as text; NULL if out of range.
#[no_mangle]
pub extern "C" fn dchat_event_message_id(event: *const dchat_event, index: usize) -> *const c_char {
    with_event(event, std::ptr::null(), |e| e.messages().get(index).map_or(std::ptr::null(), |m| m.ptr(Field::Id)))
}

/// The key of chat message `index`: the key the client made for it when it went
/// through the outbox (its `client_key`, or its primary key with client ids), else its
/// primary key. An outbox entry's local echo and the message the server stores have the
/// same key, so a view keyed by it shows each message once. NULL if out of range.
#[no_mangle]
pub extern "C" fn dchat_event_message_key(event: *const dchat_event, index: usize) -> *const c_char {
    with_event(event, std::ptr::null(), |e| e.messages().get(index).map_or(std::ptr::null(), |m| m.ptr(Field::Key)))
}

/// The text of chat message `index`; NULL if out of range.
#[no_mangle]
pub extern "C" fn dchat_event_message_text(event: *const dchat_event, index: usize) -> *const c_char {
    with_event(event, std::ptr::null(), |e| e.messages().get(index).map_or(std::ptr::null(), |m| m.ptr(Field::Text)))
}

/// The author's name of chat message `index`; NULL if unknown or out of range.
#[no_mangle]
pub extern "C" fn dchat_event_message_author(event: *const dchat_event, index: usize) -> *const c_char {
    with_event(event, std::ptr::null(), |e| e.messages().get(index).map_or(std::ptr::null(), |m| m.ptr(Field::Author)))
}

/// The creation date (ISO 8601) of chat message `index`; NULL if unknown or out of range.
#[no_mangle]
pub extern "C" fn dchat_event_message_date(event: *const dchat_event, index: usize) -> *const c_char {
    with_event(event, std::ptr::null(), |e| e.messages().get(index).map_or(std::ptr::null(), |m| m.ptr(Field::Date)))
}

/// Frees an event returned by `dchat_poll`. NULL is fine. Never call it on the event
/// passed to a callback.
#[no_mangle]
pub extern "C" fn dchat_event_free(event: *mut dchat_event) -> super::status::dchat_status {
    boundary(|| {
        if !event.is_null() {
            // SAFETY: made by `dchat_poll` (Box::into_raw) and not freed before.
            drop(unsafe { Box::from_raw(event) });
        }
        Ok(())
    })
}

/// Writes a copy of `event` to `*copy_out`, owned by the caller (free it with
/// `dchat_event_free`): for keeping an event beyond the callback it was passed to, for
/// example to read its items later or on another thread. The copy's accessors give the
/// same answers as the original's; their strings live as long as the copy. Both may be
/// read from several threads at once.
#[no_mangle]
pub extern "C" fn dchat_event_clone(event: *const dchat_event, copy_out: *mut *mut dchat_event) -> super::status::dchat_status {
    boundary(|| {
        let e = super::args::handle_arg(event, "event")?;
        let out = super::args::Out::new(copy_out, "copy_out")?;
        out.write(Box::into_raw(Box::new(e.duplicate())));
        Ok(())
    })
}
