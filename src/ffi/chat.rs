//! The chat API from C: rooms, older history, edits and deletions, extra fields on
//! send, who the user is; and the chat accessors of events.

use std::ffi::c_char;

use serde_json::Value;

use super::args::{handle_arg, handle_mut, json_arg, opt_str_arg, str_arg, Out};
use super::client::{dchat_client, items_request, start_request, wait};
use super::event::{dchat_event, opt_ptr, with_event, Field};
use super::options::dchat_options;
use super::status::{boundary, dchat_status, FfiError, FfiResult};
use crate::chat::rooms::Room;
use crate::event::Event;

pub(super) fn write_event(out: Out<*mut dchat_event>, c: &dchat_client, data: Value, room: Option<Room>) {
    let event = dchat_event::with_room(Event::Reply { request: 0, result: Ok(data) }, c.chat.clone(), room);
    out.write(Box::into_raw(Box::new(event)));
}

fn room_arg<'a>(room: *const c_char) -> FfiResult<Option<&'a str>> {
    opt_str_arg(room, "room")
}

// ---- options

/// Sets the field names of the chat schema beyond `dchat_options_set_chat_schema`:
/// the primary key (`id`), the creation date (`date_created`), the author relation
/// (`user_created`), the room (`room`), the edit date (`date_updated`) and the client
/// key: naming it makes every message carry a new key there (the schema kit's is
/// `client_key`; that makes sends exactly once on integer-keyed collections; off by
/// default). NULL keeps a name (and the client key off or on); `""` turns the room, edit
/// date or client key off (a schema without them). The chat accessors read messages
/// with these names.
#[no_mangle]
pub extern "C" fn dchat_options_set_chat_fields(
    options: *mut dchat_options,
    id_field: *const c_char,
    date_field: *const c_char,
    user_field: *const c_char,
    room_field: *const c_char,
    updated_field: *const c_char,
    client_key_field: *const c_char,
) -> dchat_status {
    boundary(|| {
        let o = handle_mut(options, "options")?;
        let required = |ptr, name: &str| -> FfiResult<Option<String>> {
            match opt_str_arg(ptr, name)? {
                Some("") => Err(FfiError::new(dchat_status::DCHAT_ERR_INVALID_ARGUMENT, format!("`{name}` must not be empty"))),
                other => Ok(other.map(str::to_owned)),
            }
        };
        let optional = |ptr, name: &str| -> FfiResult<Option<Option<String>>> {
            Ok(opt_str_arg(ptr, name)?.map(|s| (!s.is_empty()).then(|| s.to_owned())))
        };
        let (id, date, user) = (required(id_field, "id_field")?, required(date_field, "date_field")?, required(user_field, "user_field")?);
        let (room, updated, key) = (
            optional(room_field, "room_field")?,
            optional(updated_field, "updated_field")?,
            optional(client_key_field, "client_key_field")?,
        );
        let chat = &mut o.inner.chat;
        if let Some(v) = id {
            chat.id_field = v;
        }
        if let Some(v) = date {
            chat.date_field = v;
        }
        if let Some(v) = user {
            chat.user_field = v;
        }
        if let Some(v) = room {
            chat.room_field = v;
        }
        if let Some(v) = updated {
            chat.updated_field = v;
        }
        // A client key field named: every message carries a new key there; "" turns
        // that off (the outbox still uses the field's name).
        match key {
            Some(Some(v)) => {
                chat.client_key_field = v;
                chat.client_keys = true;
            }
            Some(None) => chat.client_keys = false,
            None => {}
        }
        Ok(())
    })
}

/// Sets how many of a room's newest messages its history (the `init` of a join or of
/// `dchat_subscribe_chat`) holds; default 100.
#[no_mangle]
pub extern "C" fn dchat_options_set_history_limit(options: *mut dchat_options, messages: u32) -> dchat_status {
    boundary(|| {
        if messages == 0 {
            return Err(FfiError::new(dchat_status::DCHAT_ERR_INVALID_ARGUMENT, "the history holds at least one message"));
        }
        handle_mut(options, "options")?.inner.chat.history_limit = messages;
        Ok(())
    })
}

// ---- rooms

/// Joins a room (`room` NULL: the lobby, the messages without a room): subscribes to
/// its messages and blocks until the history arrived (the subscription's first event,
/// `DCHAT_SUB_INIT`, with the newest messages). Writes the subscription id. Every event
/// of it is a chat event: `dchat_event_room` names the room, the message accessors read
/// its messages oldest first, `dchat_event_deleted_*` its deletions. A client may be in
/// several rooms.
#[no_mangle]
pub extern "C" fn dchat_join(client: *const dchat_client, room: *const c_char, subscription_out: *mut u64) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        let room = room_arg(room)?;
        let out = Out::new(subscription_out, "subscription_out")?;
        out.write(wait(c.client.join(room))?.id());
        Ok(())
    })
}

/// Like `dchat_join` without blocking: the history (or a refusal) arrives as an event.
#[no_mangle]
pub extern "C" fn dchat_join_nowait(client: *const dchat_client, room: *const c_char, subscription_out: *mut u64) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        let room = room_arg(room)?;
        let out = Out::new(subscription_out, "subscription_out")?;
        out.write(c.client.join_nowait(room)?.id());
        Ok(())
    })
}

/// Leaves a room (NULL: the lobby): ends every subscription joined to it; no event of
/// them is delivered after this returns. Blocks until the server confirmed.
#[no_mangle]
pub extern "C" fn dchat_leave(client: *const dchat_client, room: *const c_char) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        wait(c.client.leave(room_arg(room)?))
    })
}

/// Like `dchat_leave` without waiting for the server.
#[no_mangle]
pub extern "C" fn dchat_leave_nowait(client: *const dchat_client, room: *const c_char) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        c.client.leave_nowait(room_arg(room)?);
        Ok(())
    })
}

// ---- sending

/// Sends a chat message to a room (NULL: the lobby) without blocking, like
/// `dchat_send`: the outcome arrives as a `DCHAT_EVENT_REPLY` event with the request id.
#[no_mangle]
pub extern "C" fn dchat_send_to(
    client: *const dchat_client,
    room: *const c_char,
    text: *const c_char,
    request_out: *mut u64,
) -> dchat_status {
    start_request(client, request_out, |c| {
        let room = room_arg(room)?;
        let text = str_arg(text, "text")?;
        Ok(c.client.send_to_nowait(room, text)?)
    })
}

/// Sends a chat message with extra fields: `extra_json` (may be NULL) is a JSON object
/// of more fields of the message (`{"room":"general","file":"<uuid>"}`, any field of
/// your schema). The client-made key that makes a retry safe is kept (see
/// `dchat_options_set_client_ids`, `dchat_options_set_chat_fields`). Does not block;
/// the outcome arrives as a `DCHAT_EVENT_REPLY` event with the request id.
#[no_mangle]
pub extern "C" fn dchat_send_with(
    client: *const dchat_client,
    text: *const c_char,
    extra_json: *const c_char,
    request_out: *mut u64,
) -> dchat_status {
    start_request(client, request_out, |c| {
        let text = str_arg(text, "text")?;
        let extra = json_arg(extra_json, "extra_json")?.unwrap_or(Value::Null);
        if !(extra.is_object() || extra.is_null()) {
            return Err(FfiError::new(dchat_status::DCHAT_ERR_INVALID_JSON, "`extra_json` must be a JSON object"));
        }
        Ok(c.client.send_with_nowait(text, extra)?)
    })
}

// ---- history

/// Up to `count` messages of a room (NULL: the lobby) older than `before_id` (a message
/// this client showed; NULL: the oldest it showed of that room, or the newest if none),
/// by date then key, never repeating what the room's events delivered. Blocks; writes a
/// page the caller frees with `dchat_event_free`: a `DCHAT_EVENT_REPLY` chat event whose
/// messages (and items) are oldest first. No message: the beginning of the room.
#[no_mangle]
pub extern "C" fn dchat_load_older(
    client: *const dchat_client,
    room: *const c_char,
    before_id: *const c_char,
    count: u32,
    page_out: *mut *mut dchat_event,
) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        let room = room_arg(room)?;
        let before = opt_str_arg(before_id, "before_id")?;
        let out = Out::new(page_out, "page_out")?;
        let messages = wait(c.client.load_older(room, before, count))?;
        let data = Value::Array(messages.into_iter().map(|m| m.raw).collect());
        write_event(out, c, data, Some(room.map(str::to_owned)));
        Ok(())
    })
}

/// Like `dchat_load_older` without blocking: the page arrives as a `DCHAT_EVENT_REPLY`
/// chat event with the written request id.
#[no_mangle]
pub extern "C" fn dchat_load_older_nowait(
    client: *const dchat_client,
    room: *const c_char,
    before_id: *const c_char,
    count: u32,
    request_out: *mut u64,
) -> dchat_status {
    start_request(client, request_out, |c| {
        let room = room_arg(room)?;
        let before = opt_str_arg(before_id, "before_id")?;
        Ok(c.client.load_older_nowait(room, before, count)?)
    })
}

// ---- edits and deletions

/// Changes the text of one's own message `id`. Blocks; another user's message is
/// refused (`DCHAT_ERR_SERVER`, code `FORBIDDEN`, with the schema kit's permissions).
/// Others get it as a `DCHAT_SUB_UPDATE` chat event (`dchat_event_message_edited`).
#[no_mangle]
pub extern "C" fn dchat_edit_message(client: *const dchat_client, id: *const c_char, text: *const c_char) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        let (id, text) = (str_arg(id, "id")?, str_arg(text, "text")?);
        wait(c.client.edit_message(id, text)).map(drop)
    })
}

/// Like `dchat_edit_message` without blocking; the outcome is a reply event.
#[no_mangle]
pub extern "C" fn dchat_edit_message_nowait(
    client: *const dchat_client,
    id: *const c_char,
    text: *const c_char,
    request_out: *mut u64,
) -> dchat_status {
    start_request(client, request_out, |c| {
        let (id, text) = (str_arg(id, "id")?, str_arg(text, "text")?);
        Ok(c.client.edit_message_nowait(id, text)?)
    })
}

/// Deletes one's own message `id`. Blocks; others get a `DCHAT_SUB_DELETE` chat event
/// naming it (`dchat_event_deleted_id`).
#[no_mangle]
pub extern "C" fn dchat_delete_message(client: *const dchat_client, id: *const c_char) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        wait(c.client.delete_message(str_arg(id, "id")?))
    })
}

/// Like `dchat_delete_message` without blocking; the outcome is a reply event.
#[no_mangle]
pub extern "C" fn dchat_delete_message_nowait(client: *const dchat_client, id: *const c_char, request_out: *mut u64) -> dchat_status {
    start_request(client, request_out, |c| Ok(c.client.delete_message_nowait(str_arg(id, "id")?)?))
}

// ---- who am I

/// Asks the server who the logged-in user is (blocking) and writes the answer as an
/// event the caller frees with `dchat_event_free`: one item, the user, read with the
/// item accessors (`"/id"`, `"/first_name"`, `"/last_name"`, `"/email"`). From then on
/// the user is fetched again after every login and re-login, and messages say whether
/// they are the user's own (`dchat_event_message_own`).
#[no_mangle]
pub extern "C" fn dchat_whoami(client: *const dchat_client, user_out: *mut *mut dchat_event) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        let out = Out::new(user_out, "user_out")?;
        let me = wait(c.client.whoami())?;
        write_event(out, c, me.to_json(), None);
        Ok(())
    })
}

/// Like `dchat_whoami` without blocking: the user arrives as a `DCHAT_EVENT_REPLY`
/// event with the written request id, its one item the user.
#[no_mangle]
pub extern "C" fn dchat_whoami_nowait(client: *const dchat_client, request_out: *mut u64) -> dchat_status {
    start_request(client, request_out, |c| Ok(c.client.whoami_nowait()?))
}

/// The logged-in user as far as known, without blocking: an event (free it with
/// `dchat_event_free`) with one item, the user, or none while the user is not known
/// (not logged in, or the chat API not used yet: see `dchat_whoami`, `dchat_join`).
#[no_mangle]
pub extern "C" fn dchat_me(client: *const dchat_client, user_out: *mut *mut dchat_event) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        let out = Out::new(user_out, "user_out")?;
        write_event(out, c, c.client.me().map_or(Value::Null, |m| m.to_json()), None);
        Ok(())
    })
}

// ---- items as an event

/// Like `dchat_items`, but writes the answer as an event (a `DCHAT_EVENT_REPLY`; free it
/// with `dchat_event_free`) whose items the item accessors read, so that C code needs
/// no JSON parser.
#[no_mangle]
pub extern "C" fn dchat_items_event(
    client: *const dchat_client,
    collection: *const c_char,
    action: *const c_char,
    payload_json: *const c_char,
    reply_out: *mut *mut dchat_event,
) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        let request = items_request(collection, action, payload_json)?;
        let out = Out::new(reply_out, "reply_out")?;
        let data = wait(c.client.request(request))?;
        write_event(out, c, data, None);
        Ok(())
    })
}

// ---- chat accessors of events

fn message_ptr(event: *const dchat_event, index: usize, field: Field) -> *const c_char {
    with_event(event, std::ptr::null(), |e| e.messages().get(index).map_or(std::ptr::null(), |m| m.ptr(field)))
}

/// Whether the event is a chat event: an event of a joined room, or a history page.
#[no_mangle]
pub extern "C" fn dchat_event_is_chat(event: *const dchat_event) -> bool {
    with_event(event, false, |e| e.chat_room.is_some())
}

/// The room of a chat event; NULL for the lobby and for events that are not chat
/// events (see `dchat_event_is_chat`).
#[no_mangle]
pub extern "C" fn dchat_event_room(event: *const dchat_event) -> *const c_char {
    with_event(event, std::ptr::null(), |e| opt_ptr(e.room_text.as_ref()))
}

/// The room of chat message `index`; NULL for the lobby or out of range.
#[no_mangle]
pub extern "C" fn dchat_event_message_room(event: *const dchat_event, index: usize) -> *const c_char {
    message_ptr(event, index, Field::Room)
}

/// The author's user id of chat message `index`; NULL if unknown or out of range.
#[no_mangle]
pub extern "C" fn dchat_event_message_author_id(event: *const dchat_event, index: usize) -> *const c_char {
    message_ptr(event, index, Field::AuthorId)
}

/// The date chat message `index` was last edited (ISO 8601); NULL if it never was.
#[no_mangle]
pub extern "C" fn dchat_event_message_updated(event: *const dchat_event, index: usize) -> *const c_char {
    message_ptr(event, index, Field::Updated)
}

/// Whether chat message `index` was edited.
#[no_mangle]
pub extern "C" fn dchat_event_message_edited(event: *const dchat_event, index: usize) -> bool {
    with_event(event, false, |e| e.messages().get(index).is_some_and(|m| m.has(Field::Updated)))
}

/// Whether chat message `index` was written by the logged-in user (known once the chat
/// API is in use: see `dchat_whoami`).
#[no_mangle]
pub extern "C" fn dchat_event_message_own(event: *const dchat_event, index: usize) -> bool {
    with_event(event, false, |e| e.messages().get(index).is_some_and(|m| m.own))
}

/// How many messages a delete event of a joined room deleted (only that room's: the
/// server tells every subscription of every deletion, the library sorts them out).
#[no_mangle]
pub extern "C" fn dchat_event_deleted_count(event: *const dchat_event) -> usize {
    with_event(event, 0, |e| e.deleted().len())
}

/// The key of deleted message `index`; NULL if out of range.
#[no_mangle]
pub extern "C" fn dchat_event_deleted_id(event: *const dchat_event, index: usize) -> *const c_char {
    with_event(event, std::ptr::null(), |e| e.deleted().get(index).map_or(std::ptr::null(), |k| k.as_ptr()))
}
