//! Requests on their way to the server: queued until they may go, on the wire until
//! answered, and what happens to them when the connection is lost before their answer
//! (sent again when that is safe, else failed: never done twice).
//!
//! Items requests share one lane. Directus before 12.4 answers a failed `items` request
//! without its uid, so on such servers only one of them is on the wire at a time, and an
//! error without uid belongs to that one.

use std::collections::{HashMap, VecDeque};

use serde_json::Value;

use super::key::{Ids, Key};
use crate::protocol::{ClientMessage, ItemAction, ItemsRequest};

/// What to do with a request whose answer was lost with the connection.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Retry {
    /// Fail it: the server may or may not have applied it (a create without a
    /// client-chosen key, a delete).
    Never,
    /// Send it again: doing it twice is the same as once (a read, an update).
    Resend,
    /// Send it again; if the server says the keys exist already (`RECORD_NOT_UNIQUE`),
    /// the first attempt was applied, and reading the keys back gives its answer.
    CreateWithKeys { collection: String, key_field: String, one: bool, keys: Vec<Value> },
    /// An unsubscribe: a lost connection ends every subscription anyway, so it is done.
    Unsubscribe,
    /// A read of the session's own (a catch-up, a read-back, the capability probe): it
    /// goes with the connection, and whoever needs it asks again.
    Drop,
}

impl Retry {
    /// The rule for an items request.
    pub(crate) fn of(request: &ItemsRequest) -> Retry {
        match (request.action_kind(), request.data_value()) {
            (ItemAction::Read, _) | (ItemAction::Update, Some(_)) => Retry::Resend,
            (ItemAction::Create, _) => match request.keys_of_create() {
                Some(keys) => Retry::CreateWithKeys {
                    collection: request.collection_name().to_owned(),
                    key_field: request.key_field_name().to_owned(),
                    one: request.creates_one(),
                    keys,
                },
                None => Retry::Never,
            },
            _ => Retry::Never,
        }
    }
}

struct Request {
    frame: String,
    retry: Retry,
    /// Sent again after a lost connection at least once.
    retried: bool,
    /// Its place in the order of writes on the current connection, once written.
    on_wire: Option<u64>,
}

/// What a lost connection settled.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Settled {
    /// Unsubscribes: done, the server forgot the subscription with the connection.
    pub done: Vec<Key>,
    /// Requests that may or may not have been applied: they fail.
    pub failed: Vec<Key>,
}

/// Whether a request travels in the items lane (an `items` message).
fn in_lane(key: Key) -> bool {
    matches!(key, Key::Items(_) | Key::ReadBack(_) | Key::CatchUp(_) | Key::Probe(_))
}

/// The requests of a session between their submission and their answer.
pub(crate) struct Outgoing {
    requests: HashMap<Key, Request>,
    /// Waiting to be written, in order.
    queue: VecDeque<Key>,
    max_queued: usize,
    next_seq: u64,
    /// Reads of duplicate creates in flight: read-back → the create it answers.
    read_backs: HashMap<Key, Key>,
    /// One items request on the wire at a time (see the module's doc).
    serial: bool,
}

impl Outgoing {
    pub(crate) fn new(max_queued: usize) -> Self {
        Outgoing { requests: HashMap::new(), queue: VecDeque::new(), max_queued, next_seq: 0, read_backs: HashMap::new(), serial: true }
    }

    /// Lets items requests be pipelined (the server echoes the uid on every error), or not.
    pub(crate) fn set_serial(&mut self, serial: bool) {
        self.serial = serial;
    }

    /// Queues a request; [`Outgoing::sendable`] says when it goes. `Err(())` when the
    /// session is not ready and `max_queued` requests of the user wait already.
    pub(crate) fn submit(&mut self, key: Key, frame: String, retry: Retry, ready: bool) -> Result<(), ()> {
        if !ready && retry != Retry::Drop && self.queue.iter().filter(|k| self.is_users(**k)).count() >= self.max_queued {
            return Err(());
        }
        self.requests.insert(key, Request { frame, retry, retried: false, on_wire: None });
        self.queue.push_back(key);
        Ok(())
    }

    /// Treats `key` as a request sent before (see [`ItemsRequest::repeated`]): a keyed
    /// create that meets its own key is read back instead of failing.
    pub(crate) fn mark_repeated(&mut self, key: Key) {
        if let Some(r) = self.requests.get_mut(&key) {
            r.retried = true;
        }
    }

    /// Queues a request of the session's own ahead of everything else.
    pub(crate) fn submit_first(&mut self, key: Key, frame: String) {
        self.requests.insert(key, Request { frame, retry: Retry::Drop, retried: false, on_wire: None });
        self.queue.push_front(key);
    }

    fn is_users(&self, key: Key) -> bool {
        self.requests.get(&key).is_some_and(|r| r.retry != Retry::Drop)
    }

    fn lane_busy(&self) -> bool {
        self.requests.iter().any(|(k, r)| in_lane(*k) && r.on_wire.is_some())
    }

    /// The frames that may be written now, in order: nothing while the session is not
    /// ready; in serial mode at most one items request on the wire.
    pub(crate) fn sendable(&mut self, ready: bool) -> Vec<(Key, String)> {
        let mut out = Vec::new();
        if !ready || self.queue.is_empty() {
            return out;
        }
        let mut lane_free = !(self.serial && self.lane_busy());
        let mut waiting = VecDeque::with_capacity(self.queue.len());
        while let Some(key) = self.queue.pop_front() {
            let Some(r) = self.requests.get_mut(&key) else { continue };
            if in_lane(key) && !lane_free {
                waiting.push_back(key);
                continue;
            }
            if in_lane(key) && self.serial {
                lane_free = false;
            }
            self.next_seq += 1;
            r.on_wire = Some(self.next_seq);
            out.push((key, r.frame.clone()));
        }
        self.queue = waiting;
        out
    }

    /// The one items request on the wire, in serial mode: the one an error without uid
    /// answers.
    pub(crate) fn lone_in_lane(&self) -> Option<Key> {
        if !self.serial {
            return None;
        }
        let mut on_wire = self.requests.iter().filter(|(k, r)| in_lane(**k) && r.on_wire.is_some()).map(|(k, _)| *k);
        match (on_wire.next(), on_wire.next()) {
            (Some(key), None) => Some(key),
            _ => None,
        }
    }

    /// The request is over (answered, expired, cancelled): forget it.
    pub(crate) fn forget(&mut self, key: Key) {
        if self.requests.remove(&key).is_some_and(|r| r.on_wire.is_none()) {
            self.queue.retain(|k| *k != key);
        }
    }

    /// Takes a request back if it was never written; one on the wire stays until its
    /// answer (a close waits for it) but is not sent again after a reconnect, since the
    /// session only resends what somebody waits for.
    pub(crate) fn withdraw(&mut self, key: Key) {
        if self.requests.get(&key).is_some_and(|r| r.on_wire.is_none()) {
            self.forget(key);
        }
    }

    /// A retried create met its own first attempt (`RECORD_NOT_UNIQUE`): the read that
    /// fetches what it stored goes first. False if `key` is not such a create.
    pub(crate) fn duplicate(&mut self, key: Key, ids: &Ids) -> bool {
        let Some(r) = self.requests.get_mut(&key) else { return false };
        let Retry::CreateWithKeys { collection, key_field, keys, .. } = &r.retry else { return false };
        if !r.retried {
            return false;
        }
        let read = Key::ReadBack(ids.next());
        let frame = ClientMessage::read_back(collection, key_field, keys, read.uid()).encode();
        r.on_wire = None;
        self.read_backs.insert(read, key);
        self.submit_first(read, frame);
        true
    }

    /// The create a read-back answers, once it is answered, and whether that create
    /// made one item (its answer is the item, not a list).
    pub(crate) fn read_back_done(&mut self, read: Key) -> Option<(Key, bool)> {
        self.requests.remove(&read);
        let original = self.read_backs.remove(&read)?;
        let one = self.requests.remove(&original).is_some_and(|r| matches!(r.retry, Retry::CreateWithKeys { one: true, .. }));
        Some((original, one))
    }

    /// Whether nothing of the user's written on this connection waits for its answer.
    pub(crate) fn is_idle(&self) -> bool {
        self.read_backs.is_empty() && self.requests.values().all(|r| r.on_wire.is_none() || r.retry == Retry::Drop)
    }

    /// The connection was lost. Requests still wanted (`wanted`) that may be sent again
    /// go back to the front of the queue in their original order; the others are settled.
    pub(crate) fn disconnected(&mut self, wanted: impl Fn(Key) -> bool) -> Settled {
        let mut unanswered: Vec<(u64, Key)> = self.requests.iter().filter_map(|(k, r)| r.on_wire.map(|seq| (seq, *k))).collect();
        // A create being read back goes again as it was: the read-back follows again.
        unanswered.extend(self.read_backs.drain().map(|(_, original)| (0, original)));
        unanswered.sort();
        // The session's own reads go with the connection, written or not.
        let own: Vec<Key> = self.requests.iter().filter(|(_, r)| r.retry == Retry::Drop).map(|(k, _)| *k).collect();
        for key in own {
            self.forget(key);
        }
        let mut settled = Settled::default();
        let mut resend = Vec::new();
        for (_, key) in unanswered {
            let Some(r) = self.requests.get_mut(&key) else { continue };
            r.on_wire = None;
            match r.retry {
                Retry::Unsubscribe => settled.done.push(key),
                _ if !wanted(key) => {}
                Retry::Never => settled.failed.push(key),
                _ => {
                    r.retried = true;
                    resend.push(key);
                    continue;
                }
            }
            self.requests.remove(&key);
        }
        for key in resend.into_iter().rev() {
            self.queue.push_front(key);
        }
        settled
    }

    /// Forgets everything (the session ended).
    pub(crate) fn clear(&mut self) {
        self.requests.clear();
        self.queue.clear();
        self.read_backs.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create(key: Option<&str>) -> Retry {
        let data = match key {
            Some(k) => json!({"id": k, "text": "x"}),
            None => json!({"text": "x"}),
        };
        Retry::of(&ItemsRequest::create("m", data))
    }

    #[test]
    fn retry_rules() {
        assert_eq!(Retry::of(&ItemsRequest::read("m")), Retry::Resend);
        assert_eq!(Retry::of(&ItemsRequest::update("m", json!({"a":1})).id(1)), Retry::Resend);
        assert_eq!(Retry::of(&ItemsRequest::delete("m").id(1)), Retry::Never);
        assert_eq!(create(None), Retry::Never);
        assert_eq!(
            create(Some("u1")),
            Retry::CreateWithKeys { collection: "m".into(), key_field: "id".into(), one: true, keys: vec![json!("u1")] }
        );
    }

    fn keys(out: Vec<(Key, String)>) -> Vec<Key> {
        out.into_iter().map(|(k, _)| k).collect()
    }

    /// A queue that pipelines, as on a server that echoes uids on errors.
    fn pipelined(max_queued: usize) -> Outgoing {
        let mut o = Outgoing::new(max_queued);
        o.set_serial(false);
        o
    }

    #[test]
    fn queued_until_ready_then_in_order_and_bounded() {
        let mut o = pipelined(2);
        assert_eq!(o.submit(Key::Items(1), "f1".into(), Retry::Resend, false), Ok(()));
        assert_eq!(o.submit(Key::Items(2), "f2".into(), Retry::Resend, false), Ok(()));
        assert_eq!(o.submit(Key::Items(3), "f3".into(), Retry::Resend, false), Err(()));
        assert!(o.sendable(false).is_empty(), "not ready");
        o.forget(Key::Items(1));
        assert_eq!(o.sendable(true), vec![(Key::Items(2), "f2".to_string())]);
        assert!(!o.is_idle());
        o.forget(Key::Items(2));
        assert!(o.is_idle());
    }

    #[test]
    fn in_serial_mode_one_items_request_is_on_the_wire_and_an_error_without_uid_is_its() {
        let mut o = Outgoing::new(10);
        for n in 1..=3 {
            o.submit(Key::Items(n), format!("f{n}"), Retry::Resend, true).unwrap();
        }
        o.submit(Key::Unsubscribe(9), "u".into(), Retry::Unsubscribe, true).unwrap();
        assert_eq!(keys(o.sendable(true)), vec![Key::Items(1), Key::Unsubscribe(9)], "unsubscribes are not in the lane");
        assert_eq!(o.lone_in_lane(), Some(Key::Items(1)));
        assert!(o.sendable(true).is_empty());
        o.forget(Key::Items(1));
        assert_eq!(keys(o.sendable(true)), vec![Key::Items(2)]);
        // The server turns out to echo uids: the rest goes at once.
        o.set_serial(false);
        assert_eq!(o.lone_in_lane(), None);
        assert_eq!(keys(o.sendable(true)), vec![Key::Items(3)]);
    }

    #[test]
    fn a_lost_connection_resends_what_is_safe_fails_the_rest_and_ends_unsubscribes() {
        let mut o = pipelined(10);
        o.submit(Key::Items(1), "create".into(), create(None), true).unwrap();
        o.submit(Key::Items(2), "read".into(), Retry::Resend, true).unwrap();
        o.submit(Key::Unsubscribe(3), "unsub".into(), Retry::Unsubscribe, true).unwrap();
        o.submit(Key::Items(4), "keyed".into(), create(Some("u4")), true).unwrap();
        o.submit(Key::Items(5), "read, abandoned".into(), Retry::Resend, true).unwrap();
        o.submit(Key::CatchUp(7), "the session's own".into(), Retry::Drop, true).unwrap();
        o.sendable(true);
        o.submit(Key::Items(6), "queued".into(), Retry::Never, false).unwrap();
        let settled = o.disconnected(|k| k != Key::Items(5));
        assert_eq!(settled, Settled { done: vec![Key::Unsubscribe(3)], failed: vec![Key::Items(1)] });
        assert_eq!(keys(o.sendable(true)), vec![Key::Items(2), Key::Items(4), Key::Items(6)], "resent first, in order");
    }

    #[test]
    fn a_retried_keyed_create_that_meets_itself_is_read_back() {
        let ids = Ids::default();
        let mut o = Outgoing::new(10);
        o.submit(Key::Items(1), "keyed".into(), create(Some("u1")), true).unwrap();
        o.sendable(true);
        assert!(!o.duplicate(Key::Items(1), &ids), "a first attempt's duplicate is a real conflict");
        o.disconnected(|_| true);
        o.sendable(true);
        assert!(o.duplicate(Key::Items(1), &ids));
        let sent = o.sendable(true);
        assert_eq!(sent.len(), 1, "the read-back takes the lane");
        let read: serde_json::Value = serde_json::from_str(&sent[0].1).unwrap();
        assert_eq!(read["query"]["filter"], json!({"id":{"_in":["u1"]}}));
        // Cut again while reading back: the create goes again, as it was.
        o.disconnected(|_| true);
        assert_eq!(keys(o.sendable(true)), vec![Key::Items(1)]);
        assert!(o.duplicate(Key::Items(1), &ids));
        let read = o.sendable(true)[0].0;
        assert_eq!(o.read_back_done(read), Some((Key::Items(1), true)));
        assert!(o.is_idle());
    }

    #[test]
    fn a_create_keyed_by_another_unique_field_is_read_back_by_that_field() {
        let ids = Ids::default();
        let mut o = pipelined(10);
        let req = ItemsRequest::create("m", json!({"client_key":"k1","text":"x"})).key_field("client_key");
        o.submit(Key::Items(1), "keyed".into(), Retry::of(&req), true).unwrap();
        o.sendable(true);
        o.disconnected(|_| true);
        o.sendable(true);
        assert!(o.duplicate(Key::Items(1), &ids));
        let read: serde_json::Value = serde_json::from_str(&o.sendable(true)[0].1).unwrap();
        assert_eq!(read["query"], json!({"filter":{"client_key":{"_in":["k1"]}},"limit":-1}));
    }
}
