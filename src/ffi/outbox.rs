//! The outbox in C: `dchat_options_set_outbox`, `dchat_outbox_*` and the
//! `dchat_event_outbox_*` accessors of `DCHAT_EVENT_OUTBOX` events.
//!
//! The `dchat_outbox_*` calls write the outbox file before they return (a disk sync,
//! typically a few milliseconds) on the caller's thread; they may be called from any
//! thread, event callbacks included.

use std::ffi::{c_char, CString};

use super::args::{handle_arg, handle_mut, json_arg, opt_str_arg, str_arg, Out};
use super::client::dchat_client;
use super::event::{c, dchat_event, opt_ptr, with_event};
use super::status::{boundary, dchat_status, FfiError, FfiResult};
use crate::outbox::{Outbox, OutboxEntry, OutboxState};
use crate::protocol::ItemsRequest;

/// Where an outbox entry stands (`dchat_event_outbox_state`).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum dchat_outbox_state {
    /// Not an outbox event.
    DCHAT_OUTBOX_NONE = 0,
    /// Written to the outbox, waiting for its turn: the local echo (also after an edit,
    /// a retry, or when a new client finds it in the file).
    DCHAT_OUTBOX_QUEUED = 1,
    /// Handed to the server (again, after a lost connection or a wire timeout: the
    /// attempt count says which); it may wait for the connection and the login.
    DCHAT_OUTBOX_SENDING = 2,
    /// Stored by the server, once; the JSON is the stored item. It left the outbox.
    DCHAT_OUTBOX_SENT = 3,
    /// Refused; `dchat_event_code` says why, `dchat_event_outbox_retryable` whether
    /// retrying may help. It stays until retried, edited or cancelled.
    DCHAT_OUTBOX_FAILED = 4,
    /// Cancelled by the app before it went out.
    DCHAT_OUTBOX_CANCELLED = 5,
}

/// The outbox parts of a `DCHAT_EVENT_OUTBOX` event.
#[derive(Clone)]
pub(crate) struct EventOutbox {
    state: dchat_outbox_state,
    local_id: u64,
    key: CString,
    /// The key as text, for the chat message of the local echo.
    pub(crate) key_text: String,
    pub(crate) collection: String,
    attempts: u32,
    retryable: bool,
}

impl EventOutbox {
    pub(crate) fn new(entry: OutboxEntry) -> Self {
        let (state, retryable) = match &entry.state {
            OutboxState::Queued => (dchat_outbox_state::DCHAT_OUTBOX_QUEUED, false),
            OutboxState::Sending => (dchat_outbox_state::DCHAT_OUTBOX_SENDING, false),
            OutboxState::Sent { .. } => (dchat_outbox_state::DCHAT_OUTBOX_SENT, false),
            OutboxState::Failed { retryable, .. } => (dchat_outbox_state::DCHAT_OUTBOX_FAILED, *retryable),
            OutboxState::Cancelled => (dchat_outbox_state::DCHAT_OUTBOX_CANCELLED, false),
        };
        EventOutbox {
            state,
            local_id: entry.local_id,
            key: c(&entry.key),
            key_text: entry.key,
            collection: entry.collection,
            attempts: entry.attempts,
            retryable,
        }
    }
}

/// Keeps the client's sends in an outbox file at `path` (made if missing): each
/// `dchat_outbox_send` is written there before it returns and survives a crash of the
/// app; the next client opened on the file resumes what was not sent, in order.
/// `dchat_connect` fails with `DCHAT_ERR_OUTBOX` when the file cannot be used (another
/// client has it open: `OUTBOX_LOCKED`; damaged: `OUTBOX_CORRUPT`; another
/// application's: `OUTBOX_FOREIGN`), leaving it as it was. NULL turns the outbox off.
#[no_mangle]
pub extern "C" fn dchat_options_set_outbox(options: *mut super::options::dchat_options, path: *const c_char) -> dchat_status {
    boundary(|| {
        let o = handle_mut(options, "options")?;
        let path = opt_str_arg(path, "path")?;
        if path.is_some_and(str::is_empty) {
            return Err(FfiError::new(dchat_status::DCHAT_ERR_INVALID_ARGUMENT, "`path` is empty"));
        }
        o.inner.outbox_path = path.map(Into::into);
        Ok(())
    })
}

fn outbox(client: *const dchat_client) -> FfiResult<&'static Outbox> {
    let c = handle_arg(client, "client")?;
    Ok(c.client.outbox()?)
}

/// Queues a chat message in the outbox and writes its local id to `*local_id_out`.
/// Returns once it is in the file; its local echo (`DCHAT_OUTBOX_QUEUED`) and every
/// later state arrive as `DCHAT_EVENT_OUTBOX` events with that id. The message never
/// times out: it is sent, one at a time and in order, until the server stored it
/// (`DCHAT_OUTBOX_SENT`) or refused it (`DCHAT_OUTBOX_FAILED`). Its key goes in
/// `client_key` (the schema kit's unique field), or in the primary key with
/// `dchat_options_set_client_ids`. `DCHAT_ERR_INVALID_ARGUMENT` when the client has no
/// outbox.
#[no_mangle]
pub extern "C" fn dchat_outbox_send(client: *const dchat_client, text: *const c_char, local_id_out: *mut u64) -> dchat_status {
    boundary(|| {
        let outbox = outbox(client)?;
        let text = str_arg(text, "text")?;
        let out = Out::new(local_id_out, "local_id_out")?;
        out.write(outbox.send_message(text)?.local_id);
        Ok(())
    })
}

/// Queues the create of one item (`data_json`, a JSON object) in `collection` through
/// the outbox, like `dchat_outbox_send`. Its key is the text in `key_field` (NULL:
/// `"id"`), or a new uuid put there when the data has none; that field must be unique
/// on the server (the primary key of a uuid-keyed collection, or e.g. `client_key`).
#[no_mangle]
pub extern "C" fn dchat_outbox_create(
    client: *const dchat_client,
    collection: *const c_char,
    data_json: *const c_char,
    key_field: *const c_char,
    local_id_out: *mut u64,
) -> dchat_status {
    boundary(|| {
        let outbox = outbox(client)?;
        let collection = str_arg(collection, "collection")?;
        let data =
            json_arg(data_json, "data_json")?.ok_or_else(|| FfiError::new(dchat_status::DCHAT_ERR_NULL_ARGUMENT, "`data_json` is NULL"))?;
        let key_field = opt_str_arg(key_field, "key_field")?.unwrap_or("id");
        let out = Out::new(local_id_out, "local_id_out")?;
        out.write(outbox.send(ItemsRequest::create(collection, data).key_field(key_field))?.local_id);
        Ok(())
    })
}

/// Writes the entries not yet over (queued, being sent, failed), oldest first, as a
/// JSON array to `*json_out` (the caller frees it with `dchat_string_free`). Each entry
/// has `local_id`, `key`, `collection`, `key_field`, `data`, `state`, `attempts`,
/// `queued_at_ms`, and when failed `error` (`{code, message}`) and `retryable`.
#[no_mangle]
pub extern "C" fn dchat_outbox_list(client: *const dchat_client, json_out: *mut *mut c_char) -> dchat_status {
    boundary(|| {
        let outbox = outbox(client)?;
        let out = Out::new(json_out, "json_out")?;
        let list: Vec<_> = outbox.list().iter().map(OutboxEntry::to_json).collect();
        let text = CString::new(serde_json::Value::Array(list).to_string())
            .map_err(|_| FfiError::new(dchat_status::DCHAT_ERR_PROTOCOL, "NUL in JSON"))?;
        out.write(text.into_raw());
        Ok(())
    })
}

/// Cancels an entry that never went out, or that failed (reported as
/// `DCHAT_OUTBOX_CANCELLED`). One already handed to the server may be stored, so it
/// cannot be cancelled: `DCHAT_ERR_INVALID_ARGUMENT`, as for an unknown id.
#[no_mangle]
pub extern "C" fn dchat_outbox_cancel(client: *const dchat_client, local_id: u64) -> dchat_status {
    boundary(|| {
        outbox(client)?.cancel(local_id)?;
        Ok(())
    })
}

/// Edits an entry that never went out (or failed): the fields of `patch_json` (a JSON
/// object, e.g. `{"text":"new text"}`) replace those queued; the key cannot change.
/// Reported as an outbox event with the entry's state and new item.
#[no_mangle]
pub extern "C" fn dchat_outbox_edit(client: *const dchat_client, local_id: u64, patch_json: *const c_char) -> dchat_status {
    boundary(|| {
        let outbox = outbox(client)?;
        let patch = json_arg(patch_json, "patch_json")?
            .ok_or_else(|| FfiError::new(dchat_status::DCHAT_ERR_NULL_ARGUMENT, "`patch_json` is NULL"))?;
        outbox.edit(local_id, patch)?;
        Ok(())
    })
}

/// Puts a failed entry back in the queue, in its place and with its key.
#[no_mangle]
pub extern "C" fn dchat_outbox_retry(client: *const dchat_client, local_id: u64) -> dchat_status {
    boundary(|| {
        outbox(client)?.retry(local_id)?;
        Ok(())
    })
}

fn with_outbox<T: Copy>(event: *const dchat_event, fallback: T, f: impl FnOnce(&EventOutbox) -> T) -> T {
    with_event(event, fallback, |e| e.outbox.as_ref().map_or(fallback, f))
}

/// For `DCHAT_EVENT_OUTBOX`: the entry's new state; else `DCHAT_OUTBOX_NONE`.
#[no_mangle]
pub extern "C" fn dchat_event_outbox_state(event: *const dchat_event) -> dchat_outbox_state {
    with_outbox(event, dchat_outbox_state::DCHAT_OUTBOX_NONE, |o| o.state)
}

/// For `DCHAT_EVENT_OUTBOX`: the entry's local id (`dchat_outbox_send` gave it); else 0.
#[no_mangle]
pub extern "C" fn dchat_event_outbox_id(event: *const dchat_event) -> u64 {
    with_outbox(event, 0, |o| o.local_id)
}

/// For `DCHAT_EVENT_OUTBOX`: the entry's key (what `dchat_event_message_key` gives for
/// the stored message); else NULL. Borrowed from the event.
#[no_mangle]
pub extern "C" fn dchat_event_outbox_key(event: *const dchat_event) -> *const c_char {
    with_outbox(event, std::ptr::null(), |o| opt_ptr(Some(&o.key)))
}

/// For `DCHAT_EVENT_OUTBOX`: how many times the entry was handed to the server.
#[no_mangle]
pub extern "C" fn dchat_event_outbox_attempts(event: *const dchat_event) -> u32 {
    with_outbox(event, 0, |o| o.attempts)
}

/// For a failed entry: whether retrying (`dchat_outbox_retry`) may help (the refusal
/// depends on the server's state, e.g. `FORBIDDEN`) rather than on the message itself.
#[no_mangle]
pub extern "C" fn dchat_event_outbox_retryable(event: *const dchat_event) -> bool {
    with_outbox(event, false, |o| o.retryable)
}
