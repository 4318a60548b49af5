//! The connection as a UI shows it: the client's state, the attempt and delay of a
//! reconnect, why a client closed, "retry now", and the options of the reconnect
//! policy, the heartbeat and the request queue.

use std::time::Duration;

use super::args::{handle_arg, handle_mut};
use super::client::dchat_client;
use super::event::{dchat_event, dchat_state, with_event};
use super::options::dchat_options;
use super::status::{boundary, boundary_value, dchat_status, FfiError};
use crate::event::{CloseCause, ConnectionState};
use crate::options::ReconnectPolicy;

/// Why a client closed for good, on its final `DCHAT_STATE_CLOSED` event
/// (`dchat_event_close_cause`).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum dchat_close_cause {
    /// Not a `CLOSED` state event.
    DCHAT_CLOSE_NONE = 0,
    /// The user closed it (`dchat_close`, `dchat_close_nowait`, `dchat_free`).
    DCHAT_CLOSE_BY_USER = 1,
    /// The connection was lost (or never opened) and the reconnect policy's attempts
    /// are spent; `dchat_event_text` says after how many.
    DCHAT_CLOSE_GAVE_UP = 2,
    /// The server refused the credentials and nothing else was left to present.
    DCHAT_CLOSE_AUTH_REFUSED = 3,
    /// The session could not run (TLS could not be set up, an internal error).
    DCHAT_CLOSE_FAILED = 4,
}

impl dchat_close_cause {
    pub(crate) fn of(cause: Option<CloseCause>) -> Self {
        match cause {
            None => dchat_close_cause::DCHAT_CLOSE_NONE,
            Some(CloseCause::ByUser) => dchat_close_cause::DCHAT_CLOSE_BY_USER,
            Some(CloseCause::GaveUp) => dchat_close_cause::DCHAT_CLOSE_GAVE_UP,
            Some(CloseCause::AuthRefused) => dchat_close_cause::DCHAT_CLOSE_AUTH_REFUSED,
            Some(CloseCause::Failed) => dchat_close_cause::DCHAT_CLOSE_FAILED,
        }
    }
}

/// The C value of a connection state.
pub(crate) fn c_state(state: ConnectionState) -> dchat_state {
    match state {
        ConnectionState::Connecting => dchat_state::DCHAT_STATE_CONNECTING,
        ConnectionState::Connected => dchat_state::DCHAT_STATE_CONNECTED,
        ConnectionState::Authenticated => dchat_state::DCHAT_STATE_AUTHENTICATED,
        ConnectionState::Disconnected => dchat_state::DCHAT_STATE_DISCONNECTED,
        ConnectionState::Closed => dchat_state::DCHAT_STATE_CLOSED,
    }
}

/// The client's connection state as of the last state event the session reported
/// (which may still wait in the poll queue), without waiting: for a status line drawn
/// every frame. NULL gives `DCHAT_STATE_CLOSED`.
#[no_mangle]
pub extern "C" fn dchat_client_state(client: *const dchat_client) -> dchat_state {
    boundary_value(dchat_state::DCHAT_STATE_CLOSED, || match handle_arg(client, "client") {
        Ok(c) => c_state(c.client.state()),
        Err(_) => dchat_state::DCHAT_STATE_CLOSED,
    })
}

/// Skips the wait before the next reconnect attempt (a "retry now" button). Returns at
/// once; does nothing while connected or while an attempt is in progress.
/// `DCHAT_ERR_CLOSED` once the client has closed.
#[no_mangle]
pub extern "C" fn dchat_reconnect_now(client: *const dchat_client) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        if c.client.is_closed() {
            return Err(FfiError::new(dchat_status::DCHAT_ERR_CLOSED, "the client is closed"));
        }
        c.client.reconnect_now();
        Ok(())
    })
}

/// For state events: which connection attempt in a row the state belongs to. 0 for a
/// connection that is (or was) open; n for the n-th attempt to open one since the last
/// open connection (or since the client started). 0 for other events and NULL.
#[no_mangle]
pub extern "C" fn dchat_event_attempt(event: *const dchat_event) -> u32 {
    with_event(event, 0, |e| e.attempt)
}

/// For `DCHAT_STATE_DISCONNECTED` events: the delay in milliseconds before the next
/// attempt starts (for a "reconnecting in 3 s" line); -1 when no attempt follows (the
/// client is about to close) and for every other event.
#[no_mangle]
pub extern "C" fn dchat_event_retry_ms(event: *const dchat_event) -> i64 {
    with_event(event, -1, |e| e.retry_ms)
}

/// For the final `DCHAT_STATE_CLOSED` event: why the client closed (by the user, gave
/// up reconnecting, credentials refused, failed). `DCHAT_CLOSE_NONE` for other events
/// and NULL.
#[no_mangle]
pub extern "C" fn dchat_event_close_cause(event: *const dchat_event) -> dchat_close_cause {
    with_event(event, dchat_close_cause::DCHAT_CLOSE_NONE, |e| e.cause)
}

/// Sets the reconnect policy: the delay before the first attempt after a lost (or
/// never opened) connection, the factor each delay grows by (at least 1.0), the
/// longest delay, and how many attempts in a row before the client gives up and closes
/// (`DCHAT_CLOSE_GAVE_UP`): 0 never reconnects, -1 tries forever. Each delay gets up to
/// 20% of random spread. Defaults: 2000 ms, 1.5, 30000 ms, 20 attempts.
#[no_mangle]
pub extern "C" fn dchat_options_set_reconnect(
    options: *mut dchat_options,
    first_delay_ms: u32,
    factor: f64,
    max_delay_ms: u32,
    max_attempts: i32,
) -> dchat_status {
    boundary(|| {
        let o = handle_mut(options, "options")?;
        if !factor.is_finite() || factor < 1.0 {
            return Err(FfiError::new(dchat_status::DCHAT_ERR_INVALID_ARGUMENT, format!("`factor` must be at least 1.0, not {factor}")));
        }
        let max_attempts = match max_attempts {
            -1 => None,
            n => Some(u32::try_from(n).map_err(|_| {
                FfiError::new(dchat_status::DCHAT_ERR_INVALID_ARGUMENT, format!("`max_attempts` must be -1 (forever) or >= 0, not {n}"))
            })?),
        };
        o.inner.reconnect = ReconnectPolicy {
            first_delay: Duration::from_millis(first_delay_ms.into()),
            factor,
            max_delay: Duration::from_millis(max_delay_ms.into()),
            max_attempts,
            ..ReconnectPolicy::default()
        };
        Ok(())
    })
}

/// Sets the client's own liveness check: after `interval_ms` of silence the client
/// pings, and a server silent for as long again counts as lost (the session
/// reconnects). 0 turns the check off (the server's pings are always answered).
/// Default 30000.
#[no_mangle]
pub extern "C" fn dchat_options_set_heartbeat(options: *mut dchat_options, interval_ms: u32) -> dchat_status {
    boundary(|| {
        let o = handle_mut(options, "options")?;
        o.inner.heartbeat = (interval_ms > 0).then(|| Duration::from_millis(interval_ms.into()));
        Ok(())
    })
}

/// Sets how many requests may wait for the login or a reconnect; one more fails with
/// the code `QUEUE_FULL` (`DCHAT_ERR_QUEUE_FULL` from a blocking call, a failed
/// `DCHAT_EVENT_REPLY` for a nowait one). At least 1; default 1024.
#[no_mangle]
pub extern "C" fn dchat_options_set_max_queued(options: *mut dchat_options, requests: usize) -> dchat_status {
    boundary(|| {
        if requests == 0 {
            return Err(FfiError::new(dchat_status::DCHAT_ERR_INVALID_ARGUMENT, "the queue must hold at least one request"));
        }
        handle_mut(options, "options")?.inner.max_queued = requests;
        Ok(())
    })
}
