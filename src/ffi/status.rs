//! Status codes, the per-thread last error, and the panic boundary.

use std::cell::RefCell;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::args::c_enum_from_u32;
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
    /// No answer within the timeout, or (from `dchat_poll`) no event within the wait,
    /// or (from `dchat_shutdown`) something did not end in time.
    DCHAT_ERR_TIMEOUT = 6,
    /// The server refused the request; `dchat_last_error_code` gives its code
    /// (`FORBIDDEN`, `INVALID_PAYLOAD`, ...).
    DCHAT_ERR_SERVER = 7,
    /// The server refused the credentials (`AUTH_FAILED`, `TOKEN_EXPIRED`, ...).
    DCHAT_ERR_AUTH = 8,
    /// The client is closed.
    DCHAT_ERR_CLOSED = 9,
    /// The call is not allowed from inside this client's own callback (close, free),
    /// or from any callback of the library (shutdown): it would wait for itself.
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
    /// The system refused a resource the call needed: a thread, a file descriptor,
    /// memory.
    DCHAT_ERR_RESOURCE = 17,
    /// The request was cancelled before its outcome was known.
    DCHAT_ERR_CANCELLED = 18,
    /// The outbox file cannot be used; `dchat_last_error_code` says why:
    /// `OUTBOX_LOCKED` (another client has it open), `OUTBOX_CORRUPT`, `OUTBOX_FOREIGN`
    /// (another application's database), `OUTBOX_VERSION` (written by a newer version),
    /// `OUTBOX_IO`. The file is left as it was.
    DCHAT_ERR_OUTBOX = 19,
}

c_enum_from_u32!(dchat_status {
    DCHAT_OK,
    DCHAT_ERR_NULL_ARGUMENT,
    DCHAT_ERR_INVALID_UTF8,
    DCHAT_ERR_INVALID_JSON,
    DCHAT_ERR_INVALID_ARGUMENT,
    DCHAT_ERR_CONNECTION,
    DCHAT_ERR_TIMEOUT,
    DCHAT_ERR_SERVER,
    DCHAT_ERR_AUTH,
    DCHAT_ERR_CLOSED,
    DCHAT_ERR_IN_CALLBACK,
    DCHAT_ERR_WRONG_MODE,
    DCHAT_ERR_TLS,
    DCHAT_ERR_QUEUE_FULL,
    DCHAT_ERR_PROTOCOL,
    DCHAT_ERR_PANIC,
    DCHAT_ERR_BUFFER_TOO_SMALL,
    DCHAT_ERR_RESOURCE,
    DCHAT_ERR_CANCELLED,
    DCHAT_ERR_OUTBOX,
});

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

    /// The system would not start a thread.
    pub(crate) fn no_thread(e: std::io::Error) -> Self {
        FfiError::new(dchat_status::DCHAT_ERR_RESOURCE, format!("cannot start a thread: {e}"))
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
            ErrorKind::InCallback => dchat_status::DCHAT_ERR_IN_CALLBACK,
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
        DCHAT_ERR_RESOURCE => c"DCHAT_ERR_RESOURCE",
        DCHAT_ERR_CANCELLED => c"DCHAT_ERR_CANCELLED",
        DCHAT_ERR_OUTBOX => c"DCHAT_ERR_OUTBOX",
    }
}

fn status_text(status: dchat_status) -> &'static CStr {
    use dchat_status::*;
    match status {
        DCHAT_OK => c"success",
        DCHAT_ERR_NULL_ARGUMENT => c"a required pointer argument was NULL",
        DCHAT_ERR_INVALID_UTF8 => c"a string argument was not valid UTF-8",
        DCHAT_ERR_INVALID_JSON => c"a JSON argument did not parse",
        DCHAT_ERR_INVALID_ARGUMENT => c"an argument was not acceptable",
        DCHAT_ERR_CONNECTION => c"the connection failed or was lost before the answer came",
        DCHAT_ERR_TIMEOUT => c"the time ran out before the operation completed",
        DCHAT_ERR_SERVER => c"the server refused the request",
        DCHAT_ERR_AUTH => c"the server refused the credentials",
        DCHAT_ERR_CLOSED => c"the client is closed",
        DCHAT_ERR_IN_CALLBACK => c"the call is not allowed from this thread: it would wait for the callback it runs in",
        DCHAT_ERR_WRONG_MODE => c"the call does not fit the client's event mode",
        DCHAT_ERR_TLS => c"TLS could not be set up",
        DCHAT_ERR_QUEUE_FULL => c"too many requests are waiting for the connection",
        DCHAT_ERR_PROTOCOL => c"the server sent something the library cannot read",
        DCHAT_ERR_PANIC => c"an internal error occurred in the library",
        DCHAT_ERR_BUFFER_TOO_SMALL => c"the buffer is too small",
        DCHAT_ERR_RESOURCE => c"the system refused a resource (a thread, a file descriptor, memory)",
        DCHAT_ERR_CANCELLED => c"the request was cancelled before its outcome was known",
        DCHAT_ERR_OUTBOX => c"the outbox file cannot be used (locked by another client, damaged, foreign, newer, or unreadable)",
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

/// The longest prefix of `text` that fits in `room` bytes and ends on a character
/// boundary, so that a truncated copy is still valid UTF-8.
fn fitting_prefix(text: &str, room: usize) -> &str {
    let mut end = room.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Copies `text` and a NUL into `buf` (of `len` bytes) and writes its length (without
/// the NUL) to `out_len`. Too small a buffer (`len` > 0) gets as much of the text as
/// fits, cut at a UTF-8 character boundary and NUL-terminated, and the result is
/// `DCHAT_ERR_BUFFER_TOO_SMALL` with the needed length (with the NUL) in `out_len`.
#[allow(unsafe_code)]
pub(crate) fn copy_out(text: &str, buf: *mut c_char, len: usize, out_len: *mut usize) -> dchat_status {
    let needed = text.len() + 1;
    let (copied, status) = if buf.is_null() {
        (None, dchat_status::DCHAT_ERR_NULL_ARGUMENT)
    } else if len < needed {
        (len.checked_sub(1).map(|room| fitting_prefix(text, room)), dchat_status::DCHAT_ERR_BUFFER_TOO_SMALL)
    } else {
        (Some(text), dchat_status::DCHAT_OK)
    };
    if let Some(part) = copied {
        // SAFETY: `buf` holds `len` bytes, as the caller promised, and `part.len() + 1 <= len`.
        unsafe {
            std::ptr::copy_nonoverlapping(part.as_ptr(), buf.cast::<u8>(), part.len());
            *buf.add(part.len()) = 0;
        }
    }
    if !out_len.is_null() {
        let written = if status == dchat_status::DCHAT_OK { text.len() } else { needed };
        // SAFETY: the caller passes a valid pointer or NULL.
        unsafe { *out_len = written };
    }
    status
}

/// Copies the message of the last error on this thread into `buf` (NUL-terminated) and
/// its length into `out_len` (may be NULL). The last error is the one of the most recent
/// call on this thread that did not return `DCHAT_OK`; with none yet, the text is empty.
/// When `len` is too small, `buf` gets as much of the message as fits (cut at a UTF-8
/// character boundary, NUL-terminated; nothing when `len` is 0) and the result is
/// `DCHAT_ERR_BUFFER_TOO_SMALL` with the needed size (NUL included) in `out_len`. A NULL
/// `buf` gives `DCHAT_ERR_NULL_ARGUMENT`, also with the needed size in `out_len`. Never
/// contains a password or token.
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

/// A static, NUL-terminated name for a status (`"DCHAT_ERR_TIMEOUT"`); for a value that
/// is no `dchat_status` (from a newer header, or garbage), `"DCHAT_UNKNOWN"`. Never
/// NULL; do not free it.
#[no_mangle]
pub extern "C" fn dchat_status_name(status: u32) -> *const c_char {
    dchat_status::try_from(status).map(status_name).unwrap_or(c"DCHAT_UNKNOWN").as_ptr()
}

/// A static, NUL-terminated English sentence describing a status, for messages to
/// people (`"the client is closed"`); for a value that is no `dchat_status`, `"unknown
/// status"`. It says what the status means in general: the reason of a particular
/// failure is in `dchat_last_error_message`. Never NULL; do not free it.
#[no_mangle]
pub extern "C" fn dchat_status_text(status: u32) -> *const c_char {
    dchat_status::try_from(status).map(status_text).unwrap_or(c"unknown status").as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(p: *const c_char) -> String {
        // SAFETY: the functions under test return static NUL-terminated strings.
        unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned()
    }

    #[test]
    fn every_status_has_a_name_and_a_text_and_unknown_values_get_fixed_ones() {
        for v in 0..=dchat_status::DCHAT_ERR_OUTBOX as u32 {
            let status = dchat_status::try_from(v).expect("the values have no gaps");
            assert_eq!(read(dchat_status_name(v)), format!("{status:?}"));
            assert!(!read(dchat_status_text(v)).is_empty());
        }
        for v in [dchat_status::DCHAT_ERR_OUTBOX as u32 + 1, 99, u32::MAX] {
            assert_eq!(read(dchat_status_name(v)), "DCHAT_UNKNOWN");
            assert_eq!(read(dchat_status_text(v)), "unknown status");
        }
    }

    #[test]
    fn a_short_buffer_gets_a_truncated_terminated_copy_cut_on_a_character() {
        let text = "zu lang: \u{00e9}t\u{00e9}"; // each e-acute is two bytes
        let mut buf = [0x55 as c_char; 12];
        let mut needed = 0usize;
        // Room for 11 bytes and the NUL: "zu lang: " is 9, the e-acute fits, the `t` does not.
        assert_eq!(copy_out(text, buf.as_mut_ptr(), 12, &mut needed), dchat_status::DCHAT_ERR_BUFFER_TOO_SMALL);
        assert_eq!(needed, text.len() + 1);
        assert_eq!(read(buf.as_ptr()), "zu lang: \u{00e9}");
        // 10 bytes of room would cut the e-acute in half: it is left out entirely.
        assert_eq!(copy_out(text, buf.as_mut_ptr(), 11, &mut needed), dchat_status::DCHAT_ERR_BUFFER_TOO_SMALL);
        assert_eq!(read(buf.as_ptr()), "zu lang: ");
        assert_eq!(copy_out(text, buf.as_mut_ptr(), 1, &mut needed), dchat_status::DCHAT_ERR_BUFFER_TOO_SMALL);
        assert_eq!(read(buf.as_ptr()), "");
        buf[0] = 0x55;
        assert_eq!(copy_out(text, buf.as_mut_ptr(), 0, &mut needed), dchat_status::DCHAT_ERR_BUFFER_TOO_SMALL);
        assert_eq!(buf[0], 0x55, "a zero-length buffer is not touched");
        let mut big = [0 as c_char; 64];
        assert_eq!(copy_out(text, big.as_mut_ptr(), 64, &mut needed), dchat_status::DCHAT_OK);
        assert_eq!((read(big.as_ptr()).as_str(), needed), (text, text.len()));
    }
}
