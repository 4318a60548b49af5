//! wss:// through a real TLS reverse proxy: nginx, with a certificate from a test CA
//! made by openssl, in front of a real Directus (scripts/tls-proxy.sh). With the test
//! CA trusted the whole chat works through the proxy; with the default roots (or the
//! system's) the connection is refused with a certificate error.

mod support;

use std::time::Duration;

use directus_chat::{Client, ClientOptions, ConnectionState, Error, Event, SubscriptionKind, TlsRoots};
use support::directus::Directus;
use support::tls_proxy::TlsProxy;

const WAIT: Duration = Duration::from_secs(15);

fn proxy_for(server: &Directus) -> TlsProxy {
    TlsProxy::start(server.env("DIRECTUS_PORT").expect("DIRECTUS_PORT").parse().expect("a port"))
}

fn trusting(ca_pem: String, roots: TlsRoots) -> ClientOptions {
    let mut options = ClientOptions::default();
    options.tls.extra_ca_pem = Some(ca_pem);
    options.tls.roots = roots;
    options
}

/// Logs in, subscribes to the chat, sends `text` and waits for its own create event;
/// returns the author shown in it.
async fn chat_once(url: &str, options: ClientOptions, server: &Directus, text: &str) -> String {
    let user = server.user1();
    let (client, mut events) = Client::connect(url, options).await.expect("connect through nginx");
    client.login(&user.email, &user.password).await.expect("login through nginx");
    let sub = client.subscribe(client.chat_subscription()).await.expect("subscribe through nginx");
    let mut sent = false;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ev = tokio::time::timeout_at(deadline, events.next()).await.expect("own create event in time").expect("events");
        match ev {
            Event::Subscription { uid, kind: SubscriptionKind::Init, .. } if uid == sub.uid() && !sent => {
                client.send_message_nowait(text).expect("send");
                sent = true;
            }
            Event::Subscription { uid, kind: SubscriptionKind::Create, data } if uid == sub.uid() => {
                if let Some(m) = client.chat().messages(&data).into_iter().find(|m| m.text == text) {
                    client.close().await.expect("close");
                    return m.author.unwrap_or_default();
                }
            }
            Event::State { state: ConnectionState::Disconnected | ConnectionState::Closed, reason, .. } => {
                panic!("connection through nginx ended: {reason:?}")
            }
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_through_nginx_with_the_test_ca() {
    let server = Directus::shared();
    let proxy = proxy_for(server);
    let name = server.user1().name;

    // The bundled public roots plus the test CA, by host name.
    let text = format!("through nginx {}", std::process::id());
    assert_eq!(chat_once(&proxy.wss_url(), trusting(proxy.ca_pem(), TlsRoots::Bundled), server, &text).await, name);

    // Only the test CA, by IP address (the certificate names 127.0.0.1 too).
    let by_ip = format!("wss://127.0.0.1:{}/websocket", proxy.port());
    let text = format!("through nginx by IP {}", std::process::id());
    assert_eq!(chat_once(&by_ip, trusting(proxy.ca_pem(), TlsRoots::None), server, &text).await, name);

    // The sockets really went through nginx: two upgrades in its access log.
    let upgrades = proxy.access_log().lines().filter(|l| l.contains("\"GET /websocket HTTP/1.1\" 101")).count();
    assert_eq!(upgrades, 2, "nginx access log:\n{}", proxy.access_log());
}

#[tokio::test(flavor = "multi_thread")]
async fn nginx_with_the_test_ca_is_refused_by_default() {
    let server = Directus::shared();
    let proxy = proxy_for(server);

    for (what, options) in [
        ("bundled roots", ClientOptions::default()),
        ("system roots", {
            let mut o = ClientOptions::default();
            o.tls.roots = TlsRoots::System;
            o
        }),
    ] {
        let err =
            Client::connect(&proxy.wss_url(), options).await.err().unwrap_or_else(|| panic!("{what}: connected to a test CA's server"));
        let text = err.to_string();
        eprintln!("{what}: {text}");
        assert!(matches!(err, Error::Connection(_)), "{what}: {err:?}");
        assert!(text.contains("certificate") && text.contains("UnknownIssuer"), "{what}: unclear message: {text}");
    }
    // Refused during the TLS handshake: no request reached the upstream.
    assert!(!proxy.access_log().contains("/websocket"), "nginx access log:\n{}", proxy.access_log());
}
