//! The outbox's decisions, without a file or a socket: which entry goes next, what an
//! outcome means for it (sent, retried, verified, failed), what the app may still change.
//!
//! One entry is with the session at a time, oldest first, so the server stores them in
//! the order they were queued. A wire attempt that times out or a connection that drops
//! never fails an entry: it is tried again with the same key, so the final state is
//! always the one the database has. An entry that was attempted before may already be
//! stored, so it is never cancelled or edited, and before it is reported failed the
//! outbox reads its key back.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::Instant;

use super::{OutboxEntry, OutboxState};
use crate::error::{Error, Result};
use crate::protocol::ItemsRequest;

/// The first delay before an entry is tried again; it doubles up to [`MAX_DELAY`].
const FIRST_DELAY: Duration = Duration::from_millis(500);
const MAX_DELAY: Duration = Duration::from_secs(30);
/// How often a refusal that may pass (FORBIDDEN during a token renewal, a server error)
/// is tried again before the entry is reported failed.
const REFUSALS: u32 = 3;

/// What an error means for an entry.
#[derive(Debug, PartialEq)]
enum Class {
    /// The session ended: the entry waits in the file for the next client.
    Stop,
    /// It passes by itself (a wire timeout, a lost connection, a rate limit): try again.
    Transient,
    /// The server refused it, but that may pass: try again a few times.
    Refused,
    /// The server refused the message itself: only a change by the app helps.
    Rejected,
}

fn classify(error: &Error) -> Class {
    match error {
        Error::Closed | Error::InCallback | Error::ShutdownTimeout(_) => Class::Stop,
        Error::Timeout | Error::Connection(_) | Error::QueueFull | Error::Cancelled => Class::Transient,
        Error::Server(e) if e.code.is_transient() => Class::Transient,
        Error::Server(e) if e.code.rejects_content() => Class::Rejected,
        Error::Server(_) => Class::Refused,
        // A read-back that found nothing: the key is not in the database.
        Error::Protocol(_) | Error::InvalidArgument(_) | Error::Tls(_) | Error::Outbox(..) => Class::Rejected,
    }
}

/// Whether retrying by hand may help after a failure of this class.
fn retryable(class: &Class) -> bool {
    *class != Class::Rejected
}

/// What the driver must do next. Each step's entry is a snapshot for its event.
#[derive(Debug, PartialEq)]
pub(crate) enum Step {
    /// Count an attempt in the file, report `Sending`, then hand `request` to the session.
    Attempt { entry: OutboxEntry, request: ItemsRequest },
    /// Read `request` (the entry's key) to learn whether an earlier attempt was stored.
    Verify { local_id: u64, request: ItemsRequest },
    /// Remove the entry from the file and report it (`Sent`).
    Sent(OutboxEntry),
    /// Record the failure in the file and report it (`Failed`).
    Failed(OutboxEntry),
}

/// What is with the session now.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Flight {
    Attempt(u64),
    Verify(u64),
}

/// The outbox's entries and the one being sent.
#[derive(Debug, Default)]
pub(crate) struct Machine {
    /// Every entry not yet over: queued, being sent (or waiting to be tried again),
    /// failed. Keyed by local id, which is the order they were queued in.
    entries: BTreeMap<u64, Slot>,
    flight: Option<Flight>,
    /// No attempt before this (a retry's delay).
    not_before: Option<Instant>,
    /// Failed tries of the current head in a row, for the delay.
    failures: u32,
    stopped: bool,
}

#[derive(Debug)]
struct Slot {
    entry: OutboxEntry,
    /// Whether an attempt may have been stored without the outbox hearing so (it
    /// timed out on the wire, its connection dropped, the app stopped meanwhile).
    maybe_stored: bool,
    /// Refusals that may pass, in a row.
    refusals: u32,
    /// The refusal to report if a verification finds the key missing.
    pending: Option<(Error, bool)>,
}

fn delay(failures: u32) -> Duration {
    FIRST_DELAY.saturating_mul(1 << failures.saturating_sub(1).min(16)).min(MAX_DELAY)
}

fn not_found(local_id: u64) -> Error {
    Error::InvalidArgument(format!("no message {local_id} in the outbox (sent, cancelled, or never queued)"))
}

impl Machine {
    /// A machine resuming the entries of a file (in their order).
    pub(crate) fn resume(entries: Vec<OutboxEntry>) -> Self {
        let mut m = Machine::default();
        for entry in entries {
            m.add(entry);
        }
        m
    }

    /// A new (or resumed) entry.
    pub(crate) fn add(&mut self, mut entry: OutboxEntry) {
        if matches!(entry.state, OutboxState::Sending) {
            entry.state = OutboxState::Queued;
        }
        let maybe_stored = entry.attempts > 0;
        self.entries.insert(entry.local_id, Slot { entry, maybe_stored, refusals: 0, pending: None });
    }

    /// The entries, oldest first.
    pub(crate) fn list(&self) -> Vec<OutboxEntry> {
        self.entries.values().map(|s| s.entry.clone()).collect()
    }

    /// When [`Machine::next`] may give something it cannot give now.
    pub(crate) fn wake_at(&self) -> Option<Instant> {
        self.not_before.filter(|_| self.flight.is_none() && !self.stopped)
    }

    /// The next attempt, if nothing is with the session and the head's delay is over.
    pub(crate) fn next(&mut self, now: Instant) -> Option<Step> {
        if self.stopped || self.flight.is_some() || self.not_before.is_some_and(|t| t > now) {
            return None;
        }
        self.not_before = None;
        let slot = self.entries.values_mut().find(|s| matches!(s.entry.state, OutboxState::Queued | OutboxState::Sending))?;
        let mut request = slot.entry.request();
        // A key the outbox made can only be in the table through this entry, so a
        // duplicate is always an earlier attempt; a key of the app's only once this
        // entry was attempted.
        if slot.entry.own_key || slot.entry.attempts > 0 {
            request = request.repeated();
        }
        slot.entry.attempts += 1;
        slot.entry.state = OutboxState::Sending;
        self.flight = Some(Flight::Attempt(slot.entry.local_id));
        Some(Step::Attempt { entry: slot.entry.clone(), request })
    }

    /// The attempt could not be counted in the file: it does not go out; try later.
    pub(crate) fn attempt_not_recorded(&mut self, local_id: u64, now: Instant) {
        if self.flight == Some(Flight::Attempt(local_id)) {
            self.flight = None;
            if let Some(s) = self.entries.get_mut(&local_id) {
                s.entry.attempts -= 1;
            }
            self.back_off(now);
        }
    }

    fn back_off(&mut self, now: Instant) {
        self.failures += 1;
        self.not_before = Some(now + delay(self.failures));
    }

    /// The outcome of the attempt of `local_id`.
    pub(crate) fn outcome(&mut self, local_id: u64, result: std::result::Result<Value, Error>, now: Instant) -> Option<Step> {
        if self.flight != Some(Flight::Attempt(local_id)) {
            return None;
        }
        self.flight = None;
        match result {
            Ok(item) => self.sent(local_id, item),
            Err(error) => self.failed_attempt(local_id, error, now),
        }
    }

    fn sent(&mut self, local_id: u64, item: Value) -> Option<Step> {
        let mut slot = self.entries.remove(&local_id)?;
        self.failures = 0;
        slot.entry.state = OutboxState::Sent { item };
        Some(Step::Sent(slot.entry))
    }

    fn failed_attempt(&mut self, local_id: u64, error: Error, now: Instant) -> Option<Step> {
        let class = classify(&error);
        let slot = self.entries.get_mut(&local_id)?;
        match class {
            Class::Stop => {
                self.stopped = true;
                None
            }
            Class::Transient => {
                slot.maybe_stored = true;
                log::debug!("outbox entry {local_id}: attempt {} failed ({error}); trying again", slot.entry.attempts);
                self.back_off(now);
                None
            }
            Class::Refused if slot.refusals + 1 < REFUSALS => {
                slot.refusals += 1;
                log::info!("outbox entry {local_id}: refused ({error}); trying again");
                self.back_off(now);
                None
            }
            Class::Refused | Class::Rejected => {
                let retryable = retryable(&class);
                if slot.maybe_stored {
                    // An earlier attempt may have been stored: look before saying failed.
                    slot.pending = Some((error, retryable));
                    self.flight = Some(Flight::Verify(local_id));
                    let e = &slot.entry;
                    let query = json!({ "filter": { e.key_field.clone(): { "_eq": e.key } }, "limit": 1 });
                    return Some(Step::Verify { local_id, request: ItemsRequest::read(e.collection.clone()).query(query) });
                }
                Some(self.fail(local_id, error, retryable))
            }
        }
    }

    fn fail(&mut self, local_id: u64, error: Error, retryable: bool) -> Step {
        self.failures = 0;
        let slot = self.entries.get_mut(&local_id).expect("the entry is there");
        slot.refusals = 0;
        slot.pending = None;
        slot.entry.state = OutboxState::Failed { error, retryable };
        Step::Failed(slot.entry.clone())
    }

    /// The answer to the read of a refused entry's key.
    pub(crate) fn verified(&mut self, local_id: u64, result: std::result::Result<Value, Error>, now: Instant) -> Option<Step> {
        if self.flight != Some(Flight::Verify(local_id)) {
            return None;
        }
        self.flight = None;
        match result {
            Ok(Value::Array(mut items)) if !items.is_empty() => self.sent(local_id, items.swap_remove(0)),
            Ok(_) => {
                let (error, retryable) = self.entries.get_mut(&local_id)?.pending.take()?;
                Some(self.fail(local_id, error, retryable))
            }
            Err(Error::Closed) => {
                self.stopped = true;
                None
            }
            // The server refuses the look-up too (the user may create but not read the
            // key): the refusal stands. A retry by the app meets the key, if stored,
            // and is read back the same way, so it is never stored twice.
            Err(Error::Server(_)) => {
                let (error, retryable) = self.entries.get_mut(&local_id)?.pending.take()?;
                Some(self.fail(local_id, error, retryable))
            }
            // The key could not be looked up: the create goes again instead (it meets
            // its earlier attempt, or is refused and looked up again).
            Err(_) => {
                self.back_off(now);
                None
            }
        }
    }

    /// The app cancels an entry. Only one that never went out (or failed) can be: once
    /// attempted, it may be stored already.
    pub(crate) fn cancel(&mut self, local_id: u64) -> Result<OutboxEntry> {
        self.check_changeable(local_id)?;
        let mut slot = self.entries.remove(&local_id).ok_or_else(|| not_found(local_id))?;
        slot.entry.state = OutboxState::Cancelled;
        Ok(slot.entry)
    }

    /// Checks that the app may still change the entry (cancel it, edit it).
    pub(crate) fn check_changeable(&self, local_id: u64) -> Result<&OutboxEntry> {
        let slot = self.entries.get(&local_id).ok_or_else(|| not_found(local_id))?;
        match slot.entry.state {
            OutboxState::Failed { .. } => Ok(&slot.entry),
            OutboxState::Queued if slot.entry.attempts == 0 => Ok(&slot.entry),
            _ => Err(Error::InvalidArgument(format!(
                "message {local_id} is being sent (the server may have it already); it can no longer be cancelled or edited"
            ))),
        }
    }

    /// The data an edit would give the entry: `patch`'s fields over the queued ones. The
    /// key cannot change: it is what makes the send exactly-once.
    pub(crate) fn edited_data(&self, local_id: u64, patch: &Value) -> Result<Value> {
        let entry = self.check_changeable(local_id)?;
        let Value::Object(patch) = patch else {
            return Err(Error::InvalidArgument("an edit is a JSON object of the fields to change".into()));
        };
        let mut data = entry.data.clone();
        let Value::Object(fields) = &mut data else {
            return Err(Error::InvalidArgument(format!("message {local_id} does not hold one item")));
        };
        for (name, value) in patch {
            if *name == entry.key_field && *value != Value::String(entry.key.clone()) {
                return Err(Error::InvalidArgument(format!("`{name}` holds the message's key and cannot be edited")));
            }
            fields.insert(name.clone(), value.clone());
        }
        Ok(data)
    }

    /// Applies an edit checked with [`Machine::edited_data`] and written to the file.
    pub(crate) fn set_data(&mut self, local_id: u64, data: Value) -> Option<OutboxEntry> {
        let slot = self.entries.get_mut(&local_id)?;
        slot.entry.data = data;
        Some(slot.entry.clone())
    }

    /// Checks that a failed entry may be retried.
    pub(crate) fn check_retry(&self, local_id: u64) -> Result<()> {
        match self.entries.get(&local_id).map(|s| &s.entry.state) {
            None => Err(not_found(local_id)),
            Some(OutboxState::Failed { .. }) => Ok(()),
            Some(_) => Err(Error::InvalidArgument(format!("message {local_id} has not failed; it is still being sent"))),
        }
    }

    /// A failed entry goes back in the queue, in its place.
    pub(crate) fn retry(&mut self, local_id: u64) -> Option<OutboxEntry> {
        let slot = self.entries.get_mut(&local_id)?;
        slot.entry.state = OutboxState::Queued;
        Some(slot.entry.clone())
    }

    /// The session ended: nothing goes out any more.
    pub(crate) fn stop(&mut self) {
        self.stopped = true;
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ServerError;

    fn entry(local_id: u64) -> OutboxEntry {
        let key = format!("k{local_id}");
        OutboxEntry {
            local_id,
            key: key.clone(),
            collection: "messages".into(),
            key_field: "client_key".into(),
            data: json!({"text": format!("m{local_id}"), "client_key": key}),
            state: OutboxState::Queued,
            attempts: 0,
            queued_at_ms: 0,
            own_key: false,
        }
    }

    fn server(code: &str) -> Error {
        Error::Server(ServerError::new(code, "no"))
    }

    fn attempt(m: &mut Machine, now: Instant) -> (u64, ItemsRequest) {
        match m.next(now) {
            Some(Step::Attempt { entry, request }) => (entry.local_id, request),
            other => panic!("expected an attempt, got {other:?}"),
        }
    }

    #[test]
    fn one_at_a_time_in_order_and_sent_entries_leave() {
        let now = Instant::now();
        let mut m = Machine::resume(vec![entry(1), entry(2)]);
        m.add(entry(3));
        let (id, request) = attempt(&mut m, now);
        assert_eq!(id, 1);
        assert!(!request.repeated, "a first attempt with the app's key is a plain keyed create");
        assert_eq!(request.keys_of_create(), Some(vec![json!("k1")]));
        assert!(m.next(now).is_none(), "one entry with the session at a time");
        let item = json!({"id": 7, "client_key": "k1"});
        match m.outcome(1, Ok(item.clone()), now) {
            Some(Step::Sent(e)) => assert_eq!(e.state, OutboxState::Sent { item }),
            other => panic!("{other:?}"),
        }
        assert_eq!(attempt(&mut m, now).0, 2);
        assert!(m.outcome(1, Ok(Value::Null), now).is_none(), "a stale outcome changes nothing");
        assert_eq!(m.list().iter().map(|e| e.local_id).collect::<Vec<_>>(), [2, 3]);
    }

    #[test]
    fn a_key_the_outbox_made_reads_back_on_a_duplicate_from_the_first_attempt() {
        let mut m = Machine::resume(vec![OutboxEntry { own_key: true, ..entry(1) }]);
        let (_, request) = attempt(&mut m, Instant::now());
        assert!(request.repeated, "only an earlier attempt of this entry can hold the key");
    }

    #[test]
    fn timeouts_and_lost_connections_retry_the_same_key_later_and_never_fail() {
        let now = Instant::now();
        let mut m = Machine::resume(vec![entry(1), entry(2)]);
        for (n, error) in
            [Error::Timeout, Error::Connection("cut".into()), server("REQUESTS_EXCEEDED"), Error::Timeout].into_iter().enumerate()
        {
            let t = now + Duration::from_secs(100 * n as u64);
            let (id, request) = attempt(&mut m, t);
            assert_eq!(id, 1, "the head stays the head");
            assert_eq!(request.repeated, n > 0, "later attempts may meet the earlier ones");
            assert!(m.outcome(1, Err(error), t).is_none());
            assert!(m.next(t).is_none(), "it waits before the next attempt");
            assert_eq!(m.wake_at(), Some(t + delay(n as u32 + 1)));
        }
        assert_eq!(delay(1), FIRST_DELAY);
        assert_eq!(delay(20), MAX_DELAY);
        assert!(m.check_changeable(1).is_err(), "attempted: it may be stored, so it stays");
        let t = now + Duration::from_secs(1000);
        let (_, request) = attempt(&mut m, t);
        assert_eq!(request.keys_of_create(), Some(vec![json!("k1")]));
        assert!(matches!(m.outcome(1, Ok(json!({"id":1})), t), Some(Step::Sent(_))));
        assert_eq!(attempt(&mut m, t).0, 2, "the delay ends with the success");
    }

    #[test]
    fn a_rejected_message_fails_at_once_and_the_queue_goes_on() {
        let now = Instant::now();
        let mut m = Machine::resume(vec![entry(1), entry(2)]);
        attempt(&mut m, now);
        match m.outcome(1, Err(server("FAILED_VALIDATION")), now) {
            Some(Step::Failed(e)) => {
                assert!(matches!(e.state, OutboxState::Failed { retryable: false, ref error } if error.code() == "FAILED_VALIDATION"))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(attempt(&mut m, now).0, 2, "a failed entry does not hold the others back");
        // The failed one can be edited, then retried: it goes next, in its place.
        let data = m.edited_data(1, &json!({"text": "fixed"})).unwrap();
        assert_eq!(data, json!({"text": "fixed", "client_key": "k1"}));
        assert!(m.edited_data(1, &json!({"client_key": "other"})).is_err(), "the key stays");
        m.set_data(1, data);
        m.check_retry(1).unwrap();
        assert!(m.check_retry(2).is_err());
        assert_eq!(m.retry(1).unwrap().state, OutboxState::Queued);
        m.outcome(2, Ok(json!({})), now);
        let (id, request) = attempt(&mut m, now);
        assert_eq!(id, 1);
        assert!(request.repeated, "attempted before");
        assert_eq!(request.data_value().unwrap()["text"], "fixed");
    }

    #[test]
    fn refusals_that_may_pass_are_tried_again_then_fail_as_retryable() {
        let now = Instant::now();
        let mut m = Machine::resume(vec![entry(1)]);
        for n in 0..REFUSALS {
            let t = now + Duration::from_secs(100 * u64::from(n));
            attempt(&mut m, t);
            let step = m.outcome(1, Err(server("FORBIDDEN")), t);
            if n + 1 < REFUSALS {
                assert!(step.is_none(), "tried again");
                continue;
            }
            // Every attempt was refused: nothing can be stored, no look-up needed.
            match step {
                Some(Step::Failed(e)) => assert!(matches!(e.state, OutboxState::Failed { retryable: true, .. }), "{e:?}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_refusal_after_an_attempt_that_may_be_stored_looks_the_key_up_first() {
        let now = Instant::now();
        let mut m = Machine::resume(vec![entry(1)]);
        attempt(&mut m, now);
        assert!(m.outcome(1, Err(Error::Timeout), now).is_none(), "the answer never came: tried again");
        for n in 1..REFUSALS {
            let t = now + Duration::from_secs(100 * u64::from(n));
            attempt(&mut m, t);
            assert!(m.outcome(1, Err(server("FORBIDDEN")), t).is_none());
        }
        let t = now + Duration::from_secs(1000);
        attempt(&mut m, t);
        // Attempted before: an earlier attempt may be stored, so the key is read first.
        let request = match m.outcome(1, Err(server("FORBIDDEN")), t) {
            Some(Step::Verify { local_id: 1, request }) => request,
            other => panic!("{other:?}"),
        };
        assert_eq!(request.query.as_ref().unwrap()["filter"], json!({"client_key": {"_eq": "k1"}}));
        assert!(m.next(t).is_none(), "the look is with the session");
        match m.verified(1, Ok(json!([])), t) {
            Some(Step::Failed(e)) => {
                assert!(matches!(e.state, OutboxState::Failed { retryable: true, ref error } if error.code() == "FORBIDDEN"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_refused_look_up_lets_the_refusal_stand() {
        let now = Instant::now();
        let mut m = Machine::resume(vec![OutboxEntry { attempts: 1, ..entry(1) }]);
        attempt(&mut m, now);
        assert!(matches!(m.outcome(1, Err(server("INVALID_PAYLOAD")), now), Some(Step::Verify { .. })));
        match m.verified(1, Err(server("FORBIDDEN")), now) {
            Some(Step::Failed(e)) => {
                assert!(matches!(e.state, OutboxState::Failed { retryable: false, ref error } if error.code() == "INVALID_PAYLOAD"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_refused_retry_whose_earlier_attempt_was_stored_is_sent() {
        let now = Instant::now();
        let mut m = Machine::resume(vec![OutboxEntry { attempts: 1, ..entry(1) }]);
        let (_, request) = attempt(&mut m, now);
        assert!(request.repeated, "resumed after a crash mid-send");
        assert!(matches!(m.outcome(1, Err(server("INVALID_PAYLOAD")), now), Some(Step::Verify { .. })));
        let item = json!({"id": 3, "client_key": "k1"});
        assert_eq!(
            m.verified(1, Ok(json!([item.clone()])), now),
            Some(Step::Sent(OutboxEntry { state: OutboxState::Sent { item }, attempts: 2, ..entry(1) }))
        );
        // A look that fails sends the create again instead.
        let mut m = Machine::resume(vec![OutboxEntry { attempts: 1, ..entry(2) }]);
        attempt(&mut m, now);
        m.outcome(2, Err(server("INVALID_PAYLOAD")), now);
        assert!(m.verified(2, Err(Error::Timeout), now).is_none());
        let later = now + Duration::from_secs(60);
        assert_eq!(attempt(&mut m, later).0, 2);
    }

    #[test]
    fn cancel_and_edit_only_what_never_went_out_and_a_closed_session_stops_everything() {
        let now = Instant::now();
        let mut m = Machine::resume(vec![entry(1), entry(2), entry(3)]);
        attempt(&mut m, now);
        assert!(m.cancel(1).is_err(), "being sent");
        assert!(m.cancel(9).is_err(), "unknown");
        assert_eq!(m.cancel(2).unwrap().state, OutboxState::Cancelled);
        assert!(m.cancel(2).is_err(), "gone");
        assert!(m.outcome(1, Err(Error::Closed), now).is_none());
        assert!(m.is_stopped() && m.next(now + Duration::from_secs(60)).is_none());
        assert_eq!(m.list().iter().map(|e| e.local_id).collect::<Vec<_>>(), [1, 3], "kept for the next client");
    }
}
