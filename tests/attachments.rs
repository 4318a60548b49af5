//! Attachments (issue 13) against a real Directus seeded with the schema kit: a 5 MiB
//! upload with progress reaches another user as a chat message with its file's name,
//! type, size and URL, and downloads byte for byte; a cancelled upload ends with
//! `Cancelled`; the REST token is renewed when the server's tokens are short-lived; a
//! user without permission is refused with the server's code.

mod support;

use std::time::Duration;

use directus_chat::{ChatConfig, Client, ClientOptions, ConnectionState, ErrorKind, Event, Events, FileInfo, Upload};
use serde_json::{json, Value};
use support::directus::{Directus, ServerOptions, User};

const WAIT: Duration = Duration::from_secs(60);

fn options() -> ClientOptions {
    ClientOptions { chat: ChatConfig::kit(), ..ClientOptions::default() }
}

async fn connect_as(server: &Directus, user: &User) -> (Client, Events) {
    let (client, events) = Client::connect(&server.ws_url(), options()).await.expect("connect");
    client.login(&user.email, &user.password).await.expect("login");
    (client, events)
}

/// Bytes that compress badly and differ from run to run, so a byte-for-byte match
/// cannot come from anything but the upload.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Events of one transfer until its reply: the progress seen and the outcome.
async fn transfer(events: &mut Events, request: u64) -> (Vec<(u64, Option<u64>)>, directus_chat::Result<Value>) {
    let mut progress = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ev = tokio::time::timeout_at(deadline, events.next()).await.expect("transfer within the wait").expect("events");
        match ev {
            Event::Transfer { request: r, done, total } if r == request => progress.push((done, total)),
            Event::Reply { request: r, result } if r == request => return (progress, result),
            Event::State { state: ConnectionState::Closed, reason, .. } => panic!("closed: {reason:?}"),
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5_mib_upload_with_progress_reaches_a_peer_as_a_message_and_downloads_identically() {
    let server = Directus::shared();
    let (kevin, mut kevin_events) = connect_as(server, &server.user1()).await;
    let (esther, mut esther_events) = connect_as(server, &server.user2()).await;
    esther.join(None).await.expect("join the lobby");

    let bytes = noise(5 << 20, std::process::id() as u64);
    let request = kevin.upload_nowait(Upload::bytes("photo.png", bytes.clone()).mime("image/png")).expect("upload");
    let (progress, result) = transfer(&mut kevin_events, request).await;
    let file = FileInfo::from_value(&result.expect("uploaded")).expect("a file object");
    let total = bytes.len() as u64;
    assert_eq!(progress.first(), Some(&(0, Some(total))), "progress starts at 0 of the size");
    assert_eq!(progress.last(), Some(&(total, Some(total))), "progress ends at the size");
    assert!(progress.windows(2).all(|w| w[0].0 < w[1].0), "progress only grows");
    assert!(progress.len() >= 50 && progress.len() <= 102, "about one progress event per percent: {}", progress.len());
    assert_eq!((file.name.as_deref(), file.mime.as_deref(), file.size), (Some("photo.png"), Some("image/png"), Some(total)));
    println!("attachments: 5 MiB upload, {} progress events", progress.len());

    let text = format!("a photo {}", std::process::id());
    kevin.send_with(&text, json!({ "file": file.id })).await.expect("send the message with the file");
    let deadline = tokio::time::Instant::now() + WAIT;
    let got = loop {
        let ev = tokio::time::timeout_at(deadline, esther_events.next()).await.expect("the message within the wait").expect("events");
        if let Some(ce) = esther.chat_event(&ev) {
            if let Some(m) = ce.messages.into_iter().find(|m| m.text == text) {
                break m;
            }
        }
    };
    let seen = got.file.expect("the message carries its file");
    assert_eq!(
        (seen.id.as_str(), seen.name.as_deref(), seen.mime.as_deref(), seen.size),
        (file.id.as_str(), Some("photo.png"), Some("image/png"), Some(total))
    );
    let url = esther.asset_url(&seen.id).expect("url");
    assert_eq!(url, format!("{}/assets/{}", server.http_url().trim_end_matches('/'), seen.id));

    // In memory, and into a file with progress.
    assert!(esther.download_bytes(&seen.id).await.expect("download") == bytes, "downloaded bytes differ");
    let dir = tempfile::tempdir().expect("tmp");
    let dest = dir.path().join("photo.png");
    let request = esther.download_nowait(&seen.id, &dest).expect("download");
    let (progress, result) = transfer(&mut esther_events, request).await;
    assert_eq!(result.expect("downloaded")["bytes"], json!(total));
    assert_eq!(progress.last().map(|p| p.0), Some(total));
    assert!(std::fs::read(&dest).expect("written") == bytes, "downloaded file differs");
    assert!(!dir.path().join("photo.png.part").exists(), "no part file left");

    // From a path too.
    let src = dir.path().join("notes.txt");
    std::fs::write(&src, b"hello from a file").expect("write");
    let f = kevin.upload(Upload::path(&src).mime("text/plain")).await.expect("upload a path");
    assert_eq!((f.name.as_deref(), f.size), (Some("notes.txt"), Some(17)));
    assert_eq!(esther.download_bytes(&f.id).await.expect("download"), b"hello from a file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_transfer_ends_with_cancelled_and_bad_input_is_refused() {
    let server = Directus::shared();
    let (kevin, mut events) = connect_as(server, &server.user1()).await;
    let request = kevin.upload_nowait(Upload::bytes("big.bin", noise(256 << 20, 7))).expect("upload");
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut cancelled_at = None;
    let result = loop {
        match tokio::time::timeout_at(deadline, events.next()).await.expect("within the wait").expect("events") {
            Event::Transfer { request: r, done, .. } if r == request && done > 0 && cancelled_at.is_none() => {
                kevin.cancel(request);
                cancelled_at = Some(done);
            }
            Event::Reply { request: r, result } if r == request => break result,
            _ => {}
        }
    };
    assert_eq!(result.expect_err("cancelled").kind(), ErrorKind::Cancelled);
    println!("attachments: cancelled after {} bytes of 256 MiB", cancelled_at.unwrap_or(0));
    // Cancelled at once, before its task first ran: still cancelled, not uploaded.
    let request = kevin.upload_nowait(Upload::bytes("never.bin", noise(8 << 20, 9))).expect("upload");
    kevin.cancel(request);
    let (_, result) = transfer(&mut events, request).await;
    assert_eq!(result.expect_err("cancelled at once").kind(), ErrorKind::Cancelled);

    let missing = kevin.upload(Upload::path("/nonexistent/file.png")).await.expect_err("no such file");
    assert_eq!(missing.kind(), ErrorKind::InvalidArgument);
    assert_eq!(kevin.asset_url("../etc").expect_err("not an id").kind(), ErrorKind::InvalidArgument);
    let unknown = kevin.download_bytes("00000000-0000-4000-8000-000000000000").await.expect_err("no such file");
    assert!(matches!(unknown.kind(), ErrorKind::Forbidden | ErrorKind::Server), "{unknown:?}");
    // The session is unharmed.
    kevin.send_with("still here", json!({})).await.expect("send after the failures");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rest_token_is_renewed_when_tokens_are_short_lived() {
    let server = Directus::start(ServerOptions { env: vec![("ACCESS_TOKEN_TTL".into(), "4s".into())], ..ServerOptions::default() });
    let (kevin, _events) = connect_as(&server, &server.user1()).await;
    let first = kevin.upload(Upload::bytes("one.txt", b"one".to_vec())).await.expect("first upload");
    // Past the first token's lifetime: the REST side refreshes it (or logs in again).
    tokio::time::sleep(Duration::from_secs(6)).await;
    let second = kevin.upload(Upload::bytes("two.txt", b"two".to_vec())).await.expect("upload after the token expired");
    assert_ne!(first.id, second.id);
    assert_eq!(kevin.download_bytes(&second.id).await.expect("download"), b"two");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_login_the_server_refuses_the_upload_with_its_code() {
    let server = Directus::shared();
    let (anon, _events) = Client::connect(&server.ws_url(), options()).await.expect("connect");
    let e = anon.upload(Upload::bytes("x.txt", b"x".to_vec())).await.expect_err("public may not upload");
    assert_eq!(e.kind(), ErrorKind::Forbidden, "{e:?}");
}
