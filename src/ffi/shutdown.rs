//! `dchat_shutdown`: the process-wide shutdown, for hosts that unload the library.

use std::time::Duration;

use super::status::{boundary, dchat_status, FfiError};

/// Closes every client of the process and ends every thread of the library, waiting up
/// to `timeout_ms` milliseconds in all. Call it before `dlclose` (or at the end of a
/// plugin's life): when it returns `DCHAT_OK`, no thread of the library runs any more,
/// so its code may be unloaded.
///
/// Each live client is closed as by `dchat_close` (requests on the wire may finish; its
/// last event is the state `DCHAT_STATE_CLOSED`, delivered as usual), then every thread
/// of the library is joined: the network threads ("dchat-io"), each client's
/// dispatcher ("dchat-dispatch") or notifier ("dchat-notify") and the log thread
/// ("dchat-log"). The clients' handles stay valid: free them with `dchat_free` as
/// usual (before or after; calls on them fail with `DCHAT_ERR_CLOSED`). The library
/// stays usable: a later `dchat_connect` starts the network threads again, and the log
/// thread restarts with the next record (the log callback stays set). A call that
/// needs the network threads after the shutdown (even one on a closed client, such as
/// `dchat_login`) starts them again, so call nothing between this and `dlclose`.
/// Clients connected while a shutdown runs may or may not be closed by it.
///
/// Returns `DCHAT_ERR_IN_CALLBACK` when called on a thread of the library (an event
/// callback, the log callback, a wake hook), which it would have to wait for, and
/// `DCHAT_ERR_TIMEOUT` when something did not end in time: `dchat_last_error_message`
/// names it (clients, threads), and it was left running, so the library must then not
/// be unloaded.
#[no_mangle]
pub extern "C" fn dchat_shutdown(timeout_ms: u32) -> dchat_status {
    boundary(|| crate::shutdown::shutdown(Duration::from_millis(timeout_ms.into())).map_err(FfiError::from))
}
