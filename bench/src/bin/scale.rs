//! Many sessions in one process: opens `--sessions N` clients through the Rust API,
//! each authenticated and subscribed to the chat, against the flood server (with
//! `--events 0`). Reports memory per session ((RSS after − RSS before) / N), the
//! process's threads, and the connect+auth+subscribe rate. Prints one JSON line.
//!
//! The Rust API is used because the C and Python surfaces add a delivery thread per
//! client; the sessions themselves run on the library's fixed two I/O threads.

use std::sync::Arc;
use std::time::Instant;

use directus_chat::{Client, ClientOptions};
use serde_json::json;
use tokio::sync::Semaphore;

use directus_chat_bench::{arg, proc_status, raise_nofile, required, TOKEN};

async fn open(url: &str) -> (Client, directus_chat::Events, directus_chat::Subscription) {
    let (client, events) = Client::connect(url, ClientOptions::default()).await.expect("connect");
    client.login_with_token(TOKEN).await.expect("login");
    let sub = client.subscribe(client.chat_subscription()).await.expect("subscribe");
    (client, events, sub)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url = required("--url");
    let n: usize = arg("--sessions", 1000);
    let parallel: usize = arg("--parallel", 200);
    let nofile = raise_nofile();
    // One session first, so the runtime and its threads exist before "before".
    let warm = open(&url).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let rss_before = proc_status("VmRSS");
    let gate = Arc::new(Semaphore::new(parallel));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let permit = gate.clone().acquire_owned().await.expect("semaphore");
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let s = open(&url).await;
            drop(permit);
            s
        }));
    }
    let mut sessions = Vec::with_capacity(n);
    for t in tasks {
        sessions.push(t.await.expect("session task"));
    }
    let secs = started.elapsed().as_secs_f64();
    // Let the catch-up reads after each init settle before measuring.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let rss_after = proc_status("VmRSS");
    let threads = proc_status("Threads");
    let per_session = (rss_after.saturating_sub(rss_before)) as f64 / n as f64;
    println!(
        "{}",
        json!({
            "client": "scale (Rust API)",
            "sessions": n,
            "rss_before_kib": rss_before,
            "rss_after_kib": rss_after,
            "kib_per_session": per_session,
            "threads": threads,
            "seconds": secs,
            "sessions_per_s": n as f64 / secs,
            "nofile": nofile,
        })
    );
    for (c, _, _) in &sessions {
        c.close_nowait();
    }
    drop(sessions);
    drop(warm);
}
