//! The typed key of every request a session makes, and the one place where it becomes
//! a wire uid and is read back from one.

use std::fmt;

/// What a request is, and its number. Numbers come from one counter per client
/// ([`Ids`]), so no two requests of a client share one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Key {
    /// A login, made by the user or by the session (renewal, re-authentication).
    Auth(u64),
    /// A subscription, by the subscription's number.
    Subscribe(u64),
    /// The end of the subscription with this number.
    Unsubscribe(u64),
    /// An `items` request of the user.
    Items(u64),
    /// The read of what a create stored before its answer was lost.
    ReadBack(u64),
    /// The read after a subscription's `init` that finds what the join window hid.
    CatchUp(u64),
    /// The read that tells whether the server echoes the uid of a failed request.
    Probe(u64),
}

/// Which answer a uid arrived on: the server echoes a subscription's uid on its events
/// and on the confirmation (or refusal) of its end, so the message tells them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Anything but an unsubscribe confirmation or error.
    Request,
    /// `{"type":"subscription","event":"unsubscribe"}` or an `unsubscribe` error.
    Unsubscribe,
}

impl Key {
    /// The uid sent with the request. An unsubscribe names the subscription it ends.
    pub(crate) fn uid(self) -> String {
        match self {
            Key::Auth(n) => format!("a-{n}"),
            Key::Subscribe(n) | Key::Unsubscribe(n) => format!("s-{n}"),
            Key::Items(n) => format!("r-{n}"),
            Key::ReadBack(n) => format!("b-{n}"),
            Key::CatchUp(n) => format!("c-{n}"),
            Key::Probe(n) => format!("p-{n}"),
        }
    }

    /// The request a server message with this uid answers; `None` for a uid this
    /// library did not make.
    pub(crate) fn of_answer(uid: &str, answer: Answer) -> Option<Key> {
        // A byte search: `split_once` with a char pattern cost a tenth of the lookup.
        let dash = uid.bytes().position(|b| b == b'-')?;
        let (prefix, number) = (&uid[..dash], &uid[dash + 1..]);
        // Only canonical numbers: "s-01" or "s-+1" was never sent.
        let canonical = number.bytes().all(|b| b.is_ascii_digit()) && (number == "0" || !number.starts_with('0'));
        let n: u64 = number.parse().ok().filter(|_| canonical)?;
        Some(match (prefix, answer) {
            ("a", _) => Key::Auth(n),
            ("s", Answer::Request) => Key::Subscribe(n),
            ("s", Answer::Unsubscribe) => Key::Unsubscribe(n),
            ("r", _) => Key::Items(n),
            ("b", _) => Key::ReadBack(n),
            ("c", _) => Key::CatchUp(n),
            ("p", _) => Key::Probe(n),
            _ => return None,
        })
    }

    /// The number of the subscription whose events carry `uid`.
    pub(crate) fn subscription_of(uid: &str) -> Option<u64> {
        match Key::of_answer(uid, Answer::Request)? {
            Key::Subscribe(n) => Some(n),
            _ => None,
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Unsubscribe(n) => write!(f, "unsubscribe of s-{n}"),
            other => f.write_str(&other.uid()),
        }
    }
}

/// The counter of a client's request and subscription numbers, shared by the client
/// (which numbers what the user asks for) and its session (which numbers its own).
#[derive(Debug, Default)]
pub(crate) struct Ids(std::sync::atomic::AtomicU64);

impl Ids {
    /// The next number; the first is 1.
    pub(crate) fn next(&self) -> u64 {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_round_trip() {
        for key in [Key::Auth(1), Key::Subscribe(2), Key::Items(3), Key::ReadBack(4), Key::CatchUp(5), Key::Probe(6)] {
            assert_eq!(Key::of_answer(&key.uid(), Answer::Request), Some(key));
        }
        assert_eq!(Key::of_answer(&Key::Unsubscribe(7).uid(), Answer::Unsubscribe), Some(Key::Unsubscribe(7)));
        assert_eq!(Key::subscription_of("s-9"), Some(9));
        for foreign in ["sub1", "s-", "s-x", "s-01", "x-1", "", "r--1", "7"] {
            assert_eq!(Key::of_answer(foreign, Answer::Request), None, "{foreign}");
        }
        assert_eq!(Key::subscription_of("r-9"), None);
    }

    #[test]
    fn numbers_are_unique_from_one() {
        let ids = Ids::default();
        assert_eq!((ids.next(), ids.next()), (1, 2));
    }
}
