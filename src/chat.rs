//! The chat view of a collection: which fields hold the text, the author and the date.

use std::borrow::Cow;

use serde_json::{json, Value};

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
    /// The unique field holding the key the client makes for each message sent through
    /// the outbox when the primary key is an integer (`client_ids` off). Default
    /// `client_key`, the field the schema kit adds (with a unique index): a resent
    /// message meets its own key there and is read back, so it is stored once.
    pub client_key_field: String,
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
            client_key_field: "client_key".into(),
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
}

fn scalar_text(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s.as_str())),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        _ => None,
    }
}

/// The parts of one chat message, borrowed from its item: what the C surface needs,
/// without the copy of the whole item a [`ChatMessage`] keeps.
pub(crate) struct MessageParts<'a> {
    pub id: Cow<'a, str>,
    pub key: Cow<'a, str>,
    pub text: Cow<'a, str>,
    pub author: Option<Cow<'a, str>>,
    pub date: Option<Cow<'a, str>>,
    pub item: &'a Value,
}

impl MessageParts<'_> {
    fn into_message(self) -> ChatMessage {
        ChatMessage {
            id: self.id.into_owned(),
            key: self.key.into_owned(),
            text: self.text.into_owned(),
            author: self.author.map(Cow::into_owned),
            date: self.date.map(Cow::into_owned),
            raw: self.item.clone(),
        }
    }
}

impl ChatConfig {
    /// The query of the chat subscription: every field plus the author's name, and
    /// for the `init` the newest [`ChatConfig::history_limit`] messages. (The guides
    /// sort by `date_created`, which with the server's default limit of 100 shows the
    /// *oldest* messages once a room has more; [`ChatConfig::messages`] puts them back
    /// in time order.)
    pub fn subscription_query(&self) -> Value {
        let mut fields = vec![Value::from("*")];
        if self.author_path.contains('.') {
            fields.push(self.author_path.clone().into());
        }
        json!({ "fields": fields, "sort": format!("-{}", self.date_field), "limit": self.history_limit })
    }

    /// The `data` of a create request for a message with this text (with a new uuid
    /// key when [`ChatConfig::client_ids`] is set).
    pub fn new_message(&self, text: &str) -> Value {
        let mut m = serde_json::Map::new();
        if self.client_ids {
            m.insert(self.id_field.clone(), uuid::Uuid::new_v4().to_string().into());
        }
        m.insert(self.text_field.clone(), text.into());
        Value::Object(m)
    }

    /// Reads one item as a chat message. Returns `None` when the item is not an object
    /// or has no primary key.
    pub fn message(&self, item: &Value) -> Option<ChatMessage> {
        self.parts(item).map(MessageParts::into_message)
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

    fn parts<'a>(&self, item: &'a Value) -> Option<MessageParts<'a>> {
        let id = item.as_object()?.get(&self.id_field).and_then(scalar_text)?;
        self.parts_with_id(item, id)
    }

    fn parts_with_id<'a>(&self, item: &'a Value, id: Cow<'a, str>) -> Option<MessageParts<'a>> {
        let obj = item.as_object()?;
        let key = obj.get(&self.client_key_field).and_then(scalar_text).unwrap_or_else(|| id.clone());
        let text = obj.get(&self.text_field).and_then(scalar_text).unwrap_or_default();
        let author = self.author_path.split('.').try_fold(item, |v, key| v.get(key)).and_then(scalar_text);
        let date = obj.get(&self.date_field).and_then(scalar_text);
        Some(MessageParts { id, key, text, author, date, item })
    }

    /// The local echo of a message in the outbox: its item as queued (or as stored, once
    /// sent). Until the server gave it a primary key, its id is its client-made `key`.
    pub(crate) fn echo_parts<'a>(&self, item: &'a Value, key: &'a str) -> Option<MessageParts<'a>> {
        let id = item.as_object()?.get(&self.id_field).and_then(scalar_text).unwrap_or(Cow::Borrowed(key));
        let mut parts = self.parts_with_id(item, id)?;
        parts.key = Cow::Borrowed(key);
        Some(parts)
    }

    /// The local echo of an outbox entry as a chat message (see [`ChatMessage::key`]);
    /// `None` when its item is not an object.
    pub fn echo(&self, item: &Value, key: &str) -> Option<ChatMessage> {
        self.echo_parts(item, key).map(MessageParts::into_message)
    }

    /// Reads every item of an event's data (an array, or a single object) as chat
    /// messages, skipping what is not a message, oldest first when every message has
    /// a date (Directus sends ISO 8601 UTC dates, which sort as text).
    pub fn messages(&self, data: &Value) -> Vec<ChatMessage> {
        self.message_parts(data).into_iter().map(MessageParts::into_message).collect()
    }

    /// Like [`ChatConfig::messages`], borrowing from `data`.
    pub(crate) fn message_parts<'a>(&self, data: &'a Value) -> Vec<MessageParts<'a>> {
        let mut messages: Vec<MessageParts<'a>> = match data {
            Value::Array(items) => items.iter().filter_map(|i| self.parts(i)).collect(),
            Value::Object(_) => self.parts(data).into_iter().collect(),
            _ => Vec::new(),
        };
        if messages.len() > 1 && messages.iter().all(|m| m.date.is_some()) {
            messages.sort_by(|a, b| a.date.cmp(&b.date));
        }
        messages
    }
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
            json!({"fields":["*","user_created.first_name"],"sort":"-date_created","limit":100})
        );
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
}
