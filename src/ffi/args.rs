//! Checked reading of C arguments and writing of C outputs.

use std::ffi::{c_char, CStr};

use serde_json::Value;

use super::status::{dchat_status, FfiError, FfiResult};

/// Reads an enum argument that C passed as a plain integer. C lets any value through,
/// and a Rust enum holding a value outside its variants is undefined behaviour, so the
/// exported functions take `u32` and check it here.
pub(crate) fn enum_arg<T: TryFrom<u32>>(value: u32, name: &str) -> FfiResult<T> {
    T::try_from(value)
        .map_err(|_| FfiError::new(dchat_status::DCHAT_ERR_INVALID_ARGUMENT, format!("`{name}` is {value}, which is none of its values")))
}

/// Implements `TryFrom<u32>` for a C enum from the list of its variants.
macro_rules! c_enum_from_u32 {
    ($enum:ident { $($variant:ident),+ $(,)? }) => {
        impl TryFrom<u32> for $enum {
            type Error = ();
            fn try_from(value: u32) -> Result<Self, ()> {
                $(if value == $enum::$variant as u32 {
                    return Ok($enum::$variant);
                })+
                Err(())
            }
        }
    };
}
pub(crate) use c_enum_from_u32;

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
