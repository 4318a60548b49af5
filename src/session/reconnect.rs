//! When to open a lost (or never opened) connection again, and when to give up.

use std::time::Duration;

use crate::options::ReconnectPolicy;

/// The next step after a connection was lost or an attempt failed.
#[derive(Debug, PartialEq)]
pub(crate) enum Plan {
    /// Make attempt `attempt` (from 1) after `delay`.
    Retry { attempt: u32, delay: Duration },
    /// Stop: the policy's attempts are spent.
    GiveUp { attempts: u32 },
}

/// The attempts in a row since the connection was last open.
pub(crate) struct Reconnect {
    policy: ReconnectPolicy,
    /// Attempts made since the last open connection.
    attempts: u32,
}

impl Reconnect {
    pub(crate) fn new(policy: ReconnectPolicy) -> Self {
        Reconnect { policy, attempts: 0 }
    }

    /// Attempts made since the connection was last open.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The connection opened: the count starts over.
    pub(crate) fn connected(&mut self) {
        self.attempts = 0;
    }

    /// What to do now that the connection is down; `unit` is a random number in [0, 1)
    /// for the jitter.
    pub(crate) fn plan(&mut self, unit: f64) -> Plan {
        if !self.policy.allows(self.attempts) {
            return Plan::GiveUp { attempts: self.attempts };
        }
        let delay = self.policy.delay(self.attempts, unit);
        self.attempts += 1;
        Plan::Retry { attempt: self.attempts, delay }
    }
}

/// A number in [0, 1) for the jitter of [`Reconnect::plan`]; quality does not matter,
/// spread does.
pub(crate) fn jitter_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_off_gives_up_and_starts_over_after_a_success() {
        let policy = ReconnectPolicy { max_attempts: Some(2), jitter: 0.0, ..ReconnectPolicy::default() };
        let mut r = Reconnect::new(policy);
        assert_eq!(r.plan(0.5), Plan::Retry { attempt: 1, delay: Duration::from_secs(2) });
        assert_eq!(r.plan(0.5), Plan::Retry { attempt: 2, delay: Duration::from_secs(3) });
        assert_eq!(r.plan(0.5), Plan::GiveUp { attempts: 2 });
        r.connected();
        assert_eq!(r.plan(0.5), Plan::Retry { attempt: 1, delay: Duration::from_secs(2) });
        assert_eq!(Reconnect::new(ReconnectPolicy::never()).plan(0.5), Plan::GiveUp { attempts: 0 });
    }
}
