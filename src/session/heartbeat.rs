//! Liveness: the client pings a silent server and gives up on one that stays silent.
//! Once the server has said that it pings every period itself (`GET /server/info`), a
//! connection silent for longer than that period plus a margin is dead, and the client's
//! own pings are left to servers that do not ping.

use std::time::Duration;

use tokio::time::Instant;

use crate::protocol::ServerHeartbeat;

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
    /// The client's own period ([`crate::ClientOptions::heartbeat`]).
    own: Option<Duration>,
    /// The server's period, when it told one.
    server: Option<Duration>,
    last_heard: Instant,
    ping_sent: bool,
}

/// How late the server's ping may be before the connection counts as dead: half a
/// period, and at least 5 s, since a busy server's timers run late (Node's `setInterval`
/// waits for its event loop).
fn margin(period: Duration) -> Duration {
    (period / 2).max(Duration::from_secs(5))
}

impl Heartbeat {
    /// `period`: how long the line may be silent before a ping (`None`: never ping).
    pub(crate) fn new(period: Option<Duration>, now: Instant) -> Self {
        Heartbeat { own: period, server: None, last_heard: now, ping_sent: false }
    }

    /// The server told its heartbeat. While it pings, its pings keep the connection busy
    /// both ways and silence longer than its period means it is gone; the client pings
    /// only when its own period is shorter (asked for quicker detection) or the server
    /// does not ping at all.
    pub(crate) fn set_server(&mut self, heartbeat: ServerHeartbeat) {
        self.server = match heartbeat {
            ServerHeartbeat::Every(period) => Some(period),
            ServerHeartbeat::Disabled => None,
        };
    }

    /// The client's own period, when it pings.
    fn own(&self) -> Option<Duration> {
        self.own.filter(|own| self.server.is_none_or(|server| *own < server))
    }

    /// How long silence may last before the connection counts as dead by the server's
    /// heartbeat.
    fn server_limit(&self) -> Option<Duration> {
        self.server.map(|p| p + margin(p))
    }

    /// Something came from the server (or a new connection opened).
    pub(crate) fn heard(&mut self, now: Instant) {
        self.last_heard = now;
        self.ping_sent = false;
    }

    /// When the next step is due.
    pub(crate) fn next_wake(&self) -> Option<Instant> {
        let own = self.own().map(|hb| if self.ping_sent { self.last_heard + hb * 2 } else { self.last_heard + hb });
        let server = self.server_limit().map(|limit| self.last_heard + limit);
        own.into_iter().chain(server).min()
    }

    /// A timer tick. `active`: whether silence means anything now. Before the login in
    /// handshake mode any frame but `auth` makes the server hang up, so no ping may go;
    /// and while the user is not taking events the session does not read, so the
    /// silence is ours, not the server's.
    pub(crate) fn tick(&mut self, now: Instant, active: bool) -> Beat {
        if !active {
            self.last_heard = now;
            return Beat::Quiet;
        }
        if let (Some(limit), Some(period)) = (self.server_limit(), self.server) {
            if now >= self.last_heard + limit {
                return Beat::Dead(format!("nothing from the server for {limit:?} (it pings every {period:?})"));
            }
        }
        let Some(hb) = self.own() else { return Beat::Quiet };
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

    #[test]
    fn a_server_that_pings_is_dead_after_its_period_and_a_margin_without_pings_of_ours() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        // Directus' default: every 30 s. Dead 15 s after a ping is overdue, never pinged.
        let mut h = Heartbeat::new(Some(s(30)), t0);
        h.set_server(ServerHeartbeat::Every(s(30)));
        assert_eq!(h.next_wake(), Some(t0 + s(45)));
        assert_eq!(h.tick(t0 + s(44), true), Beat::Quiet);
        match h.tick(t0 + s(45), true) {
            Beat::Dead(why) => assert!(why.contains("pings every 30s"), "{why}"),
            other => panic!("{other:?}"),
        }
        // Its ping arrived in time: alive.
        h.heard(t0 + s(40));
        assert_eq!(h.tick(t0 + s(84), true), Beat::Quiet);
        // A short server period still leaves 5 s for late timers.
        let mut h = Heartbeat::new(None, t0);
        h.set_server(ServerHeartbeat::Every(s(2)));
        assert_eq!(h.next_wake(), Some(t0 + s(7)));
        assert!(matches!(h.tick(t0 + s(7), true), Beat::Dead(_)));
        // A client that asked for a quicker check than the server's still pings.
        let mut h = Heartbeat::new(Some(s(10)), t0);
        h.set_server(ServerHeartbeat::Every(s(60)));
        assert_eq!(h.tick(t0 + s(10), true), Beat::Ping);
        assert!(matches!(h.tick(t0 + s(20), true), Beat::Dead(_)));
        // A server that does not ping: the client's own pings, as before.
        let mut h = Heartbeat::new(Some(s(30)), t0);
        h.set_server(ServerHeartbeat::Disabled);
        assert_eq!(h.next_wake(), Some(t0 + s(30)));
        assert_eq!(h.tick(t0 + s(30), true), Beat::Ping);
        assert!(matches!(h.tick(t0 + s(60), true), Beat::Dead(_)));
        // Not reading (the user is behind) is no silence of the server's.
        let mut h = Heartbeat::new(None, t0);
        h.set_server(ServerHeartbeat::Every(s(2)));
        assert_eq!(h.tick(t0 + s(100), false), Beat::Quiet);
        assert_eq!(h.tick(t0 + s(101), true), Beat::Quiet);
    }
}
