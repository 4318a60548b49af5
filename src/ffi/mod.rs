//! The C ABI: every `dchat_*` function of `include/directus_chat.h`.
//!
//! Rules every function follows (rustls-ffi style):
//! - opaque handles (`dchat_client`, `dchat_options`, `dchat_event`), made by one
//!   function and freed by one `_free` function that accepts NULL;
//! - every fallible function returns a [`status::dchat_status`]; outputs go through
//!   out-pointers written only on success; the reason is kept per thread
//!   (`dchat_last_error_message`, `dchat_last_error_code`);
//! - no panic crosses the boundary (`status::boundary` catches it);
//! - strings passed in are borrowed for the call; strings returned are either borrowed
//!   from an event (valid while the event is) or owned by the caller and freed with
//!   `dchat_string_free`.
//!
//! This is the only module with `unsafe` code.
#![allow(unsafe_code)]
#![allow(non_camel_case_types)]
#![allow(clippy::not_unsafe_ptr_arg_deref)]

mod args;
pub mod chat;
pub mod client;
pub mod connection;
mod delivery;
pub mod event;
pub mod files;
pub mod items;
pub mod logging;
pub mod loop_io;
pub mod nowait;
pub mod options;
pub mod outbox;
pub mod presence;
pub mod server;
pub mod shutdown;
pub mod status;

use std::ffi::c_char;

/// Major version of the library this header belongs to.
pub const DCHAT_VERSION_MAJOR: u32 = 0;
/// Minor version.
pub const DCHAT_VERSION_MINOR: u32 = 1;
/// Patch version.
pub const DCHAT_VERSION_PATCH: u32 = 0;

/// The library's version as text (`"0.1.0"`): static, do not free.
#[no_mangle]
pub extern "C" fn dchat_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The library's version as `major << 16 | minor << 8 | patch`; compare with
/// `DCHAT_VERSION_MAJOR` etc. to check that header and library match.
#[no_mangle]
pub extern "C" fn dchat_version_number() -> u32 {
    (DCHAT_VERSION_MAJOR << 16) | (DCHAT_VERSION_MINOR << 8) | DCHAT_VERSION_PATCH
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_constants_match_the_package() {
        let v = format!("{DCHAT_VERSION_MAJOR}.{DCHAT_VERSION_MINOR}.{DCHAT_VERSION_PATCH}");
        assert_eq!(v, env!("CARGO_PKG_VERSION"));
    }
}
