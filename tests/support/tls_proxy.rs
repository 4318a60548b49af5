//! A real TLS reverse proxy (nginx, with a test CA made by openssl) in front of a test
//! server: started with scripts/tls-proxy.sh in a temporary folder, stopped when
//! dropped, and by the script's watchdog when the test process exits.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A running nginx that terminates TLS for one upstream port.
pub struct TlsProxy {
    dir: tempfile::TempDir,
    env: HashMap<String, String>,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/tls-proxy.sh")
}

impl TlsProxy {
    /// Starts nginx with TLS in front of `http://127.0.0.1:upstream_port`; panics with the
    /// script's output if it cannot.
    pub fn start(upstream_port: u16) -> TlsProxy {
        let dir = tempfile::Builder::new().prefix("dchat-nginx-").tempdir().expect("temp dir");
        let out = Command::new(script())
            .arg("start")
            .arg(dir.path())
            .args(["--upstream", &upstream_port.to_string(), "--watch-pid", &std::process::id().to_string()])
            .output()
            .expect("run scripts/tls-proxy.sh");
        assert!(
            out.status.success(),
            "scripts/tls-proxy.sh start failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let env = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        TlsProxy { dir, env }
    }

    fn get(&self, key: &str) -> &str {
        self.env.get(key).unwrap_or_else(|| panic!("{key} missing from scripts/tls-proxy.sh's output"))
    }

    /// The port nginx listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.get("PROXY_PORT").parse().expect("a port number")
    }

    /// The proxy's WebSocket URL, by host name: `wss://localhost:PORT/websocket`.
    pub fn wss_url(&self) -> String {
        self.get("PROXY_WSS_URL").to_owned()
    }

    /// The test CA's certificate (PEM) that signed nginx's certificate.
    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.get("PROXY_CA_PEM")).expect("read the test CA")
    }

    /// nginx's access log: each proxied request, with its status (101 for an upgrade).
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.get("PROXY_ACCESS_LOG")).unwrap_or_default()
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("stop").arg(self.dir.path()).output();
    }
}
