//! `dchat_options`: the settings a client is made with.

use std::ffi::{c_char, c_void};
use std::time::Duration;

use super::args::{c_enum_from_u32, enum_arg, handle_mut, opt_str_arg, str_arg, Out};
use super::status::{boundary, dchat_status, FfiError};
use crate::options::{AuthMode, ClientOptions, TlsRoots};

/// Called with each event, on the client's dispatcher thread. `event` is borrowed: it
/// is valid only until the callback returns.
#[allow(non_camel_case_types)]
pub type dchat_event_cb = Option<unsafe extern "C" fn(user_data: *mut c_void, event: *const super::event::dchat_event)>;

/// Called when the poll queue of a client goes from empty to non-empty, on the
/// client's notifier thread (never a runtime thread, never under a library lock). It
/// should only wake the host's loop (e.g. write to a pipe); it may call `dchat_poll`.
#[allow(non_camel_case_types)]
pub type dchat_wake_cb = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// Where the built-in trusted roots for `wss://` come from.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum dchat_tls_roots {
    /// The Mozilla roots built into the library (the default).
    DCHAT_TLS_ROOTS_BUNDLED = 0,
    /// The operating system's trust store.
    DCHAT_TLS_ROOTS_SYSTEM = 1,
    /// None: only CAs added with `dchat_options_set_ca_pem`.
    DCHAT_TLS_ROOTS_NONE = 2,
}

c_enum_from_u32!(dchat_tls_roots { DCHAT_TLS_ROOTS_BUNDLED, DCHAT_TLS_ROOTS_SYSTEM, DCHAT_TLS_ROOTS_NONE });

/// The server's WebSocket authentication mode (`WEBSOCKETS_REST_AUTH`).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum dchat_auth_mode {
    /// Requests wait until a login succeeded (the server's default, `handshake`).
    DCHAT_AUTH_HANDSHAKE = 0,
    /// Requests made before the first login are sent at once with public permissions
    /// (`public`); once a user logs in, requests wait for that login and every re-login.
    DCHAT_AUTH_PUBLIC = 1,
    /// The upgrade needs a token (`strict`): the first connection uses the URL as given
    /// (put `?access_token=` there); every reconnect after a login carries a current
    /// access token of the user.
    DCHAT_AUTH_STRICT = 2,
}

c_enum_from_u32!(dchat_auth_mode { DCHAT_AUTH_HANDSHAKE, DCHAT_AUTH_PUBLIC, DCHAT_AUTH_STRICT });

/// A user pointer that the library only hands back to the user's callbacks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct UserData(pub *mut c_void);

impl UserData {
    /// The pointer, taken through a method so closures capture the whole `UserData`.
    pub(crate) fn ptr(self) -> *mut c_void {
        self.0
    }
}

// SAFETY: the library never dereferences it; the user promises (in the header) that the
// pointer may be used from the dispatcher thread.
#[allow(unsafe_code)]
unsafe impl Send for UserData {}
#[allow(unsafe_code)]
unsafe impl Sync for UserData {}

/// How a client hands its events to the host.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Delivery {
    Callback(unsafe extern "C" fn(*mut c_void, *const super::event::dchat_event), UserData),
    Poll(Option<unsafe extern "C" fn(*mut c_void)>, UserData),
}

/// Settings for `dchat_connect`. Made by `dchat_options_new`, freed by
/// `dchat_options_free`; `dchat_connect` copies what it needs, so the options may be
/// freed or reused right after it.
pub struct dchat_options {
    pub(crate) inner: ClientOptions,
    pub(crate) delivery: Delivery,
}

/// Makes options with the defaults: poll mode without a wake hook, 10 s connect and
/// 30 s request timeouts, bundled TLS roots, chat schema `messages` / `text` /
/// `user_created.first_name`. Writes `*out` only on success.
#[no_mangle]
pub extern "C" fn dchat_options_new(out: *mut *mut dchat_options) -> dchat_status {
    boundary(|| {
        let out = Out::new(out, "out")?;
        let opts = dchat_options { inner: ClientOptions::default(), delivery: Delivery::Poll(None, UserData(std::ptr::null_mut())) };
        out.write(Box::into_raw(Box::new(opts)));
        Ok(())
    })
}

/// Frees options. NULL is fine; must not be called twice with the same pointer.
#[no_mangle]
pub extern "C" fn dchat_options_free(options: *mut dchat_options) -> dchat_status {
    boundary(|| {
        if !options.is_null() {
            // SAFETY: made by `dchat_options_new` and not freed before (caller contract).
            drop(unsafe { Box::from_raw(options) });
        }
        Ok(())
    })
}

/// Sets the chat schema: the collection of messages, the field holding their text
/// and the dotted path to the author's name (NULL keeps `user_created.first_name`).
#[no_mangle]
pub extern "C" fn dchat_options_set_chat_schema(
    options: *mut dchat_options,
    collection: *const c_char,
    text_field: *const c_char,
    author_path: *const c_char,
) -> dchat_status {
    boundary(|| {
        let o = handle_mut(options, "options")?;
        let collection = str_arg(collection, "collection")?;
        let text_field = str_arg(text_field, "text_field")?;
        let author_path = opt_str_arg(author_path, "author_path")?;
        if collection.is_empty() || text_field.is_empty() {
            return Err(FfiError::new(dchat_status::DCHAT_ERR_INVALID_ARGUMENT, "collection and text_field must not be empty"));
        }
        o.inner.chat.collection = collection.into();
        o.inner.chat.text_field = text_field.into();
        if let Some(a) = author_path {
            o.inner.chat.author_path = a.into();
        }
        Ok(())
    })
}

/// For collections whose primary key is a uuid: the client chooses each new chat
/// message's key, so a message whose answer was lost with the connection is sent again
/// safely (stored once, never twice). Off by default (integer keys, as in the guides).
#[no_mangle]
pub extern "C" fn dchat_options_set_client_ids(options: *mut dchat_options, enabled: bool) -> dchat_status {
    boundary(|| {
        handle_mut(options, "options")?.inner.chat.client_ids = enabled;
        Ok(())
    })
}

/// Sets the connect timeout and the timeout of every request, in milliseconds; 0 keeps
/// the current value.
#[no_mangle]
pub extern "C" fn dchat_options_set_timeouts(options: *mut dchat_options, connect_ms: u32, request_ms: u32) -> dchat_status {
    boundary(|| {
        let o = handle_mut(options, "options")?;
        if connect_ms > 0 {
            o.inner.connect_timeout = Duration::from_millis(connect_ms.into());
        }
        if request_ms > 0 {
            o.inner.request_timeout = Duration::from_millis(request_ms.into());
        }
        Ok(())
    })
}

/// Chooses the built-in trusted roots for `wss://`: `roots` is a `dchat_tls_roots`
/// value (any other is `DCHAT_ERR_INVALID_ARGUMENT`).
#[no_mangle]
pub extern "C" fn dchat_options_set_tls_roots(options: *mut dchat_options, roots: u32) -> dchat_status {
    boundary(|| {
        let roots: dchat_tls_roots = enum_arg(roots, "roots")?;
        handle_mut(options, "options")?.inner.tls.roots = match roots {
            dchat_tls_roots::DCHAT_TLS_ROOTS_BUNDLED => TlsRoots::Bundled,
            dchat_tls_roots::DCHAT_TLS_ROOTS_SYSTEM => TlsRoots::System,
            dchat_tls_roots::DCHAT_TLS_ROOTS_NONE => TlsRoots::None,
        };
        Ok(())
    })
}

/// Trusts the CA certificates in `pem` (one or more PEM blocks) in addition to the
/// roots. The PEM is checked when connecting (`DCHAT_ERR_TLS` if unusable).
#[no_mangle]
pub extern "C" fn dchat_options_set_ca_pem(options: *mut dchat_options, pem: *const c_char) -> dchat_status {
    boundary(|| {
        let o = handle_mut(options, "options")?;
        o.inner.tls.extra_ca_pem = Some(str_arg(pem, "pem")?.to_owned());
        Ok(())
    })
}

/// Sets the server's authentication mode: `mode` is a `dchat_auth_mode` value (any
/// other is `DCHAT_ERR_INVALID_ARGUMENT`).
#[no_mangle]
pub extern "C" fn dchat_options_set_auth_mode(options: *mut dchat_options, mode: u32) -> dchat_status {
    boundary(|| {
        let mode: dchat_auth_mode = enum_arg(mode, "mode")?;
        handle_mut(options, "options")?.inner.auth_mode = match mode {
            dchat_auth_mode::DCHAT_AUTH_HANDSHAKE => AuthMode::Handshake,
            dchat_auth_mode::DCHAT_AUTH_PUBLIC => AuthMode::Public,
            dchat_auth_mode::DCHAT_AUTH_STRICT => AuthMode::Strict,
        };
        Ok(())
    })
}

/// Sets how many events may wait for the host (in the poll queue or for the callback
/// thread) before the session stops reading the socket until the host catches up
/// (default 100,000). Memory stays bounded; a host that stalls longer than the server's
/// heartbeat period is disconnected by the server and caught up without gaps after the
/// session reconnects.
#[no_mangle]
pub extern "C" fn dchat_options_set_max_buffered_events(options: *mut dchat_options, events: usize) -> dchat_status {
    boundary(|| {
        if events == 0 {
            return Err(FfiError::new(dchat_status::DCHAT_ERR_INVALID_ARGUMENT, "the event buffer must hold at least one event"));
        }
        handle_mut(options, "options")?.inner.max_buffered_events = events;
        Ok(())
    })
}

/// Sets how many bytes of events may wait for the host before the session stops reading
/// the socket, as `dchat_options_set_max_buffered_events` does for their number
/// (whichever is reached first; default 2 MiB). An event counts the bytes its data had
/// on the wire plus the event itself.
#[no_mangle]
pub extern "C" fn dchat_options_set_max_buffered_bytes(options: *mut dchat_options, bytes: usize) -> dchat_status {
    boundary(|| {
        if bytes == 0 {
            return Err(FfiError::new(dchat_status::DCHAT_ERR_INVALID_ARGUMENT, "the event buffer must hold at least one byte"));
        }
        handle_mut(options, "options")?.inner.max_buffered_bytes = bytes;
        Ok(())
    })
}

/// Sets the largest message accepted from the server, in bytes (default 16 MiB).
#[no_mangle]
pub extern "C" fn dchat_options_set_max_message_size(options: *mut dchat_options, bytes: usize) -> dchat_status {
    boundary(|| {
        if bytes < 1024 {
            return Err(FfiError::new(dchat_status::DCHAT_ERR_INVALID_ARGUMENT, "max message size must be at least 1024 bytes"));
        }
        handle_mut(options, "options")?.inner.max_message_size = bytes;
        Ok(())
    })
}

/// Callback mode: every event is passed to `callback(user_data, event)` on one
/// dedicated dispatcher thread per client, in order, never while a library lock is
/// held. The callback may call any `dchat_` function except `dchat_close` and
/// `dchat_free` on its own client (those return `DCHAT_ERR_IN_CALLBACK`).
#[no_mangle]
pub extern "C" fn dchat_options_set_callback(
    options: *mut dchat_options,
    callback: dchat_event_cb,
    user_data: *mut c_void,
) -> dchat_status {
    boundary(|| {
        let o = handle_mut(options, "options")?;
        let cb = callback.ok_or_else(|| FfiError::new(dchat_status::DCHAT_ERR_NULL_ARGUMENT, "`callback` is NULL"))?;
        o.delivery = Delivery::Callback(cb, UserData(user_data));
        Ok(())
    })
}

/// Poll mode (the default): events wait in a queue until the host takes them with
/// `dchat_poll` on its own thread. `wake` (may be NULL) is called with `user_data` each
/// time the queue goes from empty to non-empty, on a library thread.
#[no_mangle]
pub extern "C" fn dchat_options_set_poll(options: *mut dchat_options, wake: dchat_wake_cb, user_data: *mut c_void) -> dchat_status {
    boundary(|| {
        handle_mut(options, "options")?.delivery = Delivery::Poll(wake, UserData(user_data));
        Ok(())
    })
}
