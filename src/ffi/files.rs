//! Attachments from C: uploads to and downloads from the server's REST API, with
//! progress events and a cancel (`dchat_cancel`), the URL of a file, and the file a chat
//! message carries.

use std::ffi::{c_char, CString};

use super::args::{handle_arg, handle_mut, opt_str_arg, str_arg, Out};
use super::client::{dchat_client, start_request, wait};
use super::event::{dchat_event, opt_ptr, with_event, MessageFile};
use super::options::dchat_options;
use super::status::{boundary, dchat_status, FfiError};
use crate::files::Upload;

fn upload_of(path: *const c_char, name: *const c_char, mime: *const c_char) -> super::status::FfiResult<Upload> {
    let mut upload = Upload::path(str_arg(path, "path")?);
    if let Some(n) = opt_str_arg(name, "name")? {
        upload = upload.name(n);
    }
    if let Some(m) = opt_str_arg(mime, "mime")? {
        upload = upload.mime(m);
    }
    Ok(upload)
}

fn c_string(text: String) -> super::status::FfiResult<*mut c_char> {
    CString::new(text).map(CString::into_raw).map_err(|_| FfiError::new(dchat_status::DCHAT_ERR_PROTOCOL, "NUL in a string"))
}

/// Names the field of a message's attachment (a many-to-one to `directus_files`; the
/// schema kit's is `file`), so chat queries ask for its id, name, type and size: read
/// them with the item accessors (`"/file/id"`, `"/file/filename_download"`,
/// `"/file/type"`, `"/file/filesize"`). NULL or `""`: no attachments (the default).
#[no_mangle]
pub extern "C" fn dchat_options_set_file_field(options: *mut dchat_options, field: *const c_char) -> dchat_status {
    boundary(|| {
        let field = opt_str_arg(field, "field")?.filter(|f| !f.is_empty()).map(str::to_owned);
        handle_mut(options, "options")?.inner.chat.file_field = field;
        Ok(())
    })
}

/// Sets the base URL of the server's REST API, where files go and the server's info is
/// read (NULL: the socket's URL over http(s) without its `/websocket` path, where
/// Directus serves both).
#[no_mangle]
pub extern "C" fn dchat_options_set_rest_url(options: *mut dchat_options, url: *const c_char) -> dchat_status {
    boundary(|| {
        let url = opt_str_arg(url, "url")?.map(str::to_owned);
        handle_mut(options, "options")?.inner.rest_url = url;
        Ok(())
    })
}

/// Uploads the file at `path` to the server (REST `POST /files`, with the login's
/// token; the socket cannot carry files) without blocking. `name` (NULL: the path's
/// file name) is the name it is stored under, `mime` (NULL:
/// `application/octet-stream`) its type. Writes a request id; progress arrives as
/// `DCHAT_EVENT_TRANSFER` events (at the start, each percent, the end) and the outcome
/// as a `DCHAT_EVENT_REPLY` whose one item is the stored file (`"/id"`,
/// `"/filename_download"`, `"/type"`, `"/filesize"`). `dchat_cancel` with the id stops
/// it (the reply's code is then `CANCELLED`). Send it in a message with
/// `dchat_send_with(client, text, "{\"file\":\"<id>\"}", ...)`.
#[no_mangle]
pub extern "C" fn dchat_upload_nowait(
    client: *const dchat_client,
    path: *const c_char,
    name: *const c_char,
    mime: *const c_char,
    request_out: *mut u64,
) -> dchat_status {
    start_request(client, request_out, |c| Ok(c.client.upload_nowait(upload_of(path, name, mime)?)?))
}

/// Like `dchat_upload_nowait`, blocking until the upload is stored; writes the new
/// file's id, which the caller frees with `dchat_string_free`.
#[no_mangle]
pub extern "C" fn dchat_upload(
    client: *const dchat_client,
    path: *const c_char,
    name: *const c_char,
    mime: *const c_char,
    file_id_out: *mut *mut c_char,
) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        let upload = upload_of(path, name, mime)?;
        let out = Out::new(file_id_out, "file_id_out")?;
        let file = wait(c.client.upload(upload))?;
        out.write(c_string(file.id)?);
        Ok(())
    })
}

/// Downloads the contents of file `file_id` into `dest_path` without blocking (written
/// as `<dest_path>.part` and renamed when complete, so a failed or cancelled download
/// leaves nothing under the name). Progress and the outcome arrive as with
/// `dchat_upload_nowait`; the reply's item is `{"bytes": N, "path": "..."}`.
#[no_mangle]
pub extern "C" fn dchat_download_nowait(
    client: *const dchat_client,
    file_id: *const c_char,
    dest_path: *const c_char,
    request_out: *mut u64,
) -> dchat_status {
    start_request(client, request_out, |c| {
        let (id, dest) = (str_arg(file_id, "file_id")?, str_arg(dest_path, "dest_path")?);
        Ok(c.client.download_nowait(id, dest)?)
    })
}

/// Like `dchat_download_nowait`, blocking until the file is written; writes the number
/// of bytes to `*bytes_out` (may be NULL).
#[no_mangle]
pub extern "C" fn dchat_download(
    client: *const dchat_client,
    file_id: *const c_char,
    dest_path: *const c_char,
    bytes_out: *mut u64,
) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        let (id, dest) = (str_arg(file_id, "file_id")?, str_arg(dest_path, "dest_path")?);
        let n = wait(c.client.download(id, dest))?;
        if !bytes_out.is_null() {
            Out::new(bytes_out, "bytes_out")?.write(n);
        }
        Ok(())
    })
}

/// Writes the URL of file `file_id`'s contents (`<server>/assets/<id>`; fetching it
/// needs the user's token unless the public role may read files), which the caller
/// frees with `dchat_string_free`.
#[no_mangle]
pub extern "C" fn dchat_asset_url(client: *const dchat_client, file_id: *const c_char, url_out: *mut *mut c_char) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        let id = str_arg(file_id, "file_id")?;
        let out = Out::new(url_out, "url_out")?;
        out.write(c_string(c.client.asset_url(id)?)?);
        Ok(())
    })
}

/// For `DCHAT_EVENT_TRANSFER`: the bytes moved so far and the file's size (-1 when the
/// server did not say). Either pointer may be NULL. `DCHAT_ERR_INVALID_ARGUMENT` for
/// other events.
#[no_mangle]
pub extern "C" fn dchat_event_transfer(event: *const dchat_event, done_out: *mut u64, total_out: *mut i64) -> dchat_status {
    boundary(|| {
        if event.is_null() {
            return Err(FfiError::new(dchat_status::DCHAT_ERR_NULL_ARGUMENT, "`event` is NULL"));
        }
        let e = with_event(event, None, |e| (e.kind == super::event::dchat_kind::DCHAT_EVENT_TRANSFER).then_some(e.transfer));
        let (done, total) = e.ok_or_else(|| FfiError::new(dchat_status::DCHAT_ERR_INVALID_ARGUMENT, "not a transfer event"))?;
        if !done_out.is_null() {
            Out::new(done_out, "done_out")?.write(done);
        }
        if !total_out.is_null() {
            Out::new(total_out, "total_out")?.write(total);
        }
        Ok(())
    })
}

fn message_file<T: Copy>(event: *const dchat_event, index: usize, fallback: T, f: impl FnOnce(&MessageFile) -> T) -> T {
    with_event(event, fallback, |e| e.messages().get(index).and_then(|m| m.file.as_ref()).map_or(fallback, f))
}

/// The id of the file chat message `index` carries (what its file field holds; the
/// contents are at `dchat_asset_url`); NULL when it carries none, the schema has no file
/// field (`dchat_options_set_file_field`), or out of range. Borrowed from the event.
#[no_mangle]
pub extern "C" fn dchat_event_message_file_id(event: *const dchat_event, index: usize) -> *const c_char {
    message_file(event, index, std::ptr::null(), |f| f.id.as_ptr())
}

/// The name the file of chat message `index` was uploaded with (`filename_download`);
/// NULL when unknown or there is no file. Borrowed from the event.
#[no_mangle]
pub extern "C" fn dchat_event_message_file_name(event: *const dchat_event, index: usize) -> *const c_char {
    message_file(event, index, std::ptr::null(), |f| opt_ptr(f.name.as_ref()))
}

/// The MIME type of the file of chat message `index`; NULL when unknown or there is no
/// file. Borrowed from the event.
#[no_mangle]
pub extern "C" fn dchat_event_message_file_type(event: *const dchat_event, index: usize) -> *const c_char {
    message_file(event, index, std::ptr::null(), |f| opt_ptr(f.mime.as_ref()))
}

/// The size in bytes of the file of chat message `index`, written to `*size_out`;
/// returns false (and writes nothing) when it is unknown or there is no file.
#[no_mangle]
pub extern "C" fn dchat_event_message_file_size(event: *const dchat_event, index: usize, size_out: *mut u64) -> bool {
    message_file(event, index, false, |f| match (f.size, Out::new(size_out, "size_out")) {
        (Some(n), Ok(out)) => {
            out.write(n);
            true
        }
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::state::ChatState;
    use crate::chat::ChatConfig;
    use crate::event::Event;
    use crate::protocol::SubscriptionKind;
    use serde_json::json;
    use std::ffi::CStr;

    fn text(p: *const c_char) -> Option<String> {
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned())
    }

    #[test]
    fn a_message_file_is_read_with_the_schema_and_kept_by_a_copy() {
        let chat = ChatState::new(ChatConfig { file_field: Some("file".into()), ..ChatConfig::default() }, 10);
        // Directus 10 sends the size as a string.
        let data = json!([
            {"id":1,"text":"a picture","file":{"id":"f-1","filename_download":"cat.png","type":"image/png","filesize":"12"}},
            {"id":2,"text":"no file","file":null}
        ]);
        let e = dchat_event::new(Event::Subscription { uid: "s-1".into(), kind: SubscriptionKind::Create, data: data.into() }, chat);
        let mut copy: *mut dchat_event = std::ptr::null_mut();
        assert_eq!(super::super::event::dchat_event_clone(&e, &mut copy), dchat_status::DCHAT_OK);
        for ev in [&e as *const dchat_event, copy] {
            assert_eq!(text(dchat_event_message_file_id(ev, 0)).as_deref(), Some("f-1"));
            assert_eq!(text(dchat_event_message_file_name(ev, 0)).as_deref(), Some("cat.png"));
            assert_eq!(text(dchat_event_message_file_type(ev, 0)).as_deref(), Some("image/png"));
            let mut size = 0u64;
            assert!(dchat_event_message_file_size(ev, 0, &mut size) && size == 12);
            assert!(dchat_event_message_file_id(ev, 1).is_null() && !dchat_event_message_file_size(ev, 1, &mut size));
            assert!(dchat_event_message_file_id(ev, 2).is_null() && dchat_event_message_file_name(std::ptr::null(), 0).is_null());
            assert!(!dchat_event_message_file_size(ev, 0, std::ptr::null_mut()));
            let name = super::super::items::dchat_event_item_string(ev, 0, c"/file/filename_download".as_ptr());
            assert_eq!(text(name).as_deref(), Some("cat.png"));
        }
        assert_eq!(super::super::event::dchat_event_free(copy), dchat_status::DCHAT_OK);
        let mut none: *mut dchat_event = std::ptr::null_mut();
        assert_eq!(super::super::event::dchat_event_clone(std::ptr::null(), &mut none), dchat_status::DCHAT_ERR_NULL_ARGUMENT);
        assert!(none.is_null());
    }
}
