//! Rooms: which messages a room's subscription and its history pages ask for, and which
//! subscriptions of a client are rooms.
//!
//! A room is a value of the message's room field (a many-to-one to the rooms
//! collection); `None` is the lobby, the messages without a room (every message, for a
//! schema without a room field).

use std::collections::HashMap;

use serde_json::Value;

use super::history::Cursor;
use super::ChatConfig;
use crate::error::{Error, Result};
use crate::protocol::{newest_first, query, Filter};

/// A room: its id, or `None` for the lobby.
pub type Room = Option<String>;

/// The filter selecting the messages of `room`; `None` when nothing needs filtering (the
/// lobby of a schema without rooms).
pub(crate) fn room_filter(config: &ChatConfig, room: Option<&str>) -> Result<Option<Filter>> {
    match (&config.room_field, room) {
        (Some(field), Some(room)) => Ok(Some(Filter::eq(field, room))),
        (Some(field), None) => Ok(Some(Filter::is_null(field))),
        (None, None) => Ok(None),
        (None, Some(room)) => Err(Error::InvalidArgument(format!("room {room:?}: the chat schema has no room field"))),
    }
}

/// The query of a room's messages, newest first (date, then key), strictly before
/// `before` when given, at most `limit` of them. The same order serves a room's
/// subscription (its `init` is the newest page) and its older pages, so the two meet
/// without a gap or an overlap.
pub(crate) fn room_query(config: &ChatConfig, room: Option<&str>, before: Option<&Cursor>, limit: u32) -> Result<Value> {
    let mut filters: Vec<Filter> = room_filter(config, room)?.into_iter().collect();
    if let Some(c) = before {
        filters.push(Filter::before(&config.date_field, &config.id_field, &c.date, config.key_value(&c.key)));
    }
    let filter = match filters.len() {
        0 => None,
        1 => filters.pop(),
        _ => Some(Filter::all(filters)),
    };
    Ok(query(config.chat_fields(), filter, Some(newest_first(&config.date_field, &config.id_field)), Some(limit)))
}

/// The rooms a client joined: subscription uid → room.
#[derive(Debug, Default)]
pub(crate) struct Joined {
    by_uid: HashMap<String, (u64, Room)>,
}

impl Joined {
    pub(crate) fn insert(&mut self, uid: String, id: u64, room: Room) {
        self.by_uid.insert(uid, (id, room));
    }

    pub(crate) fn remove(&mut self, uid: &str) {
        self.by_uid.remove(uid);
    }

    /// The room of the subscription with this uid, if it is a room.
    pub(crate) fn room_of(&self, uid: &str) -> Option<&Room> {
        self.by_uid.get(uid).map(|(_, r)| r)
    }

    /// The subscriptions joined to `room`, by number.
    pub(crate) fn subscriptions_of(&self, room: Option<&str>) -> Vec<u64> {
        let mut ids: Vec<u64> = self.by_uid.values().filter(|(_, r)| r.as_deref() == room).map(|(id, _)| *id).collect();
        ids.sort_unstable();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_room_its_lobby_and_a_schema_without_rooms() {
        let c = ChatConfig::default();
        assert_eq!(
            room_query(&c, Some("general"), None, 100).unwrap(),
            json!({"fields":["*","user_created.id","user_created.first_name"],"filter":{"room":{"_eq":"general"}},
                   "sort":["-date_created","-id"],"limit":100})
        );
        assert_eq!(room_query(&c, None, None, 5).unwrap()["filter"], json!({"room":{"_null":true}}));
        let flat = ChatConfig { room_field: None, ..ChatConfig::default() };
        assert!(room_query(&flat, None, None, 5).unwrap().get("filter").is_none(), "every message is the lobby");
        assert!(room_query(&flat, Some("general"), None, 5).is_err());
    }

    #[test]
    fn older_pages_start_strictly_before_the_cursor() {
        let c = ChatConfig::default();
        let cursor = Cursor { key: "12".into(), date: "2026-01-01T00:00:00.000Z".into() };
        let q = room_query(&c, Some("general"), Some(&cursor), 50).unwrap();
        assert_eq!(
            q["filter"],
            json!({"_and":[{"room":{"_eq":"general"}},
                   {"_or":[{"date_created":{"_lt":"2026-01-01T00:00:00.000Z"}},
                           {"_and":[{"date_created":{"_eq":"2026-01-01T00:00:00.000Z"}},{"id":{"_lt":12}}]}]}]})
        );
        assert_eq!(q["limit"], 50);
    }

    #[test]
    fn joined_rooms_by_uid() {
        let mut j = Joined::default();
        j.insert("s-1".into(), 1, Some("a".into()));
        j.insert("s-2".into(), 2, None);
        j.insert("s-3".into(), 3, Some("a".into()));
        assert_eq!(j.room_of("s-2"), Some(&None));
        assert_eq!(j.room_of("s-9"), None);
        assert_eq!(j.subscriptions_of(Some("a")), vec![1, 3]);
        j.remove("s-1");
        assert_eq!(j.subscriptions_of(Some("a")), vec![3]);
    }
}
