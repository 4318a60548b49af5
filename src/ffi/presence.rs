//! Presence, typing and read receipts from C: entering a room's presence, typing,
//! read markers, who is online, unread counts, who read a message; and the accessors
//! of presence, typing, unread and read events.

use std::ffi::{c_char, CString};
use std::time::Duration;

use serde_json::json;

use super::args::{handle_arg, handle_mut, str_arg, Out};
use super::client::{dchat_client, start_request, wait};
use super::event::{c, dchat_event, opt_ptr, with_event};
use super::options::dchat_options;
use super::status::{boundary, dchat_status, FfiError, FfiResult};
use crate::chat::{Member, PresenceEvent};

/// The parts of a presence, typing, unread or read event.
#[derive(Clone)]
pub(crate) struct EventPresence {
    user: Option<CString>,
    name: Option<CString>,
    flag: bool,
    count: u64,
    last_read: Option<CString>,
}

impl EventPresence {
    pub(crate) fn new(p: &PresenceEvent) -> Self {
        let (flag, count, last_read) = match p {
            PresenceEvent::Online { online, .. } => (*online, 0, None),
            PresenceEvent::Typing { typing, .. } => (*typing, 0, None),
            PresenceEvent::Unread { count, .. } => (false, *count, None),
            PresenceEvent::Read { last_read, .. } => (false, 0, last_read.as_deref().map(c)),
        };
        EventPresence { user: p.user().map(c), name: p.name().map(c), flag, count, last_read }
    }
}

fn not_in(room: &str) -> FfiError {
    FfiError::new(dchat_status::DCHAT_ERR_INVALID_ARGUMENT, format!("not in room {room:?} (dchat_enter it first), or not counted yet"))
}

fn ms(value: u32) -> Duration {
    Duration::from_millis(u64::from(value))
}

// ---- options

/// Sets presence timings: `heartbeat_ms` (default 10000), how often a client in a room
/// refreshes its presence row; `ttl_ms` (default 25000), how long after its last write
/// a row counts as online (must be well above the heartbeat; every client of a chat
/// should use the same values); `on_join` nonzero: `dchat_join` of a room also enters
/// its presence and `dchat_leave` exits it (default off). 0 keeps a timing.
#[no_mangle]
pub extern "C" fn dchat_options_set_presence(options: *mut dchat_options, heartbeat_ms: u32, ttl_ms: u32, on_join: bool) -> dchat_status {
    boundary(|| {
        let o = handle_mut(options, "options")?;
        let p = &mut o.inner.chat.presence;
        let heartbeat = if heartbeat_ms == 0 { p.heartbeat } else { ms(heartbeat_ms) };
        let ttl = if ttl_ms == 0 { p.ttl } else { ms(ttl_ms) };
        if ttl <= heartbeat {
            return Err(FfiError::new(dchat_status::DCHAT_ERR_INVALID_ARGUMENT, "the TTL must be longer than the heartbeat"));
        }
        p.heartbeat = heartbeat;
        p.ttl = ttl;
        p.on_join = on_join;
        Ok(())
    })
}

/// Sets the presence and read receipts collections (defaults `presence`,
/// `read_receipts`, the schema kit's). NULL keeps a name.
#[no_mangle]
pub extern "C" fn dchat_options_set_presence_collections(
    options: *mut dchat_options,
    presence: *const std::ffi::c_char,
    receipts: *const std::ffi::c_char,
) -> dchat_status {
    boundary(|| {
        let o = handle_mut(options, "options")?;
        let (p, r) = (super::args::opt_str_arg(presence, "presence")?, super::args::opt_str_arg(receipts, "receipts")?);
        if let Some(p) = p {
            o.inner.chat.presence.collection = p.to_owned();
        }
        if let Some(r) = r {
            o.inner.chat.presence.receipts_collection = r.to_owned();
        }
        Ok(())
    })
}

// ---- entering and exiting

/// Enters a room's presence: writes one's presence row (then a heartbeat), follows who
/// is online and typing (`DCHAT_EVENT_PRESENCE`, `DCHAT_EVENT_TYPING`), the room's
/// read markers (`DCHAT_EVENT_READ`) and unread count (`DCHAT_EVENT_UNREAD`). Blocks
/// until the row is written. Needs the schema kit's presence and receipts collections.
#[no_mangle]
pub extern "C" fn dchat_enter(client: *const dchat_client, room: *const c_char) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        wait(c.client.enter(str_arg(room, "room")?))
    })
}

/// Like `dchat_enter` without blocking: the outcome arrives as a `DCHAT_EVENT_REPLY`
/// with the request id written to `*request_out`.
#[no_mangle]
pub extern "C" fn dchat_enter_nowait(client: *const dchat_client, room: *const c_char, request_out: *mut u64) -> dchat_status {
    start_request(client, request_out, |c| Ok(c.client.enter_nowait(str_arg(room, "room")?)?))
}

/// Exits a room's presence: deletes one's row (peers see it at once) and stops
/// following the room's presence. Blocks until the server confirmed.
#[no_mangle]
pub extern "C" fn dchat_exit(client: *const dchat_client, room: *const c_char) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        wait(c.client.exit(str_arg(room, "room")?))
    })
}

/// Like `dchat_exit` without blocking; the outcome is a `DCHAT_EVENT_REPLY`.
#[no_mangle]
pub extern "C" fn dchat_exit_nowait(client: *const dchat_client, room: *const c_char, request_out: *mut u64) -> dchat_status {
    start_request(client, request_out, |c| Ok(c.client.exit_nowait(str_arg(room, "room")?)?))
}

// ---- typing and read markers

/// Says whether the user types in an entered room: call it with `typing` true on every
/// keystroke and false when the text is sent or cleared. Never blocks: the flag is
/// written when typing starts or stops and refreshed at most every 3.25 s while
/// keystrokes come; peers drop it 5 s after its last write.
#[no_mangle]
pub extern "C" fn dchat_set_typing(client: *const dchat_client, room: *const c_char, typing: bool) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        c.client.set_typing(str_arg(room, "room")?, typing).map_err(FfiError::from)
    })
}

/// Moves one's read marker in an entered room to message `message_id` (its key as
/// text); the unread count drops to the messages after it. Blocks until stored.
#[no_mangle]
pub extern "C" fn dchat_mark_read(client: *const dchat_client, room: *const c_char, message_id: *const c_char) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        wait(c.client.mark_read(str_arg(room, "room")?, str_arg(message_id, "message_id")?))
    })
}

/// Like `dchat_mark_read` without blocking; the outcome is a `DCHAT_EVENT_REPLY`.
#[no_mangle]
pub extern "C" fn dchat_mark_read_nowait(
    client: *const dchat_client,
    room: *const c_char,
    message_id: *const c_char,
    request_out: *mut u64,
) -> dchat_status {
    start_request(client, request_out, |c| {
        let (room, message) = (str_arg(room, "room")?, str_arg(message_id, "message_id")?);
        Ok(c.client.mark_read_nowait(room, message)?)
    })
}

// ---- what the client knows (never blocks)

/// The unread count of an entered room: messages of others after one's read marker.
/// `DCHAT_ERR_INVALID_ARGUMENT` when not in the room or not counted yet.
#[no_mangle]
pub extern "C" fn dchat_unread_count(client: *const dchat_client, room: *const c_char, count_out: *mut u64) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        let room = str_arg(room, "room")?;
        let out = Out::new(count_out, "count_out")?;
        out.write(c.client.unread(room).ok_or_else(|| not_in(room))?);
        Ok(())
    })
}

fn online(c: &dchat_client, room: &str) -> FfiResult<Vec<Member>> {
    c.client.online(room).ok_or_else(|| not_in(room))
}

/// How many users are online in an entered room (oneself included).
#[no_mangle]
pub extern "C" fn dchat_online_count(client: *const dchat_client, room: *const c_char, count_out: *mut usize) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        let room = str_arg(room, "room")?;
        let out = Out::new(count_out, "count_out")?;
        out.write(online(c, room)?.len());
        Ok(())
    })
}

/// The user id of online user `index` (by user id order) of an entered room, their
/// first name (`name_out`, may be NULL; NULL is written when unknown) and whether they
/// type (`typing_out`, may be NULL). The strings belong to the caller
/// (`dchat_string_free`). `DCHAT_ERR_INVALID_ARGUMENT` when `index` is out of range
/// (the list may change between calls: take `dchat_online_json` for one snapshot).
#[no_mangle]
pub extern "C" fn dchat_online_user(
    client: *const dchat_client,
    room: *const c_char,
    index: usize,
    user_out: *mut *mut c_char,
    name_out: *mut *mut c_char,
    typing_out: *mut bool,
) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        let room = str_arg(room, "room")?;
        let out = Out::new(user_out, "user_out")?;
        let members = online(c, room)?;
        let m = members
            .get(index)
            .ok_or_else(|| FfiError::new(dchat_status::DCHAT_ERR_INVALID_ARGUMENT, format!("index {index} is out of range")))?;
        if !typing_out.is_null() {
            Out::new(typing_out, "typing_out")?.write(m.typing);
        }
        if !name_out.is_null() {
            Out::new(name_out, "name_out")?.write(m.name.as_deref().map_or(std::ptr::null_mut(), |n| super::event::c(n).into_raw()));
        }
        out.write(super::event::c(&m.user).into_raw());
        Ok(())
    })
}

/// Who is online in an entered room, as JSON: `[{"user","name","typing","seen"}]`. The
/// string belongs to the caller (`dchat_string_free`).
#[no_mangle]
pub extern "C" fn dchat_online_json(client: *const dchat_client, room: *const c_char, json_out: *mut *mut c_char) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        let room = str_arg(room, "room")?;
        let out = Out::new(json_out, "json_out")?;
        let list: Vec<_> =
            online(c, room)?.into_iter().map(|m| json!({"user": m.user, "name": m.name, "typing": m.typing, "seen": m.seen})).collect();
        out.write(super::event::c(&serde_json::Value::from(list).to_string()).into_raw());
        Ok(())
    })
}

/// Who has read message `message_id` in an entered room (users whose read marker is at
/// it or at a later message), as JSON: `[{"user","name","last_read","last_read_date"}]`;
/// the message must be one this client showed (or someone's marker). The string belongs
/// to the caller (`dchat_string_free`).
#[no_mangle]
pub extern "C" fn dchat_readers_json(
    client: *const dchat_client,
    room: *const c_char,
    message_id: *const c_char,
    json_out: *mut *mut c_char,
) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        let (room, message) = (str_arg(room, "room")?, str_arg(message_id, "message_id")?);
        let out = Out::new(json_out, "json_out")?;
        let readers = c.client.readers(room, message).ok_or_else(|| not_in(room))?;
        let list: Vec<_> = readers
            .into_iter()
            .map(|r| json!({"user": r.user, "name": r.name, "last_read": r.last_read, "last_read_date": r.last_read_date}))
            .collect();
        out.write(super::event::c(&serde_json::Value::from(list).to_string()).into_raw());
        Ok(())
    })
}

/// How many users have read message `message_id` in an entered room (see
/// `dchat_readers_json`).
#[no_mangle]
pub extern "C" fn dchat_readers_count(
    client: *const dchat_client,
    room: *const c_char,
    message_id: *const c_char,
    count_out: *mut usize,
) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        let (room, message) = (str_arg(room, "room")?, str_arg(message_id, "message_id")?);
        let out = Out::new(count_out, "count_out")?;
        out.write(c.client.readers(room, message).ok_or_else(|| not_in(room))?.len());
        Ok(())
    })
}

// ---- event accessors

/// For presence, typing and read events: the user's id; NULL otherwise.
#[no_mangle]
pub extern "C" fn dchat_event_user_id(event: *const dchat_event) -> *const c_char {
    with_event(event, std::ptr::null(), |e| opt_ptr(e.presence.as_ref().and_then(|p| p.user.as_ref())))
}

/// For presence, typing and read events: the user's first name; NULL when unknown.
#[no_mangle]
pub extern "C" fn dchat_event_user_name(event: *const dchat_event) -> *const c_char {
    with_event(event, std::ptr::null(), |e| opt_ptr(e.presence.as_ref().and_then(|p| p.name.as_ref())))
}

/// For presence events: online; for typing events: typing. False otherwise.
#[no_mangle]
pub extern "C" fn dchat_event_flag(event: *const dchat_event) -> bool {
    with_event(event, false, |e| e.presence.as_ref().is_some_and(|p| p.flag))
}

/// For unread events: the room's unread count; 0 otherwise.
#[no_mangle]
pub extern "C" fn dchat_event_count(event: *const dchat_event) -> u64 {
    with_event(event, 0, |e| e.presence.as_ref().map_or(0, |p| p.count))
}

/// For read events: the key of the last message the user read; NULL otherwise.
#[no_mangle]
pub extern "C" fn dchat_event_last_read(event: *const dchat_event) -> *const c_char {
    with_event(event, std::ptr::null(), |e| opt_ptr(e.presence.as_ref().and_then(|p| p.last_read.as_ref())))
}
