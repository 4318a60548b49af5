//! `dchat_client`: connect, log in, subscribe, send, poll, close.

use std::ffi::{c_char, CString};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::args::{handle_arg, json_arg, opt_str_arg, str_arg, Out};
use super::delivery::{in_callback_of, Deliverer};
use super::event::dchat_event;
use super::options::{dchat_options, Delivery, UserData};
use super::status::{boundary, dchat_status, FfiError, FfiResult};
use crate::chat::state::ChatState;
use crate::client::{block_on, Client};
use crate::error::Error;
use crate::options::ClientOptions;
use crate::protocol::{EventFilter, ItemAction, ItemsRequest, SubscribeRequest};

/// A connection to a Directus server. Made by `dchat_connect`, freed by `dchat_free`.
/// Every function may be called from any thread, except that `dchat_free` must not race
/// with other calls on the same client.
pub struct dchat_client {
    pub(crate) client: Client,
    pub(crate) deliverer: Deliverer,
    /// Shared by every event this client hands out.
    pub(crate) chat: Arc<ChatState>,
}

impl dchat_client {
    fn owner(&self) -> usize {
        self as *const dchat_client as usize
    }

    pub(crate) fn refuse_in_callback(&self, what: &str) -> FfiResult {
        if in_callback_of(self.owner()) {
            return Err(FfiError::new(
                dchat_status::DCHAT_ERR_IN_CALLBACK,
                format!("{what} cannot be called from inside this client's own callback"),
            ));
        }
        Ok(())
    }

    /// Closes the session and waits until the last event was handed over.
    fn shut_down(&self) -> FfiResult {
        self.refuse_in_callback("dchat_close/dchat_free")?;
        // A session that has ended (closed by `dchat_shutdown`, say) needs no waiting,
        // and waiting would start the runtime again, just before an unload.
        if !self.client.is_closed() {
            match block_on(self.client.close()) {
                Ok(()) | Err(Error::Closed) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.deliverer.join();
        Ok(())
    }
}

pub(super) fn wait<T>(future: impl std::future::Future<Output = crate::Result<T>>) -> FfiResult<T> {
    block_on(future).map_err(FfiError::from)
}

/// The body of every `_nowait` call that answers with a request id: checks `client` and
/// `request_out`, then `start` checks the call's own arguments and starts the request,
/// and its id is written to `*request_out` (nothing is written on failure).
pub(super) fn start_request(
    client: *const dchat_client,
    request_out: *mut u64,
    start: impl FnOnce(&dchat_client) -> FfiResult<u64>,
) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        let out = Out::new(request_out, "request_out")?;
        out.write(start(c)?);
        Ok(())
    })
}

/// Opens a WebSocket to `url` (`ws://host:port/websocket`, `wss://...`, or the
/// server's `http(s)://` base URL) and writes the new client to `*client_out`.
/// `options` may be NULL for the defaults (poll mode). Blocks until the socket is open
/// or the connect timeout passes. On failure nothing is written and no callback runs.
/// In callback mode the first callbacks (state `CONNECTING`, `CONNECTED`) run only after
/// this function has written `*client_out`.
#[no_mangle]
pub extern "C" fn dchat_connect(url: *const c_char, options: *const dchat_options, client_out: *mut *mut dchat_client) -> dchat_status {
    boundary(|| open(url, options, client_out, true))
}

/// Starts a client (`dchat_connect`, `dchat_connect_nowait`); `wait`: until the first
/// attempt to open the socket has succeeded, else the client is closed and the error
/// returned.
pub(crate) fn open(url: *const c_char, options: *const dchat_options, client_out: *mut *mut dchat_client, wait: bool) -> FfiResult {
    let url = str_arg(url, "url")?;
    let out = Out::new(client_out, "client_out")?;
    // SAFETY: NULL or options made by `dchat_options_new`.
    let (inner, delivery) = match unsafe { options.as_ref() } {
        Some(o) => (o.inner.clone(), o.delivery),
        None => (ClientOptions::default(), Delivery::Poll(None, UserData(std::ptr::null_mut()))),
    };
    // Started here, rather than on first use deep inside, so that a system that
    // refuses its threads gives DCHAT_ERR_RESOURCE and not an internal error.
    crate::runtime::start().map_err(FfiError::no_thread)?;
    let chat = ChatState::new(inner.chat.clone(), inner.track_limit);
    let (sink, deliverer) = Deliverer::new(delivery, chat.clone());
    let (client, ready) = Client::start_with_chat(url, inner, sink, chat.clone())?;
    if wait {
        if let Err(e) = block_on(ready).unwrap_or(Err(Error::Closed)) {
            // Waited for, so that an outbox file is released when this returns.
            let _ = block_on(client.close());
            return Err(e.into());
        }
    }
    let handle = Box::new(dchat_client { client, deliverer, chat });
    let owner = handle.owner();
    if let Err(e) = handle.deliverer.start(owner, handle.client.flow().clone()) {
        let _ = handle.shut_down();
        return Err(e);
    }
    out.write(Box::into_raw(handle));
    Ok(())
}

/// Logs in with email and password. Blocks until the server answers; a refusal is
/// `DCHAT_ERR_AUTH` with the code (`AUTH_FAILED`) in `dchat_last_error_code`.
#[no_mangle]
pub extern "C" fn dchat_login(client: *const dchat_client, email: *const c_char, password: *const c_char) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        let email = str_arg(email, "email")?;
        let password = str_arg(password, "password")?;
        wait(c.client.login(email, password))
    })
}

/// Logs in with an access token (a user's static token or a JWT). Blocks like `dchat_login`.
#[no_mangle]
pub extern "C" fn dchat_login_token(client: *const dchat_client, access_token: *const c_char) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        wait(c.client.login_with_token(str_arg(access_token, "access_token")?))
    })
}

/// Logs in with a refresh token. Blocks like `dchat_login`.
#[no_mangle]
pub extern "C" fn dchat_login_refresh(client: *const dchat_client, refresh_token: *const c_char) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        wait(c.client.login_with_refresh_token(str_arg(refresh_token, "refresh_token")?))
    })
}

fn subscribe(c: &dchat_client, request: SubscribeRequest, out: Out<u64>) -> FfiResult {
    let sub = wait(c.client.subscribe(request))?;
    out.write(sub.id());
    Ok(())
}

/// Subscribes to `collection` with an optional query (JSON object text, may be NULL)
/// and an optional event filter (`"create"`, `"update"`, `"delete"`, or NULL for all).
/// Blocks until the server acknowledged it; the history arrives as the subscription's
/// first event (`DCHAT_SUB_INIT`). Writes the subscription id to `*subscription_out`.
/// A refusal returns the error here and also arrives as a
/// `DCHAT_EVENT_SUBSCRIPTION_ERROR` event.
#[no_mangle]
pub extern "C" fn dchat_subscribe(
    client: *const dchat_client,
    collection: *const c_char,
    query_json: *const c_char,
    event: *const c_char,
    subscription_out: *mut u64,
) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        let request = subscribe_request(collection, query_json, event)?;
        let out = Out::new(subscription_out, "subscription_out")?;
        subscribe(c, request, out)
    })
}

/// The subscribe request of `dchat_subscribe`'s arguments.
pub(crate) fn subscribe_request(collection: *const c_char, query_json: *const c_char, event: *const c_char) -> FfiResult<SubscribeRequest> {
    let collection = str_arg(collection, "collection")?;
    let query = json_arg(query_json, "query_json")?;
    let event = opt_str_arg(event, "event")?;
    let mut request = SubscribeRequest::new(collection);
    if let Some(q) = query {
        if !q.is_object() {
            return Err(FfiError::new(dchat_status::DCHAT_ERR_INVALID_JSON, "`query_json` must be a JSON object"));
        }
        request = request.query(q);
    }
    if let Some(e) = event {
        let filter = EventFilter::parse(e).ok_or_else(|| {
            FfiError::new(dchat_status::DCHAT_ERR_INVALID_ARGUMENT, format!("unknown event `{e}` (use create, update or delete)"))
        })?;
        request = request.event(filter);
    }
    Ok(request)
}

/// Subscribes to the chat collection: every field plus the author's name, with the
/// newest 100 messages as history; the `dchat_event_message_*` accessors list them
/// oldest first. Blocks like `dchat_subscribe`.
#[no_mangle]
pub extern "C" fn dchat_subscribe_chat(client: *const dchat_client, subscription_out: *mut u64) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        let out = Out::new(subscription_out, "subscription_out")?;
        subscribe(c, c.client.chat_subscription(), out)
    })
}

/// Ends a subscription; no event of it is delivered after this returns. Blocks until
/// the server confirmed.
#[no_mangle]
pub extern "C" fn dchat_unsubscribe(client: *const dchat_client, subscription: u64) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        wait(c.client.unsubscribe(&c.client.subscription(subscription)))
    })
}

/// Sends a chat message without blocking. Writes a request id to `*request_out`; the
/// outcome arrives as a `DCHAT_EVENT_REPLY` event with that id (the stored item as
/// JSON, or an error code). Before login, the message waits for it.
#[no_mangle]
pub extern "C" fn dchat_send(client: *const dchat_client, text: *const c_char, request_out: *mut u64) -> dchat_status {
    start_request(client, request_out, |c| Ok(c.client.send_message_nowait(str_arg(text, "text")?)?))
}

pub(crate) fn items_request(collection: *const c_char, action: *const c_char, payload_json: *const c_char) -> FfiResult<ItemsRequest> {
    let collection = str_arg(collection, "collection")?;
    let action = str_arg(action, "action")?;
    let action = ItemAction::parse(action).ok_or_else(|| {
        FfiError::new(dchat_status::DCHAT_ERR_INVALID_ARGUMENT, format!("unknown action `{action}` (use create, read, update or delete)"))
    })?;
    let payload = json_arg(payload_json, "payload_json")?.unwrap_or(Value::Null);
    Ok(ItemsRequest::from_payload(collection, action, payload)?)
}

/// An items request: `action` is `"create"`, `"read"`, `"update"` or `"delete"`;
/// `payload_json` (may be NULL) is a JSON object with any of `data`, `id`, `ids`,
/// `query`. Blocks until the server answers and writes its `data` as JSON to
/// `*result_out`, a string the caller frees with `dchat_string_free`.
#[no_mangle]
pub extern "C" fn dchat_items(
    client: *const dchat_client,
    collection: *const c_char,
    action: *const c_char,
    payload_json: *const c_char,
    result_out: *mut *mut c_char,
) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        let request = items_request(collection, action, payload_json)?;
        let out = Out::new(result_out, "result_out")?;
        let data = wait(c.client.request(request))?;
        let text = CString::new(data.to_string()).map_err(|_| FfiError::new(dchat_status::DCHAT_ERR_PROTOCOL, "NUL in JSON"))?;
        out.write(text.into_raw());
        Ok(())
    })
}

/// Like `dchat_items` without blocking: writes a request id to `*request_out`; the
/// outcome arrives as a `DCHAT_EVENT_REPLY` event with that id.
#[no_mangle]
pub extern "C" fn dchat_items_nowait(
    client: *const dchat_client,
    collection: *const c_char,
    action: *const c_char,
    payload_json: *const c_char,
    request_out: *mut u64,
) -> dchat_status {
    start_request(client, request_out, |c| Ok(c.client.request_nowait(items_request(collection, action, payload_json)?)?))
}

/// Poll mode: takes the next event, waiting up to `timeout_ms` (0: do not wait; -1:
/// wait forever). Writes an event the caller frees with `dchat_event_free`. Returns
/// `DCHAT_ERR_TIMEOUT` when none came, `DCHAT_ERR_CLOSED` once the final `CLOSED`
/// state event has been taken, `DCHAT_ERR_WRONG_MODE` in callback mode.
#[no_mangle]
pub extern "C" fn dchat_poll(client: *const dchat_client, timeout_ms: i32, event_out: *mut *mut dchat_event) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        let out = Out::new(event_out, "event_out")?;
        let queue = c
            .deliverer
            .queue()
            .ok_or_else(|| FfiError::new(dchat_status::DCHAT_ERR_WRONG_MODE, "dchat_poll needs a client in poll mode"))?;
        let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
        let event = queue.pop(timeout, c.client.flow())?;
        out.write(Box::into_raw(Box::new(dchat_event::new(event, c.chat.clone()))));
        Ok(())
    })
}

/// Closes the client: pending requests fail, the last event is the `CLOSED` state. In
/// callback mode, returns after the last callback has returned. Closing twice is fine.
/// From inside this client's own callback it returns `DCHAT_ERR_IN_CALLBACK`.
#[no_mangle]
pub extern "C" fn dchat_close(client: *const dchat_client) -> dchat_status {
    boundary(|| handle_arg(client, "client")?.shut_down())
}

/// Closes (if needed) and frees the client. After it returns no callback of this client
/// runs any more. NULL is fine; must not be called twice with the same pointer. From
/// inside this client's own callback it returns `DCHAT_ERR_IN_CALLBACK` and frees nothing.
#[no_mangle]
pub extern "C" fn dchat_free(client: *mut dchat_client) -> dchat_status {
    boundary(|| {
        if client.is_null() {
            return Ok(());
        }
        handle_arg(client as *const dchat_client, "client")?.shut_down()?;
        // SAFETY: made by `dchat_connect` (Box::into_raw) and not freed before.
        drop(unsafe { Box::from_raw(client) });
        Ok(())
    })
}

/// Frees a string returned by this library (e.g. by `dchat_items`). NULL is fine.
#[no_mangle]
pub extern "C" fn dchat_string_free(s: *mut c_char) -> dchat_status {
    boundary(|| {
        if !s.is_null() {
            // SAFETY: made by `CString::into_raw` in this library, not freed before.
            drop(unsafe { CString::from_raw(s) });
        }
        Ok(())
    })
}
