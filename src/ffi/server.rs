//! What the server tells about itself (`GET /server/info`, read after each login), from
//! C: as an event whose one item the item accessors read, so no struct crosses the ABI.

use serde_json::Value;

use super::args::{handle_arg, handle_mut, Out};
use super::chat::write_event;
use super::client::{dchat_client, start_request};
use super::event::dchat_event;
use super::options::dchat_options;
use super::status::{boundary, dchat_status};
use crate::protocol::ServerInfo;

/// Whether the client reads what the server tells about itself (`GET /server/info` over
/// REST, see `dchat_options_set_rest_url`) after each login and adapts to it; on by
/// default. Off, the session goes by behaviour alone and a password login makes no REST
/// login of its own until an attachment needs one.
#[no_mangle]
pub extern "C" fn dchat_options_set_discovery(options: *mut dchat_options, on: bool) -> dchat_status {
    boundary(|| {
        handle_mut(options, "options")?.inner.discovery = on;
        Ok(())
    })
}

fn info_value(info: Option<ServerInfo>) -> Value {
    info.map_or(Value::Null, |i| i.to_json())
}

/// What the server told about itself after the last login it could be read for, without
/// blocking: an event (free it with `dchat_event_free`) with one item, or none while
/// nothing is known (no login yet, the read still on its way, or the REST API not
/// reachable: the session then goes by behaviour). The item's fields, read with the
/// item accessors: `"/version"` (string, e.g. `"12.4.0"`), `"/major"`, `"/minor"`,
/// `"/patch"` (numbers, null when the version is no release number), `"/heartbeat"`
/// (the server's ping period in seconds, `false` when it does not ping, null when not
/// told), `"/auth_mode"` (`"handshake"`, `"public"`, `"strict"` or null) and
/// `"/error_uids"` (whether its errors carry the request's uid: true from 12.4.0).
#[no_mangle]
pub extern "C" fn dchat_server_info(client: *const dchat_client, info_out: *mut *mut dchat_event) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        let out = Out::new(info_out, "info_out")?;
        write_event(out, c, info_value(c.client.server_info()), None);
        Ok(())
    })
}

/// Like `dchat_server_info`, after waiting (blocking, at most the request timeout) until
/// the read that follows the last login has ended. Returns at once when no login was
/// made.
#[no_mangle]
pub extern "C" fn dchat_known_server_info(client: *const dchat_client, info_out: *mut *mut dchat_event) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        let out = Out::new(info_out, "info_out")?;
        let info = crate::client::block_on(c.client.known_server_info());
        write_event(out, c, info_value(info), None);
        Ok(())
    })
}

/// Like `dchat_known_server_info` without blocking: the info arrives as a
/// `DCHAT_EVENT_REPLY` event with the written request id, its one item the info (no
/// item when nothing is known).
#[no_mangle]
pub extern "C" fn dchat_known_server_info_nowait(client: *const dchat_client, request_out: *mut u64) -> dchat_status {
    start_request(client, request_out, |c| Ok(c.client.known_server_info_nowait()?))
}
