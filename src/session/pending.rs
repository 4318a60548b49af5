//! Requests waiting for the server's answer, by uid, each with a deadline.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use serde_json::Value;
use tokio::time::Instant;

use super::reply::Reply;
use crate::error::Error;

/// The in-flight requests of a session.
#[derive(Default)]
pub(crate) struct Pending {
    waiting: HashMap<String, (Reply, Instant)>,
    // May hold entries already completed; they are skipped when they come up.
    deadlines: BinaryHeap<Reverse<(Instant, String)>>,
}

impl Pending {
    pub(crate) fn insert(&mut self, uid: String, reply: Reply, deadline: Instant) {
        self.deadlines.push(Reverse((deadline, uid.clone())));
        if let Some((old, _)) = self.waiting.insert(uid, (reply, deadline)) {
            // uids are unique per session, so this only happens on a library bug; never
            // lose the old request silently.
            old.send(Err(Error::Connection("request replaced by another with the same uid".into())));
        }
    }

    pub(crate) fn contains(&self, uid: &str) -> bool {
        self.waiting.contains_key(uid)
    }

    /// Completes the request with this uid; false when there is none.
    pub(crate) fn complete(&mut self, uid: &str, result: Result<Value, Error>) -> bool {
        match self.waiting.remove(uid) {
            Some((reply, _)) => {
                reply.send(result);
                true
            }
            None => false,
        }
    }

    /// The earliest deadline still open.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(Reverse((at, uid))) = self.deadlines.peek() {
            match self.waiting.get(uid) {
                Some((_, d)) if d == at => return Some(*at),
                _ => {
                    self.deadlines.pop();
                }
            }
        }
        None
    }

    /// Fails every request whose deadline has passed with [`Error::Timeout`].
    pub(crate) fn expire(&mut self, now: Instant) {
        while let Some(at) = self.next_deadline() {
            if at > now {
                break;
            }
            if let Some(Reverse((_, uid))) = self.deadlines.pop() {
                self.complete(&uid, Err(Error::Timeout));
            }
        }
    }

    /// Fails every request with `error`.
    pub(crate) fn fail_all(&mut self, error: &Error) {
        self.deadlines.clear();
        for (_, (reply, _)) in self.waiting.drain() {
            reply.send(Err(error.clone()));
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    type Log = Arc<Mutex<Vec<Result<Value, Error>>>>;

    fn recorder() -> (Log, impl Fn() -> Reply) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = log.clone();
        (log, move || {
            let l = l.clone();
            Reply::new(move |r| l.lock().unwrap().push(r))
        })
    }

    #[test]
    fn completes_expires_and_fails_each_once() {
        let (log, reply) = recorder();
        let mut p = Pending::default();
        let now = Instant::now();
        p.insert("a".into(), reply(), now + Duration::from_secs(1));
        p.insert("b".into(), reply(), now + Duration::from_secs(5));
        p.insert("c".into(), reply(), now + Duration::from_secs(9));
        assert!(p.complete("a", Ok(Value::from(1))));
        assert!(!p.complete("a", Ok(Value::from(2))), "second completion is refused");
        assert_eq!(p.next_deadline(), Some(now + Duration::from_secs(5)));
        p.expire(now + Duration::from_secs(6));
        assert!(!p.contains("b"));
        p.fail_all(&Error::Closed);
        assert_eq!(p.len(), 0);
        assert_eq!(*log.lock().unwrap(), vec![Ok(Value::from(1)), Err(Error::Timeout), Err(Error::Closed)]);
    }
}
