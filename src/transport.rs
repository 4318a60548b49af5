//! Opening the WebSocket: URL checks, TLS trust, the upgrade.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use crate::error::Error;
use crate::options::{ClientOptions, TlsOptions, TlsRoots};
use crate::protocol::UPGRADE_TOKEN_PARAM;
use crate::secret::Secret;

/// An open WebSocket to the server.
pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A checked server URL, and the token the next upgrade carries in place of the URL's
/// own (`strict` mode: see `discovery`). Clones share the token.
#[derive(Clone)]
pub(crate) struct Endpoint {
    url: url::Url,
    upgrade_token: Arc<parking_lot::Mutex<Option<Secret>>>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint").field("url", &self.redacted()).finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Accepts `ws://`, `wss://`, and `http(s)://` (mapped to ws(s) with `/websocket`
    /// appended when the path is empty, as Directus serves it there).
    pub(crate) fn parse(raw: &str) -> Result<Endpoint, Error> {
        let mut url = url::Url::parse(raw).map_err(|e| Error::InvalidArgument(format!("bad URL: {e}")))?;
        let scheme = match url.scheme() {
            "ws" | "http" => "ws",
            "wss" | "https" => "wss",
            other => return Err(Error::InvalidArgument(format!("unsupported URL scheme `{other}` (use ws:// or wss://)"))),
        };
        if url.scheme() != scheme {
            if url.path() == "/" || url.path().is_empty() {
                url.set_path("/websocket");
            }
            url.set_scheme(scheme).map_err(|_| Error::InvalidArgument("cannot map URL scheme".into()))?;
        }
        if url.host_str().is_none() {
            return Err(Error::InvalidArgument("URL has no host".into()));
        }
        Ok(Endpoint { url, upgrade_token: Arc::default() })
    }

    /// From now on every upgrade carries `token` as its `access_token` (in place of one
    /// the URL had).
    pub(crate) fn set_upgrade_token(&self, token: Secret) {
        *self.upgrade_token.lock() = Some(token);
    }

    /// The URL of the next upgrade.
    fn upgrade_url(&self) -> url::Url {
        let Some(token) = self.upgrade_token.lock().clone() else { return self.url.clone() };
        let mut url = self.url.clone();
        let kept: Vec<(String, String)> =
            url.query_pairs().filter(|(k, _)| k != UPGRADE_TOKEN_PARAM).map(|(k, v)| (k.into(), v.into())).collect();
        url.query_pairs_mut().clear().extend_pairs(kept).append_pair(UPGRADE_TOKEN_PARAM, token.expose());
        url
    }

    pub(crate) fn is_tls(&self) -> bool {
        self.url.scheme() == "wss"
    }

    /// The base URL of the server's REST API: the same host over http(s), with the
    /// `/websocket` path the socket is served at taken off (files travel over REST).
    pub(crate) fn rest_base(&self) -> url::Url {
        let mut u = self.url.clone();
        u.set_query(None);
        u.set_fragment(None);
        let _ = u.set_scheme(if self.is_tls() { "https" } else { "http" });
        let path = u.path().trim_end_matches('/');
        let path = path.strip_suffix("websocket").unwrap_or(path).trim_end_matches('/').to_owned();
        u.set_path(&format!("{path}/"));
        u
    }

    /// The URL without query or credentials, safe to log (a strict-mode URL carries a
    /// token in its query).
    pub(crate) fn redacted(&self) -> String {
        let mut u = self.url.clone();
        u.set_query(None);
        let _ = u.set_password(None);
        u.to_string()
    }
}

/// Builds the rustls configuration: verified certificates, the chosen roots plus extra CAs.
pub(crate) fn tls_config(tls: &TlsOptions) -> Result<Arc<ClientConfig>, Error> {
    let mut roots = RootCertStore::empty();
    match tls.roots {
        TlsRoots::Bundled => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        TlsRoots::System => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // A broken certificate in the system store should not make every other one unusable.
                let _ = roots.add(cert);
            }
        }
        TlsRoots::None => {}
    }
    if let Some(pem) = &tls.extra_ca_pem {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| Error::Tls(format!("cannot read CA PEM: {e}")))?;
            roots.add(cert).map_err(|e| Error::Tls(format!("unusable CA certificate: {e}")))?;
            added += 1;
        }
        if added == 0 {
            return Err(Error::Tls("the CA PEM holds no certificate".into()));
        }
    }
    if roots.is_empty() {
        return Err(Error::Tls("no trusted root certificates".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The initial read buffer of a connection.
const READ_BUFFER: usize = 8 * 1024;

/// Opening a socket: boxed, because it is a 10 KiB future that a session's task would
/// otherwise hold inline all its life, not only while it runs (see `session::task_size`).
pub(crate) type Opening<'a> = Pin<Box<dyn Future<Output = Result<Socket, Error>> + Send + 'a>>;

/// Opens the WebSocket, with TLS for `wss://`.
pub(crate) fn open<'a>(endpoint: &'a Endpoint, options: &'a ClientOptions, tls: Option<Arc<ClientConfig>>) -> Opening<'a> {
    Box::pin(opening(endpoint, options, tls))
}

async fn opening(endpoint: &Endpoint, options: &ClientOptions, tls: Option<Arc<ClientConfig>>) -> Result<Socket, Error> {
    let mut config = WebSocketConfig::default();
    // tungstenite zero-fills its whole read buffer before the first read, so its
    // default of 128 KiB costs every session 128 KiB of resident memory. 8 KiB still
    // takes about 40 chat events per read (benchmarked: 10,000 sessions, and the event
    // flood, in BENCHMARKS.md); bigger messages grow the buffer as they need.
    config.read_buffer_size = READ_BUFFER;
    config.max_message_size = Some(options.max_message_size);
    config.max_frame_size = Some(options.max_message_size);
    let connector = match (endpoint.is_tls(), tls) {
        (true, Some(cfg)) => Some(Connector::Rustls(cfg)),
        (true, None) => Some(Connector::Rustls(tls_config(&options.tls)?)),
        (false, _) => Some(Connector::Plain),
    };
    let url = endpoint.upgrade_url();
    let attempt = tokio_tungstenite::connect_async_tls_with_config(url.as_str(), Some(config), true, connector);
    match tokio::time::timeout(options.connect_timeout, attempt).await {
        Err(_) => Err(Error::Connection(format!("connecting to {} timed out", endpoint.redacted()))),
        Ok(Err(e)) => Err(Error::Connection(format!("cannot connect to {}: {e}", endpoint.redacted()))),
        Ok(Ok((socket, _response))) => Ok(socket),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_forms() {
        assert_eq!(Endpoint::parse("ws://127.0.0.1:8055/websocket").unwrap().url.as_str(), "ws://127.0.0.1:8055/websocket");
        assert_eq!(Endpoint::parse("http://127.0.0.1:8055").unwrap().url.as_str(), "ws://127.0.0.1:8055/websocket");
        assert!(Endpoint::parse("https://example.com/").unwrap().is_tls());
        assert!(Endpoint::parse("ftp://x").is_err());
        assert!(Endpoint::parse("not a url").is_err());
    }

    #[test]
    fn rest_base_of_the_socket_url() {
        let base = |u: &str| Endpoint::parse(u).unwrap().rest_base().to_string();
        assert_eq!(base("ws://127.0.0.1:8055/websocket"), "http://127.0.0.1:8055/");
        assert_eq!(base("wss://h/directus/websocket?access_token=x"), "https://h/directus/");
        assert_eq!(base("https://h/"), "https://h/");
    }

    #[test]
    fn redacts_query_tokens() {
        let e = Endpoint::parse("wss://h/websocket?access_token=SECRET").unwrap();
        assert!(!e.redacted().contains("SECRET"));
        assert!(!format!("{e:?}").contains("SECRET"));
    }

    #[test]
    fn an_upgrade_token_replaces_the_urls_own() {
        let e = Endpoint::parse("wss://h/websocket?access_token=OLD&x=1").unwrap();
        assert_eq!(e.upgrade_url().as_str(), "wss://h/websocket?access_token=OLD&x=1");
        e.clone().set_upgrade_token(Secret::new("NEW"));
        assert_eq!(e.upgrade_url().as_str(), "wss://h/websocket?x=1&access_token=NEW");
        let e = Endpoint::parse("ws://h/websocket").unwrap();
        e.set_upgrade_token(Secret::new("T"));
        assert_eq!(e.upgrade_url().as_str(), "ws://h/websocket?access_token=T");
        assert!(!format!("{e:?}").contains("access_token"), "{e:?}");
    }

    #[test]
    fn tls_config_checks_pem() {
        let bad = TlsOptions { roots: TlsRoots::None, extra_ca_pem: Some("not a pem".into()) };
        assert!(matches!(tls_config(&bad), Err(Error::Tls(_))));
        let none = TlsOptions { roots: TlsRoots::None, extra_ca_pem: None };
        assert!(matches!(tls_config(&none), Err(Error::Tls(_))));
        assert!(tls_config(&TlsOptions::default()).is_ok());
    }
}
