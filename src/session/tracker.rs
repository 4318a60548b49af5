//! What a subscription has delivered, by primary key, so that what the server sends
//! again (a new `init` after a reconnect, a catch-up read after a join) turns into
//! exactly the events the user has not seen: no gaps, no duplicates.
//!
//! Sans-IO: the actor feeds it the server's data and emits what it returns.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};

use serde_json::Value;

use crate::protocol::SubscriptionKind;

/// The delivered state of one collection-wide subscription.
#[derive(Debug)]
pub(crate) struct Tracker {
    key_field: String,
    /// Whether the subscription's query can drop items from its `init` for other
    /// reasons than deletion (a `limit`, the server's default limit included), in
    /// which case an absent item is not proof of a deletion.
    windowed: bool,
    /// Key → digest of the item as last delivered.
    seen: HashMap<String, u64>,
    /// Keys in delivery order, to forget the oldest beyond `cap`.
    order: VecDeque<String>,
    cap: usize,
    /// Whether the first `init` has been delivered.
    synced: bool,
}

/// A digest of an item's content, to tell an update from a repeat. Hashes the value's
/// structure directly: printing it to JSON first cost an allocation and most of the
/// tracker's time per event (perf, event flood).
fn digest(item: &Value) -> u64 {
    let mut h = Fx(0);
    hash_value(item, &mut h);
    h.finish()
}

/// The Fx hash (rustc's): a multiply and a rotate per word. A digest only tells two
/// versions of one item apart, so it needs speed, not resistance to chosen input; SipHash
/// was a tenth of the I/O thread's instructions per event (callgrind, event flood).
struct Fx(u64);

impl Fx {
    fn word(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.word(u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.word(u64::from_le_bytes(last) ^ ((rest.len() as u64) << 56));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.word(i as u64);
    }

    fn write_usize(&mut self, i: usize) {
        self.word(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

fn hash_value(v: &Value, h: &mut Fx) {
    match v {
        Value::Null => h.write_u8(0),
        Value::Bool(b) => {
            h.write_u8(1);
            b.hash(h);
        }
        Value::Number(n) => {
            h.write_u8(2);
            n.hash(h);
        }
        Value::String(s) => {
            h.write_u8(3);
            s.hash(h);
        }
        Value::Array(items) => {
            h.write_u8(4);
            h.write_usize(items.len());
            for i in items {
                hash_value(i, h);
            }
        }
        Value::Object(m) => {
            // serde_json's map iterates in key order, so equal objects hash equally.
            h.write_u8(5);
            h.write_usize(m.len());
            for (k, v) in m {
                k.hash(h);
                hash_value(v, h);
            }
        }
    }
}

fn key_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Tracker {
    /// A tracker for items keyed by `key_field`; `windowed`: whether the query may leave
    /// items out of an `init` for other reasons than deletion (see
    /// [`crate::protocol::SubscribeRequest::is_windowed`]).
    pub(crate) fn new(key_field: &str, windowed: bool, cap: usize) -> Self {
        Tracker { key_field: key_field.to_owned(), windowed, seen: HashMap::new(), order: VecDeque::new(), cap: cap.max(1), synced: false }
    }

    fn key_of(&self, item: &Value) -> Option<String> {
        item.get(&self.key_field).and_then(key_text)
    }

    fn remember(&mut self, key: String, item: &Value) {
        self.remember_digest(key, digest(item));
    }

    fn remember_digest(&mut self, key: String, digest: u64) {
        if self.seen.insert(key.clone(), digest).is_none() {
            self.order.push_back(key);
            while self.order.len() > self.cap {
                if let Some(old) = self.order.pop_front() {
                    self.seen.remove(&old);
                }
            }
        }
    }

    fn forget(&mut self, key: &str) {
        if self.seen.remove(key).is_some() {
            self.order.retain(|k| k != key);
        }
    }

    /// Whether a catch-up read after an `init` is worth sending.
    pub(crate) fn wants_catch_up(&self) -> bool {
        self.synced
    }

    /// An `init`: the first is delivered as it is; a later one (after a reconnect)
    /// becomes the create, update and delete events that were missed.
    pub(crate) fn on_init(&mut self, data: Value) -> Vec<(SubscriptionKind, Value)> {
        let items = match data {
            Value::Array(items) => items,
            other => return vec![(SubscriptionKind::Init, other)],
        };
        if !self.synced {
            self.synced = true;
            for item in &items {
                if let Some(k) = self.key_of(item) {
                    self.remember(k, item);
                }
            }
            return vec![(SubscriptionKind::Init, Value::Array(items))];
        }
        let mut created = Vec::new();
        let mut updated = Vec::new();
        let mut present = std::collections::HashSet::new();
        for item in items {
            let Some(k) = self.key_of(&item) else { continue };
            present.insert(k.clone());
            let d = digest(&item);
            match self.seen.get(&k) {
                None => created.push(item),
                Some(old) if *old != d => updated.push(item),
                Some(_) => continue,
            }
            self.remember_digest(k, d);
        }
        let mut out = Vec::new();
        // Deletions are provable only when the init holds every matching item.
        if !self.windowed {
            let gone: Vec<String> = self.seen.keys().filter(|k| !present.contains(*k)).cloned().collect();
            for k in &gone {
                self.forget(k);
            }
            if !gone.is_empty() {
                out.push((SubscriptionKind::Delete, Value::Array(gone.into_iter().map(Value::String).collect())));
            }
        }
        if !created.is_empty() {
            out.push((SubscriptionKind::Create, Value::Array(created)));
        }
        if !updated.is_empty() {
            out.push((SubscriptionKind::Update, Value::Array(updated)));
        }
        out
    }

    /// The answer of the catch-up read: items never delivered become a create event.
    pub(crate) fn on_catch_up(&mut self, data: Value) -> Option<(SubscriptionKind, Value)> {
        let Value::Array(items) = data else { return None };
        let mut created = Vec::new();
        for item in items {
            if let Some(k) = self.key_of(&item) {
                if !self.seen.contains_key(&k) {
                    self.remember(k, &item);
                    created.push(item);
                }
            }
        }
        (!created.is_empty()).then_some((SubscriptionKind::Create, Value::Array(created)))
    }

    /// A live event: recorded, and a create of an item already delivered is dropped.
    pub(crate) fn on_event(&mut self, kind: SubscriptionKind, data: Value) -> Option<(SubscriptionKind, Value)> {
        match kind {
            SubscriptionKind::Create | SubscriptionKind::Update => {
                let Value::Array(items) = data else { return Some((kind, data)) };
                let mut fresh = Vec::new();
                for item in items {
                    match self.key_of(&item) {
                        Some(k) if kind == SubscriptionKind::Create && self.seen.contains_key(&k) => {
                            // Seen already (from a catch-up read): update what we hold.
                            self.remember(k, &item);
                        }
                        Some(k) => {
                            self.remember(k, &item);
                            fresh.push(item);
                        }
                        None => fresh.push(item),
                    }
                }
                (!fresh.is_empty()).then_some((kind, Value::Array(fresh)))
            }
            SubscriptionKind::Delete => {
                if let Value::Array(keys) = &data {
                    for k in keys.iter().filter_map(key_text) {
                        self.forget(&k);
                    }
                }
                Some((kind, data))
            }
            SubscriptionKind::Init | SubscriptionKind::Unsubscribe => Some((kind, data)),
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

    #[test]
    fn first_init_passes_through_and_a_later_one_becomes_the_missed_events() {
        let mut t = unlimited();
        let first = t.on_init(json!([{"id":1,"t":"a"},{"id":2,"t":"b"},{"id":3,"t":"c"}]));
        assert_eq!(first, vec![(SubscriptionKind::Init, json!([{"id":1,"t":"a"},{"id":2,"t":"b"},{"id":3,"t":"c"}]))]);
        // While away: 2 edited, 3 deleted, 4 created.
        let again = t.on_init(json!([{"id":1,"t":"a"},{"id":2,"t":"B"},{"id":4,"t":"d"}]));
        assert_eq!(
            again,
            vec![
                (SubscriptionKind::Delete, json!(["3"])),
                (SubscriptionKind::Create, json!([{"id":4,"t":"d"}])),
                (SubscriptionKind::Update, json!([{"id":2,"t":"B"}])),
            ]
        );
        // Nothing new: nothing delivered, not even an init.
        assert!(t.on_init(json!([{"id":1,"t":"a"},{"id":2,"t":"B"},{"id":4,"t":"d"}])).is_empty());
    }

    #[test]
    fn a_windowed_query_never_invents_deletions() {
        let mut t = Tracker::new("id", true, 100);
        t.on_init(json!([{"id":2},{"id":1}]));
        let again = t.on_init(json!([{"id":4},{"id":3}]));
        assert_eq!(again, vec![(SubscriptionKind::Create, json!([{"id":4},{"id":3}]))]);
    }

    #[test]
    fn catch_up_fills_the_join_gap_once() {
        let mut t = unlimited();
        t.on_init(json!([{"id":1}]));
        assert!(t.wants_catch_up());
        // Item 2 was created between the init and the registration; 3 arrives as an event.
        assert_eq!(t.on_event(SubscriptionKind::Create, json!([{"id":3}])), Some((SubscriptionKind::Create, json!([{"id":3}]))));
        assert_eq!(t.on_catch_up(json!([{"id":1},{"id":2},{"id":3}])), Some((SubscriptionKind::Create, json!([{"id":2}]))));
        // A late event for 2 is not delivered twice.
        assert_eq!(t.on_event(SubscriptionKind::Create, json!([{"id":2}])), None);
        assert_eq!(t.on_catch_up(json!([{"id":1},{"id":2},{"id":3}])), None);
    }

    #[test]
    fn deletes_forget_and_untracked_items_pass() {
        let mut t = unlimited();
        t.on_init(json!([{"id":1},{"id":2}]));
        assert_eq!(t.on_event(SubscriptionKind::Delete, json!(["1"])), Some((SubscriptionKind::Delete, json!(["1"]))));
        assert_eq!(t.on_init(json!([{"id":2}])), vec![]);
        assert_eq!(
            t.on_event(SubscriptionKind::Create, json!([{"no_key": true}])),
            Some((SubscriptionKind::Create, json!([{"no_key": true}])))
        );
    }

    #[test]
    fn memory_is_capped() {
        let mut t = Tracker::new("id", true, 3);
        t.on_init(json!([]));
        for i in 0..10 {
            t.on_event(SubscriptionKind::Create, json!([{ "id": i }]));
        }
        assert_eq!(t.seen.len(), 3);
        assert_eq!(t.order.len(), 3);
    }
}
