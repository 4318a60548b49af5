//! What a subscription has delivered, by primary key, so that what the server sends
//! again (a new `init` after a reconnect, a catch-up read after a join) turns into
//! exactly the events the user has not seen: no gaps, no duplicates.
//!
//! Sans-IO: the session feeds it the server's data as it came (raw JSON) and emits what
//! it returns. It reads each item once, for its key and a digest of its content
//! (`protocol::raw::scan_items`); it never builds the items.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use serde_json::Value;

use crate::data::Data;
use crate::protocol::json::Tape;
use crate::protocol::raw::{keys_of, scan_items, ItemKey, Scanned};
use crate::protocol::{RawJson, SubscriptionKind};

/// The Fx hash (rustc's) for the map of delivered keys: a multiply and a rotate per
/// word; SipHash was a tenth of the I/O thread's instructions per event (callgrind,
/// event flood), and the keys come from the server the user chose to trust.
#[derive(Default)]
struct Fx(u64);

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }

    fn write_i64(&mut self, i: i64) {
        self.write_u64(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;

/// The delivered state of one collection-wide subscription.
#[derive(Debug)]
pub(crate) struct Tracker {
    key_field: String,
    /// Whether the subscription's query can drop items from its `init` for other
    /// reasons than deletion (a `limit`, the server's default limit included), in
    /// which case an absent item is not proof of a deletion.
    windowed: bool,
    /// Key → digest of the item as last delivered.
    seen: FxMap<ItemKey, u64>,
    /// Keys in delivery order, to forget the oldest beyond `cap`.
    order: VecDeque<ItemKey>,
    cap: usize,
    /// Whether the first `init` has been delivered.
    synced: bool,
}

/// The data of an event as it arrived: its text and, when it is an array, where its
/// items and their members are (noted as the frame was read, or read now).
pub(crate) struct Arrived {
    pub(crate) data: RawJson,
    pub(crate) items: Option<Tape>,
}

impl Arrived {
    /// Data whose items were not noted as it was read.
    pub(crate) fn new(data: RawJson) -> Self {
        let items = Tape::of(data.as_str());
        Arrived { data, items }
    }
}

/// The items at `keep` (indexes into the tape), or all of `data` (with its tape, for
/// the reader) when that is all of them.
fn some_of(data: RawJson, tape: Tape, keep: &[usize]) -> Data {
    if keep.len() == tape.len() {
        return Data::noted(data, tape);
    }
    let items: Vec<_> = tape.items().collect();
    Data::items(keep.iter().map(|&i| data.part(items[i].start, items[i].end)).collect())
}

impl Tracker {
    /// A tracker for items keyed by `key_field`; `windowed`: whether the query may leave
    /// items out of an `init` for other reasons than deletion (see
    /// [`crate::protocol::SubscribeRequest::is_windowed`]).
    pub(crate) fn new(key_field: &str, windowed: bool, cap: usize) -> Self {
        Tracker {
            key_field: key_field.to_owned(),
            windowed,
            seen: FxMap::default(),
            order: VecDeque::new(),
            cap: cap.max(1),
            synced: false,
        }
    }

    /// Records the item's digest; returns whether it was seen before.
    fn remember(&mut self, key: ItemKey, digest: u64) -> bool {
        match self.seen.entry(key) {
            std::collections::hash_map::Entry::Occupied(mut e) => {
                e.insert(digest);
                true
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                self.order.push_back(e.key().clone());
                e.insert(digest);
                while self.order.len() > self.cap {
                    if let Some(old) = self.order.pop_front() {
                        self.seen.remove(&old);
                    }
                }
                false
            }
        }
    }

    fn forget(&mut self, key: &ItemKey) {
        if self.seen.remove(key).is_some() {
            self.order.retain(|k| k != key);
        }
    }

    fn scan(&self, arrived: &Arrived) -> Option<Vec<Scanned>> {
        Some(scan_items(arrived.data.as_str(), arrived.items.as_ref()?, &self.key_field).collect())
    }

    /// Whether a catch-up read after an `init` is worth sending.
    pub(crate) fn wants_catch_up(&self) -> bool {
        self.synced
    }

    /// An `init`: the first is delivered as it is; a later one (after a reconnect)
    /// becomes the create, update and delete events that were missed.
    pub(crate) fn on_init(&mut self, arrived: Arrived) -> Vec<(SubscriptionKind, Data)> {
        let Some(items) = self.scan(&arrived) else { return vec![(SubscriptionKind::Init, Data::raw(arrived.data))] };
        let (data, tape) = (arrived.data, arrived.items.unwrap_or_default());
        if !self.synced {
            self.synced = true;
            for item in items {
                if let Some(k) = item.key {
                    self.remember(k, item.digest);
                }
            }
            return vec![(SubscriptionKind::Init, Data::noted(data, tape))];
        }
        let mut created = Vec::new();
        let mut updated = Vec::new();
        let mut present = HashSet::new();
        for (i, item) in items.into_iter().enumerate() {
            let Some(k) = item.key else { continue };
            match self.seen.get(&k) {
                None => created.push(i),
                Some(old) if *old != item.digest => updated.push(i),
                Some(_) => {
                    present.insert(k);
                    continue;
                }
            }
            present.insert(k.clone());
            self.remember(k, item.digest);
        }
        let mut out = Vec::new();
        // Deletions are provable only when the init holds every matching item.
        if !self.windowed {
            let gone: Vec<ItemKey> = self.seen.keys().filter(|k| !present.contains(*k)).cloned().collect();
            for k in &gone {
                self.forget(k);
            }
            if !gone.is_empty() {
                let keys = gone.iter().map(|k| Value::String(k.text().into_owned())).collect();
                out.push((SubscriptionKind::Delete, Data::from(Value::Array(keys))));
            }
        }
        if !created.is_empty() {
            out.push((SubscriptionKind::Create, some_of(data.clone(), tape.clone(), &created)));
        }
        if !updated.is_empty() {
            out.push((SubscriptionKind::Update, some_of(data, tape, &updated)));
        }
        out
    }

    /// The answer of the catch-up read: items never delivered become a create event.
    pub(crate) fn on_catch_up(&mut self, data: RawJson) -> Option<(SubscriptionKind, Data)> {
        let arrived = Arrived::new(data);
        let items = self.scan(&arrived)?;
        let (data, tape) = (arrived.data, arrived.items.unwrap_or_default());
        let mut created = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            if let Some(k) = item.key {
                if !self.seen.contains_key(&k) {
                    self.remember(k, item.digest);
                    created.push(i);
                }
            }
        }
        (!created.is_empty()).then(|| (SubscriptionKind::Create, some_of(data, tape, &created)))
    }

    /// A live event: recorded, and a create of an item already delivered is dropped.
    pub(crate) fn on_event(&mut self, kind: SubscriptionKind, arrived: Arrived) -> Option<(SubscriptionKind, Data)> {
        match kind {
            SubscriptionKind::Create | SubscriptionKind::Update => {
                let Some(tape) = arrived.items else { return Some((kind, Data::raw(arrived.data))) };
                let data = arrived.data;
                // Only when an item is left out is the list of those kept made: a live
                // event's items are new but for a catch-up read's race.
                let mut kept: Option<Vec<usize>> = None;
                // Lent out while the items are read (they are read as they are recorded).
                let key_field = std::mem::take(&mut self.key_field);
                for (i, item) in scan_items(data.as_str(), &tape, &key_field).enumerate() {
                    let repeated = match item.key {
                        // A create of an item seen already (from a catch-up read): what we
                        // hold is updated, it is not delivered again.
                        Some(k) => self.remember(k, item.digest) && kind == SubscriptionKind::Create,
                        None => false,
                    };
                    match (&mut kept, repeated) {
                        (None, true) => kept = Some((0..i).collect()),
                        (Some(kept), false) => kept.push(i),
                        _ => {}
                    }
                }
                self.key_field = key_field;
                match kept {
                    None => (!tape.is_empty()).then(|| (kind, Data::noted(data, tape))),
                    Some(kept) => (!kept.is_empty()).then(|| (kind, some_of(data, tape, &kept))),
                }
            }
            SubscriptionKind::Delete => {
                for k in keys_of(arrived.data.as_str()) {
                    self.forget(&k);
                }
                Some((kind, Data::raw(arrived.data)))
            }
            SubscriptionKind::Init | SubscriptionKind::Unsubscribe => Some((kind, Data::raw(arrived.data))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn unlimited() -> Tracker {
        Tracker::new("id", false, 100)
    }

    /// The server's data as it comes: text.
    fn raw(v: Value) -> Arrived {
        Arrived::new(RawJson::new(v.to_string()))
    }

    fn values(out: Vec<(SubscriptionKind, Data)>) -> Vec<(SubscriptionKind, Value)> {
        out.into_iter().map(|(k, d)| (k, d.into_value())).collect()
    }

    fn value(out: Option<(SubscriptionKind, Data)>) -> Option<(SubscriptionKind, Value)> {
        out.map(|(k, d)| (k, d.into_value()))
    }

    #[test]
    fn first_init_passes_through_and_a_later_one_becomes_the_missed_events() {
        let mut t = unlimited();
        let first = values(t.on_init(raw(json!([{"id":1,"t":"a"},{"id":2,"t":"b"},{"id":3,"t":"c"}]))));
        assert_eq!(first, vec![(SubscriptionKind::Init, json!([{"id":1,"t":"a"},{"id":2,"t":"b"},{"id":3,"t":"c"}]))]);
        // While away: 2 edited, 3 deleted, 4 created.
        let again = values(t.on_init(raw(json!([{"id":1,"t":"a"},{"id":2,"t":"B"},{"id":4,"t":"d"}]))));
        assert_eq!(
            again,
            vec![
                (SubscriptionKind::Delete, json!(["3"])),
                (SubscriptionKind::Create, json!([{"id":4,"t":"d"}])),
                (SubscriptionKind::Update, json!([{"id":2,"t":"B"}])),
            ]
        );
        // Nothing new: nothing delivered, not even an init.
        assert!(t.on_init(raw(json!([{"id":1,"t":"a"},{"id":2,"t":"B"},{"id":4,"t":"d"}]))).is_empty());
    }

    #[test]
    fn a_windowed_query_never_invents_deletions() {
        let mut t = Tracker::new("id", true, 100);
        t.on_init(raw(json!([{"id":2},{"id":1}])));
        let again = values(t.on_init(raw(json!([{"id":4},{"id":3}]))));
        assert_eq!(again, vec![(SubscriptionKind::Create, json!([{"id":4},{"id":3}]))]);
    }

    #[test]
    fn catch_up_fills_the_join_gap_once() {
        let mut t = unlimited();
        t.on_init(raw(json!([{"id":1}])));
        assert!(t.wants_catch_up());
        // Item 2 was created between the init and the registration; 3 arrives as an event.
        assert_eq!(
            value(t.on_event(SubscriptionKind::Create, raw(json!([{"id":3}])))),
            Some((SubscriptionKind::Create, json!([{"id":3}])))
        );
        assert_eq!(
            value(t.on_catch_up(raw(json!([{"id":1},{"id":2},{"id":3}])).data)),
            Some((SubscriptionKind::Create, json!([{"id":2}])))
        );
        // A late event for 2 is not delivered twice.
        assert_eq!(value(t.on_event(SubscriptionKind::Create, raw(json!([{"id":2}])))), None);
        assert_eq!(value(t.on_catch_up(raw(json!([{"id":1},{"id":2},{"id":3}])).data)), None);
        // Of an event with old and new items, only the new pass.
        assert_eq!(
            value(t.on_event(SubscriptionKind::Create, raw(json!([{"id":2},{"id":5},{"id":3},{"id":6}])))),
            Some((SubscriptionKind::Create, json!([{"id":5},{"id":6}])))
        );
    }

    #[test]
    fn deletes_forget_and_untracked_items_pass() {
        let mut t = unlimited();
        t.on_init(raw(json!([{"id":1},{"id":2}])));
        // A key named as text is the integer key it names.
        assert_eq!(value(t.on_event(SubscriptionKind::Delete, raw(json!(["1"])))), Some((SubscriptionKind::Delete, json!(["1"]))));
        assert_eq!(values(t.on_init(raw(json!([{"id":2}])))), vec![]);
        assert_eq!(
            value(t.on_event(SubscriptionKind::Create, raw(json!([{"no_key": true}])))),
            Some((SubscriptionKind::Create, json!([{"no_key": true}])))
        );
        // Data that is no array passes as it is.
        assert_eq!(value(t.on_event(SubscriptionKind::Update, raw(json!({"id": 9})))), Some((SubscriptionKind::Update, json!({"id": 9}))));
    }

    #[test]
    fn memory_is_capped() {
        let mut t = Tracker::new("id", true, 3);
        t.on_init(raw(json!([])));
        for i in 0..10 {
            t.on_event(SubscriptionKind::Create, raw(json!([{ "id": i }])));
        }
        assert_eq!(t.seen.len(), 3);
        assert_eq!(t.order.len(), 3);
    }
}
