//! The chat view of a collection: which fields hold the text, the author and the date;
//! and the chat API built on it: rooms ([`rooms`]), older history by keyset
//! ([`history`]), who the user is ([`identity`]), chat events ([`ChatEvent`]), edits and
//! deletions of one's own messages.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::protocol::{ItemsRequest, SubscribeRequest, USER_KEY};

mod api;
mod event;
pub mod history;
pub mod identity;
pub(crate) mod item;
pub mod presence;
pub mod rooms;
pub(crate) mod state;

pub use event::{ChatEvent, ChatEventKind};
pub use identity::Identity;
use item::{Item, Raw};
pub use presence::{Member, PresenceConfig, PresenceEvent, Reader};

/// Where a chat message's parts live in a collection, as in Directus' chat guides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatConfig {
    /// The collection holding the messages. Default `messages`.
    pub collection: String,
    /// The field holding the text. Default `text` (one guide uses `content`).
    pub text_field: String,
    /// The dotted path to the author's display name. Default `user_created.first_name`.
    pub author_path: String,
    /// The field holding the creation date. Default `date_created`.
    pub date_field: String,
    /// The primary key field. Default `id`.
    pub id_field: String,
    /// Whether the client chooses each new message's primary key (a random uuid), for
    /// collections whose key is a uuid. Then a message whose answer was lost with the
    /// connection is sent again safely: it is stored once, never twice. Default false
    /// (integer keys, as in the guides).
    pub client_ids: bool,
    /// How many of the newest messages the chat subscription's `init` carries.
    /// Default 100 (the server's own default limit), so the history is the latest
    /// messages rather than the oldest.
    pub history_limit: u32,
    /// The field holding the author (a many-to-one to the users), whose `id` says who
    /// wrote a message. Default `user_created`.
    pub user_field: String,
    /// The field naming a message's room (a many-to-one to the rooms collection), or
    /// `None` for a schema without rooms, where every message is in the lobby. Messages
    /// whose room is null are the lobby. Default `room`.
    pub room_field: Option<String>,
    /// The field set when a message is edited (`date_updated`, special date-updated);
    /// a message with a value there is edited. `None`: edits are not told apart.
    pub updated_field: Option<String>,
    /// The unique field holding the key the client makes for each message sent through
    /// the outbox when the primary key is an integer (`client_ids` off), and for every
    /// message sent with [`ChatConfig::client_keys`]. Default `client_key`, the field the
    /// schema kit adds (with a unique index): a resent message meets its own key there
    /// and is read back, so it is stored once.
    pub client_key_field: String,
    /// Whether every message sent (not only through the outbox) carries a new
    /// client-made key in [`ChatConfig::client_key_field`], so that one whose answer was
    /// lost with the connection is sent again safely on an integer-keyed collection: the
    /// retry meets `RECORD_NOT_UNIQUE` and the stored message is read back. Default
    /// false (the guides' schema has no such field); see [`ChatConfig::kit`].
    pub client_keys: bool,
    /// Presence, typing and read receipts: their collections and timings.
    pub presence: PresenceConfig,
    /// The field holding a message's attachment (a many-to-one to `directus_files`; see
    /// [`crate::Client::upload`]), whose name, type and size the chat queries ask for.
    /// `None` (the default; the guides' schema has none): no attachments. The schema
    /// kit's is `file` (see [`ChatConfig::kit`]).
    pub file_field: Option<String>,
}

impl Default for ChatConfig {
    fn default() -> Self {
        ChatConfig {
            collection: "messages".into(),
            text_field: "text".into(),
            author_path: "user_created.first_name".into(),
            date_field: "date_created".into(),
            id_field: "id".into(),
            history_limit: 100,
            client_ids: false,
            user_field: "user_created".into(),
            room_field: Some("room".into()),
            updated_field: Some("date_updated".into()),
            client_key_field: "client_key".into(),
            client_keys: false,
            presence: PresenceConfig::default(),
            file_field: None,
        }
    }
}

/// One chat message read from an item.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatMessage {
    /// The primary key, as text (`"12"` or a uuid).
    pub id: String,
    /// The message text; empty when the item has none.
    pub text: String,
    /// The author's name, when the item carries it (the query must ask for the field).
    pub author: Option<String>,
    /// The creation date as the server sent it (ISO 8601).
    pub date: Option<String>,
    /// The key the client made for it when it was sent through the outbox (the value
    /// of [`ChatConfig::client_key_field`]), else the primary key: what an outbox
    /// entry's local echo and the stored message have in common (see
    /// [`crate::OutboxEntry::key`]).
    pub key: String,
    /// The whole item as the server sent it.
    pub raw: Value,
    /// The message's room; `None` for the lobby (or a schema without rooms).
    pub room: Option<String>,
    /// The author's user id, when the item carries it (the chat queries ask for it).
    pub author_id: Option<String>,
    /// Whether the author is the logged-in user (see [`crate::Client::me`]).
    pub own: bool,
    /// The attached file (id, name, type, size), where the schema has a
    /// [`ChatConfig::file_field`] and the message carries one; its contents are at
    /// [`crate::Client::asset_url`].
    pub file: Option<crate::FileInfo>,
    /// Whether the message was edited (its [`ChatConfig::updated_field`] is set).
    pub edited: bool,
    /// When it was last edited (ISO 8601), if it was.
    pub updated: Option<String>,
}

/// One chat message as read from an event's data, borrowing what it can from the item
/// (see [`ChatConfig::read_messages`]): the cheap way to show many messages. The whole
/// item ([`MessageView::raw`]) and the attachment ([`MessageView::file`]) are read only
/// when asked for; [`MessageView::to_message`] makes an owned [`ChatMessage`].
#[derive(Clone, Debug)]
pub struct MessageView<'a> {
    /// The primary key, as text.
    pub id: Cow<'a, str>,
    /// As [`ChatMessage::key`].
    pub key: Cow<'a, str>,
    /// The message text; empty when the item has none.
    pub text: Cow<'a, str>,
    /// The author's name, when the item carries it.
    pub author: Option<Cow<'a, str>>,
    /// The creation date as the server sent it (ISO 8601).
    pub date: Option<Cow<'a, str>>,
    /// The message's room; `None` for the lobby.
    pub room: Option<Cow<'a, str>>,
    /// The author's user id, when the item carries it.
    pub author_id: Option<Cow<'a, str>>,
    /// Whether the author is the logged-in user.
    pub own: bool,
    /// When it was last edited (ISO 8601), if it was.
    pub updated: Option<Cow<'a, str>>,
    item: ViewItem<'a>,
    file: Option<ViewItem<'a>>,
}

/// What a view was read from.
#[derive(Clone, Copy, Debug)]
enum ViewItem<'a> {
    Value(&'a Value),
    Raw(Raw<'a, 'a>),
}

impl<'a> From<&'a Value> for ViewItem<'a> {
    fn from(v: &'a Value) -> Self {
        ViewItem::Value(v)
    }
}

impl<'a> From<Raw<'a, 'a>> for ViewItem<'a> {
    fn from(r: Raw<'a, 'a>) -> Self {
        ViewItem::Raw(r)
    }
}

impl ViewItem<'_> {
    fn value(self) -> Value {
        match self {
            ViewItem::Value(v) => v.clone(),
            ViewItem::Raw(r) => r.value(),
        }
    }
}

impl MessageView<'_> {
    /// Whether the message was edited (its [`ChatConfig::updated_field`] is set).
    pub fn edited(&self) -> bool {
        self.updated.is_some()
    }

    /// The whole item, parsed.
    pub fn raw(&self) -> Value {
        self.item.value()
    }

    /// The whole item's JSON text as the server sent it, when the message was read from
    /// it (else see [`MessageView::raw`]).
    pub fn raw_json(&self) -> Option<&str> {
        match self.item {
            ViewItem::Raw(r) => Some(r.json()),
            ViewItem::Value(_) => None,
        }
    }

    /// The attached file, where the schema has a [`ChatConfig::file_field`] and the
    /// message carries one.
    pub fn file(&self) -> Option<crate::FileInfo> {
        self.file.and_then(|f| crate::FileInfo::from_value(&f.value()))
    }

    /// The message, owned.
    pub fn to_message(&self) -> ChatMessage {
        ChatMessage {
            id: self.id.clone().into_owned(),
            key: self.key.clone().into_owned(),
            text: self.text.clone().into_owned(),
            author: self.author.clone().map(Cow::into_owned),
            date: self.date.clone().map(Cow::into_owned),
            raw: self.raw(),
            room: self.room.clone().map(Cow::into_owned),
            author_id: self.author_id.clone().map(Cow::into_owned),
            own: self.own,
            edited: self.edited(),
            file: self.file(),
            updated: self.updated.clone().map(Cow::into_owned),
        }
    }
}

/// Orders two keys as the server does: numerically when both are integers, else as text.
pub(crate) fn compare_keys(a: &str, b: &str) -> Ordering {
    match (a.parse::<i64>(), b.parse::<i64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

impl ChatConfig {
    /// The query of the chat subscription: every field plus the author's name, and
    /// for the `init` the newest [`ChatConfig::history_limit`] messages. (The guides
    /// sort by `date_created`, which with the server's default limit of 100 shows the
    /// *oldest* messages once a room has more; [`ChatConfig::messages`] puts them back
    /// in time order.)
    pub fn subscription_query(&self) -> Value {
        json!({ "fields": self.chat_fields(), "sort": format!("-{}", self.date_field), "limit": self.history_limit })
    }

    /// The chat schema of the project's schema kit (`scripts/schema-kit.py`): the
    /// defaults plus its `client_key` field, so every message is sent exactly once on
    /// integer-keyed collections too.
    pub fn kit() -> Self {
        ChatConfig { client_keys: true, file_field: Some("file".into()), ..ChatConfig::default() }
    }

    /// The fields a chat query asks for: every field, the author's id and the author's
    /// name (relations are not expanded otherwise).
    pub fn chat_fields(&self) -> Vec<String> {
        let mut fields = vec!["*".to_owned(), format!("{}.{USER_KEY}", self.user_field)];
        if self.author_path.contains('.') && !fields.contains(&self.author_path) {
            fields.push(self.author_path.clone());
        }
        if let Some(f) = &self.file_field {
            fields.extend(crate::protocol::FILE_FIELDS.iter().map(|k| format!("{f}.{k}")));
        }
        fields
    }

    /// The `data` of a create request for a message with this text (with a new uuid
    /// key when [`ChatConfig::client_ids`] is set, and a new client key with
    /// [`ChatConfig::client_keys`]).
    pub fn new_message(&self, text: &str) -> Value {
        let mut m = serde_json::Map::new();
        self.put_keys(&mut m);
        m.insert(self.text_field.clone(), text.into());
        Value::Object(m)
    }

    fn put_keys(&self, m: &mut Map<String, Value>) {
        if self.client_ids && !m.contains_key(&self.id_field) {
            m.insert(self.id_field.clone(), uuid::Uuid::new_v4().to_string().into());
        }
        if self.client_keys && !m.contains_key(&self.client_key_field) {
            m.insert(self.client_key_field.clone(), uuid::Uuid::new_v4().to_string().into());
        }
    }

    /// The `data` of a message with this text and the extra fields of `extra` (a JSON
    /// object, e.g. `{"file": "<uuid>"}` or any field of the user's own schema). The text
    /// argument wins over a text field in `extra`; keys `extra` sets itself (the primary
    /// key, the client key) are kept, the others are made as [`ChatConfig::new_message`]
    /// makes them.
    pub fn new_message_with(&self, text: &str, extra: Value) -> Result<Value> {
        let mut m = match extra {
            Value::Object(m) => m,
            Value::Null => Map::new(),
            _ => return Err(Error::InvalidArgument("the extra fields must be a JSON object".into())),
        };
        self.put_keys(&mut m);
        m.insert(self.text_field.clone(), text.into());
        Ok(Value::Object(m))
    }

    /// The create request of a message: its key field is the one the client fills (the
    /// primary key with [`ChatConfig::client_ids`], else the client key), so a retry
    /// after a lost connection never stores it twice.
    pub fn create_request(&self, data: Value) -> ItemsRequest {
        let key = if self.client_keys { self.outbox_key_field() } else { &self.id_field };
        ItemsRequest::create(self.collection.clone(), data).key_field(key.to_owned())
    }

    /// A message key as the server wants it: a number for integer keys (`"12"` is sent
    /// as `12`), else the text (a uuid).
    pub fn key_value(&self, id: &str) -> Value {
        match id.parse::<i64>() {
            Ok(n) if !self.client_ids && n.to_string() == id => Value::from(n),
            _ => Value::from(id),
        }
    }

    /// The subscription of one room's messages (`None`: the lobby, messages without a
    /// room), with the newest [`ChatConfig::history_limit`] as its `init`.
    pub fn room_subscription(&self, room: Option<&str>) -> Result<SubscribeRequest> {
        let query = rooms::room_query(self, room, None, self.history_limit)?;
        Ok(SubscribeRequest::new(self.collection.clone()).query(query).key_field(self.id_field.clone()))
    }

    /// Reads one item as a chat message. Returns `None` when the item is not an object
    /// or has no primary key.
    pub fn message(&self, item: &Value) -> Option<ChatMessage> {
        self.parts(item, None).as_ref().map(MessageView::to_message)
    }

    /// Reads one item as a chat message of a client logged in as user `me` (which sets
    /// [`ChatMessage::own`]).
    pub fn message_for(&self, item: &Value, me: Option<&str>) -> Option<ChatMessage> {
        self.parts(item, me).as_ref().map(MessageView::to_message)
    }

    /// The field that carries the client-made key of a message sent through the outbox:
    /// the primary key with [`ChatConfig::client_ids`], else
    /// [`ChatConfig::client_key_field`].
    pub fn outbox_key_field(&self) -> &str {
        if self.client_ids {
            &self.id_field
        } else {
            &self.client_key_field
        }
    }

    fn parts<'a, I: Item<'a> + Into<ViewItem<'a>>>(&self, item: I, me: Option<&str>) -> Option<MessageView<'a>> {
        let id = item.member(&self.id_field).and_then(I::text)?;
        self.parts_with_id(item, id, me)
    }

    fn parts_with_id<'a, I: Item<'a> + Into<ViewItem<'a>>>(&self, item: I, id: Cow<'a, str>, me: Option<&str>) -> Option<MessageView<'a>> {
        if !item.is_object() {
            return None;
        }
        let field = |name: &str| item.member(name).and_then(I::text);
        let key = field(&self.client_key_field).unwrap_or_else(|| id.clone());
        let text = field(&self.text_field).unwrap_or_default();
        let author = self.author_path.split('.').try_fold(item, |v, key| v.member(key)).and_then(I::text);
        let date = field(&self.date_field);
        let room = self.room_field.as_deref().and_then(field);
        // The author is a plain id in a create's answer, an object where the query
        // expanded the relation.
        let author_id = match item.member(&self.user_field) {
            Some(user) if user.is_object() => user.member(USER_KEY).and_then(I::text),
            Some(v) => v.text(),
            None => None,
        };
        let own = matches!((&author_id, me), (Some(a), Some(m)) if a == m);
        let updated = self.updated_field.as_deref().and_then(field);
        let file = self.file_field.as_ref().and_then(|f| item.member(f)).filter(|v| !v.is_null()).map(Into::into);
        Some(MessageView { id, key, text, author, date, item: item.into(), room, author_id, own, updated, file })
    }

    /// The local echo of a message in the outbox: its item as queued (or as stored, once
    /// sent). Until the server gave it a primary key, its id is its client-made `key`.
    /// It is one's own message by definition.
    pub(crate) fn echo_parts<'a>(&self, item: &'a Value, key: &'a str) -> Option<MessageView<'a>> {
        let id = item.member(&self.id_field).and_then(Item::text).unwrap_or(Cow::Borrowed(key));
        let mut parts = self.parts_with_id(item, id, None)?;
        parts.key = Cow::Borrowed(key);
        parts.own = true;
        Some(parts)
    }

    /// The local echo of an outbox entry as a chat message (see [`ChatMessage::key`]);
    /// `None` when its item is not an object.
    pub fn echo(&self, item: &Value, key: &str) -> Option<ChatMessage> {
        self.echo_parts(item, key).as_ref().map(MessageView::to_message)
    }

    /// Reads every item of an event's data (an array, or a single object) as chat
    /// messages, skipping what is not a message, oldest first when every message has
    /// a date (Directus sends ISO 8601 UTC dates, which sort as text; messages of the
    /// same date by key).
    pub fn messages(&self, data: &Value) -> Vec<ChatMessage> {
        self.message_parts(data, None).iter().map(MessageView::to_message).collect()
    }

    /// Like [`ChatConfig::messages`], for a client logged in as user `me`.
    pub fn messages_for(&self, data: &Value, me: Option<&str>) -> Vec<ChatMessage> {
        self.message_parts(data, me).iter().map(MessageView::to_message).collect()
    }

    /// Like [`ChatConfig::messages`], borrowing from `data`.
    pub(crate) fn message_parts<'a>(&self, data: &'a Value, me: Option<&str>) -> Vec<MessageView<'a>> {
        let messages = match data {
            Value::Array(items) => items.iter().filter_map(|i| self.parts(i, me)).collect(),
            Value::Object(_) => self.parts(data, me).into_iter().collect(),
            _ => Vec::new(),
        };
        oldest_first(messages)
    }

    /// Reads the messages of an event's data as [`ChatConfig::messages`] does, each as
    /// a borrowed [`MessageView`] given to `each`, in message order. Data not parsed yet
    /// is read as the server sent it, only the fields a message has (a fraction of the
    /// cost of parsing the items); parsed data is read from its value.
    pub fn read_messages<T>(&self, data: &crate::Data, me: Option<&str>, mut each: impl FnMut(&MessageView<'_>) -> T) -> Vec<T> {
        if let Some((text, tape)) = data.tape() {
            // Where each item's members are was noted as the frame was read.
            let views = tape.items().filter(|i| i.is_object(text)).filter_map(|i| self.parts(Raw::Noted(i, text), me)).collect();
            return oldest_first(views).iter().map(&mut each).collect();
        }
        match data.unparsed() {
            Some(text) => {
                let members = item::item_members(&text);
                let views = members.iter().filter_map(|(text, m)| self.parts(Raw::Read(m, text), me)).collect();
                oldest_first(views).iter().map(&mut each).collect()
            }
            None => self.message_parts(data, me).iter().map(each).collect(),
        }
    }
}

/// Messages oldest first when every one has a date (Directus sends ISO 8601 UTC dates,
/// which sort as text; messages of the same date by key), else as they came.
fn oldest_first(mut messages: Vec<MessageView<'_>>) -> Vec<MessageView<'_>> {
    if messages.len() > 1 && messages.iter().all(|m| m.date.is_some()) {
        messages.sort_by(|a, b| a.date.cmp(&b.date).then_with(|| compare_keys(&a.id, &b.id)));
    }
    messages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_seed_guide_message() {
        let c = ChatConfig::default();
        let item = json!({"id":3,"text":"hello","date_created":"2026-11-24T10:00:00.000Z","user_created":{"first_name":"Kevin"}});
        let m = c.message(&item).unwrap();
        assert_eq!(m.id, "3");
        assert_eq!(m.text, "hello");
        assert_eq!(m.author.as_deref(), Some("Kevin"));
        assert_eq!(m.date.as_deref(), Some("2026-11-24T10:00:00.000Z"));
        assert_eq!(m.raw, item);
    }

    #[test]
    fn configurable_fields_and_missing_parts() {
        let c = ChatConfig { text_field: "content".into(), ..ChatConfig::default() };
        assert_eq!(c.new_message("hi"), json!({"content":"hi"}));
        let keyed = ChatConfig { client_ids: true, ..ChatConfig::default() }.new_message("hi");
        assert_eq!(keyed["id"].as_str().map(str::len), Some(36));
        assert_ne!(keyed, ChatConfig { client_ids: true, ..ChatConfig::default() }.new_message("hi"));
        let m = c.message(&json!({"id":"a-b","content":"x","user_created":"uuid-only"})).unwrap();
        assert_eq!(m.author, None, "an unexpanded relation has no name");
        assert_eq!(c.message(&json!({"content":"no id"})), None);
        assert_eq!(c.messages(&json!([{"id":1},5,{"id":2}])).len(), 2);
        assert_eq!(c.messages(&json!(["1", "2"])).len(), 0, "delete keys are not messages");
    }

    #[test]
    fn the_local_echo_and_the_stored_message_share_their_key() {
        let c = ChatConfig::default();
        assert_eq!(c.outbox_key_field(), "client_key");
        let echo = c.echo(&json!({"text":"hi","client_key":"k1"}), "k1").unwrap();
        assert_eq!((echo.id.as_str(), echo.key.as_str(), echo.text.as_str()), ("k1", "k1", "hi"), "no id yet: the key stands in");
        let stored = c.message(&json!({"id":42,"text":"hi","client_key":"k1"})).unwrap();
        assert_eq!((stored.id.as_str(), stored.key.as_str()), ("42", "k1"));
        assert_eq!(c.message(&json!({"id":43,"text":"old","client_key":null})).unwrap().key, "43", "sent without the outbox");
        let uuid = ChatConfig { client_ids: true, ..ChatConfig::default() };
        assert_eq!(uuid.outbox_key_field(), "id");
        assert_eq!(uuid.message(&json!({"id":"u1","text":"hi"})).unwrap().key, "u1");
    }

    #[test]
    fn query_asks_for_the_newest_history() {
        assert_eq!(
            ChatConfig::default().subscription_query(),
            json!({"fields":["*","user_created.id","user_created.first_name"],"sort":"-date_created","limit":100})
        );
    }

    #[test]
    fn messages_read_raw_are_the_messages_read_parsed() {
        let c = ChatConfig { file_field: Some("file".into()), ..ChatConfig::default() };
        let data = json!([{"id":5,"text":"h\"i","room":"general","noise":{"a":[1,2]},"client_key":"k",
                           "user_created":{"id":"u-1","first_name":"Kevin","email":"k@x"},"date_created":"2026-01-01T00:00:00.000Z",
                           "date_updated":"2026-01-01T00:01:00.000Z","file":{"id":"f","filename_download":"a.png","type":"image/png","filesize":3}},
                          {"id":4,"text":"yo","user_created":"u-2","date_created":"2025-01-01T00:00:00.000Z","file":null},
                          "not a message", {"text":"no key"}]);
        let raw = crate::Data::raw(crate::protocol::RawJson::new(data.to_string()));
        let from_raw = c.read_messages(&raw, Some("u-1"), |m| m.to_message());
        assert_eq!(from_raw, c.messages_for(&data, Some("u-1")));
        assert_eq!(from_raw.len(), 2);
        assert_eq!(from_raw[0].id, "4", "oldest first");
        assert_eq!((from_raw[1].text.as_str(), from_raw[1].own, from_raw[1].edited), ("h\"i", true, true));
        assert_eq!(from_raw[1].file.as_ref().map(|f| f.id.as_str()), Some("f"));
        // Parsed data is read from its value, alike.
        let _ = raw.value();
        assert_eq!(c.read_messages(&raw, Some("u-1"), |m| m.to_message()), from_raw);
        let one = crate::Data::raw(crate::protocol::RawJson::new(r#"{"id":1,"text":"x"}"#));
        assert_eq!(c.read_messages(&one, None, |m| m.text.to_string()), ["x"]);
    }

    #[test]
    fn messages_come_oldest_first() {
        let c = ChatConfig::default();
        let data = json!([
            {"id":3,"text":"c","date_created":"2026-11-24T10:00:03.000Z"},
            {"id":1,"text":"a","date_created":"2026-11-24T10:00:01.000Z"},
            {"id":2,"text":"b","date_created":"2026-11-24T10:00:02.000Z"}
        ]);
        let texts: Vec<_> = c.messages(&data).into_iter().map(|m| m.text).collect();
        assert_eq!(texts, ["a", "b", "c"]);
        // Without dates the server's order stands.
        let texts: Vec<_> = c.messages(&json!([{"id":2,"text":"b"},{"id":1,"text":"a"}])).into_iter().map(|m| m.text).collect();
        assert_eq!(texts, ["b", "a"]);
    }

    #[test]
    fn room_author_id_own_and_edited() {
        let c = ChatConfig::default();
        let item = json!({"id":5,"text":"hi","room":"general","user_created":{"id":"u-1","first_name":"Kevin"},
                          "date_created":"2026-01-01T00:00:00.000Z","date_updated":"2026-01-01T00:01:00.000Z"});
        let m = c.message_for(&item, Some("u-1")).unwrap();
        assert_eq!((m.room.as_deref(), m.author_id.as_deref(), m.own, m.edited), (Some("general"), Some("u-1"), true, true));
        assert_eq!(m.updated.as_deref(), Some("2026-01-01T00:01:00.000Z"));
        assert!(!c.message_for(&item, Some("u-2")).unwrap().own);
        assert!(!c.message(&item).unwrap().own, "nobody known: nothing is one's own");
        // A create's answer names the author by id only; a lobby message has no room.
        let sent = c.message_for(&json!({"id":6,"text":"x","room":null,"user_created":"u-1","date_updated":null}), Some("u-1")).unwrap();
        assert_eq!((sent.room, sent.author_id.as_deref(), sent.own, sent.edited), (None, Some("u-1"), true, false));
    }

    #[test]
    fn sends_keep_their_client_made_keys() {
        let kit = ChatConfig::kit();
        let m = kit.new_message_with("hi", json!({"room":"general","file":"f-1"})).unwrap();
        assert_eq!((m["text"].as_str(), m["room"].as_str(), m["file"].as_str()), (Some("hi"), Some("general"), Some("f-1")));
        assert_eq!(m["client_key"].as_str().map(str::len), Some(36));
        let req = kit.create_request(m);
        assert_eq!(req.key_field_name(), "client_key", "a retry is read back by the client key");
        let own_key = kit.new_message_with("hi", json!({"client_key":"mine","text":"overridden"})).unwrap();
        assert_eq!((own_key["client_key"].as_str(), own_key["text"].as_str()), (Some("mine"), Some("hi")));
        assert!(kit.new_message_with("hi", json!([1])).is_err());
        let uuid = ChatConfig { client_ids: true, ..ChatConfig::default() };
        assert_eq!(uuid.create_request(uuid.new_message("x")).key_field_name(), "id");
        assert_eq!(ChatConfig::default().new_message("x"), json!({"text":"x"}), "the guides' schema: nothing added");
        assert_eq!(kit.key_value("12"), json!(12));
        assert_eq!(kit.key_value("012"), json!("012"));
        assert_eq!(uuid.key_value("12"), json!("12"));
    }

    #[test]
    fn same_date_messages_come_by_key() {
        let c = ChatConfig::default();
        let d = "2026-01-01T00:00:00.000Z";
        let data = json!([{"id":10,"date_created":d},{"id":9,"date_created":d},{"id":100,"date_created":d}]);
        let ids: Vec<_> = c.messages(&data).into_iter().map(|m| m.id).collect();
        assert_eq!(ids, ["9", "10", "100"], "numeric keys by number");
    }
}
