//! The REST side's token: what the socket's login was made with, turned into an access
//! token for `Authorization: Bearer`, renewed before it expires.
//!
//! The socket never hands out an access token (its `auth` answers carry a refresh token
//! only, and refreshing that one would rotate it under the session), so the REST side
//! keeps its own: an access token given to the login is used as it is; an email and
//! password log in over REST once, and that REST session is refreshed at ¾ of its
//! lifetime (as the socket's renewal does) or logged into again when the refresh fails.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::protocol::{AuthCredentials, RestTokens};
use crate::secret::Secret;

/// What the REST side should do to have a token.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Need {
    /// Send no token: nobody logged in (public permissions, as on the socket).
    Anonymous,
    /// Use this token.
    Token(Secret),
    /// Log in with the credentials.
    Login(String, Secret),
    /// Refresh with this refresh token.
    Refresh(Secret),
}

/// The token state of one client's REST calls. Pure: the caller performs the
/// logins and refreshes it asks for and reports their outcome.
#[derive(Debug, Default)]
pub(crate) struct RestToken {
    credentials: Option<AuthCredentials>,
    access: Option<Secret>,
    refresh: Option<Secret>,
    renew_at: Option<Instant>,
}

impl RestToken {
    /// The socket logged in (again) with `credentials`: tokens of an earlier user are
    /// dropped.
    pub(crate) fn logged_in(&mut self, credentials: AuthCredentials) {
        *self = RestToken { credentials: Some(credentials), ..RestToken::default() };
    }

    /// What to do before a call at `now`; `stale` after the server refused the token.
    pub(crate) fn need(&mut self, now: Instant, stale: bool) -> Result<Need> {
        match &self.credentials {
            None => Ok(Need::Anonymous),
            Some(AuthCredentials::AccessToken(t)) => Ok(Need::Token(t.clone())),
            Some(AuthCredentials::RefreshToken(_)) => Err(Error::InvalidArgument(
                "files need a login with email and password or with an access token (a refresh token \
                 given to the socket has been rotated by it)"
                    .into(),
            )),
            Some(AuthCredentials::Password { email, password }) => {
                if stale {
                    self.access = None;
                }
                let due = self.renew_at.is_some_and(|t| now >= t);
                match (&self.access, &self.refresh) {
                    (Some(a), _) if !due => Ok(Need::Token(a.clone())),
                    (_, Some(r)) if !stale => Ok(Need::Refresh(r.clone())),
                    _ => Ok(Need::Login(email.clone(), password.clone())),
                }
            }
        }
    }

    /// A login or refresh answered at `now`: renew at ¾ of the token's lifetime.
    pub(crate) fn got(&mut self, tokens: RestTokens, now: Instant) -> Secret {
        self.renew_at = tokens.expires_ms.map(|ms| now + Duration::from_millis(ms.saturating_mul(3) / 4));
        self.refresh = tokens.refresh;
        self.access = Some(tokens.access.clone());
        tokens.access
    }

    /// A refresh failed: the next call logs in again.
    pub(crate) fn refresh_failed(&mut self) {
        self.access = None;
        self.refresh = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(a: &str, ms: u64) -> RestTokens {
        RestTokens { access: Secret::new(a), refresh: Some(Secret::new(format!("r-{a}"))), expires_ms: Some(ms) }
    }

    #[test]
    fn nobody_logged_in_sends_no_token_and_a_static_token_is_used_as_is() {
        let mut t = RestToken::default();
        assert_eq!(t.need(Instant::now(), false).unwrap(), Need::Anonymous);
        t.logged_in(AuthCredentials::AccessToken(Secret::new("static")));
        assert_eq!(t.need(Instant::now(), true).unwrap(), Need::Token(Secret::new("static")));
        t.logged_in(AuthCredentials::RefreshToken(Secret::new("r")));
        assert!(t.need(Instant::now(), false).is_err());
    }

    #[test]
    fn a_password_logs_in_once_renews_at_three_quarters_and_logs_in_again_after_a_failed_refresh() {
        let mut t = RestToken::default();
        let t0 = Instant::now();
        t.logged_in(AuthCredentials::Password { email: "e".into(), password: Secret::new("p") });
        assert_eq!(t.need(t0, false).unwrap(), Need::Login("e".into(), Secret::new("p")));
        t.got(tokens("a1", 8000), t0);
        assert_eq!(t.need(t0 + Duration::from_secs(5), false).unwrap(), Need::Token(Secret::new("a1")));
        assert_eq!(t.need(t0 + Duration::from_secs(6), false).unwrap(), Need::Refresh(Secret::new("r-a1")));
        t.got(tokens("a2", 8000), t0 + Duration::from_secs(6));
        assert_eq!(t.need(t0 + Duration::from_secs(7), false).unwrap(), Need::Token(Secret::new("a2")));
        // The server refused a2 anyway (a restart, a revoked session): refresh, then log in.
        assert_eq!(t.need(t0 + Duration::from_secs(7), true).unwrap(), Need::Login("e".into(), Secret::new("p")));
        t.got(tokens("a3", 8000), t0);
        t.refresh_failed();
        assert_eq!(t.need(t0, false).unwrap(), Need::Login("e".into(), Secret::new("p")));
    }

    #[test]
    fn a_new_login_forgets_the_last_users_tokens() {
        let mut t = RestToken::default();
        t.logged_in(AuthCredentials::Password { email: "e".into(), password: Secret::new("p") });
        t.got(tokens("a1", 60_000), Instant::now());
        t.logged_in(AuthCredentials::Password { email: "f".into(), password: Secret::new("q") });
        assert_eq!(t.need(Instant::now(), false).unwrap(), Need::Login("f".into(), Secret::new("q")));
    }

    #[test]
    fn debug_output_hides_the_tokens() {
        let mut t = RestToken::default();
        t.logged_in(AuthCredentials::Password { email: "e".into(), password: Secret::new("hunter2") });
        t.got(tokens("sekrit", 1000), Instant::now());
        let d = format!("{t:?}");
        assert!(!d.contains("hunter2") && !d.contains("sekrit"), "{d}");
    }
}
