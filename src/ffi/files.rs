//! Attachments from C: uploads to and downloads from the server's REST API, with
//! progress events and a cancel (`dchat_cancel`), and the URL of a file.

use std::ffi::{c_char, CString};

use super::args::{handle_arg, handle_mut, opt_str_arg, str_arg, Out};
use super::client::{dchat_client, wait};
use super::event::{dchat_event, with_event};
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
    boundary(|| {
        let c = handle_arg(client, "client")?;
        let upload = upload_of(path, name, mime)?;
        let out = Out::new(request_out, "request_out")?;
        out.write(c.client.upload_nowait(upload)?);
        Ok(())
    })
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
    boundary(|| {
        let c = handle_arg(client, "client")?;
        let (id, dest) = (str_arg(file_id, "file_id")?, str_arg(dest_path, "dest_path")?);
        let out = Out::new(request_out, "request_out")?;
        out.write(c.client.download_nowait(id, dest)?);
        Ok(())
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
