//! wss:// against a local TLS WebSocket server with a test CA: certificates are
//! verified by default, a custom CA PEM makes the test CA trusted, and a wrong host
//! name is refused even with the right CA.

use std::sync::Arc;

use directus_chat::{Client, ClientOptions, Error, TlsRoots};
use futures_util::{SinkExt, StreamExt};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

struct TestPki {
    ca_pem: String,
    server_config: Arc<rustls::ServerConfig>,
}

fn pki() -> TestPki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string()]).unwrap().signed_by(&leaf_key, &ca, &ca_key).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let chain = vec![CertificateDer::from(leaf.der().to_vec())];
    let server_config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    TestPki { ca_pem: ca.pem(), server_config: Arc::new(server_config) }
}

/// A TLS WebSocket server that accepts any auth; returns its port.
async fn tls_server(config: Arc<rustls::ServerConfig>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let Ok(mut ws) = tokio_tungstenite::accept_async(tls).await else { return };
                while let Some(Ok(Message::Text(t))) = ws.next().await {
                    let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
                    if v["type"] == "auth" {
                        let ok = json!({"type":"auth","status":"ok","uid":v["uid"]});
                        let _ = ws.send(Message::Text(ok.to_string().into())).await;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn wss_is_verified_and_a_custom_ca_can_be_trusted() {
    let pki = pki();
    let port = tls_server(pki.server_config.clone()).await;
    let url = format!("wss://localhost:{port}/websocket");

    // Default trust (bundled public roots): the test CA is unknown, so it is refused.
    let err = Client::connect(&url, ClientOptions::default()).await.unwrap_err();
    assert!(matches!(&err, Error::Connection(m) if m.contains("certificate") || m.contains("Certificate")), "{err:?}");

    // Trusting the test CA: the connection works.
    let mut options = ClientOptions::default();
    options.tls.extra_ca_pem = Some(pki.ca_pem.clone());
    let (client, _events) = Client::connect(&url, options.clone()).await.expect("wss with the custom CA");
    client.login_with_token("t").await.unwrap();
    client.close().await.unwrap();

    // Only the test CA, no public roots: works too.
    options.tls.roots = TlsRoots::None;
    let (client, _events) = Client::connect(&url, options.clone()).await.unwrap();
    client.close().await.unwrap();

    // The right CA but the wrong name (the certificate is for localhost): refused.
    let err = Client::connect(&format!("wss://127.0.0.1:{port}/websocket"), options).await.unwrap_err();
    assert!(matches!(&err, Error::Connection(m) if m.to_lowercase().contains("certificate")), "{err:?}");
}

#[tokio::test]
async fn a_bad_ca_pem_is_a_clear_tls_error() {
    let mut options = ClientOptions::default();
    options.tls.extra_ca_pem = Some("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n".into());
    let err = Client::connect("wss://localhost:1/websocket", options).await.unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
}
