//! Checked reading of C arguments and writing of C outputs.

use std::ffi::{c_char, CStr};

use serde_json::Value;

use super::status::{dchat_status, FfiError, FfiResult};

/// A required string argument: NULL and invalid UTF-8 are errors naming the argument.
pub(crate) fn str_arg<'a>(ptr: *const c_char, name: &str) -> FfiResult<&'a str> {
    opt_str_arg(ptr, name)?.ok_or_else(|| FfiError::new(dchat_status::DCHAT_ERR_NULL_ARGUMENT, format!("`{name}` is NULL")))
}

/// An optional string argument: NULL is `None`.
pub(crate) fn opt_str_arg<'a>(ptr: *const c_char, name: &str) -> FfiResult<Option<&'a str>> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller passes NULL or a NUL-terminated string that outlives the call.
    let cstr = unsafe { CStr::from_ptr(ptr) };
    cstr.to_str().map(Some).map_err(|e| FfiError::new(dchat_status::DCHAT_ERR_INVALID_UTF8, format!("`{name}` is not valid UTF-8: {e}")))
}

/// An optional JSON argument: NULL is `None`, text that does not parse is an error.
pub(crate) fn json_arg(ptr: *const c_char, name: &str) -> FfiResult<Option<Value>> {
    match opt_str_arg(ptr, name)? {
        None => Ok(None),
        Some(text) => serde_json::from_str(text)
            .map(Some)
            .map_err(|e| FfiError::new(dchat_status::DCHAT_ERR_INVALID_JSON, format!("`{name}` is not valid JSON: {e}"))),
    }
}

/// A required handle argument.
pub(crate) fn handle_arg<'a, T>(ptr: *const T, name: &str) -> FfiResult<&'a T> {
    // SAFETY: the caller passes NULL or a live handle made by this library.
    unsafe { ptr.as_ref() }.ok_or_else(|| FfiError::new(dchat_status::DCHAT_ERR_NULL_ARGUMENT, format!("`{name}` is NULL")))
}

/// A required mutable handle argument.
pub(crate) fn handle_mut<'a, T>(ptr: *mut T, name: &str) -> FfiResult<&'a mut T> {
    // SAFETY: the caller passes NULL or a live handle made by this library, not in use
    // by another thread (documented for every setter).
    unsafe { ptr.as_mut() }.ok_or_else(|| FfiError::new(dchat_status::DCHAT_ERR_NULL_ARGUMENT, format!("`{name}` is NULL")))
}

/// An output pointer, checked before any work so that outputs are written only on success.
pub(crate) struct Out<T>(*mut T);

impl<T> Out<T> {
    pub(crate) fn new(ptr: *mut T, name: &str) -> FfiResult<Self> {
        if ptr.is_null() {
            Err(FfiError::new(dchat_status::DCHAT_ERR_NULL_ARGUMENT, format!("`{name}` is NULL")))
        } else {
            Ok(Out(ptr))
        }
    }

    pub(crate) fn write(self, value: T) {
        // SAFETY: checked non-NULL in `new`; the caller passes writable memory.
        unsafe { self.0.write(value) }
    }
}
