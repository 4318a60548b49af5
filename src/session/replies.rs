//! Requests waiting for their outcome, by key, each with the deadline of its current
//! attempt on the wire.
//!
//! A request that waits for the login or a reconnect has no deadline: timeouts apply to
//! an attempt on the wire. Callers that want a bound from the moment they asked (the
//! blocking calls) keep their own and cancel the request when it passes.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use serde_json::Value;
use tokio::time::Instant;

use super::action::Actions;
use super::key::Key;
use super::reply::Reply;
use crate::error::Error;

struct Waiting {
    reply: Reply,
    deadline: Option<Instant>,
}

/// The open requests of a session.
#[derive(Default)]
pub(crate) struct Replies {
    waiting: HashMap<Key, Waiting>,
    // May hold deadlines already completed or re-armed; they are skipped when they come up.
    deadlines: BinaryHeap<Reverse<(Instant, Key)>>,
}

impl Replies {
    /// A request that waits from now on; a deadline its reply carries runs from now.
    pub(crate) fn insert(&mut self, key: Key, reply: Reply, actions: &mut Actions) {
        let deadline = reply.deadline();
        if let Some(at) = deadline {
            self.deadlines.push(Reverse((at, key)));
        }
        if let Some(old) = self.waiting.insert(key, Waiting { reply, deadline }) {
            // Keys are unique per client, so this only happens on a library bug; never
            // lose the old request silently.
            actions.reply(old.reply, Err(Error::Connection(format!("request {key} replaced by another with the same key"))));
        }
    }

    pub(crate) fn contains(&self, key: Key) -> bool {
        self.waiting.contains_key(&key)
    }

    /// The key of the waiting request with number `id` (numbers are unique per client).
    pub(crate) fn key_of(&self, id: u64) -> Option<Key> {
        [Key::Items(id), Key::Subscribe(id), Key::Auth(id), Key::Unsubscribe(id)].into_iter().find(|k| self.waiting.contains_key(k))
    }

    /// Starts the deadline of `key`'s attempt on the wire, if it waits and has none.
    pub(crate) fn arm(&mut self, key: Key, deadline: Instant) {
        if let Some(w) = self.waiting.get_mut(&key) {
            if w.deadline.is_none() {
                w.deadline = Some(deadline);
                self.deadlines.push(Reverse((deadline, key)));
            }
        }
    }

    /// Every attempt on the wire is over (the connection is gone): no deadline runs
    /// until a request is sent again, but those of the callers who wait from the moment
    /// they asked.
    pub(crate) fn disarm_all(&mut self) {
        self.deadlines.clear();
        for (key, w) in self.waiting.iter_mut() {
            w.deadline = w.reply.deadline();
            if let Some(at) = w.deadline {
                self.deadlines.push(Reverse((at, *key)));
            }
        }
    }

    /// Completes `key`; false when it does not wait (answered, expired, cancelled).
    pub(crate) fn complete(&mut self, key: Key, result: Result<Value, Error>, actions: &mut Actions) -> bool {
        match self.waiting.remove(&key) {
            Some(w) => {
                actions.reply(w.reply, result);
                true
            }
            None => false,
        }
    }

    /// The earliest deadline still open.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(Reverse((at, key))) = self.deadlines.peek() {
            match self.waiting.get(key) {
                Some(Waiting { deadline: Some(d), .. }) if d == at => return Some(*at),
                _ => {
                    self.deadlines.pop();
                }
            }
        }
        None
    }

    /// Fails every request whose deadline has passed with [`Error::Timeout`] and returns
    /// their keys.
    pub(crate) fn expire(&mut self, now: Instant, actions: &mut Actions) -> Vec<Key> {
        let mut expired = Vec::new();
        while let Some(at) = self.next_deadline() {
            if at > now {
                break;
            }
            if let Some(Reverse((_, key))) = self.deadlines.pop() {
                self.complete(key, Err(Error::Timeout), actions);
                expired.push(key);
            }
        }
        expired
    }

    /// Fails every request with `error`, in key order.
    pub(crate) fn fail_all(&mut self, error: &Error, actions: &mut Actions) {
        self.deadlines.clear();
        let mut all: Vec<(Key, Waiting)> = self.waiting.drain().collect();
        all.sort_by_key(|(k, _)| *k);
        for (_, w) in all {
            actions.reply(w.reply, Err(error.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::action::Action;
    use std::time::Duration;

    fn results(actions: Actions) -> Vec<Result<Value, Error>> {
        actions
            .list
            .into_iter()
            .map(|a| match a {
                Action::Reply(r, result) => {
                    r.disarm();
                    result
                }
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_request_is_answered_once_times_out_only_on_the_wire_and_fails_with_the_session() {
        let mut r = Replies::default();
        let mut a = Actions::default();
        let now = Instant::now();
        r.insert(Key::Items(1), Reply::ignore(), &mut a);
        r.insert(Key::Items(2), Reply::ignore(), &mut a);
        r.insert(Key::Items(3), Reply::ignore(), &mut a);
        assert!(r.complete(Key::Items(1), Ok(Value::from(1)), &mut a));
        assert!(!r.complete(Key::Items(1), Ok(Value::from(2)), &mut a), "a second answer is refused");
        // Not on the wire yet: no deadline, nothing expires.
        assert_eq!(r.next_deadline(), None);
        assert!(r.expire(now + Duration::from_secs(3600), &mut a).is_empty());
        r.arm(Key::Items(2), now + Duration::from_secs(5));
        r.arm(Key::Items(2), now + Duration::from_secs(50)); // the first deadline stands
        assert_eq!(r.next_deadline(), Some(now + Duration::from_secs(5)));
        // The connection drops: the attempt is over, and with it its deadline.
        r.disarm_all();
        assert_eq!(r.next_deadline(), None);
        r.arm(Key::Items(2), now + Duration::from_secs(9));
        assert_eq!(r.expire(now + Duration::from_secs(10), &mut a), vec![Key::Items(2)]);
        r.fail_all(&Error::Closed, &mut a);
        assert!(!r.contains(Key::Items(3)));
        assert_eq!(results(a), vec![Ok(Value::from(1)), Err(Error::Timeout), Err(Error::Closed)]);
    }

    #[test]
    fn a_caller_who_waits_from_the_start_times_out_even_while_queued() {
        let mut r = Replies::default();
        let mut a = Actions::default();
        let now = Instant::now();
        r.insert(Key::Subscribe(1), Reply::ignore().by(now + Duration::from_secs(30)), &mut a);
        r.disarm_all();
        assert_eq!(r.next_deadline(), Some(now + Duration::from_secs(30)));
        assert_eq!(r.expire(now + Duration::from_secs(30), &mut a), vec![Key::Subscribe(1)]);
        assert_eq!(results(a), vec![Err(Error::Timeout)]);
    }
}
