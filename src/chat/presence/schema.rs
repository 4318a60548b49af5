//! The presence and read-receipt rows of the schema kit as requests and parsed rows: the
//! only place that spells their fields, filters and upsert shapes.
//!
//! Rows are keyed `"<user id>:<room id>"`, made by the client, so each user has one
//! row per room that every write of theirs upserts. The realtime API has no upsert:
//! a row is created when the client does not know it to exist (a create meeting
//! `RECORD_NOT_UNIQUE` means it does) and updated otherwise (an update refused with
//! `FORBIDDEN` means it is gone: Directus refuses an update of a missing row that way).

use serde_json::{json, Value};

use super::PresenceConfig;
use crate::chat::ChatConfig;
use crate::protocol::{count_and_max, parse_date_ms, query, EventFilter, Filter, ItemsRequest, SubscribeRequest, CURRENT_USER, USER_KEY};

/// The user's display field read with every row.
const USER_NAME: &str = "first_name";
const USER: &str = "user";
const ROOM: &str = "room";
const TYPING: &str = "typing";
const UPDATED: &str = "date_updated";
const LAST_READ: &str = "last_read";
const LAST_READ_DATE: &str = "last_read_date";
const ID: &str = "id";

/// The key of a user's row in a room.
pub(crate) fn row_id(user: &str, room: &str) -> String {
    format!("{user}:{room}")
}

/// The user and room of a row key (user ids are uuids, so the first `:` splits).
pub(crate) fn split_row_id(id: &str) -> Option<(&str, &str)> {
    id.split_once(':')
}

fn row_fields(extra: &[&str]) -> Vec<String> {
    let mut f: Vec<String> = [ID, ROOM].iter().map(|s| (*s).to_owned()).collect();
    f.push(format!("{USER}.{USER_KEY}"));
    f.push(format!("{USER}.{USER_NAME}"));
    f.extend(extra.iter().map(|s| (*s).to_owned()));
    f
}

/// The subscription to a room's presence rows: every row (no limit, so that a row
/// missing from the `init` after a reconnect is known to be deleted), with the user's
/// name.
pub(crate) fn presence_subscription(cfg: &PresenceConfig, room: &str) -> SubscribeRequest {
    let q = query(row_fields(&[TYPING, UPDATED]), Some(Filter::eq(ROOM, room)), None, None);
    SubscribeRequest::new(cfg.collection.clone()).query(with_no_limit(q)).key_field(ID)
}

/// The subscription to a room's read receipts.
pub(crate) fn receipts_subscription(cfg: &PresenceConfig, room: &str) -> SubscribeRequest {
    let q = query(row_fields(&[LAST_READ, LAST_READ_DATE]), Some(Filter::eq(ROOM, room)), None, None);
    SubscribeRequest::new(cfg.receipts_collection.clone()).query(with_no_limit(q)).key_field(ID)
}

fn with_no_limit(mut q: Value) -> Value {
    q["limit"] = json!(-1);
    q
}

/// The subscription to new messages of a room, for the unread count: creates only
/// (its `init` carries no items, so it costs nothing), with the key, date and author.
pub(crate) fn new_messages_subscription(chat: &ChatConfig, room: &str) -> Option<SubscribeRequest> {
    let room_field = chat.room_field.as_deref()?;
    let fields = vec![chat.id_field.clone(), chat.date_field.clone(), chat.user_field.clone()];
    let q = query(fields, Some(Filter::eq(room_field, room)), None, None);
    Some(SubscribeRequest::new(chat.collection.clone()).event(EventFilter::Create).query(q).key_field(chat.id_field.clone()))
}

/// Counts a room's messages by other users created after `since` (all of them when
/// `None`), with the newest one's date: what the count covers, so that live creates
/// already counted are not counted again.
pub(crate) fn unread_count_request(chat: &ChatConfig, room: &str, since: Option<&str>) -> Option<ItemsRequest> {
    let room_field = chat.room_field.as_deref()?;
    let mut all = vec![Filter::eq(room_field, room), Filter::neq(&chat.user_field, CURRENT_USER)];
    if let Some(since) = since {
        all.push(Filter::gt(&chat.date_field, since));
    }
    Some(ItemsRequest::read(chat.collection.clone()).query(count_and_max(Filter::all(all), &chat.date_field)))
}

/// Reads one message's date (for a read marker).
pub(crate) fn message_date_request(chat: &ChatConfig, message: &str) -> ItemsRequest {
    ItemsRequest::read(chat.collection.clone()).id(chat.key_value(message)).query(json!({ "fields": [chat.id_field, chat.date_field] }))
}

/// Creates a user's presence row in a room (the server sets `user` and `date_updated`).
pub(crate) fn presence_create(cfg: &PresenceConfig, me: &str, room: &str, typing: bool) -> ItemsRequest {
    ItemsRequest::create(cfg.collection.clone(), json!({ ID: row_id(me, room), ROOM: room, TYPING: typing })).key_field(ID)
}

/// Refreshes one's presence row: any update sets `date_updated` (special
/// date-updated), the server-clock heartbeat.
pub(crate) fn presence_update(cfg: &PresenceConfig, me: &str, room: &str, typing: bool) -> ItemsRequest {
    ItemsRequest::update(cfg.collection.clone(), json!({ TYPING: typing })).id(row_id(me, room))
}

/// Deletes one's presence row (a clean leave).
pub(crate) fn presence_delete(cfg: &PresenceConfig, me: &str, room: &str) -> ItemsRequest {
    ItemsRequest::delete(cfg.collection.clone()).id(row_id(me, room))
}

/// Creates one's read marker in a room.
pub(crate) fn receipt_create(cfg: &PresenceConfig, me: &str, room: &str, message: &str, date: &str) -> ItemsRequest {
    let data = json!({ ID: row_id(me, room), ROOM: room, LAST_READ: message, LAST_READ_DATE: date });
    ItemsRequest::create(cfg.receipts_collection.clone(), data).key_field(ID)
}

/// Moves one's read marker in a room.
pub(crate) fn receipt_update(cfg: &PresenceConfig, me: &str, room: &str, message: &str, date: &str) -> ItemsRequest {
    ItemsRequest::update(cfg.receipts_collection.clone(), json!({ LAST_READ: message, LAST_READ_DATE: date })).id(row_id(me, room))
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The user of a row: a plain id, or the expanded relation with its name.
fn user_of(row: &Value) -> Option<(String, Option<String>)> {
    match row.get(USER)? {
        Value::Object(u) => Some((text(u.get(USER_KEY))?, text(u.get(USER_NAME)))),
        v => Some((text(Some(v))?, None)),
    }
}

/// A presence row as read from the server.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PresenceRow {
    pub user: String,
    pub name: Option<String>,
    pub room: String,
    pub typing: bool,
    /// The server's time of the row's last write, in ms since the epoch.
    pub updated_ms: i64,
}

impl PresenceRow {
    pub(crate) fn parse(row: &Value) -> Option<PresenceRow> {
        let (user, name) = user_of(row)?;
        let room = text(row.get(ROOM))?;
        // SQLite keeps booleans as 0/1.
        let typing = match row.get(TYPING) {
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => n.as_i64() == Some(1),
            _ => false,
        };
        let updated_ms = row.get(UPDATED).and_then(parse_date_ms)?;
        Some(PresenceRow { user, name, room, typing, updated_ms })
    }
}

/// A read receipt as read from the server.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ReceiptRow {
    pub user: String,
    pub name: Option<String>,
    pub room: String,
    pub last_read: Option<String>,
    pub last_read_date: Option<String>,
}

impl ReceiptRow {
    pub(crate) fn parse(row: &Value) -> Option<ReceiptRow> {
        let (user, name) = user_of(row)?;
        Some(ReceiptRow {
            user,
            name,
            room: text(row.get(ROOM))?,
            last_read: text(row.get(LAST_READ)),
            last_read_date: text(row.get(LAST_READ_DATE)),
        })
    }
}

/// The server's time of a write, from the row its answer returns.
pub(crate) fn written_at(row: &Value) -> Option<i64> {
    row.get(UPDATED).and_then(parse_date_ms)
}

/// A new message of a watched room: key, date and author.
pub(crate) fn new_message(chat: &ChatConfig, item: &Value) -> Option<(String, i64, Option<String>)> {
    let id = text(item.get(&chat.id_field))?;
    let date = item.get(&chat.date_field).and_then(parse_date_ms)?;
    let author = match item.get(&chat.user_field) {
        Some(Value::Object(u)) => text(u.get(USER_KEY)),
        other => text(other),
    };
    Some((id, date, author))
}

/// A message's date (text as the server sent it) from a read of it.
pub(crate) fn message_date(chat: &ChatConfig, item: &Value) -> Option<String> {
    let item = match item {
        Value::Array(a) => a.first()?,
        v => v,
    };
    text(item.get(&chat.date_field))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_requests_and_keys() {
        let cfg = PresenceConfig::default();
        let sub = presence_subscription(&cfg, "general");
        assert_eq!(sub.collection_name(), "presence");
        assert_eq!(
            sub.query_value(),
            Some(&json!({"fields":["id","room","user.id","user.first_name","typing","date_updated"],
                          "filter":{"room":{"_eq":"general"}},"limit":-1}))
        );
        assert!(!sub.is_windowed(), "deletions are inferred after a reconnect");
        let c = presence_create(&cfg, "u-1", "general", false);
        assert_eq!(c.data_value(), Some(&json!({"id":"u-1:general","room":"general","typing":false})));
        assert_eq!(split_row_id("u-1:room:with:colons"), Some(("u-1", "room:with:colons")));
        let row = PresenceRow::parse(&json!({"id":"u-1:general","room":"general","typing":1,
            "user":{"id":"u-1","first_name":"Kevin"},"date_updated":"2026-11-25T19:55:01.123Z"}))
        .unwrap();
        assert_eq!((row.user.as_str(), row.name.as_deref(), row.typing), ("u-1", Some("Kevin"), true));
        assert_eq!(PresenceRow::parse(&json!({"id":"x","room":"g","user":"u"})), None, "no date: no heartbeat");
        let chat = ChatConfig::kit();
        let count = unread_count_request(&chat, "general", Some("2026-01-01T00:00:00.000Z")).unwrap();
        let q = count.clone().query.unwrap();
        assert_eq!(q["filter"]["_and"][1], json!({"user_created":{"_neq":"$CURRENT_USER"}}));
        assert_eq!(q["aggregate"]["max"], json!(["date_created"]));
        let watch = new_messages_subscription(&chat, "general").unwrap();
        assert!(watch.event.is_some(), "creates only");
        assert_eq!(
            new_message(&chat, &json!({"id":4,"date_created":"2026-01-01T00:00:00.000Z","user_created":"u-2"})).map(|m| m.0),
            Some("4".into())
        );
    }
}
