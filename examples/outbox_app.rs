//! A small chat sender with an outbox, for trying crashes by hand and for
//! `tests/outbox.rs`, which runs it as a child process and kills it with SIGKILL.
//!
//! ```sh
//! cargo run --example outbox_app -- ws://127.0.0.1:8055/websocket TOKEN /tmp/outbox.db \
//!     --send 200 --prefix hello [--client-ids] [--exit-when-done]
//! ```
//!
//! It starts even while the server is down (the client keeps trying), queues `--send`
//! messages (`PREFIX 0`, `PREFIX 1`, ...), prints `queued LOCAL_ID KEY` for each and
//! `all queued`, then one line per outbox event: `event STATE LOCAL_ID KEY ATTEMPTS
//! [ID|CODE]`. With `--exit-when-done` it prints `done` and exits once the outbox is
//! empty (everything sent).

use std::time::Duration;

use directus_chat::{AuthCredentials, Client, ClientOptions, Event, OutboxState, ReconnectPolicy, Secret};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: outbox_app URL TOKEN OUTBOX [--send N] [--prefix P] [--client-ids] [--exit-when-done]";
    if args.len() < 3 {
        eprintln!("{usage}");
        std::process::exit(2);
    }
    let (url, token, path) = (&args[0], &args[1], &args[2]);
    let mut send = 0usize;
    let mut prefix = "outbox".to_owned();
    let mut client_ids = false;
    let mut exit_when_done = false;
    let mut rest = args[3..].iter();
    while let Some(a) = rest.next() {
        match a.as_str() {
            "--send" => send = rest.next().and_then(|n| n.parse().ok()).expect(usage),
            "--prefix" => prefix = rest.next().expect(usage).clone(),
            "--client-ids" => client_ids = true,
            "--exit-when-done" => exit_when_done = true,
            _ => panic!("{usage}"),
        }
    }

    let mut options = ClientOptions {
        reconnect: ReconnectPolicy {
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(1),
            max_attempts: None,
            ..ReconnectPolicy::default()
        },
        connect_timeout: Duration::from_secs(5),
        outbox_path: Some(path.into()),
        ..ClientOptions::default()
    };
    options.chat.client_ids = client_ids;
    let (client, mut events, _first_attempt) = match Client::connect_nowait(url, options) {
        Ok(c) => c,
        Err(e) => {
            println!("error {} {e}", e.code());
            std::process::exit(1);
        }
    };
    client.authenticate_nowait(AuthCredentials::AccessToken(Secret::new(token))).expect("the client is open");
    let outbox = client.outbox().expect("an outbox was set");
    for i in 0..send {
        let entry = outbox.send_message(&format!("{prefix} {i}")).expect("queued");
        println!("queued {} {}", entry.local_id, entry.key);
    }
    println!("all queued");
    // What this run waits for: every entry it knows of, until its event says it is over.
    let mut open: std::collections::BTreeSet<u64> = outbox.list().iter().map(|e| e.local_id).collect();
    if exit_when_done && open.is_empty() {
        println!("done");
        return;
    }
    loop {
        let Ok(Some(event)) = events.blocking_next(Some(Duration::from_secs(600))) else {
            println!("no event for 10 minutes");
            std::process::exit(1);
        };
        match event {
            Event::Outbox(entry) => {
                let extra = match &entry.state {
                    OutboxState::Sent { item } => item["id"].to_string(),
                    OutboxState::Failed { error, .. } => error.code().to_owned(),
                    _ => String::new(),
                };
                println!("event {} {} {} {} {extra}", entry.state.as_str(), entry.local_id, entry.key, entry.attempts);
                match entry.state {
                    OutboxState::Queued | OutboxState::Sending => {
                        open.insert(entry.local_id);
                    }
                    _ => {
                        open.remove(&entry.local_id);
                    }
                }
                if exit_when_done && open.is_empty() && outbox.list().is_empty() {
                    println!("done");
                    return;
                }
            }
            Event::State { cause: Some(cause), reason, .. } => {
                println!("closed {} {}", cause.as_str(), reason.unwrap_or_default());
                std::process::exit(1);
            }
            Event::State { state, .. } => eprintln!("state {}", state.as_str()),
            Event::Error { error } => eprintln!("error event: {error}"),
            _ => {}
        }
    }
}
