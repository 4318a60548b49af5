//! `Event` and `ChatMessage`: the package's event and message classes, made in Rust.
//!
//! An event is handed to Python as it came from the core, and each attribute is made
//! when it is first read: a subscription event's items stay the frame's JSON until
//! `data` or `messages` is read, and a message's date becomes a `datetime`, its item a
//! dict, only when asked for. Building every attribute of every event in Python first
//! (a dict per item, a `ChatMessage` and a `datetime` per message) cost more than the
//! rest of the delivery together (event flood: 117,000 events/s, 8.8 µs of CPU each).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use directus_chat::{ChatConfig, Consumption, Data, Event, FileInfo, MessageView, SubscriptionKind, Uid};
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use pyo3::IntoPyObjectExt;
use serde_json::Value;

use crate::convert::to_py;

/// The functions of the pure-Python package the classes use, looked up on first use.
struct Helpers {
    parse_date: PyObject,
    error_from_code: PyObject,
    outbox_entry: PyObject,
    file_info: PyObject,
}

static HELPERS: GILOnceCell<Helpers> = GILOnceCell::new();

fn helpers(py: Python<'_>) -> PyResult<&'static Helpers> {
    HELPERS.get_or_try_init(py, || {
        let events = py.import("directus_chat._events")?;
        Ok(Helpers {
            parse_date: events.getattr("parse_date")?.unbind(),
            error_from_code: py.import("directus_chat._errors")?.getattr("error_from_code")?.unbind(),
            outbox_entry: py.import("directus_chat._outbox")?.getattr("OutboxEntry")?.unbind(),
            file_info: events.getattr("FileInfo")?.unbind(),
        })
    })
}

/// `(id, name, type, size, raw)` of an attached or uploaded file.
pub(crate) fn file_tuple(py: Python<'_>, f: &FileInfo) -> PyResult<PyObject> {
    (f.id.as_str(), f.name.as_deref(), f.mime.as_deref(), f.size, to_py(py, &f.raw)?).into_py_any(py)
}

fn date_of(py: Python<'_>, cell: &GILOnceCell<PyObject>, text: &Option<String>) -> PyResult<PyObject> {
    cell.get_or_try_init(py, || match text {
        Some(t) => helpers(py)?.parse_date.call1(py, (t.as_str(),)),
        None => Ok(py.None()),
    })
    .map(|o| o.clone_ref(py))
}

/// What a message's item is, until it is read.
enum Item {
    Json(String),
    Value(Value),
    Object(PyObject),
}

/// What a message's attachment is, until it is read.
enum Attachment {
    Info(FileInfo),
    Tuple(PyObject),
}

/// One chat message: `id`, `text`, `author` (name), `date` and the `raw` item; its
/// `room` (`None`: the lobby), `author_id`, whether it is the logged-in user's `own`
/// and whether it was `edited` (and when: `updated`); `file`, its attachment.
///
/// `key` is the key the client made for it when it was sent through the outbox (its
/// `client_key`, or its primary key with client ids), else its `id`: an outbox entry's
/// local echo and the message the server stored have the same key.
#[pyclass(module = "directus_chat._native", name = "ChatMessage", frozen)]
pub struct PyChatMessage {
    #[pyo3(get)]
    id: String,
    #[pyo3(get)]
    text: String,
    #[pyo3(get)]
    author: Option<String>,
    #[pyo3(get)]
    key: String,
    #[pyo3(get)]
    room: Option<String>,
    #[pyo3(get)]
    author_id: Option<String>,
    #[pyo3(get)]
    own: bool,
    #[pyo3(get)]
    edited: bool,
    date_text: Option<String>,
    updated_text: Option<String>,
    item: Item,
    attachment: Option<Attachment>,
    date: GILOnceCell<PyObject>,
    updated: GILOnceCell<PyObject>,
    raw: GILOnceCell<PyObject>,
    file: GILOnceCell<PyObject>,
}

impl PyChatMessage {
    fn new(view: &MessageView<'_>) -> Self {
        PyChatMessage {
            id: view.id.to_string(),
            text: view.text.to_string(),
            author: view.author.as_deref().map(str::to_owned),
            key: view.key.to_string(),
            room: view.room.as_deref().map(str::to_owned),
            author_id: view.author_id.as_deref().map(str::to_owned),
            own: view.own,
            edited: view.edited(),
            date_text: view.date.as_deref().map(str::to_owned),
            updated_text: view.updated.as_deref().map(str::to_owned),
            item: view.raw_json().map_or_else(|| Item::Value(view.raw()), |j| Item::Json(j.to_owned())),
            attachment: view.file().map(Attachment::Info),
            date: GILOnceCell::new(),
            updated: GILOnceCell::new(),
            raw: GILOnceCell::new(),
            file: GILOnceCell::new(),
        }
    }

    /// A message of a whole item already at hand (a reply's message).
    pub(crate) fn of_message(m: &directus_chat::ChatMessage) -> Self {
        PyChatMessage {
            id: m.id.clone(),
            text: m.text.clone(),
            author: m.author.clone(),
            key: m.key.clone(),
            room: m.room.clone(),
            author_id: m.author_id.clone(),
            own: m.own,
            edited: m.edited,
            date_text: m.date.clone(),
            updated_text: m.updated.clone(),
            item: Item::Value(m.raw.clone()),
            attachment: m.file.clone().map(Attachment::Info),
            date: GILOnceCell::new(),
            updated: GILOnceCell::new(),
            raw: GILOnceCell::new(),
            file: GILOnceCell::new(),
        }
    }
}

/// The messages of event data, read from the items as the server sent them.
fn messages_of(py: Python<'_>, chat: &ChatConfig, data: &Data, me: Option<&str>) -> PyResult<PyObject> {
    let messages = chat.read_messages(data, me, PyChatMessage::new);
    let list = PyList::empty(py);
    for m in messages {
        list.append(Py::new(py, m)?)?;
    }
    Ok(list.into_any().unbind())
}

#[pymethods]
impl PyChatMessage {
    /// The creation date as an aware `datetime` (`None` when the item has none).
    #[getter]
    fn date(&self, py: Python<'_>) -> PyResult<PyObject> {
        date_of(py, &self.date, &self.date_text)
    }

    /// When it was last edited, if it was.
    #[getter]
    fn updated(&self, py: Python<'_>) -> PyResult<PyObject> {
        date_of(py, &self.updated, &self.updated_text)
    }

    /// The whole item as the server sent it (a dict).
    #[getter]
    fn raw(&self, py: Python<'_>) -> PyResult<PyObject> {
        self.raw
            .get_or_try_init(py, || match &self.item {
                Item::Json(j) => to_py(py, &serde_json::from_str(j).unwrap_or(Value::Null)),
                Item::Value(v) => to_py(py, v),
                Item::Object(o) => Ok(o.clone_ref(py)),
            })
            .map(|o| o.clone_ref(py))
    }

    /// The attached file (`FileInfo`), where the schema has a file field.
    #[getter]
    fn file(&self, py: Python<'_>) -> PyResult<PyObject> {
        self.file
            .get_or_try_init(py, || match &self.attachment {
                None => Ok(py.None()),
                Some(Attachment::Info(f)) => helpers(py)?.file_info.call_method1(py, "_from_native", (file_tuple(py, f)?,)),
                Some(Attachment::Tuple(t)) => helpers(py)?.file_info.call_method1(py, "_from_native", (t.clone_ref(py),)),
            })
            .map(|o| o.clone_ref(py))
    }

    /// A message from the native module's tuple `(id, text, author, date, raw, key,
    /// room, author_id, own, edited, updated, file)`.
    #[staticmethod]
    fn _from_native(t: &Bound<'_, PyTuple>) -> PyResult<Self> {
        let s = |i: usize| -> PyResult<Option<String>> {
            if i < t.len() {
                t.get_item(i)?.extract()
            } else {
                Ok(None)
            }
        };
        let id: String = t.get_item(0)?.extract()?;
        let key = s(5)?.filter(|k| !k.is_empty()).unwrap_or_else(|| id.clone());
        let flag = |i: usize| -> PyResult<bool> {
            if i < t.len() {
                t.get_item(i)?.is_truthy()
            } else {
                Ok(false)
            }
        };
        let attachment = if t.len() > 11 && !t.get_item(11)?.is_none() { Some(Attachment::Tuple(t.get_item(11)?.unbind())) } else { None };
        Ok(PyChatMessage {
            id,
            text: t.get_item(1)?.extract()?,
            author: s(2)?,
            key,
            room: s(6)?,
            author_id: s(7)?,
            own: flag(8)?,
            edited: flag(9)?,
            date_text: s(3)?,
            updated_text: s(10)?,
            item: Item::Object(t.get_item(4)?.unbind()),
            attachment,
            date: GILOnceCell::new(),
            updated: GILOnceCell::new(),
            raw: GILOnceCell::new(),
            file: GILOnceCell::new(),
        })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let r = |o: PyObject| -> PyResult<String> { Ok(o.bind(py).repr()?.to_string()) };
        let mut extra = String::new();
        if let Some(room) = &self.room {
            extra.push_str(&format!(", room={}", r(room.into_py_any(py)?)?));
        }
        if self.own {
            extra.push_str(", own=True");
        }
        if self.edited {
            extra.push_str(", edited=True");
        }
        let file = self.file(py)?;
        if !file.is_none(py) {
            extra.push_str(&format!(", file={}", r(file)?));
        }
        Ok(format!(
            "ChatMessage(id={}, author={}, text={}, date={}{extra})",
            r(self.id.clone().into_py_any(py)?)?,
            r(self.author.clone().into_py_any(py)?)?,
            r(self.text.clone().into_py_any(py)?)?,
            r(self.date(py)?)?
        ))
    }

    /// Equal when id, text, author and date are.
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match other.downcast::<PyChatMessage>() {
            Ok(o) => {
                let o = o.get();
                (&self.id, &self.text, &self.author, &self.date_text) == (&o.id, &o.text, &o.author, &o.date_text)
            }
            Err(_) => false,
        }
    }
}

/// What the chat view of events needs: the schema, and the logged-in user.
pub(crate) struct Reader {
    pub(crate) chat: Arc<ChatConfig>,
    pub(crate) me: Option<String>,
    pub(crate) consumption: Consumption,
}

/// One event of a client or subscription.
///
/// `type` is `"subscription"` (with `kind` `init`/`create`/`update`/`delete`),
/// `"state"` (`kind` is the new state: `connecting`, `connected`, `authenticated`,
/// `disconnected`, `closed`; `reason` says why), `"subscription_error"`, `"reply"` (the
/// outcome of a `*_nowait` call, whose id is `request`), `"error"`, `"unknown"` or
/// `"outbox"` (`kind` is the entry's new state: `queued`, `sending`, `sent`, `failed`,
/// `cancelled`; `outbox` is the `OutboxEntry`, `messages` its local echo). State events
/// also tell the connection attempt (`attempt`), the delay before the next one
/// (`retry_in`) and why the client closed (`cause`). `"presence"` events tell what
/// changed in a room one entered (`Client.enter`): `kind` `online` (`user` came online or
/// went offline: `online`), `typing` (`typing`), `unread` (`unread`, the count) or `read`
/// (`user`'s read marker moved to `last_read`), with the `room`. `"transfer"` events tell
/// an upload's or download's progress: `request` names it, `data` is
/// `{"done": bytes, "total": bytes or None}`. `data` holds the items (dicts), deleted
/// keys, or reply data; `messages` the items read as `ChatMessage`; `error` a
/// `DirectusError` for failures. Events of a joined room (`Client.join`) name it in
/// `room` (`None`: the lobby; `is_room` tells them from other events) and list the keys
/// of deleted messages in `deleted`, only that room's.
///
/// Attributes are made when first read: a subscription event's `data` and `messages`
/// come from the items as the server sent them.
#[pyclass(module = "directus_chat._native", name = "Event")]
pub struct PyEvent {
    ty: &'static str,
    kind: Option<&'static str>,
    uid: Option<Uid>,
    #[pyo3(get, set)]
    collection: PyObject,
    #[pyo3(get)]
    request: u64,
    #[pyo3(get, set)]
    room: PyObject,
    #[pyo3(get, set)]
    is_room: bool,
    #[pyo3(get, set)]
    deleted: PyObject,
    code: Option<String>,
    message: Option<String>,
    /// Data read on first use, and whether its items are messages.
    lazy: Option<(Data, bool)>,
    reader: Arc<Reader>,
    data: GILOnceCell<PyObject>,
    messages: GILOnceCell<PyObject>,
    error: GILOnceCell<PyObject>,
    outbox: GILOnceCell<PyObject>,
    /// Counts the event as taken by the user (see `_consumed`), once.
    consumption: Consumption,
    weight: usize,
    consumed: AtomicBool,
}

impl PyEvent {
    fn bare(py: Python<'_>, ty: &'static str, reader: &Arc<Reader>, weight: usize) -> Self {
        PyEvent {
            ty,
            kind: None,
            uid: None,
            collection: py.None(),
            request: 0,
            room: py.None(),
            is_room: false,
            deleted: PyList::empty(py).into_any().unbind(),
            code: None,
            message: None,
            lazy: None,
            reader: reader.clone(),
            data: GILOnceCell::new(),
            messages: GILOnceCell::new(),
            error: GILOnceCell::new(),
            outbox: GILOnceCell::new(),
            consumption: reader.consumption.clone(),
            weight,
            consumed: AtomicBool::new(false),
        }
    }

    fn with_data(self, py: Python<'_>, data: PyObject) -> Self {
        let _ = self.data.set(py, data);
        self
    }

    fn with_messages(self, py: Python<'_>, messages: Vec<PyChatMessage>) -> PyResult<Self> {
        let list = PyList::empty(py);
        for m in messages {
            list.append(Py::new(py, m)?)?;
        }
        let _ = self.messages.set(py, list.into_any().unbind());
        Ok(self)
    }

    fn failed(mut self, code: &str, message: String) -> Self {
        self.code = Some(code.to_owned());
        self.message = Some(message);
        self
    }

    /// The Python event of a core event; `page`: whether a reply is a history page
    /// (whose items are messages).
    pub(crate) fn of(py: Python<'_>, event: Event, reader: &Arc<Reader>, page: bool) -> PyResult<Self> {
        let weight = Consumption::weight(&event);
        Ok(match event {
            Event::State { state, reason, attempt, retry_in, cause } => {
                // For status lines: the attempt, the delay before the next one, why it closed.
                let data = PyDict::new(py);
                data.set_item("attempt", attempt)?;
                data.set_item("retry_in", retry_in.map(|d| d.as_secs_f64()))?;
                data.set_item("cause", cause.map(|c| c.as_str()))?;
                let mut e = PyEvent::bare(py, "state", reader, weight).with_data(py, data.into_any().unbind());
                e.kind = Some(state.as_str());
                e.message = reason;
                e
            }
            Event::Subscription { uid, kind, data } => {
                let mut e = PyEvent::bare(py, "subscription", reader, weight);
                e.kind = Some(kind.as_str());
                e.uid = Some(uid);
                e.lazy = Some((data, kind != SubscriptionKind::Delete));
                e
            }
            Event::SubscriptionError { uid, error } => {
                let mut e = PyEvent::bare(py, "subscription_error", reader, weight).failed(error.code.as_str(), error.message);
                e.uid = Some(uid);
                e
            }
            Event::Reply { request, result } => {
                let mut e = PyEvent::bare(py, "reply", reader, weight);
                e.request = request;
                match result {
                    Ok(data) => e.lazy = Some((Data::from(data), page)),
                    Err(err) => e = e.failed(err.code(), err.to_string()),
                }
                e
            }
            Event::Error { error } => PyEvent::bare(py, "error", reader, weight).failed(error.code(), error.to_string()),
            Event::Unknown(v) => PyEvent::bare(py, "unknown", reader, weight).with_data(py, to_py(py, &v)?),
            Event::Outbox(entry) => {
                let messages = if entry.collection == reader.chat.collection {
                    reader.chat.echo(entry.item(), &entry.key).iter().map(PyChatMessage::of_message).collect()
                } else {
                    Vec::new()
                };
                let mut e = PyEvent::bare(py, "outbox", reader, weight).with_data(py, to_py(py, &entry.to_json())?);
                e.kind = Some(entry.state.as_str());
                e.uid = Some(entry.key.as_str().into());
                e.request = entry.local_id;
                if let directus_chat::OutboxState::Failed { error, .. } = &entry.state {
                    e = e.failed(error.code(), error.to_string());
                }
                e.with_messages(py, messages)?
            }
            Event::Presence(p) => {
                // {room, user, name, online | typing | count | last_read}
                let data = PyDict::new(py);
                data.set_item("room", p.room())?;
                data.set_item("user", p.user())?;
                data.set_item("name", p.name())?;
                match &p {
                    directus_chat::PresenceEvent::Online { online, .. } => data.set_item("online", *online)?,
                    directus_chat::PresenceEvent::Typing { typing, .. } => data.set_item("typing", *typing)?,
                    directus_chat::PresenceEvent::Unread { count, .. } => data.set_item("count", *count)?,
                    directus_chat::PresenceEvent::Read { last_read, .. } => data.set_item("last_read", last_read.as_deref())?,
                }
                let mut e = PyEvent::bare(py, "presence", reader, weight).with_data(py, data.into_any().unbind());
                e.kind = Some(p.kind());
                e.room = p.room().into_py_any(py)?;
                e
            }
            Event::Transfer { request, done, total } => {
                let data = PyDict::new(py);
                data.set_item("done", done)?;
                data.set_item("total", total)?;
                let mut e = PyEvent::bare(py, "transfer", reader, weight).with_data(py, data.into_any().unbind());
                e.request = request;
                e
            }
        })
    }

    /// A value of this presence event's (or state event's) data.
    fn detail(&self, py: Python<'_>, of: &str, key: &str) -> PyResult<Option<PyObject>> {
        if self.ty != of {
            return Ok(None);
        }
        let data = self.data(py)?;
        let Ok(dict) = data.bind(py).downcast::<PyDict>() else { return Ok(None) };
        Ok(dict.get_item(key)?.filter(|v| !v.is_none()).map(Bound::unbind))
    }
}

/// The names events use, as the same Python strings every time: reading `type` and
/// `kind` is how every event is routed, and a new string per read was a tenth of that.
fn name<'py>(py: Python<'py>, s: &'static str) -> Bound<'py, PyString> {
    macro_rules! names {
        ($($n:literal),*) => {
            match s {
                $($n => pyo3::intern!(py, $n).clone(),)*
                other => PyString::new(py, other),
            }
        };
    }
    names!(
        "subscription",
        "init",
        "create",
        "update",
        "delete",
        "state",
        "reply",
        "subscription_error",
        "error",
        "unknown",
        "outbox",
        "presence",
        "transfer",
        "connecting",
        "connected",
        "authenticated",
        "disconnected",
        "closed"
    )
}

#[pymethods]
impl PyEvent {
    /// What the event is: `subscription`, `state`, `subscription_error`, `reply`,
    /// `error`, `unknown`, `outbox`, `presence` or `transfer`.
    #[getter(r#type)]
    fn ty<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        name(py, self.ty)
    }

    /// The subscription's uid (of a `subscription` or `subscription_error` event), or
    /// the outbox entry's key.
    #[getter]
    fn uid(&self) -> Option<&str> {
        self.uid.as_deref()
    }

    /// The subscription event (`init`, `create`, `update`, `delete`), the new state,
    /// the outbox entry's state, or the presence change.
    #[getter]
    fn kind<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyString>> {
        self.kind.map(|k| name(py, k))
    }

    /// The items (dicts), deleted keys, or reply data.
    #[getter]
    fn data(&self, py: Python<'_>) -> PyResult<PyObject> {
        self.data
            .get_or_try_init(py, || match &self.lazy {
                Some((data, _)) => to_py(py, data.value()),
                None => Ok(py.None()),
            })
            .map(|o| o.clone_ref(py))
    }

    /// The items read as `ChatMessage`, oldest first.
    #[getter]
    fn messages(&self, py: Python<'_>) -> PyResult<PyObject> {
        self.messages
            .get_or_try_init(py, || match &self.lazy {
                Some((data, true)) => messages_of(py, &self.reader.chat, data, self.reader.me.as_deref()),
                _ => Ok(PyList::empty(py).into_any().unbind()),
            })
            .map(|o| o.clone_ref(py))
    }

    /// A `DirectusError` for failures, else `None`.
    #[getter]
    fn error(&self, py: Python<'_>) -> PyResult<PyObject> {
        self.error
            .get_or_try_init(py, || match &self.code {
                Some(code) => helpers(py)?.error_from_code.call1(py, (code.as_str(), self.message.as_deref().unwrap_or(""))),
                None => Ok(py.None()),
            })
            .map(|o| o.clone_ref(py))
    }

    /// State events: why the state changed.
    #[getter]
    fn reason(&self) -> Option<String> {
        if self.ty == "state" {
            self.message.clone()
        } else {
            None
        }
    }

    /// Outbox events: the entry (`OutboxEntry`).
    #[getter]
    fn outbox(&self, py: Python<'_>) -> PyResult<PyObject> {
        self.outbox
            .get_or_try_init(
                py,
                || if self.ty == "outbox" { helpers(py)?.outbox_entry.call1(py, (self.data(py)?,)) } else { Ok(py.None()) },
            )
            .map(|o| o.clone_ref(py))
    }

    /// Presence events: the user's id.
    #[getter]
    fn user(&self, py: Python<'_>) -> PyResult<Option<String>> {
        self.detail(py, "presence", "user")?.map(|v| Ok(v.bind(py).str()?.to_string())).transpose()
    }

    /// Presence events: the user's first name, when readable.
    #[getter]
    fn user_name(&self, py: Python<'_>) -> PyResult<Option<String>> {
        self.detail(py, "presence", "name")?.map(|v| Ok(v.bind(py).str()?.to_string())).transpose()
    }

    /// `online` presence events: whether the user is online now.
    #[getter]
    fn online(&self, py: Python<'_>) -> PyResult<Option<bool>> {
        self.detail(py, "presence", "online")?.map(|v| v.bind(py).is_truthy()).transpose()
    }

    /// `typing` presence events: whether the user types now.
    #[getter]
    fn typing(&self, py: Python<'_>) -> PyResult<Option<bool>> {
        self.detail(py, "presence", "typing")?.map(|v| v.bind(py).is_truthy()).transpose()
    }

    /// `unread` presence events: the room's unread count.
    #[getter]
    fn unread(&self, py: Python<'_>) -> PyResult<Option<u64>> {
        self.detail(py, "presence", "count")?.map(|v| v.extract(py)).transpose()
    }

    /// `read` presence events: the key of the last message the user read.
    #[getter]
    fn last_read(&self, py: Python<'_>) -> PyResult<Option<String>> {
        self.detail(py, "presence", "last_read")?.map(|v| Ok(v.bind(py).str()?.to_string())).transpose()
    }

    /// State events: which connection attempt in a row the state belongs to.
    #[getter]
    fn attempt(&self, py: Python<'_>) -> PyResult<u64> {
        Ok(self.detail(py, "state", "attempt")?.map(|v| v.extract(py)).transpose()?.unwrap_or(0))
    }

    /// `disconnected` events: seconds before the next attempt (`None`: none follows).
    #[getter]
    fn retry_in(&self, py: Python<'_>) -> PyResult<Option<f64>> {
        self.detail(py, "state", "retry_in")?.map(|v| v.extract(py)).transpose()
    }

    /// The `closed` event: why the client closed (`by_user`, `gave_up`, `auth_refused`,
    /// `failed`).
    #[getter]
    fn cause(&self, py: Python<'_>) -> PyResult<Option<String>> {
        self.detail(py, "state", "cause")?.map(|v| v.extract(py)).transpose()
    }

    /// The user took the event (a callback returned, or it was handed out): the client
    /// may read on (see `max_buffered_events` and `max_buffered_bytes`). Once per event.
    fn _consumed(&self) {
        if !self.consumed.swap(true, Ordering::AcqRel) {
            self.consumption.consumed_event(self.weight);
        }
    }

    /// Names the subscription the event belongs to: its collection and, for a joined
    /// room, the room (and a deletion's keys, only that room's).
    #[pyo3(signature = (collection, room=None, is_room=false))]
    fn _adopt(&mut self, py: Python<'_>, collection: PyObject, room: Option<PyObject>, is_room: bool) -> PyResult<()> {
        self.collection = collection;
        if is_room {
            self.room = room.unwrap_or_else(|| py.None());
            self.is_room = true;
            if self.kind == Some("delete") {
                let keys = PyList::empty(py);
                if let Some((data, _)) = &self.lazy {
                    if let Value::Array(items) = data.value() {
                        for k in items {
                            match k {
                                Value::String(s) => keys.append(s)?,
                                other => keys.append(other.to_string())?,
                            }
                        }
                    }
                }
                self.deleted = keys.into_any().unbind();
            }
        }
        Ok(())
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let r = |o: &PyObject| -> PyResult<String> { Ok(o.bind(py).repr()?.to_string()) };
        let mut parts = vec![format!("type={}", r(&self.ty.into_py_any(py)?)?)];
        for (name, value) in [
            ("kind", self.kind.into_py_any(py)?),
            ("uid", self.uid.as_deref().into_py_any(py)?),
            ("collection", self.collection.clone_ref(py)),
        ] {
            if !value.is_none(py) {
                parts.push(format!("{name}={}", r(&value)?));
            }
        }
        if !self.room.is_none(py) {
            parts.push(format!("room={}", r(&self.room)?));
        }
        let messages = self.messages(py)?;
        let data = self.data(py)?;
        if messages.bind(py).len()? > 0 {
            parts.push(format!("messages={}", r(&messages)?));
        } else if !data.is_none(py) && self.ty != "state" {
            let text = r(&data)?;
            parts.push(format!(
                "data={}",
                if text.chars().count() <= 200 { text } else { text.chars().take(197).collect::<String>() + "..." }
            ));
        }
        let attempt = self.attempt(py)?;
        if attempt > 0 {
            parts.push(format!("attempt={attempt}"));
        }
        for (name, value) in [
            ("retry_in", self.retry_in(py)?.into_py_any(py)?),
            ("cause", self.cause(py)?.into_py_any(py)?),
            ("error", self.error(py)?),
            ("reason", self.reason().into_py_any(py)?),
        ] {
            if !value.is_none(py) {
                parts.push(format!("{name}={}", r(&value)?));
            }
        }
        if self.request != 0 {
            parts.push(format!("request={}", self.request));
        }
        Ok(format!("Event({})", parts.join(", ")))
    }
}
