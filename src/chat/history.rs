//! Older history: keyset cursors (date, then key) and what the client has shown of each
//! room, so that a page starts right before the oldest message shown and never repeats
//! one, and so that a deletion can be told to the room it belongs to.

use std::cmp::Ordering;
use std::collections::{HashMap, VecDeque};

use super::compare_keys;
use super::rooms::Room;

/// A place in a room's history: the messages strictly before it, in the order "date,
/// then key", are the older ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// The message's key, as text.
    pub key: String,
    /// Its creation date, as the server sent it (ISO 8601).
    pub date: String,
}

impl Cursor {
    fn cmp(&self, other: &Cursor) -> Ordering {
        self.date.cmp(&other.date).then_with(|| compare_keys(&self.key, &other.key))
    }
}

/// The messages a client has shown (from rooms' events and history pages): key →
/// room and date, up to a limit (the oldest forgotten first), and the oldest shown per
/// room (never forgotten).
#[derive(Debug)]
pub(crate) struct Shown {
    by_key: HashMap<String, (Room, Option<String>)>,
    order: VecDeque<String>,
    cap: usize,
    oldest: HashMap<Room, Cursor>,
}

impl Shown {
    pub(crate) fn new(cap: usize) -> Self {
        Shown { by_key: HashMap::new(), order: VecDeque::new(), cap: cap.max(1), oldest: HashMap::new() }
    }

    /// A message of `room` was shown.
    pub(crate) fn record(&mut self, key: &str, room: Room, date: Option<&str>) {
        if let Some(date) = date {
            let here = Cursor { key: key.to_owned(), date: date.to_owned() };
            match self.oldest.get(&room) {
                Some(old) if old.cmp(&here) != Ordering::Greater => {}
                _ => {
                    self.oldest.insert(room.clone(), here);
                }
            }
        }
        if self.by_key.insert(key.to_owned(), (room, date.map(str::to_owned))).is_none() {
            self.order.push_back(key.to_owned());
            while self.order.len() > self.cap {
                if let Some(old) = self.order.pop_front() {
                    self.by_key.remove(&old);
                }
            }
        }
    }

    /// The room a shown message belongs to.
    pub(crate) fn room_of(&self, key: &str) -> Option<&Room> {
        self.by_key.get(key).map(|(r, _)| r)
    }

    /// The cursor at a shown message.
    pub(crate) fn cursor_at(&self, key: &str) -> Option<Cursor> {
        let (_, date) = self.by_key.get(key)?;
        Some(Cursor { key: key.to_owned(), date: date.clone()? })
    }

    /// The oldest message shown of `room`.
    pub(crate) fn oldest(&self, room: &Room) -> Option<&Cursor> {
        self.oldest.get(room)
    }
}

/// Requests whose answer is a history page, with their room, until their answer is
/// read (at most `cap`, the oldest forgotten first).
#[derive(Debug, Default)]
pub(crate) struct Pages {
    rooms: HashMap<u64, Room>,
    order: VecDeque<u64>,
}

impl Pages {
    const CAP: usize = 1024;

    pub(crate) fn insert(&mut self, request: u64, room: Room) {
        self.rooms.insert(request, room);
        self.order.push_back(request);
        while self.order.len() > Self::CAP {
            if let Some(old) = self.order.pop_front() {
                self.rooms.remove(&old);
            }
        }
    }

    pub(crate) fn room_of(&self, request: u64) -> Option<&Room> {
        self.rooms.get(&request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_shown_per_room_by_date_then_key() {
        let mut s = Shown::new(3);
        let room = Some("a".to_owned());
        s.record("10", room.clone(), Some("2026-01-02T00:00:00.000Z"));
        s.record("9", room.clone(), Some("2026-01-02T00:00:00.000Z"));
        s.record("11", room.clone(), Some("2026-01-03T00:00:00.000Z"));
        s.record("3", None, Some("2026-01-01T00:00:00.000Z"));
        assert_eq!(s.oldest(&room), Some(&Cursor { key: "9".into(), date: "2026-01-02T00:00:00.000Z".into() }));
        assert_eq!(s.oldest(&None).map(|c| c.key.as_str()), Some("3"));
        // Beyond the cap the first shown is forgotten; the oldest per room stays.
        assert_eq!(s.room_of("10"), None);
        assert_eq!(s.room_of("11"), Some(&room));
        assert_eq!(s.cursor_at("3").map(|c| c.date), Some("2026-01-01T00:00:00.000Z".to_owned()));
        assert_eq!(s.oldest(&room).map(|c| c.key.as_str()), Some("9"));
    }

    #[test]
    fn pages_are_remembered_up_to_a_limit() {
        let mut p = Pages::default();
        for i in 0..(Pages::CAP as u64 + 2) {
            p.insert(i, None);
        }
        assert_eq!(p.room_of(0), None);
        assert_eq!(p.room_of(Pages::CAP as u64 + 1), Some(&None));
    }
}
