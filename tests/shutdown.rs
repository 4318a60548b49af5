//! The process-wide shutdown against a real Directus: it closes the clients still open
//! (each stream ends with `Closed`), leaves no thread of the library running, reports a
//! timeout with what did not end, and the library works again afterwards.
//!
//! One test function: a shutdown closes every client of the process, so nothing else
//! may run in this binary at the same time.

mod support;

use std::time::{Duration, Instant};

use directus_chat::blocking::wait;
use directus_chat::{Client, ClientOptions, ConnectionState, Error, Event, Events, SubscriptionKind};
use support::directus::Directus;

const WAIT: Option<Duration> = Some(Duration::from_secs(20));

/// Names of this process's threads that belong to the library (`dchat-...`).
fn library_threads() -> Vec<String> {
    let mut names = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let comm = task.unwrap().path().join("comm");
        if let Ok(name) = std::fs::read_to_string(comm) {
            if name.starts_with("dchat-") {
                names.push(name.trim().to_owned());
            }
        }
    }
    names
}

/// A logged-in client subscribed to the chat, which has seen its own message arrive.
fn chatting(server: &Directus, text: &str) -> (Client, Events) {
    let user = server.user1();
    let (client, mut events) = wait(Client::connect(&server.ws_url(), ClientOptions::default()), WAIT).unwrap().expect("connect");
    wait(client.login(&user.email, &user.password), WAIT).unwrap().expect("login");
    let sub = wait(client.subscribe(client.chat_subscription()), WAIT).unwrap().expect("subscribe");
    wait(client.send_message(text), WAIT).unwrap().expect("send");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.blocking_next(Some(left)).expect("own create event in time").expect("stream open") {
            Event::Subscription { uid, kind: SubscriptionKind::Create, data }
                if uid == sub.uid() && client.chat().messages(&data).iter().any(|m| m.text == text) =>
            {
                return (client, events)
            }
            _ => {}
        }
    }
}

/// Every event left in the stream, up to its end.
fn rest_of(events: &mut Events) -> Vec<Event> {
    let mut rest = Vec::new();
    while let Some(e) = events.blocking_next(Some(Duration::from_secs(10))).expect("the stream ends in time") {
        rest.push(e);
    }
    rest
}

fn assert_closed_last(rest: &[Event]) {
    match rest.last() {
        Some(Event::State { state: ConnectionState::Closed, .. }) => {}
        other => panic!("the last event is not Closed: {other:?} (all: {rest:?})"),
    }
    let closed = rest.iter().filter(|e| matches!(e, Event::State { state: ConnectionState::Closed, .. })).count();
    assert_eq!(closed, 1, "{rest:?}");
}

#[test]
fn shutdown_closes_clients_joins_threads_and_the_library_works_again() {
    let server = Directus::shared();
    let tag = std::process::id();

    // Two clients left open; a shutdown closes both through the close path.
    let (a, mut a_events) = chatting(server, &format!("shutdown test {tag} a"));
    let (b, mut b_events) = chatting(server, &format!("shutdown test {tag} b"));
    assert!(library_threads().iter().any(|n| n == "dchat-io"), "{:?}", library_threads());
    directus_chat::shutdown(Duration::from_secs(20)).expect("shutdown");
    assert_eq!(library_threads(), Vec::<String>::new(), "no thread of the library is left");
    // (Reading the streams with blocking_next starts the runtime again: it waits on it.)
    for (client, events) in [(&a, &mut a_events), (&b, &mut b_events)] {
        assert!(client.is_closed());
        assert_closed_last(&rest_of(events));
        assert!(events.is_ended());
        assert!(matches!(client.send_message_nowait("after shutdown"), Err(Error::Closed)));
    }

    // The library works again: the runtime starts on demand.
    let (c, mut c_events) = chatting(server, &format!("shutdown test {tag} c"));
    assert!(!c.is_closed());

    // From inside an async runtime (the caller's), it runs on a helper thread.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async { directus_chat::shutdown(Duration::from_secs(20)) }).expect("shutdown from async code");
    assert_eq!(library_threads(), Vec::<String>::new());
    // (Reading the stream with blocking_next starts the runtime again: it waits on it.)
    assert_closed_last(&rest_of(&mut c_events));

    // No time at all: the client cannot close in time, and the error says so.
    let (d, mut d_events) = chatting(server, &format!("shutdown test {tag} d"));
    match directus_chat::shutdown(Duration::ZERO) {
        Err(Error::ShutdownTimeout(what)) => assert!(what.contains("1 client"), "{what}"),
        other => panic!("a shutdown without time: {other:?}"),
    }
    // Its session went with the runtime: once the client is gone too (it holds the
    // sink for its nowait replies), its stream ends all the same.
    drop(d);
    rest_of(&mut d_events);
    // The threads told to stop end by themselves; a later shutdown finds none left.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match directus_chat::shutdown(Duration::from_secs(5)) {
            Ok(()) => break,
            Err(e) if Instant::now() < deadline => eprintln!("still ending: {e}"),
            Err(e) => panic!("the threads of a timed-out shutdown never ended: {e}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(library_threads(), Vec::<String>::new());

    // And once more after all that.
    let (e, mut e_events) = chatting(server, &format!("shutdown test {tag} e"));
    wait(e.close(), WAIT).unwrap().expect("close");
    assert_closed_last(&rest_of(&mut e_events));
    directus_chat::shutdown(Duration::from_secs(20)).expect("last shutdown");
    assert_eq!(library_threads(), Vec::<String>::new());
}
