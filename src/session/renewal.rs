//! When to renew the session's authentication before the server expires it.
//!
//! The server never says when a login expires (an email/password or refresh-token
//! login over the socket returns no access token to read an `exp` from). It only says
//! `TOKEN_EXPIRED` once it has already dropped the connection's permissions, and until
//! the new `auth` is processed it reads every subscription event with public
//! permissions, so events of that window never reach the client. The lifetime seen
//! between an accepted login and that first `TOKEN_EXPIRED` is the server's
//! `ACCESS_TOKEN_TTL`; from then on the session renews at three quarters of it, before
//! the window can open.

use std::time::Duration;

use tokio::time::Instant;

/// Lifetimes shorter than this are not trusted to plan by: a renewal storm costs more
/// than the rare window it would close.
const SHORTEST_PLANNED: Duration = Duration::from_secs(1);

/// What the session knows about its login's lifetime.
#[derive(Debug, Default)]
pub(crate) struct Renewal {
    authenticated_at: Option<Instant>,
    lifetime: Option<Duration>,
    due: Option<Instant>,
}

impl Renewal {
    /// The server accepted a login at `now`.
    pub(crate) fn authenticated(&mut self, now: Instant) {
        self.authenticated_at = Some(now);
        self.due = self.lifetime.filter(|l| *l >= SHORTEST_PLANNED).map(|l| now + l * 3 / 4);
    }

    /// The server said `TOKEN_EXPIRED` at `now`: learn the lifetime.
    pub(crate) fn expired(&mut self, now: Instant) {
        if let Some(at) = self.authenticated_at.take() {
            self.lifetime = Some(now.saturating_duration_since(at));
        }
        self.due = None;
    }

    /// When the next renewal is due, if one is planned.
    pub(crate) fn due(&self) -> Option<Instant> {
        self.due
    }

    /// Takes the planned renewal if it is due at `now`.
    pub(crate) fn take_due(&mut self, now: Instant) -> bool {
        let due = self.due.is_some_and(|d| d <= now);
        if due {
            self.due = None;
        }
        due
    }

    /// The connection is gone; its login with it. The learned lifetime stays.
    pub(crate) fn disconnected(&mut self) {
        self.authenticated_at = None;
        self.due = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_nothing_until_a_lifetime_was_seen_then_renews_at_three_quarters() {
        let t0 = Instant::now();
        let mut r = Renewal::default();
        r.authenticated(t0);
        assert_eq!(r.due(), None);
        r.expired(t0 + Duration::from_secs(8));
        assert_eq!(r.due(), None);
        let t1 = t0 + Duration::from_secs(9);
        r.authenticated(t1);
        assert_eq!(r.due(), Some(t1 + Duration::from_secs(6)));
        assert!(!r.take_due(t1 + Duration::from_secs(5)));
        assert!(r.take_due(t1 + Duration::from_secs(6)));
        assert_eq!(r.due(), None);
    }

    #[test]
    fn a_tiny_lifetime_or_a_lost_connection_plans_nothing() {
        let t0 = Instant::now();
        let mut r = Renewal::default();
        r.authenticated(t0);
        r.expired(t0 + Duration::from_millis(200));
        r.authenticated(t0 + Duration::from_secs(1));
        assert_eq!(r.due(), None);

        let mut r = Renewal::default();
        r.authenticated(t0);
        r.expired(t0 + Duration::from_secs(4));
        r.authenticated(t0 + Duration::from_secs(5));
        r.disconnected();
        assert_eq!(r.due(), None);
        // An expiry without a login this connection saw teaches nothing new.
        r.expired(t0 + Duration::from_secs(60));
        r.authenticated(t0 + Duration::from_secs(61));
        assert_eq!(r.due(), Some(t0 + Duration::from_secs(64)));
    }
}
