//! Capability discovery: after each login (and each re-login on a new connection) the
//! client reads `GET /server/info` over REST with the user's token, beside the session,
//! and hands what it learns to the session as an input (`Command::ServerInfo`): the
//! version decides whether errors carry the request's uid, the heartbeat period the
//! liveness check, the auth mode whether requests may go before a login.
//!
//! Nothing waits for it: the session starts with what it knows (or finds out by
//! behaviour: the uid probe, its own pings) and adapts when the answer comes. When the
//! server cannot be read (REST blocked or unreachable, a proxy, a user without a token
//! for REST such as a refresh-token login) the session keeps going by behaviour, and
//! only a debug record says why.
//!
//! In `strict` mode (told by the server, or [`AuthMode::Strict`] in the options) every
//! upgrade needs a token: after a login and after each lost connection a current access
//! token of the user (the REST side's, renewed as it needs) goes on the upgrade URL.

use std::sync::{Arc, Weak};
use std::time::Duration;

use once_cell::sync::OnceCell;
use parking_lot::Mutex;
use tokio::sync::watch;

use crate::client::Client;
use crate::event::{ConnectionState, Event};
use crate::files::Files;
use crate::options::{AuthMode, ClientOptions};
use crate::protocol::{parse_server_info, ServerInfo};
use crate::session::{Command, View, WeakSessionHandle};
use crate::transport::Endpoint;

/// What to do beside the session.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Read the server's info; the number of this read.
    Read(u64),
    /// Put a current access token on the next upgrade, after this delay.
    UpgradeToken(Duration),
}

/// How long before a reconnect attempt its token is fetched: enough for a REST login
/// (Directus stalls each for 0.5 s), late enough that a short-lived token is still valid.
const TOKEN_LEAD: Duration = Duration::from_secs(1);

/// When to read and when to fetch an upgrade token, from the session's state events and
/// the user's logins. Pure.
#[derive(Debug, Default)]
struct Plan {
    /// Whether the last state event was `Authenticated`: a renewal of the login on the
    /// same connection (after TOKEN_EXPIRED) tells nothing new.
    authenticated: bool,
    /// The user asked to log in since the last read started (maybe as someone else).
    login: bool,
    /// Whether upgrades need a token.
    strict: bool,
    /// Whether the server's info is read at all ([`ClientOptions::discovery`]).
    reads: bool,
    /// The number of the last read started.
    started: u64,
    /// The read a caller waiting for the info waits for.
    expected: u64,
}

impl Plan {
    fn login_requested(&mut self) -> Option<Step> {
        self.login = true;
        self.expected = self.started + u64::from(self.reads);
        self.strict.then_some(Step::UpgradeToken(Duration::ZERO))
    }

    /// A login the user waited for failed: no read follows it.
    fn login_failed(&mut self) {
        self.login = false;
        self.expected = self.started;
    }

    /// A state event; `retry_in`: when the next attempt starts, after `Disconnected`.
    fn on_state(&mut self, state: ConnectionState, retry_in: Option<Duration>) -> Option<Step> {
        let before = std::mem::replace(&mut self.authenticated, state == ConnectionState::Authenticated);
        match state {
            ConnectionState::Authenticated if self.reads && (!before || self.login) => {
                self.login = false;
                self.started += 1;
                self.expected = self.expected.max(self.started);
                Some(Step::Read(self.started))
            }
            // Each failed attempt reports `Disconnected` too: a token refused because the
            // server was down when it was fetched gets another chance.
            ConnectionState::Disconnected if self.strict => {
                Some(Step::UpgradeToken(retry_in.unwrap_or_default().saturating_sub(TOKEN_LEAD)))
            }
            ConnectionState::Closed => {
                self.expected = self.started;
                None
            }
            _ => None,
        }
    }
}

struct State {
    plan: Plan,
    /// What the server told the last time it could be read.
    info: Option<ServerInfo>,
}

/// The discovery side of one client.
pub(crate) struct Discovery {
    files: Arc<Files>,
    endpoint: Endpoint,
    options: Arc<ClientOptions>,
    session: OnceCell<WeakSessionHandle>,
    state: Mutex<State>,
    /// The number of the last read that ended (with an answer or without).
    settled: watch::Sender<u64>,
    this: Weak<Discovery>,
}

impl Discovery {
    pub(crate) fn new(files: Arc<Files>, endpoint: Endpoint, options: Arc<ClientOptions>) -> Arc<Discovery> {
        let plan = Plan { strict: options.auth_mode == AuthMode::Strict, reads: options.discovery, ..Plan::default() };
        Arc::new_cyclic(|this| Discovery {
            files,
            endpoint,
            options,
            session: OnceCell::new(),
            state: Mutex::new(State { plan, info: None }),
            settled: watch::channel(0).0,
            this: this.clone(),
        })
    }

    /// Connects discovery to its running session.
    pub(crate) fn attach(&self, session: WeakSessionHandle) {
        let _ = self.session.set(session);
    }

    /// What the server told about itself the last time it could be read.
    pub(crate) fn info(&self) -> Option<ServerInfo> {
        self.state.lock().info.clone()
    }

    /// The user asked to log in: a read follows the login.
    pub(crate) fn login_requested(&self) {
        let step = self.state.lock().plan.login_requested();
        self.carry_out(step);
    }

    /// A login the user waited for failed.
    pub(crate) fn login_failed(&self) {
        let expected = {
            let mut state = self.state.lock();
            state.plan.login_failed();
            state.plan.expected
        };
        self.settled.send_modify(|s| *s = (*s).max(expected));
    }

    /// Waits (at most `timeout`) until the read after the last login has ended, then
    /// says what is known.
    pub(crate) async fn known(&self, timeout: Duration) -> Option<ServerInfo> {
        let expected = self.state.lock().plan.expected;
        let mut rx = self.settled.subscribe();
        let _ = tokio::time::timeout(timeout, rx.wait_for(|s| *s >= expected)).await;
        self.info()
    }

    fn carry_out(&self, step: Option<Step>) {
        let Some(this) = self.this.upgrade() else { return };
        match step {
            Some(Step::Read(n)) => crate::runtime::handle().spawn(async move { this.read(n).await }),
            Some(Step::UpgradeToken(delay)) => crate::runtime::handle().spawn(async move {
                tokio::time::sleep(delay).await;
                this.upgrade_token().await
            }),
            None => return,
        };
    }

    async fn read(&self, n: u64) {
        let answer = tokio::time::timeout(self.options.request_timeout, self.files.server_info()).await;
        let info = match answer {
            Ok(Ok(body)) => {
                let info = parse_server_info(&body);
                if info.is_none() {
                    log::debug!("the server's info names no version (the token is no user's?); going by behaviour");
                }
                info
            }
            Ok(Err(e)) => {
                log::debug!("cannot read the server's info over REST ({e}); going by behaviour");
                None
            }
            Err(_) => {
                log::debug!("reading the server's info over REST timed out; going by behaviour");
                None
            }
        };
        let fresh = {
            let mut state = self.state.lock();
            // An older read that ends after a newer one started tells nothing current.
            let latest = n == state.plan.started;
            if let (true, Some(info)) = (latest, &info) {
                state.plan.strict = self.options.auth_mode == AuthMode::Strict || info.auth_mode == Some(AuthMode::Strict);
                state.info = Some(info.clone());
            }
            info.filter(|_| latest)
        };
        if let (Some(info), Some(session)) = (fresh, self.session.get()) {
            session.send(Command::ServerInfo { info });
        }
        self.settled.send_modify(|s| *s = (*s).max(n));
    }

    async fn upgrade_token(&self) {
        match self.files.access_token().await {
            Ok(Some(token)) => self.endpoint.set_upgrade_token(token),
            Ok(None) => {}
            Err(e) => log::debug!("no access token for the upgrade ({e}); the URL's own is used"),
        }
    }
}

impl Client {
    /// What the server told about itself after the last login it could be read for:
    /// its version (and the parsed release), heartbeat and auth mode, read from
    /// `GET /server/info` after each login and each re-login. `None` until then, and for
    /// good when the REST API cannot be reached or tells this user no version (the
    /// session then goes by behaviour, as without it). Never waits.
    pub fn server_info(&self) -> Option<ServerInfo> {
        self.discovery().info()
    }

    /// Waits (at most the request timeout) until the read that follows the last login
    /// has ended, then returns [`Client::server_info`]. Returns at once when no login
    /// was made.
    pub async fn known_server_info(&self) -> Option<ServerInfo> {
        self.discovery().known(self.options().request_timeout).await
    }

    /// [`Client::known_server_info`] without waiting: the info (as
    /// [`ServerInfo::to_json`], or `null`) arrives as an [`Event::Reply`] with the
    /// returned id.
    pub fn known_server_info_nowait(&self) -> crate::Result<u64> {
        if self.is_closed() {
            return Err(crate::Error::Closed);
        }
        let id = self.next_id();
        let (client, outlet) = (self.clone(), self.outlet().clone());
        crate::runtime::handle().spawn(async move {
            let info = client.known_server_info().await;
            outlet.give(Event::Reply { request: id, result: Ok(info.map_or(serde_json::Value::Null, |i| i.to_json())) });
        });
        Ok(id)
    }
}

impl View for Discovery {
    fn view(&self, event: &mut Event) -> bool {
        if let Event::State { state, retry_in, .. } = event {
            let step = self.state.lock().plan.on_state(*state, *retry_in);
            if *state == ConnectionState::Closed {
                let expected = self.state.lock().plan.expected;
                self.settled.send_modify(|s| *s = (*s).max(expected));
            }
            self.carry_out(step);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConnectionState::*;

    #[test]
    fn a_read_after_each_login_and_each_new_connection_but_not_after_a_renewal() {
        let mut p = Plan { reads: true, ..Plan::default() };
        assert_eq!(p.login_requested(), None);
        assert_eq!(p.expected, 1, "a caller waits for the read the login brings");
        assert_eq!(p.on_state(Connected, None), None);
        assert_eq!(p.on_state(Authenticated, None), Some(Step::Read(1)));
        // A renewal after TOKEN_EXPIRED on the same connection.
        assert_eq!(p.on_state(Authenticated, None), None);
        // A lost connection and the session's re-login.
        for s in [Disconnected, Connecting, Connected] {
            assert_eq!(p.on_state(s, None), None);
        }
        assert_eq!(p.on_state(Authenticated, None), Some(Step::Read(2)));
        // The user logs in again (maybe as someone else) on the same connection.
        p.login_requested();
        assert_eq!(p.expected, 3);
        assert_eq!(p.on_state(Authenticated, None), Some(Step::Read(3)));
        // A refused login brings no read: nobody waits for one.
        p.login_requested();
        p.login_failed();
        assert_eq!(p.expected, 3);
        p.on_state(Closed, None);
        assert_eq!(p.expected, 3);
        // Discovery off: no read, and nobody waits for one.
        let mut p = Plan::default();
        p.login_requested();
        assert_eq!((p.on_state(Authenticated, None), p.expected), (None, 0));
    }

    #[test]
    fn in_strict_mode_each_login_and_each_lost_connection_fetches_a_token_for_the_upgrade() {
        let mut p = Plan { strict: true, reads: true, ..Plan::default() };
        let s = Duration::from_secs;
        assert_eq!(p.login_requested(), Some(Step::UpgradeToken(Duration::ZERO)));
        assert_eq!(p.on_state(Authenticated, None), Some(Step::Read(1)));
        // Fetched just before the attempt, so that a short-lived token is still valid.
        assert_eq!(p.on_state(Disconnected, Some(s(2))), Some(Step::UpgradeToken(s(1))));
        assert_eq!(p.on_state(Connecting, None), None);
        assert_eq!(p.on_state(Disconnected, Some(s(3))), Some(Step::UpgradeToken(s(2))), "after each failed attempt");
        assert_eq!(p.on_state(Disconnected, None), Some(Step::UpgradeToken(Duration::ZERO)));
        let mut p = Plan::default();
        assert_eq!(p.on_state(Disconnected, Some(s(2))), None, "not in the other modes");
    }
}
