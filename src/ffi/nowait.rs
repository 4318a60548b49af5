//! The calls that return at once, for hosts that must never wait on their own thread
//! (game loops, UI threads): connect, log in, subscribe, unsubscribe, close, cancel.
//!
//! Each returns a request id and completes as exactly one `DCHAT_EVENT_REPLY` event with
//! that id (`dchat_event_request`; a close's comes just before its final `CLOSED` state
//! event), or, for connect, through state events. A
//! request made before the socket is open or before the login waits for them without
//! timing out: the request timeout applies to each attempt on the wire. The blocking
//! forms (`dchat_login`, `dchat_subscribe`, ...) send the same commands and wait at most
//! the request timeout from the call.

use std::ffi::c_char;

use super::args::{handle_arg, str_arg, Out};
use super::client::{dchat_client, open, start_request, subscribe_request};
use super::options::dchat_options;
use super::status::{boundary, dchat_status, FfiResult};
use crate::protocol::{AuthCredentials, SubscribeRequest};
use crate::secret::Secret;

/// An optional output: NULL means the caller does not want it.
fn opt_out(ptr: *mut u64) -> Option<Out<u64>> {
    Out::new(ptr, "").ok()
}

/// Like `dchat_connect`, without waiting for anything: writes the new client to
/// `*client_out` at once. The session opens the socket in the background and reports
/// its progress as state events: `CONNECTING` (with `dchat_event_attempt`), `CONNECTED`,
/// or `DISCONNECTED` with the reason and the delay before the next attempt
/// (`dchat_event_retry_ms`). A first attempt that fails is retried like a lost
/// connection, as the reconnect policy allows (`dchat_options_set_reconnect`); when the
/// attempts are spent the client closes with `DCHAT_CLOSE_GAVE_UP`. Requests made
/// meanwhile wait for the connection (and the login). Only a bad URL or argument fails
/// here; a TLS setup that cannot work (bad CA PEM) closes the client with
/// `DCHAT_CLOSE_FAILED`. Free it with `dchat_free` like any client.
#[no_mangle]
pub extern "C" fn dchat_connect_nowait(
    url: *const c_char,
    options: *const dchat_options,
    client_out: *mut *mut dchat_client,
) -> dchat_status {
    boundary(|| open(url, options, client_out, false))
}

fn login(client: *const dchat_client, credentials: FfiResult<AuthCredentials>, request_out: *mut u64) -> dchat_status {
    start_request(client, request_out, |c| Ok(c.client.authenticate_nowait(credentials?)?))
}

/// Logs in with email and password without waiting: writes a request id to
/// `*request_out`; the outcome is a `DCHAT_EVENT_REPLY` with that id (a refusal has
/// the code `AUTH_FAILED`), and the state `AUTHENTICATED` follows a success. Made before
/// the socket is open, the login goes out once it is. One login at a time: a second
/// while one is in progress fails with `DCHAT_ERR_INVALID_ARGUMENT` (as its reply).
#[no_mangle]
pub extern "C" fn dchat_login_nowait(
    client: *const dchat_client,
    email: *const c_char,
    password: *const c_char,
    request_out: *mut u64,
) -> dchat_status {
    let credentials = str_arg(email, "email")
        .and_then(|email| Ok(AuthCredentials::Password { email: email.into(), password: Secret::new(str_arg(password, "password")?) }));
    login(client, credentials, request_out)
}

/// Logs in with an access token (a static token or a JWT) without waiting, like
/// `dchat_login_nowait`.
#[no_mangle]
pub extern "C" fn dchat_login_token_nowait(
    client: *const dchat_client,
    access_token: *const c_char,
    request_out: *mut u64,
) -> dchat_status {
    let credentials = str_arg(access_token, "access_token").map(|t| AuthCredentials::AccessToken(Secret::new(t)));
    login(client, credentials, request_out)
}

/// Logs in with a refresh token without waiting, like `dchat_login_nowait`.
#[no_mangle]
pub extern "C" fn dchat_login_refresh_nowait(
    client: *const dchat_client,
    refresh_token: *const c_char,
    request_out: *mut u64,
) -> dchat_status {
    let credentials = str_arg(refresh_token, "refresh_token").map(|t| AuthCredentials::RefreshToken(Secret::new(t)));
    login(client, credentials, request_out)
}

fn subscribe(client: &dchat_client, request: SubscribeRequest, subscription_out: *mut u64, request_out: *mut u64) -> FfiResult {
    let sub_out = Out::new(subscription_out, "subscription_out")?;
    let req_out = opt_out(request_out);
    let sub = client.client.subscribe_nowait_with_reply(request)?;
    sub_out.write(sub.id());
    if let Some(out) = req_out {
        out.write(sub.id());
    }
    Ok(())
}

/// Subscribes without waiting (arguments as `dchat_subscribe`). Writes the subscription
/// id to `*subscription_out` and the request id of its reply to `*request_out` (may be
/// NULL): they are the same number, so the reply and the subscription's events carry the
/// same id (`dchat_event_request` on the reply, `dchat_event_subscription` on its
/// events). The history arrives first (`DCHAT_SUB_INIT`), then the
/// `DCHAT_EVENT_REPLY` that completes the subscribe; a refusal is a
/// `DCHAT_EVENT_SUBSCRIPTION_ERROR` and a failed reply with the code (`FORBIDDEN`).
/// Made before the login, it goes out after it.
#[no_mangle]
pub extern "C" fn dchat_subscribe_nowait(
    client: *const dchat_client,
    collection: *const c_char,
    query_json: *const c_char,
    event: *const c_char,
    subscription_out: *mut u64,
    request_out: *mut u64,
) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        let request = subscribe_request(collection, query_json, event)?;
        subscribe(c, request, subscription_out, request_out)
    })
}

/// Subscribes to the chat collection without waiting (see `dchat_subscribe_chat` and
/// `dchat_subscribe_nowait`).
#[no_mangle]
pub extern "C" fn dchat_subscribe_chat_nowait(
    client: *const dchat_client,
    subscription_out: *mut u64,
    request_out: *mut u64,
) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        subscribe(c, c.client.chat_subscription(), subscription_out, request_out)
    })
}

/// Ends a subscription without waiting: no event of it is delivered after this returns.
/// Writes the request id of the server's confirmation to `*request_out` (may be NULL; a
/// new number, not the subscription's): a `DCHAT_EVENT_REPLY` with that id follows.
#[no_mangle]
pub extern "C" fn dchat_unsubscribe_nowait(client: *const dchat_client, subscription: u64, request_out: *mut u64) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        let out = opt_out(request_out);
        let id = c.client.unsubscribe_nowait_with_reply(&c.client.subscription(subscription))?;
        if let Some(out) = out {
            out.write(id);
        }
        Ok(())
    })
}

/// Asks the client to close and returns at once. Requests on the wire may finish (up to
/// 5 s), the others fail with `CLOSED`. Writes the request id of the close to
/// `*request_out` (may be NULL): a `DCHAT_EVENT_REPLY` with that id completes it, just
/// before the client's final event, the state `DCHAT_STATE_CLOSED` with
/// `dchat_event_close_cause` == `DCHAT_CLOSE_BY_USER` (nothing follows that one). A
/// client that had already closed writes 0: its `CLOSED` event was its last, and no
/// reply follows. Still free the client with `dchat_free`, which then does not wait.
/// Allowed inside the client's own callback.
#[no_mangle]
pub extern "C" fn dchat_close_nowait(client: *const dchat_client, request_out: *mut u64) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        let out = opt_out(request_out);
        let id = c.client.close_nowait_with_reply().unwrap_or(0);
        if let Some(out) = out {
            out.write(id);
        }
        Ok(())
    })
}

/// Cancels the request with this id (from a nowait call, or a subscription's id while
/// its subscribe is in progress): it completes at once with a `DCHAT_EVENT_REPLY` whose
/// code is `CANCELLED` (`DCHAT_ERR_CANCELLED`). A request still waiting for the
/// connection or the login is never sent; one already sent may still be applied by the
/// server, and is not sent again after a reconnect; a cancelled subscribe ends the
/// subscription. Unknown and finished ids are ignored. Returns at once.
#[no_mangle]
pub extern "C" fn dchat_cancel(client: *const dchat_client, request: u64) -> dchat_status {
    boundary(|| {
        handle_arg(client, "client")?.client.cancel(request);
        Ok(())
    })
}

/// Closes (if needed) and frees the client without waiting for the network, for
/// destructors and a game's exit path: after it returns no callback or wake hook of this
/// client runs any more (it waits only for one in progress) and the event fd is closed;
/// requests on the wire still get up to 5 s to finish in the background, and their
/// outcomes are dropped. `dchat_free` instead waits for the close to complete. NULL is
/// fine; must not be called twice with the same pointer. From inside this client's own
/// callback it returns `DCHAT_ERR_IN_CALLBACK` and frees nothing.
#[no_mangle]
pub extern "C" fn dchat_free_nowait(client: *mut dchat_client) -> dchat_status {
    boundary(|| {
        if client.is_null() {
            return Ok(());
        }
        let c = handle_arg(client as *const dchat_client, "client")?;
        c.refuse_in_callback("dchat_free_nowait")?;
        c.client.close_nowait();
        c.deliverer.detach();
        // SAFETY: made by `dchat_connect*` (Box::into_raw) and not freed before.
        drop(unsafe { Box::from_raw(client) });
        Ok(())
    })
}
