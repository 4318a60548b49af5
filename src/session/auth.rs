//! Authentication: the user's logins, the session's own renewals and re-logins after a
//! reconnect, and the window after the server expired a login.

use tokio::time::Instant;

use super::action::Actions;
use super::key::{Ids, Key};
use super::renewal::Renewal;
use crate::error::Error;
use crate::protocol::{AuthCredentials, ClientMessage, ErrorCode, ServerError};
use crate::secret::Secret;

/// Which credentials an authentication attempt presents.
enum Source {
    /// A login the user asked for; its request waits under the attempt's key.
    User(AuthCredentials),
    /// The newest refresh token, presented by the session itself.
    Refresh,
    /// The credentials of the user's last successful login, presented again.
    Stored,
}

struct Attempt {
    key: Key,
    source: Source,
}

/// What an answer about authentication means for the rest of the session.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Outcome {
    /// The user's login this answer completes, and how.
    pub completed: Option<(Key, Result<(), ServerError>)>,
    /// The server accepted a login: report it and send what waited for it.
    pub authenticated: bool,
    /// An error to report that no request of the user waits for.
    pub report: Option<ServerError>,
    /// The server expired the login: until the renewal it skips the user's events.
    pub expired: bool,
}

/// The authentication state of one session, across its connections.
pub(crate) struct Auth {
    /// Whether the server serves requests before a login (`WEBSOCKETS_REST_AUTH=public`).
    public: bool,
    /// The credentials of the last successful user login (a refresh token is spent once
    /// used, so it is never kept here).
    credentials: Option<AuthCredentials>,
    refresh_token: Option<Secret>,
    attempt: Option<Attempt>,
    /// A user login waiting for a connection.
    parked: Option<Attempt>,
    authenticated: bool,
    /// Why authenticating again cannot succeed, once that is known.
    fatal: Option<String>,
    renewal: Renewal,
}

impl Auth {
    pub(crate) fn new(public: bool) -> Self {
        Auth {
            public,
            credentials: None,
            refresh_token: None,
            attempt: None,
            parked: None,
            authenticated: false,
            fatal: None,
            renewal: Renewal::default(),
        }
    }

    /// Whether requests may go out now. In public mode they go before any login, but not
    /// once the user has logged in (or is logging in): the server handles frames
    /// concurrently (`createClient` in `websocket/controllers/base.js`), so a request
    /// sent behind an `auth` would run with public permissions, and one sent between
    /// TOKEN_EXPIRED and the renewal with none at all on 11.x.
    pub(crate) fn is_ready(&self, connected: bool) -> bool {
        connected && (self.authenticated || (self.public && !self.has_login()))
    }

    /// Whether a login of the user stands or is on its way.
    fn has_login(&self) -> bool {
        self.credentials.is_some() || self.refresh_token.is_some() || self.attempt.is_some() || self.parked.is_some()
    }

    /// The server told its mode: whether it serves requests before a login.
    pub(crate) fn set_public(&mut self, public: bool) {
        self.public = public;
    }

    pub(crate) fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// When a planned renewal is due.
    pub(crate) fn next_wake(&self) -> Option<Instant> {
        self.renewal.due()
    }

    /// Why reconnecting cannot help, if it cannot.
    pub(crate) fn cannot_resume(&self) -> Option<String> {
        if self.parked.is_some() {
            return None;
        }
        self.fatal.clone()
    }

    /// A login of the user: presented now if connected, else when the connection opens.
    pub(crate) fn login(&mut self, key: Key, credentials: AuthCredentials, connected: bool, actions: &mut Actions) -> Result<(), Error> {
        let user_login = |a: &Option<Attempt>| a.as_ref().is_some_and(|a| matches!(a.source, Source::User(_)));
        if user_login(&self.attempt) || self.parked.is_some() {
            return Err(Error::InvalidArgument("a login is already in progress".into()));
        }
        let attempt = Attempt { key, source: Source::User(credentials) };
        if connected {
            self.present(attempt, actions);
        } else {
            self.parked = Some(attempt);
        }
        Ok(())
    }

    /// The user gave up on the login `key`: a login still waiting for a connection is
    /// not presented. One already sent stands.
    pub(crate) fn cancel(&mut self, key: Key) {
        if self.parked.as_ref().is_some_and(|a| a.key == key) {
            self.parked = None;
        }
    }

    fn present(&mut self, attempt: Attempt, actions: &mut Actions) {
        let credentials = match &attempt.source {
            Source::User(c) => c.clone(),
            Source::Refresh => match &self.refresh_token {
                Some(t) => AuthCredentials::RefreshToken(t.clone()),
                None => return,
            },
            Source::Stored => match &self.credentials {
                Some(c) => c.clone(),
                None => return,
            },
        };
        actions.write_request(attempt.key, ClientMessage::Auth { credentials, uid: Some(attempt.key.uid()) }.encode());
        self.attempt = Some(attempt);
    }

    /// Presents the newest refresh token, or else the stored credentials, again.
    fn again(&mut self, ids: &Ids, actions: &mut Actions) {
        let source = if self.refresh_token.is_some() { Source::Refresh } else { Source::Stored };
        self.present(Attempt { key: Key::Auth(ids.next()), source }, actions);
    }

    /// A new connection is open: the parked user login goes first, else the session
    /// logs in again by itself. False when there is nothing to present.
    pub(crate) fn on_connected(&mut self, ids: &Ids, actions: &mut Actions) -> bool {
        let attempt = match self.parked.take() {
            Some(parked) => parked,
            None if self.refresh_token.is_some() => Attempt { key: Key::Auth(ids.next()), source: Source::Refresh },
            None if self.credentials.is_some() => Attempt { key: Key::Auth(ids.next()), source: Source::Stored },
            None => return false,
        };
        self.present(attempt, actions);
        true
    }

    /// `{"type":"auth","status":"ok"}`.
    pub(crate) fn on_ok(&mut self, refresh_token: Option<Secret>, now: Instant) -> Outcome {
        if refresh_token.is_some() {
            self.refresh_token = refresh_token;
        }
        let attempt = self.attempt.take();
        if attempt.is_none() && self.authenticated {
            log::debug!("ignored an auth confirmation that answers no login");
            return Outcome::default();
        }
        self.authenticated = true;
        self.fatal = None;
        let mut out = Outcome { authenticated: true, ..Outcome::default() };
        if let Some(Attempt { key, source: Source::User(credentials) }) = attempt {
            // A rotated refresh token is kept above; the one used here is spent.
            if !matches!(credentials, AuthCredentials::RefreshToken(_)) {
                self.credentials = Some(credentials);
            }
            out.completed = Some((key, Ok(())));
        }
        log::info!("authenticated");
        self.renewal.authenticated(now);
        out
    }

    /// An `auth` error: a refused login, or the server expiring the current one.
    pub(crate) fn on_error(&mut self, error: ServerError, now: Instant, connected: bool, ids: &Ids, actions: &mut Actions) -> Outcome {
        // Whatever failed, the server has dropped this connection's permissions.
        self.authenticated = false;
        let mut out = Outcome::default();
        match self.attempt.take() {
            Some(Attempt { key, source: Source::User(_) }) => {
                if self.credentials.is_none() && self.refresh_token.is_none() {
                    self.fatal = Some(format!("authentication failed ({})", error.code));
                }
                out.completed = Some((key, Err(error)));
            }
            Some(Attempt { source: Source::Refresh, .. }) => {
                log::warn!("refreshing the session failed: {}", error.code);
                self.refresh_token = None;
                if self.credentials.is_none() {
                    self.fatal = Some(format!("re-authentication failed ({})", error.code));
                }
                out.report = Some(error);
                // With a password or static token left, try those right away.
                if self.credentials.is_some() && connected {
                    self.present(Attempt { key: Key::Auth(ids.next()), source: Source::Stored }, actions);
                }
            }
            Some(Attempt { source: Source::Stored, .. }) => {
                log::warn!("re-authentication failed: {}", error.code);
                self.fatal = Some(format!("re-authentication failed ({})", error.code));
                out.report = Some(error);
            }
            None if error.code == ErrorCode::TokenExpired && (self.refresh_token.is_some() || self.credentials.is_some()) => {
                log::info!("access token expired; authenticating again");
                self.renewal.expired(now);
                out.expired = true;
                self.again(ids, actions);
            }
            None => out.report = Some(error),
        }
        out
    }

    /// Renews the login ahead of its expiry when that is due.
    pub(crate) fn on_tick(&mut self, now: Instant, ids: &Ids, actions: &mut Actions) {
        if self.renewal.take_due(now) && self.authenticated && self.attempt.is_none() {
            log::info!("renewing the login before the server expires it");
            self.again(ids, actions);
        }
    }

    /// The connection is gone, and the login with it; a user login in flight waits for
    /// the next connection.
    pub(crate) fn on_disconnected(&mut self) {
        self.authenticated = false;
        self.renewal.disconnected();
        if let Some(attempt) = self.attempt.take() {
            if matches!(attempt.source, Source::User(_)) {
                self.parked = Some(attempt);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ServerMessage;
    use crate::session::action::Action;
    use serde_json::{json, Value};
    use std::time::Duration;

    fn frames(actions: &mut Actions) -> Vec<Value> {
        actions
            .list
            .drain(..)
            .map(|a| match a {
                Action::Write(f) => serde_json::from_str(&f).unwrap(),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    /// Feeds a recorded server frame about authentication.
    fn feed(auth: &mut Auth, frame: &str, now: Instant, ids: &Ids, actions: &mut Actions) -> Outcome {
        match ServerMessage::decode(frame).unwrap() {
            ServerMessage::AuthOk { refresh_token, .. } => auth.on_ok(refresh_token, now),
            ServerMessage::Error { error, .. } => auth.on_error(error, now, true, ids, actions),
            other => panic!("{other:?}"),
        }
    }

    const OK_WITH_TOKEN: &str = r#"{"type":"auth","status":"ok","refresh_token":"rt-1"}"#;
    const EXPIRED: &str = r#"{"type":"auth","status":"error","error":{"code":"TOKEN_EXPIRED","message":"Token expired."}}"#;
    const FAILED: &str = r#"{"type":"auth","status":"error","error":{"code":"AUTH_FAILED","message":"Authentication failed."}}"#;

    fn password() -> AuthCredentials {
        AuthCredentials::Password { email: "kevin@example.com".into(), password: Secret::new("pw") }
    }

    #[test]
    fn login_ok_then_expiry_then_renewal_ahead_of_the_learned_lifetime() {
        let (ids, mut a, t0) = (Ids::default(), Actions::default(), Instant::now());
        let mut auth = Auth::new(false);
        auth.login(Key::Auth(1), password(), true, &mut a).unwrap();
        assert_eq!(frames(&mut a), vec![json!({"type":"auth","email":"kevin@example.com","password":"pw","uid":"a-1"})]);
        assert_eq!(a.written, vec![Key::Auth(1)]);
        assert!(!auth.is_ready(true));
        let out = feed(&mut auth, OK_WITH_TOKEN, t0, &ids, &mut a);
        assert_eq!(out.completed, Some((Key::Auth(1), Ok(()))));
        assert!(out.authenticated && auth.is_ready(true));
        assert_eq!(auth.next_wake(), None, "no lifetime known yet");

        // The server expires the login after 8 s: the session presents the rotated token.
        let out = feed(&mut auth, EXPIRED, t0 + Duration::from_secs(8), &ids, &mut a);
        assert!(out.expired && out.report.is_none() && !auth.is_ready(true));
        assert_eq!(frames(&mut a), vec![json!({"type":"auth","refresh_token":"rt-1","uid":"a-1"})]);
        let t1 = t0 + Duration::from_secs(9);
        let out = feed(&mut auth, r#"{"type":"auth","status":"ok","refresh_token":"rt-2"}"#, t1, &ids, &mut a);
        assert!(out.authenticated && out.completed.is_none());

        // From now on it renews at three quarters of the 8 s lifetime, before the server expires it.
        assert_eq!(auth.next_wake(), Some(t1 + Duration::from_secs(6)));
        auth.on_tick(t1 + Duration::from_secs(5), &ids, &mut a);
        assert!(a.list.is_empty());
        auth.on_tick(t1 + Duration::from_secs(6), &ids, &mut a);
        assert_eq!(frames(&mut a), vec![json!({"type":"auth","refresh_token":"rt-2","uid":"a-2"})]);
    }

    #[test]
    fn an_unsolicited_confirmation_changes_nothing() {
        let (ids, mut a, t0) = (Ids::default(), Actions::default(), Instant::now());
        let mut auth = Auth::new(false);
        auth.login(Key::Auth(1), password(), true, &mut a).unwrap();
        assert!(feed(&mut auth, OK_WITH_TOKEN, t0, &ids, &mut a).authenticated);
        assert_eq!(feed(&mut auth, r#"{"type":"auth","status":"ok"}"#, t0, &ids, &mut a), Outcome::default());
    }

    #[test]
    fn a_refused_first_login_is_fatal_and_a_second_login_waits_its_turn() {
        let (ids, mut a, t0) = (Ids::default(), Actions::default(), Instant::now());
        let mut auth = Auth::new(false);
        auth.login(Key::Auth(1), password(), true, &mut a).unwrap();
        assert!(matches!(auth.login(Key::Auth(2), password(), true, &mut a), Err(Error::InvalidArgument(_))));
        let out = feed(&mut auth, FAILED, t0, &ids, &mut a);
        assert!(matches!(out.completed, Some((Key::Auth(1), Err(ref e))) if e.code == ErrorCode::AuthFailed));
        assert_eq!(auth.cannot_resume(), Some("authentication failed (AUTH_FAILED)".into()));
    }

    #[test]
    fn a_refused_refresh_token_falls_back_to_the_password() {
        let (ids, mut a, t0) = (Ids::default(), Actions::default(), Instant::now());
        let mut auth = Auth::new(false);
        auth.login(Key::Auth(1), password(), true, &mut a).unwrap();
        feed(&mut auth, OK_WITH_TOKEN, t0, &ids, &mut a);
        frames(&mut a);
        // A reconnect: the session presents the refresh token, which the server refuses.
        auth.on_disconnected();
        assert!(auth.on_connected(&ids, &mut a));
        assert_eq!(frames(&mut a)[0]["refresh_token"], "rt-1");
        let out = feed(&mut auth, FAILED, t0, &ids, &mut a);
        assert_eq!(out.report.map(|e| e.code), Some(ErrorCode::AuthFailed));
        assert_eq!(frames(&mut a), vec![json!({"type":"auth","email":"kevin@example.com","password":"pw","uid":"a-2"})]);
        assert_eq!(auth.cannot_resume(), None);
        // The password is refused too: nothing is left to try.
        let out = feed(&mut auth, FAILED, t0, &ids, &mut a);
        assert!(out.report.is_some());
        assert!(auth.cannot_resume().is_some());
    }

    #[test]
    fn a_login_cut_off_goes_again_on_the_next_connection_unless_cancelled() {
        let (ids, mut a) = (Ids::default(), Actions::default());
        let mut auth = Auth::new(false);
        auth.login(Key::Auth(5), password(), false, &mut a).unwrap();
        assert!(a.list.is_empty(), "not connected: parked");
        assert!(auth.on_connected(&ids, &mut a));
        assert_eq!(frames(&mut a)[0]["uid"], "a-5");
        auth.on_disconnected();
        assert_eq!(auth.cannot_resume(), None);
        auth.cancel(Key::Auth(5));
        assert!(!auth.on_connected(&ids, &mut a), "a cancelled login is not presented");
    }

    #[test]
    fn public_mode_is_ready_without_a_login_but_not_around_one() {
        assert!(Auth::new(true).is_ready(true));
        assert!(!Auth::new(true).is_ready(false));
        assert!(!Auth::new(false).is_ready(true));
        let (ids, mut a, t0) = (Ids::default(), Actions::default(), Instant::now());
        let mut auth = Auth::new(true);
        auth.login(Key::Auth(1), password(), true, &mut a).unwrap();
        assert!(!auth.is_ready(true), "nothing overtakes the login");
        feed(&mut auth, OK_WITH_TOKEN, t0, &ids, &mut a);
        assert!(auth.is_ready(true));
        // A new connection: public again only for a user who never logged in.
        auth.on_disconnected();
        assert!(!auth.is_ready(true), "the re-login comes first");
        assert!(auth.on_connected(&ids, &mut a));
        feed(&mut auth, OK_WITH_TOKEN, t0, &ids, &mut a);
        assert!(auth.is_ready(true));
        // The expiry window: nothing goes until the renewal is answered.
        feed(&mut auth, EXPIRED, t0, &ids, &mut a);
        assert!(!auth.is_ready(true));
        // A refused first login leaves the connection public, as the server does.
        let mut auth = Auth::new(true);
        auth.login(Key::Auth(1), password(), true, &mut a).unwrap();
        feed(&mut auth, FAILED, t0, &ids, &mut a);
        assert!(auth.is_ready(true));
        // The server said it is not public after all.
        auth.set_public(false);
        assert!(!auth.is_ready(true));
    }
}
