//! Liveness: the client pings a silent server and gives up on one that stays silent.

use std::time::Duration;

use tokio::time::Instant;

/// What the heartbeat wants done.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Beat {
    /// Nothing now.
    Quiet,
    /// Send a ping.
    Ping,
    /// The server is gone: drop the connection, for this reason.
    Dead(String),
}

/// The client's own liveness check on one connection. The server's pings are answered
/// elsewhere, always.
pub(crate) struct Heartbeat {
    period: Option<Duration>,
    last_heard: Instant,
    ping_sent: bool,
}

impl Heartbeat {
    /// `period`: how long the line may be silent before a ping (`None`: never ping).
    pub(crate) fn new(period: Option<Duration>, now: Instant) -> Self {
        Heartbeat { period, last_heard: now, ping_sent: false }
    }

    /// Something came from the server (or a new connection opened).
    pub(crate) fn heard(&mut self, now: Instant) {
        self.last_heard = now;
        self.ping_sent = false;
    }

    /// When the next step is due.
    pub(crate) fn next_wake(&self) -> Option<Instant> {
        let hb = self.period?;
        Some(if self.ping_sent { self.last_heard + hb * 2 } else { self.last_heard + hb })
    }

    /// A timer tick. `active`: whether silence means anything now. Before the login in
    /// handshake mode any frame but `auth` makes the server hang up, so no ping may go;
    /// and while the user is not taking events the session does not read, so the
    /// silence is ours, not the server's.
    pub(crate) fn tick(&mut self, now: Instant, active: bool) -> Beat {
        let Some(hb) = self.period else { return Beat::Quiet };
        if !active {
            self.last_heard = now;
            return Beat::Quiet;
        }
        if self.ping_sent && now >= self.last_heard + hb * 2 {
            return Beat::Dead(format!("no answer from the server for {:?}", hb * 2));
        }
        if !self.ping_sent && now >= self.last_heard + hb {
            self.ping_sent = true;
            return Beat::Ping;
        }
        Beat::Quiet
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_after_silence_and_gives_up_after_twice_the_period() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut h = Heartbeat::new(Some(s(30)), t0);
        assert_eq!(h.next_wake(), Some(t0 + s(30)));
        assert_eq!(h.tick(t0 + s(29), true), Beat::Quiet);
        assert_eq!(h.tick(t0 + s(30), true), Beat::Ping);
        assert_eq!(h.next_wake(), Some(t0 + s(60)));
        assert_eq!(h.tick(t0 + s(45), true), Beat::Quiet);
        assert!(matches!(h.tick(t0 + s(60), true), Beat::Dead(_)));
        // An answer resets it.
        h.heard(t0 + s(61));
        assert_eq!(h.tick(t0 + s(62), true), Beat::Quiet);
        // While inactive, silence does not count.
        assert_eq!(h.tick(t0 + s(200), false), Beat::Quiet);
        assert_eq!(h.tick(t0 + s(201), true), Beat::Quiet);
        assert_eq!(Heartbeat::new(None, t0).tick(t0 + s(999), true), Beat::Quiet);
    }
}
