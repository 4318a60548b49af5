//! Status codes, the per-thread last error, and the panic boundary.

use std::cell::RefCell;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{Error, ErrorKind};

/// The result of every fallible `dchat_` function. Values are stable and only ever
/// appended to.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum dchat_status {
    /// Success.
    DCHAT_OK = 0,
    /// A required pointer argument was NULL.
    DCHAT_ERR_NULL_ARGUMENT = 1,
    /// A string argument was not valid UTF-8.
    DCHAT_ERR_INVALID_UTF8 = 2,
    /// A JSON argument did not parse.
    DCHAT_ERR_INVALID_JSON = 3,
    /// An argument was unacceptable (bad URL, unknown action, wrong event filter, ...).
    DCHAT_ERR_INVALID_ARGUMENT = 4,
    /// The connection failed or was lost before the answer came.
    DCHAT_ERR_CONNECTION = 5,
    /// No answer within the timeout, or (from `dchat_poll`) no event within the wait.
    DCHAT_ERR_TIMEOUT = 6,
    /// The server refused the request; `dchat_last_error_code` gives its code
    /// (`FORBIDDEN`, `INVALID_PAYLOAD`, ...).
    DCHAT_ERR_SERVER = 7,
    /// The server refused the credentials (`AUTH_FAILED`, `TOKEN_EXPIRED`, ...).
    DCHAT_ERR_AUTH = 8,
    /// The client is closed.
    DCHAT_ERR_CLOSED = 9,
    /// The call is not allowed from inside this client's own callback (close, free).
    DCHAT_ERR_IN_CALLBACK = 10,
    /// The call does not fit the client's event mode (e.g. `dchat_poll` in callback mode).
    DCHAT_ERR_WRONG_MODE = 11,
    /// TLS could not be set up (bad CA PEM, no trusted roots).
    DCHAT_ERR_TLS = 12,
    /// Too many requests are waiting for the connection.
    DCHAT_ERR_QUEUE_FULL = 13,
    /// The server sent something the library cannot read.
    DCHAT_ERR_PROTOCOL = 14,
    /// An internal error (a Rust panic) was caught at the boundary.
    DCHAT_ERR_PANIC = 15,
    /// A caller-provided buffer is too small; the needed size was written.
    DCHAT_ERR_BUFFER_TOO_SMALL = 16,
    /// The request was cancelled before its outcome was known.
    DCHAT_ERR_CANCELLED = 17,
    /// The outbox file cannot be used; `dchat_last_error_code` says why:
    /// `OUTBOX_LOCKED` (another client has it open), `OUTBOX_CORRUPT`, `OUTBOX_FOREIGN`
    /// (another application's database), `OUTBOX_VERSION` (written by a newer version),
    /// `OUTBOX_IO`. The file is left as it was.
    DCHAT_ERR_OUTBOX = 18,
}

/// An error on its way to C: a status plus the code and text kept as the last error.
#[derive(Debug)]
pub(crate) struct FfiError {
    pub status: dchat_status,
    pub code: String,
    pub message: String,
}

impl FfiError {
    pub(crate) fn new(status: dchat_status, message: impl Into<String>) -> Self {
        FfiError { status, code: status_code_name(status).to_owned(), message: message.into() }
    }
}

impl From<Error> for FfiError {
    fn from(e: Error) -> Self {
        let status = match e.kind() {
            ErrorKind::Auth => dchat_status::DCHAT_ERR_AUTH,
            ErrorKind::Forbidden | ErrorKind::Server => dchat_status::DCHAT_ERR_SERVER,
            ErrorKind::Connection => dchat_status::DCHAT_ERR_CONNECTION,
            ErrorKind::Timeout => dchat_status::DCHAT_ERR_TIMEOUT,
            ErrorKind::Closed => dchat_status::DCHAT_ERR_CLOSED,
            ErrorKind::InvalidArgument => dchat_status::DCHAT_ERR_INVALID_ARGUMENT,
            ErrorKind::Tls => dchat_status::DCHAT_ERR_TLS,
            ErrorKind::QueueFull => dchat_status::DCHAT_ERR_QUEUE_FULL,
            ErrorKind::Protocol => dchat_status::DCHAT_ERR_PROTOCOL,
            ErrorKind::Cancelled => dchat_status::DCHAT_ERR_CANCELLED,
            ErrorKind::Outbox => dchat_status::DCHAT_ERR_OUTBOX,
        };
        FfiError { status, code: e.code().to_owned(), message: e.to_string() }
    }
}

pub(crate) type FfiResult<T = ()> = Result<T, FfiError>;

fn status_code_name(status: dchat_status) -> &'static str {
    let name = status_name(status).to_str().unwrap_or("");
    name.strip_prefix("DCHAT_ERR_").or_else(|| name.strip_prefix("DCHAT_")).unwrap_or(name)
}

fn status_name(status: dchat_status) -> &'static CStr {
    use dchat_status::*;
    match status {
        DCHAT_OK => c"DCHAT_OK",
        DCHAT_ERR_NULL_ARGUMENT => c"DCHAT_ERR_NULL_ARGUMENT",
        DCHAT_ERR_INVALID_UTF8 => c"DCHAT_ERR_INVALID_UTF8",
        DCHAT_ERR_INVALID_JSON => c"DCHAT_ERR_INVALID_JSON",
        DCHAT_ERR_INVALID_ARGUMENT => c"DCHAT_ERR_INVALID_ARGUMENT",
        DCHAT_ERR_CONNECTION => c"DCHAT_ERR_CONNECTION",
        DCHAT_ERR_TIMEOUT => c"DCHAT_ERR_TIMEOUT",
        DCHAT_ERR_SERVER => c"DCHAT_ERR_SERVER",
        DCHAT_ERR_AUTH => c"DCHAT_ERR_AUTH",
        DCHAT_ERR_CLOSED => c"DCHAT_ERR_CLOSED",
        DCHAT_ERR_IN_CALLBACK => c"DCHAT_ERR_IN_CALLBACK",
        DCHAT_ERR_WRONG_MODE => c"DCHAT_ERR_WRONG_MODE",
        DCHAT_ERR_TLS => c"DCHAT_ERR_TLS",
        DCHAT_ERR_QUEUE_FULL => c"DCHAT_ERR_QUEUE_FULL",
        DCHAT_ERR_PROTOCOL => c"DCHAT_ERR_PROTOCOL",
        DCHAT_ERR_PANIC => c"DCHAT_ERR_PANIC",
        DCHAT_ERR_BUFFER_TOO_SMALL => c"DCHAT_ERR_BUFFER_TOO_SMALL",
        DCHAT_ERR_CANCELLED => c"DCHAT_ERR_CANCELLED",
        DCHAT_ERR_OUTBOX => c"DCHAT_ERR_OUTBOX",
    }
}

thread_local! {
    static LAST_ERROR: RefCell<Option<FfiError>> = const { RefCell::new(None) };
}

fn set_last_error(e: FfiError) -> dchat_status {
    let status = e.status;
    if status != dchat_status::DCHAT_OK {
        LAST_ERROR.with(|l| *l.borrow_mut() = Some(e));
    }
    status
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Runs the body of an exported function: a panic becomes `DCHAT_ERR_PANIC`, an error
/// becomes its status and is kept as this thread's last error.
pub(crate) fn boundary(body: impl FnOnce() -> FfiResult) -> dchat_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => dchat_status::DCHAT_OK,
        Ok(Err(e)) => set_last_error(e),
        Err(p) => set_last_error(FfiError::new(dchat_status::DCHAT_ERR_PANIC, format!("internal error: {}", panic_text(&*p)))),
    }
}

/// Runs an accessor that cannot report an error: a panic gives `fallback`.
pub(crate) fn boundary_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// Copies `text` and a NUL into `buf` (of `len` bytes) and writes its length (without
/// the NUL) to `out_len`. Too small a buffer gives `DCHAT_ERR_BUFFER_TOO_SMALL` with the
/// needed length (with the NUL) in `out_len`.
#[allow(unsafe_code)]
pub(crate) fn copy_out(text: &str, buf: *mut c_char, len: usize, out_len: *mut usize) -> dchat_status {
    let bytes = text.as_bytes();
    if buf.is_null() || len < bytes.len() + 1 {
        if !out_len.is_null() {
            // SAFETY: the caller passes a valid pointer or NULL.
            unsafe { *out_len = bytes.len() + 1 };
        }
        return if buf.is_null() { dchat_status::DCHAT_ERR_NULL_ARGUMENT } else { dchat_status::DCHAT_ERR_BUFFER_TOO_SMALL };
    }
    // SAFETY: `buf` holds at least `len >= bytes.len() + 1` bytes, as the caller promised.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), bytes.len());
        *buf.add(bytes.len()) = 0;
        if !out_len.is_null() {
            *out_len = bytes.len();
        }
    }
    dchat_status::DCHAT_OK
}

/// Copies the message of the last error on this thread into `buf` (NUL-terminated) and
/// its length into `out_len` (may be NULL). The last error is the one of the most recent
/// call on this thread that did not return `DCHAT_OK`; with none yet, the text is empty.
/// Returns `DCHAT_ERR_BUFFER_TOO_SMALL` with the needed size (NUL included) in `out_len`
/// when `len` is too small. Never contains a password or token.
#[no_mangle]
pub extern "C" fn dchat_last_error_message(buf: *mut c_char, len: usize, out_len: *mut usize) -> dchat_status {
    boundary_value(dchat_status::DCHAT_ERR_PANIC, || {
        LAST_ERROR.with(|l| copy_out(l.borrow().as_ref().map(|e| e.message.as_str()).unwrap_or(""), buf, len, out_len))
    })
}

/// Like `dchat_last_error_message`, for the last error's code: the Directus code for
/// server errors (`AUTH_FAILED`, `FORBIDDEN`, `TOKEN_EXPIRED`, ...), otherwise the
/// status name without prefix (`TIMEOUT`, `NULL_ARGUMENT`, ...).
#[no_mangle]
pub extern "C" fn dchat_last_error_code(buf: *mut c_char, len: usize, out_len: *mut usize) -> dchat_status {
    boundary_value(dchat_status::DCHAT_ERR_PANIC, || {
        LAST_ERROR.with(|l| copy_out(l.borrow().as_ref().map(|e| e.code.as_str()).unwrap_or(""), buf, len, out_len))
    })
}

/// A static, NUL-terminated name for a status (`"DCHAT_ERR_TIMEOUT"`). Never NULL; do
/// not free it.
#[no_mangle]
pub extern "C" fn dchat_status_name(status: dchat_status) -> *const c_char {
    status_name(status).as_ptr()
}
