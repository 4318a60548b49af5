//! `NativeClient`: the Rust client behind `directus_chat.Client` and `AsyncClient`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use directus_chat::{
    AuthCredentials, AuthMode, ChatMessage, Client, ClientOptions, Consumption, Error, Event, EventFilter, Events, ItemAction,
    ItemsRequest, ReconnectPolicy, Secret, SubscribeRequest, Subscription, TlsRoots, Upload,
};
use pyo3::prelude::*;

use pyo3::IntoPyObjectExt;
use serde_json::Value;

use crate::convert::{parse_json, seconds, to_py, to_pyerr, wait};
use crate::events::{file_tuple, PyEvent, Reader};

/// A connected client. All blocking methods release the GIL while they wait.
#[pyclass(module = "directus_chat._native", frozen)]
pub struct NativeClient {
    client: Client,
    // Only the package's dispatcher thread reads events; the lock just makes that safe.
    events: Mutex<Events>,
    /// Events count as consumed when the user takes them from the package's queues (or
    /// a callback returns: `Event._consumed`), so `max_buffered_events` and
    /// `max_buffered_bytes` bound those queues too.
    consumption: Consumption,
    timeout: Duration,
    /// The chat schema events are read with.
    chat: Arc<directus_chat::ChatConfig>,
}

fn err(py: Python<'_>, e: Error) -> PyErr {
    to_pyerr(py, &e)
}

fn items_request(py: Python<'_>, collection: &str, action: &str, payload_json: Option<&str>) -> PyResult<ItemsRequest> {
    let action = ItemAction::parse(action)
        .ok_or_else(|| err(py, Error::InvalidArgument(format!("unknown action {action:?} (create, read, update, delete)"))))?;
    let payload = parse_json(payload_json).map_err(|e| err(py, e))?.unwrap_or(Value::Null);
    ItemsRequest::from_payload(collection, action, payload).map_err(|e| err(py, e))
}

/// `(id, text, author, date, raw, key, room, author_id, own, edited, updated)`.
pub(crate) fn message_tuple(py: Python<'_>, m: &ChatMessage) -> PyResult<PyObject> {
    let parts = (m.id.as_str(), m.text.as_str(), m.author.as_deref(), m.date.as_deref(), to_py(py, &m.raw)?, m.key.as_str());
    let chat = (m.room.as_deref(), m.author_id.as_deref(), m.own, m.edited, m.updated.as_deref());
    let file = m.file.as_ref().map(|f| file_tuple(py, f)).transpose()?;
    (parts.0, parts.1, parts.2, parts.3, parts.4, parts.5, chat.0, chat.1, chat.2, chat.3, chat.4, file).into_py_any(py)
}

fn upload_of(path: Option<PathBuf>, data: Option<Vec<u8>>, name: Option<&str>, mime: Option<&str>) -> Result<Upload, Error> {
    let mut upload = match (path, data) {
        (Some(p), None) => Upload::path(p),
        (None, Some(d)) => Upload::bytes(name.unwrap_or("file"), d),
        _ => return Err(Error::InvalidArgument("give a path or data (not both)".into())),
    };
    if let Some(n) = name {
        upload = upload.name(n);
    }
    if let Some(m) = mime {
        upload = upload.mime(m);
    }
    Ok(upload)
}

fn identity_dict(py: Python<'_>, me: &directus_chat::Identity) -> PyResult<PyObject> {
    to_py(py, &me.to_json())
}

impl NativeClient {
    fn limit(&self, timeout: Option<f64>) -> Option<Duration> {
        Some(seconds(timeout).unwrap_or(self.timeout))
    }

    /// Transfers take as long as the file needs: no limit unless one is given.
    fn upload_limit(&self, timeout: Option<f64>) -> Option<Duration> {
        seconds(timeout)
    }

    fn extra(&self, py: Python<'_>, room: Option<&str>, extra_json: Option<&str>) -> PyResult<Value> {
        let mut extra = parse_json(extra_json).map_err(|e| err(py, e))?.unwrap_or(Value::Null);
        if let Some(room) = room {
            let field = self
                .client
                .chat()
                .room_field
                .clone()
                .ok_or_else(|| err(py, Error::InvalidArgument("the chat schema has no room field".into())))?;
            if extra.is_null() {
                extra = Value::Object(Default::default());
            }
            match extra.as_object_mut() {
                Some(m) => {
                    m.insert(field, room.into());
                }
                None => return Err(err(py, Error::InvalidArgument("the extra fields must be a JSON object".into()))),
            }
        }
        Ok(extra)
    }

    fn messages(&self, py: Python<'_>, data: &Value) -> PyResult<Vec<PyObject>> {
        let me = self.client.me().map(|m| m.id);
        self.client.chat().messages_for(data, me.as_deref()).iter().map(|m| message_tuple(py, m)).collect()
    }

    /// What the events of the next batch are read with: the schema and the user now.
    fn reader(&self) -> Arc<Reader> {
        Arc::new(Reader { chat: self.chat.clone(), me: self.client.me().map(|m| m.id), consumption: self.consumption.clone() })
    }
}

#[pymethods]
impl NativeClient {
    /// Connects (blocking, GIL released) to `url`.
    #[new]
    #[pyo3(signature = (url, *, timeout, collection, text_field, author_path, ca_pem=None, system_roots=false, reconnect=true, heartbeat=Some(30.0), client_ids=false, max_buffered_events=100_000, max_buffered_bytes=2 << 20, outbox=None, nowait=false, auth_mode="handshake", max_queued=1024, room_field=Some("room".to_owned()), client_key=None, history_limit=100, presence_heartbeat=None, presence_ttl=None, presence_on_join=false, file_field=None, rest_url=None, id_field="id".to_owned(), date_field="date_created".to_owned(), user_field="user_created".to_owned(), updated_field=Some("date_updated".to_owned()), presence_collection="presence".to_owned(), receipts_collection="read_receipts".to_owned(), discovery=true))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        url: &str,
        timeout: f64,
        collection: String,
        text_field: String,
        author_path: String,
        ca_pem: Option<String>,
        system_roots: bool,
        reconnect: bool,
        heartbeat: Option<f64>,
        client_ids: bool,
        max_buffered_events: usize,
        max_buffered_bytes: usize,
        outbox: Option<std::path::PathBuf>,
        nowait: bool,
        auth_mode: &str,
        max_queued: usize,
        room_field: Option<String>,
        client_key: Option<String>,
        history_limit: u32,
        presence_heartbeat: Option<f64>,
        presence_ttl: Option<f64>,
        presence_on_join: bool,
        file_field: Option<String>,
        rest_url: Option<String>,
        id_field: String,
        date_field: String,
        user_field: String,
        updated_field: Option<String>,
        presence_collection: String,
        receipts_collection: String,
        discovery: bool,
    ) -> PyResult<Self> {
        if max_buffered_events == 0 || max_buffered_bytes == 0 || max_queued == 0 {
            return Err(err(
                py,
                Error::InvalidArgument("max_buffered_events, max_buffered_bytes and max_queued must be at least 1".into()),
            ));
        }
        let timeout = seconds(Some(timeout)).unwrap_or(Duration::from_secs(30));
        let mut options = ClientOptions { request_timeout: timeout, connect_timeout: timeout, ..ClientOptions::default() };
        options.chat.collection = collection;
        options.chat.text_field = text_field;
        options.chat.author_path = author_path;
        options.chat.client_ids = client_ids;
        options.chat.room_field = room_field;
        options.chat.id_field = id_field;
        options.chat.date_field = date_field;
        options.chat.user_field = user_field;
        options.chat.updated_field = updated_field;
        options.chat.presence.collection = presence_collection;
        options.chat.presence.receipts_collection = receipts_collection;
        if let Some(field) = client_key {
            options.chat.client_key_field = field;
            options.chat.client_keys = true;
        }
        options.chat.history_limit = history_limit.max(1);
        if let Some(h) = seconds(presence_heartbeat) {
            options.chat.presence.heartbeat = h;
        }
        if let Some(t) = seconds(presence_ttl) {
            options.chat.presence.ttl = t;
        }
        if options.chat.presence.ttl <= options.chat.presence.heartbeat {
            return Err(err(py, Error::InvalidArgument("the presence TTL must be longer than its heartbeat".into())));
        }
        options.chat.presence.on_join = presence_on_join;
        options.chat.file_field = file_field;
        options.rest_url = rest_url;
        options.discovery = discovery;
        options.tls.extra_ca_pem = ca_pem;
        if system_roots {
            options.tls.roots = TlsRoots::System;
        }
        if !reconnect {
            options.reconnect = ReconnectPolicy::never();
        }
        options.heartbeat = seconds(heartbeat);
        options.max_buffered_events = max_buffered_events;
        options.max_buffered_bytes = max_buffered_bytes;
        options.outbox_path = outbox;
        options.max_queued = max_queued;
        options.auth_mode = match auth_mode {
            "handshake" => AuthMode::Handshake,
            "public" => AuthMode::Public,
            "strict" => AuthMode::Strict,
            other => return Err(err(py, Error::InvalidArgument(format!("auth_mode is {other:?}: use handshake, public or strict")))),
        };
        let url = url.to_owned();
        let (client, mut events) = if nowait {
            // The socket opens in the background; state events report how it goes.
            Client::connect_nowait(&url, options).map(|(client, events, _first)| (client, events)).map_err(|e| err(py, e))?
        } else {
            wait(py, Client::connect(&url, options), None)?.map_err(|e| err(py, e))?
        };
        let consumption = events.defer_consumption();
        let chat = Arc::new(client.chat().clone());
        Ok(NativeClient { client, events: Mutex::new(events), consumption, timeout, chat })
    }

    /// Logs in with email and password.
    #[pyo3(signature = (email, password, timeout=None))]
    fn login(&self, py: Python<'_>, email: &str, password: &str, timeout: Option<f64>) -> PyResult<()> {
        wait(py, self.client.login(email, password), self.limit(timeout))?.map_err(|e| err(py, e))
    }

    /// Logs in with an access token (a static token or a JWT).
    #[pyo3(signature = (token, timeout=None))]
    fn login_with_token(&self, py: Python<'_>, token: &str, timeout: Option<f64>) -> PyResult<()> {
        wait(py, self.client.login_with_token(token), self.limit(timeout))?.map_err(|e| err(py, e))
    }

    /// Logs in with a refresh token.
    #[pyo3(signature = (token, timeout=None))]
    fn login_with_refresh_token(&self, py: Python<'_>, token: &str, timeout: Option<f64>) -> PyResult<()> {
        wait(py, self.client.login_with_refresh_token(token), self.limit(timeout))?.map_err(|e| err(py, e))
    }

    /// Subscribes without waiting; returns the uid. The init (or a refusal) arrives as
    /// an event. `collection=None` means the chat collection with the chat query.
    /// `reply`: a reply event whose request id is the subscription's number
    /// (`subscription_id`) follows the init, or carries the refusal.
    #[pyo3(signature = (collection=None, query_json=None, event=None, item_json=None, reply=false))]
    fn subscribe(
        &self,
        py: Python<'_>,
        collection: Option<&str>,
        query_json: Option<&str>,
        event: Option<&str>,
        item_json: Option<&str>,
        reply: bool,
    ) -> PyResult<String> {
        let mut request = match collection {
            None => self.client.chat_subscription(),
            Some(c) => SubscribeRequest::new(c),
        };
        if let Some(q) = parse_json(query_json).map_err(|e| err(py, e))? {
            request = request.query(q);
        }
        if let Some(item) = parse_json(item_json).map_err(|e| err(py, e))? {
            request = request.item(item);
        }
        if let Some(e) = event {
            let filter = EventFilter::parse(e)
                .ok_or_else(|| err(py, Error::InvalidArgument(format!("unknown event {e:?} (create, update, delete)"))))?;
            request = request.event(filter);
        }
        let sub = if reply {
            self.client.subscribe_nowait_with_reply(request).map_err(|e| err(py, e))?
        } else {
            self.client.subscribe_nowait(request)
        };
        Ok(sub.uid().to_owned())
    }

    /// The number of the subscription with this uid: the request id of its reply.
    fn subscription_id(&self, py: Python<'_>, uid: &str) -> PyResult<u64> {
        Subscription::id_of_uid(uid).ok_or_else(|| err(py, Error::InvalidArgument(format!("not a subscription uid: {uid}"))))
    }

    /// Ends the subscription with this uid.
    #[pyo3(signature = (uid, timeout=None))]
    fn unsubscribe(&self, py: Python<'_>, uid: &str, timeout: Option<f64>) -> PyResult<()> {
        let id = Subscription::id_of_uid(uid).ok_or_else(|| err(py, Error::InvalidArgument(format!("not a subscription uid: {uid}"))))?;
        let sub = self.client.subscription(id);
        wait(py, self.client.unsubscribe(&sub), self.limit(timeout))?.map_err(|e| err(py, e))
    }

    /// Ends the subscription with this uid without waiting (for finalizers).
    fn unsubscribe_nowait(&self, uid: &str) {
        if let Some(id) = Subscription::id_of_uid(uid) {
            self.client.unsubscribe_nowait(&self.client.subscription(id));
        }
    }

    /// An items request; returns the server's data.
    #[pyo3(signature = (collection, action, payload_json=None, timeout=None))]
    fn request(
        &self,
        py: Python<'_>,
        collection: &str,
        action: &str,
        payload_json: Option<&str>,
        timeout: Option<f64>,
    ) -> PyResult<PyObject> {
        let request = items_request(py, collection, action, payload_json)?;
        let data = wait(py, self.client.request(request), self.limit(timeout))?.map_err(|e| err(py, e))?;
        to_py(py, &data)
    }

    /// Sends a chat message; returns it as stored: `(id, text, author, date, raw)`.
    #[pyo3(signature = (text, timeout=None))]
    fn send(&self, py: Python<'_>, text: &str, timeout: Option<f64>) -> PyResult<PyObject> {
        let m = wait(py, self.client.send_message(text), self.limit(timeout))?.map_err(|e| err(py, e))?;
        message_tuple(py, &m)
    }

    /// Sends a chat message without waiting; returns the request id of its reply event.
    fn send_nowait(&self, py: Python<'_>, text: &str) -> PyResult<u64> {
        self.client.send_message_nowait(text).map_err(|e| err(py, e))
    }

    // ---- the chat API

    /// Waits (at most `timeout`) until the logged-in user is known, as the chat API
    /// learns it; `None` when it cannot be learned.
    #[pyo3(signature = (timeout=None))]
    fn known_me(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<PyObject>> {
        match wait(py, self.client.known_me(), self.limit(timeout)) {
            Ok(me) => me.map(|m| identity_dict(py, &m)).transpose(),
            Err(_) => Ok(None),
        }
    }

    /// Joins a room (`None`: the lobby) without waiting for its history; returns the
    /// subscription's uid. With `reply`, a reply event whose request id is the
    /// subscription's number follows its history (or carries the refusal). (Wait with
    /// `known_me` first for the own flags of the history.)
    #[pyo3(signature = (room=None, reply=false))]
    fn join(&self, py: Python<'_>, room: Option<&str>, reply: bool) -> PyResult<String> {
        let sub = if reply { self.client.join_nowait_with_reply(room) } else { self.client.join_nowait(room) };
        Ok(sub.map_err(|e| err(py, e))?.uid().to_owned())
    }

    /// Leaves a room without waiting for the server.
    #[pyo3(signature = (room=None))]
    fn leave_nowait(&self, room: Option<&str>) {
        self.client.leave_nowait(room)
    }

    /// What the server told about itself after the last login it could be read for (a
    /// dict: version, major, minor, patch, heartbeat, auth_mode, error_uids), or None.
    fn server_info(&self, py: Python<'_>) -> PyResult<Option<PyObject>> {
        self.client.server_info().map(|i| to_py(py, &i.to_json())).transpose()
    }

    /// Waits (at most `timeout`) for the read that follows the last login; then
    /// `server_info`.
    #[pyo3(signature = (timeout=None))]
    fn known_server_info(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<PyObject>> {
        match wait(py, self.client.known_server_info(), self.limit(timeout)) {
            Ok(info) => info.map(|i| to_py(py, &i.to_json())).transpose(),
            Err(_) => self.server_info(py),
        }
    }

    /// `known_server_info` without waiting: the info (a dict, or None) arrives as a
    /// reply event.
    fn known_server_info_nowait(&self, py: Python<'_>) -> PyResult<u64> {
        self.client.known_server_info_nowait().map_err(|e| err(py, e))
    }

    /// `known_me` without waiting: the user (a dict, or None) arrives as a reply event.
    fn known_me_nowait(&self, py: Python<'_>) -> PyResult<u64> {
        self.client.known_me_nowait().map_err(|e| err(py, e))
    }

    /// `whoami` without waiting: the user arrives as a reply event.
    fn whoami_nowait(&self, py: Python<'_>) -> PyResult<u64> {
        self.client.whoami_nowait().map_err(|e| err(py, e))
    }

    /// `load_older` without waiting: the page (its items oldest first) arrives as a
    /// reply event; `messages_of` reads it.
    #[pyo3(signature = (room=None, before=None, count=50))]
    fn load_older_nowait(&self, py: Python<'_>, room: Option<&str>, before: Option<&str>, count: u32) -> PyResult<u64> {
        self.client.load_older_nowait(room, before, count).map_err(|e| err(py, e))
    }

    /// Uploads a file (from `path`, or `data` named `name`) without waiting: progress
    /// arrives as transfer events, the stored file as a reply event.
    #[pyo3(signature = (path=None, data=None, name=None, mime=None))]
    fn upload_nowait(
        &self,
        py: Python<'_>,
        path: Option<PathBuf>,
        data: Option<Vec<u8>>,
        name: Option<&str>,
        mime: Option<&str>,
    ) -> PyResult<u64> {
        let upload = upload_of(path, data, name, mime).map_err(|e| err(py, e))?;
        self.client.upload_nowait(upload).map_err(|e| err(py, e))
    }

    /// Uploads a file and returns it as stored: `(id, name, type, size, raw)`; the
    /// arguments as `upload_nowait`'s.
    #[pyo3(signature = (path=None, data=None, name=None, mime=None, timeout=None))]
    fn upload(
        &self,
        py: Python<'_>,
        path: Option<PathBuf>,
        data: Option<Vec<u8>>,
        name: Option<&str>,
        mime: Option<&str>,
        timeout: Option<f64>,
    ) -> PyResult<PyObject> {
        let upload = upload_of(path, data, name, mime).map_err(|e| err(py, e))?;
        let f = wait(py, self.client.upload(upload), self.upload_limit(timeout))?.map_err(|e| err(py, e))?;
        file_tuple(py, &f)
    }

    /// Reads an upload's reply data as `(id, name, type, size, raw)`.
    fn file_of(&self, py: Python<'_>, json: &str) -> PyResult<Option<PyObject>> {
        let v: Value = serde_json::from_str(json).map_err(|e| err(py, Error::InvalidArgument(e.to_string())))?;
        directus_chat::FileInfo::from_value(&v).map(|f| file_tuple(py, &f)).transpose()
    }

    /// Downloads a file into `dest` without waiting.
    fn download_nowait(&self, py: Python<'_>, file_id: &str, dest: PathBuf) -> PyResult<u64> {
        self.client.download_nowait(file_id, dest).map_err(|e| err(py, e))
    }

    /// Downloads a file into `dest`; returns its size.
    #[pyo3(signature = (file_id, dest, timeout=None))]
    fn download(&self, py: Python<'_>, file_id: &str, dest: PathBuf, timeout: Option<f64>) -> PyResult<u64> {
        wait(py, self.client.download(file_id, dest), self.upload_limit(timeout))?.map_err(|e| err(py, e))
    }

    /// Downloads a file into memory.
    #[pyo3(signature = (file_id, timeout=None))]
    fn download_bytes(&self, py: Python<'_>, file_id: &str, timeout: Option<f64>) -> PyResult<PyObject> {
        let b = wait(py, self.client.download_bytes(file_id), self.upload_limit(timeout))?.map_err(|e| err(py, e))?;
        Ok(pyo3::types::PyBytes::new(py, &b).into_any().unbind())
    }

    /// The URL of a file's contents.
    fn asset_url(&self, py: Python<'_>, file_id: &str) -> PyResult<String> {
        self.client.asset_url(file_id).map_err(|e| err(py, e))
    }

    /// `edit_message` without waiting; the stored message arrives as a reply event.
    fn edit_message_nowait(&self, py: Python<'_>, id: &str, text: &str) -> PyResult<u64> {
        self.client.edit_message_nowait(id, text).map_err(|e| err(py, e))
    }

    /// `delete_message` without waiting; the outcome arrives as a reply event.
    fn delete_message_nowait(&self, py: Python<'_>, id: &str) -> PyResult<u64> {
        self.client.delete_message_nowait(id).map_err(|e| err(py, e))
    }

    /// The chat messages of items (a reply's data as JSON), oldest first.
    fn messages_of(&self, py: Python<'_>, data_json: &str) -> PyResult<Vec<PyObject>> {
        let data = parse_json(Some(data_json)).map_err(|e| err(py, e))?.unwrap_or(Value::Null);
        self.messages(py, &data)
    }

    /// Leaves a room: ends every subscription joined to it.
    #[pyo3(signature = (room=None, timeout=None))]
    fn leave(&self, py: Python<'_>, room: Option<&str>, timeout: Option<f64>) -> PyResult<()> {
        wait(py, self.client.leave(room), self.limit(timeout))?.map_err(|e| err(py, e))
    }

    /// Sends a message to `room` with the extra fields of `extra_json`; returns it as stored.
    #[pyo3(signature = (text, room=None, extra_json=None, timeout=None))]
    fn send_with(
        &self,
        py: Python<'_>,
        text: &str,
        room: Option<&str>,
        extra_json: Option<&str>,
        timeout: Option<f64>,
    ) -> PyResult<PyObject> {
        let extra = self.extra(py, room, extra_json)?;
        let m = wait(py, self.client.send_with(text, extra), self.limit(timeout))?.map_err(|e| err(py, e))?;
        message_tuple(py, &m)
    }

    /// Like `send_with` without waiting; returns the request id of its reply event.
    #[pyo3(signature = (text, room=None, extra_json=None))]
    fn send_with_nowait(&self, py: Python<'_>, text: &str, room: Option<&str>, extra_json: Option<&str>) -> PyResult<u64> {
        let extra = self.extra(py, room, extra_json)?;
        self.client.send_with_nowait(text, extra).map_err(|e| err(py, e))
    }

    /// Up to `count` messages of `room` before `before` (a shown message's id), oldest first.
    #[pyo3(signature = (room=None, before=None, count=50, timeout=None))]
    fn load_older(
        &self,
        py: Python<'_>,
        room: Option<&str>,
        before: Option<&str>,
        count: u32,
        timeout: Option<f64>,
    ) -> PyResult<Vec<PyObject>> {
        let page = wait(py, self.client.load_older(room, before, count), self.limit(timeout))?.map_err(|e| err(py, e))?;
        page.iter().map(|m| message_tuple(py, m)).collect()
    }

    /// Changes the text of one's own message; returns it as stored.
    #[pyo3(signature = (id, text, timeout=None))]
    fn edit_message(&self, py: Python<'_>, id: &str, text: &str, timeout: Option<f64>) -> PyResult<PyObject> {
        let m = wait(py, self.client.edit_message(id, text), self.limit(timeout))?.map_err(|e| err(py, e))?;
        message_tuple(py, &m)
    }

    /// Deletes one's own message.
    #[pyo3(signature = (id, timeout=None))]
    fn delete_message(&self, py: Python<'_>, id: &str, timeout: Option<f64>) -> PyResult<()> {
        wait(py, self.client.delete_message(id), self.limit(timeout))?.map_err(|e| err(py, e))
    }

    /// Asks the server who the logged-in user is: `{id, first_name, last_name, email}`.
    #[pyo3(signature = (timeout=None))]
    fn whoami(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<PyObject> {
        let me = wait(py, self.client.whoami(), self.limit(timeout))?.map_err(|e| err(py, e))?;
        identity_dict(py, &me)
    }

    /// Enters a room's presence (writes one's row, follows who is online and typing,
    /// receipts and the unread count); returns once the row is written.
    #[pyo3(signature = (room, timeout=None))]
    fn enter(&self, py: Python<'_>, room: &str, timeout: Option<f64>) -> PyResult<()> {
        wait(py, self.client.enter(room), self.limit(timeout))?.map_err(|e| err(py, e))
    }

    /// `enter` without waiting; the outcome arrives as a reply event.
    fn enter_nowait(&self, py: Python<'_>, room: &str) -> PyResult<u64> {
        self.client.enter_nowait(room).map_err(|e| err(py, e))
    }

    /// Exits a room's presence (deletes one's row).
    #[pyo3(signature = (room, timeout=None))]
    fn exit(&self, py: Python<'_>, room: &str, timeout: Option<f64>) -> PyResult<()> {
        wait(py, self.client.exit(room), self.limit(timeout))?.map_err(|e| err(py, e))
    }

    /// `exit` without waiting; the outcome arrives as a reply event.
    fn exit_nowait(&self, py: Python<'_>, room: &str) -> PyResult<u64> {
        self.client.exit_nowait(room).map_err(|e| err(py, e))
    }

    /// Says whether the user types in an entered room (never waits).
    fn set_typing(&self, py: Python<'_>, room: &str, typing: bool) -> PyResult<()> {
        self.client.set_typing(room, typing).map_err(|e| err(py, e))
    }

    /// Moves one's read marker in an entered room to `message`.
    #[pyo3(signature = (room, message, timeout=None))]
    fn mark_read(&self, py: Python<'_>, room: &str, message: &str, timeout: Option<f64>) -> PyResult<()> {
        wait(py, self.client.mark_read(room, message), self.limit(timeout))?.map_err(|e| err(py, e))
    }

    /// `mark_read` without waiting; the outcome arrives as a reply event.
    fn mark_read_nowait(&self, py: Python<'_>, room: &str, message: &str) -> PyResult<u64> {
        self.client.mark_read_nowait(room, message).map_err(|e| err(py, e))
    }

    /// The unread count of an entered room, once counted.
    fn unread(&self, room: &str) -> Option<u64> {
        self.client.unread(room)
    }

    /// Who is online in an entered room: `(user, name, typing, seen)` tuples.
    #[allow(clippy::type_complexity)]
    fn online(&self, room: &str) -> Option<Vec<(String, Option<String>, bool, String)>> {
        self.client.online(room).map(|list| list.into_iter().map(|m| (m.user, m.name, m.typing, m.seen)).collect())
    }

    /// Who read `message` in an entered room: `(user, name, last_read, last_read_date)` tuples.
    #[allow(clippy::type_complexity)]
    fn readers(&self, room: &str, message: &str) -> Option<Vec<(String, Option<String>, Option<String>, Option<String>)>> {
        self.client.readers(room, message).map(|list| list.into_iter().map(|r| (r.user, r.name, r.last_read, r.last_read_date)).collect())
    }

    /// How many presence writes this client made in a room.
    fn presence_writes(&self, room: &str) -> Option<u64> {
        self.client.presence_writes(room)
    }

    /// The logged-in user as far as known, without waiting.
    fn me(&self, py: Python<'_>) -> PyResult<Option<PyObject>> {
        self.client.me().map(|m| identity_dict(py, &m)).transpose()
    }

    /// Closes the session (requests on the wire may finish first).
    #[pyo3(signature = (timeout=None))]
    fn close(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        match wait(py, self.client.close(), self.limit(timeout))? {
            Ok(()) | Err(Error::Closed) => Ok(()),
            Err(e) => Err(err(py, e)),
        }
    }

    /// Whether the session has ended.
    #[getter]
    fn closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Up to `max` events, waiting up to `timeout` seconds for the first (GIL
    /// released). An empty list means none came; after the `closed` state event the
    /// list is always empty.
    fn next_events(&self, py: Python<'_>, max: usize, timeout: f64) -> PyResult<Vec<Py<PyEvent>>> {
        let mut guard = self.events.lock().unwrap_or_else(|p| p.into_inner());
        let events: &mut Events = &mut guard;
        let deadline = Instant::now() + seconds(Some(timeout)).unwrap_or_default();
        let mut batch = Vec::new();
        loop {
            // A game loop's poll (timeout 0) only takes what is there.
            if events.is_ended() || timeout <= 0.0 {
                break;
            }
            let slice = deadline.saturating_duration_since(Instant::now()).min(Duration::from_millis(100));
            match py.allow_threads(|| directus_chat::blocking::wait(events.next(), Some(slice))) {
                Ok(Some(e)) => {
                    batch.push(e);
                    break;
                }
                Ok(None) => break,
                Err(Error::Timeout) => {}
                Err(e) => return Err(err(py, e)),
            }
            py.check_signals()?;
            if Instant::now() >= deadline {
                break;
            }
        }
        while batch.len() < max.max(1) {
            match events.try_next() {
                Some(e) => batch.push(e),
                None => break,
            }
        }
        drop(guard);
        let reader = self.reader();
        batch
            .into_iter()
            .map(|e| {
                let page = matches!(&e, Event::Reply { request, result: Ok(_) } if self.client.is_history_page(*request));
                Py::new(py, PyEvent::of(py, e, &reader, page)?)
            })
            .collect()
    }

    /// Queues a chat message in the outbox (written to its file first, GIL released);
    /// returns the entry as a dict.
    fn outbox_send(&self, py: Python<'_>, text: &str) -> PyResult<PyObject> {
        let outbox = self.client.outbox().map_err(|e| err(py, e))?;
        let entry = py.allow_threads(|| outbox.send_message(text)).map_err(|e| err(py, e))?;
        to_py(py, &entry.to_json())
    }

    /// Queues the create of one item in the outbox; returns the entry as a dict.
    #[pyo3(signature = (collection, data_json, key_field="id"))]
    fn outbox_create(&self, py: Python<'_>, collection: &str, data_json: &str, key_field: &str) -> PyResult<PyObject> {
        let outbox = self.client.outbox().map_err(|e| err(py, e))?;
        let data = parse_json(Some(data_json)).map_err(|e| err(py, e))?.unwrap_or(Value::Null);
        let request = ItemsRequest::create(collection, data).key_field(key_field);
        let entry = py.allow_threads(|| outbox.send(request)).map_err(|e| err(py, e))?;
        to_py(py, &entry.to_json())
    }

    /// The entries not yet over, oldest first, as dicts.
    fn outbox_list(&self, py: Python<'_>) -> PyResult<Vec<PyObject>> {
        let outbox = self.client.outbox().map_err(|e| err(py, e))?;
        outbox.list().iter().map(|e| to_py(py, &e.to_json())).collect()
    }

    /// Cancels an entry that never went out (or failed).
    fn outbox_cancel(&self, py: Python<'_>, local_id: u64) -> PyResult<PyObject> {
        let outbox = self.client.outbox().map_err(|e| err(py, e))?;
        let entry = py.allow_threads(|| outbox.cancel(local_id)).map_err(|e| err(py, e))?;
        to_py(py, &entry.to_json())
    }

    /// Edits an entry that never went out (or failed) with a JSON object of fields.
    fn outbox_edit(&self, py: Python<'_>, local_id: u64, patch_json: &str) -> PyResult<PyObject> {
        let outbox = self.client.outbox().map_err(|e| err(py, e))?;
        let patch = parse_json(Some(patch_json)).map_err(|e| err(py, e))?.unwrap_or(Value::Null);
        let entry = py.allow_threads(|| outbox.edit(local_id, patch)).map_err(|e| err(py, e))?;
        to_py(py, &entry.to_json())
    }

    /// Puts a failed entry back in the queue.
    fn outbox_retry(&self, py: Python<'_>, local_id: u64) -> PyResult<PyObject> {
        let outbox = self.client.outbox().map_err(|e| err(py, e))?;
        let entry = py.allow_threads(|| outbox.retry(local_id)).map_err(|e| err(py, e))?;
        to_py(py, &entry.to_json())
    }

    fn __repr__(&self) -> String {
        format!("<NativeClient closed={}>", self.client.is_closed())
    }

    // ---- calls that return at once: each returns a request id, completed by one reply event

    /// Logs in without waiting.
    fn login_nowait(&self, py: Python<'_>, email: &str, password: &str) -> PyResult<u64> {
        let credentials = AuthCredentials::Password { email: email.into(), password: Secret::new(password) };
        self.client.authenticate_nowait(credentials).map_err(|e| err(py, e))
    }

    /// Logs in with an access token without waiting.
    fn login_with_token_nowait(&self, py: Python<'_>, token: &str) -> PyResult<u64> {
        self.client.authenticate_nowait(AuthCredentials::AccessToken(Secret::new(token))).map_err(|e| err(py, e))
    }

    /// Logs in with a refresh token without waiting.
    fn login_with_refresh_token_nowait(&self, py: Python<'_>, token: &str) -> PyResult<u64> {
        self.client.authenticate_nowait(AuthCredentials::RefreshToken(Secret::new(token))).map_err(|e| err(py, e))
    }

    /// Ends the subscription with this uid without waiting; returns the request id of
    /// the confirmation's reply event.
    fn unsubscribe_with_reply(&self, py: Python<'_>, uid: &str) -> PyResult<u64> {
        let id = Subscription::id_of_uid(uid).ok_or_else(|| err(py, Error::InvalidArgument(format!("not a subscription uid: {uid}"))))?;
        self.client.unsubscribe_nowait_with_reply(&self.client.subscription(id)).map_err(|e| err(py, e))
    }

    /// An items request without waiting.
    #[pyo3(signature = (collection, action, payload_json=None))]
    fn request_nowait(&self, py: Python<'_>, collection: &str, action: &str, payload_json: Option<&str>) -> PyResult<u64> {
        let request = items_request(py, collection, action, payload_json)?;
        self.client.request_nowait(request).map_err(|e| err(py, e))
    }

    /// Cancels a request: its reply comes at once with the code CANCELLED.
    fn cancel(&self, request: u64) {
        self.client.cancel(request)
    }

    /// Asks the session to close; returns the request id of the `reply` event given just
    /// before the `closed` state event (0: it had already closed, and no reply follows).
    fn close_nowait(&self) -> u64 {
        self.client.close_nowait_with_reply().unwrap_or(0)
    }

    /// Skips the wait before the next reconnect attempt.
    fn reconnect_now(&self) {
        self.client.reconnect_now()
    }

    /// The connection state as of the last state event the session reported.
    fn state(&self) -> &'static str {
        self.client.state().as_str()
    }

    /// A stored chat message (a send's reply data, as JSON) as `(id, text, author, date, raw)`.
    fn message_of(&self, py: Python<'_>, item_json: &str) -> PyResult<Option<PyObject>> {
        let item = parse_json(Some(item_json)).map_err(|e| err(py, e))?.unwrap_or(Value::Null);
        let me = self.client.me().map(|m| m.id);
        self.client.chat().message_for(&item, me.as_deref()).map(|m| message_tuple(py, &m)).transpose()
    }
}
