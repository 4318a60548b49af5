//! A client that stays in a room's presence until it is killed: for `tests/presence.rs`,
//! which runs it as a child process and kills it with SIGKILL (no clean exit: its row
//! stays and must expire for the others), and for trying presence by hand.
//!
//! ```sh
//! cargo run --example presence_app -- ws://127.0.0.1:8055/websocket TOKEN general \
//!     [--heartbeat-ms 2000] [--ttl-ms 6000] [--typing]
//! ```
//!
//! Prints `entered` once its row is written, then one line per presence event:
//! `online USER 1|0`, `typing USER 1|0`, `unread N`, `read USER KEY`. With `--typing` it
//! says it types once a second, forever.

use std::time::Duration;

use directus_chat::{Client, ClientOptions, Event, PresenceEvent};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: presence_app URL TOKEN ROOM [--heartbeat-ms N] [--ttl-ms N] [--typing]";
    if args.len() < 3 {
        eprintln!("{usage}");
        std::process::exit(2);
    }
    let (url, token, room) = (&args[0], &args[1], &args[2]);
    let mut options = ClientOptions::default();
    let mut typing = false;
    let mut rest = args[3..].iter();
    while let Some(a) = rest.next() {
        let mut ms = || Duration::from_millis(rest.next().and_then(|n| n.parse().ok()).expect(usage));
        match a.as_str() {
            "--heartbeat-ms" => options.chat.presence.heartbeat = ms(),
            "--ttl-ms" => options.chat.presence.ttl = ms(),
            "--typing" => typing = true,
            _ => panic!("{usage}"),
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async move {
        let (client, mut events) = Client::connect(url, options).await.expect("connect");
        client.login_with_token(token).await.expect("login");
        client.enter(room).await.expect("enter");
        println!("entered");
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = tick.tick(), if typing => client.set_typing(room, true).expect("typing"),
                event = events.next() => match event {
                    Some(Event::Presence(p)) => match p {
                        PresenceEvent::Online { user, online, .. } => println!("online {user} {}", u8::from(online)),
                        PresenceEvent::Typing { user, typing, .. } => println!("typing {user} {}", u8::from(typing)),
                        PresenceEvent::Unread { count, .. } => println!("unread {count}"),
                        PresenceEvent::Read { user, last_read, .. } => println!("read {user} {}", last_read.unwrap_or_default()),
                    },
                    Some(_) => {}
                    None => break,
                },
            }
        }
    });
}
