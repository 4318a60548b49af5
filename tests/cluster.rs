//! Chat across a Directus cluster (scripts/cluster.sh): two instances sharing PostgreSQL
//! and Redis, nginx in front. Realtime events travel between instances on the Redis bus.
//!
//! - Users on instance A and on instance B see every message.
//! - Failover: 1,000 messages sent by clients connected through nginx while instance A is
//!   SIGKILLed and restarted 5 times; A's clients reconnect through nginx to B; every
//!   client's view equals the table, every row is there once, and every send's outcome
//!   matches the table.
//! - After each test the cluster is stopped and nothing of it is left running: no process
//!   of its parts, none in its folders, no listener on its ports.

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use directus_chat::{
    Client, ClientOptions, ConnectionState, Event, Events, ItemsRequest, ReconnectPolicy, SubscribeRequest, Subscription, SubscriptionKind,
};
use serde_json::{json, Value};
use support::cluster::{AccessLine, Cluster, ClusterOptions, Instance};

const MESSAGES: usize = 50;

/// Every create event of `sub` whose text starts with `tag`, counted by text, until each
/// of the `expected` texts has arrived or `within` has passed.
async fn collect(
    client: &Client,
    events: &mut Events,
    sub: &Subscription,
    tag: &str,
    expected: usize,
    within: Duration,
) -> BTreeMap<String, usize> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + within;
    while seen.len() < expected {
        let ev = match tokio::time::timeout_at(deadline, events.next()).await {
            Ok(Some(ev)) => ev,
            Ok(None) => panic!("event stream ended"),
            Err(_) => break,
        };
        match ev {
            Event::Subscription { uid, kind: SubscriptionKind::Create, data } if uid == sub.uid() => {
                for m in client.chat().messages(&data) {
                    if m.text.starts_with(tag) {
                        *seen.entry(m.text).or_default() += 1;
                    }
                }
            }
            Event::State { state: ConnectionState::Disconnected | ConnectionState::Closed, reason, .. } => {
                panic!("connection ended: {reason:?}")
            }
            _ => {}
        }
    }
    seen
}

async fn joined(url: &str) -> (Client, Events) {
    Client::connect(url, ClientOptions::default()).await.expect("connect")
}

#[tokio::test(flavor = "multi_thread")]
async fn users_on_two_instances_see_every_message() {
    let cluster = Cluster::start(ClusterOptions::default());
    let (kevin_u, ada_u) = (cluster.user1(), cluster.user2());

    // Kevin talks to instance A, Ada to instance B, both directly (not through nginx).
    let (kevin, mut kevin_events) = joined(&cluster.instance_ws_url(Instance::A)).await;
    kevin.login(&kevin_u.email, &kevin_u.password).await.expect("kevin logs in on A");
    let (ada, mut ada_events) = joined(&cluster.instance_ws_url(Instance::B)).await;
    ada.login_with_token(&ada_u.token).await.expect("ada logs in on B");
    // Each reads its instance's info over REST (PostgreSQL and Redis change nothing there).
    for c in [&kevin, &ada] {
        let info = c.known_server_info().await.expect("the server's info from an instance");
        assert_eq!(info.version, cluster.version());
    }
    let kevin_sub = kevin.subscribe(kevin.chat_subscription()).await.expect("kevin subscribes");
    let ada_sub = ada.subscribe(ada.chat_subscription()).await.expect("ada subscribes");

    let tag = format!("cluster-{}", std::process::id());
    let mut sent = Vec::new();
    for i in 0..MESSAGES {
        // Turn about: half the messages are made on A, half on B.
        let (who, name) = if i % 2 == 0 { (&kevin, &kevin_u.name) } else { (&ada, &ada_u.name) };
        let text = format!("{tag} {i:02} from {name}");
        let stored = who.send_message(&text).await.unwrap_or_else(|e| panic!("send {i}: {e}"));
        assert_eq!(stored.text, text);
        sent.push(text);
    }

    for (who, client, events, sub) in [("Kevin (A)", &kevin, &mut kevin_events, &kevin_sub), ("Ada (B)", &ada, &mut ada_events, &ada_sub)] {
        let seen = collect(client, events, sub, &tag, MESSAGES, Duration::from_secs(30)).await;
        let missing: Vec<_> = sent.iter().filter(|t| !seen.contains_key(*t)).collect();
        let doubled: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
        assert!(missing.is_empty(), "{who} missed {} of {MESSAGES}: {missing:?}", missing.len());
        assert!(doubled.is_empty(), "{who} got some twice: {doubled:?}");
        eprintln!("{who}: {} of {MESSAGES} messages, each once", seen.len());
    }

    // The shared database holds each exactly once, whichever instance stored it.
    let rows: Value = serde_json::from_str(&cluster.rest(
        "GET",
        &format!("/items/{}?limit=-1&fields=text&filter[text][_starts_with]={tag}", cluster.collection()),
        None,
    ))
    .unwrap();
    let mut texts: Vec<String> = rows["data"].as_array().expect("rows").iter().map(|r| r["text"].as_str().unwrap().to_owned()).collect();
    texts.sort();
    let mut expected = sent.clone();
    expected.sort();
    assert_eq!(texts, expected);

    for c in [kevin, ada] {
        c.close().await.unwrap();
    }
    let left = cluster.stop_and_leftovers();
    assert!(left.is_empty(), "the stopped cluster left behind: {left:#?}");
}

// ---------------------------------------------------------------- failover

const TOTAL: usize = 1000;
const KILLS: usize = 5;
/// Clients that join at the start, through nginx (round robin: about half land on A).
const FIRST_MEMBERS: usize = 4;
/// Clients on A at each kill, at least: after a kill A's clients have moved to B, so
/// new clients join through nginx until this many landed on the restarted A.
const ON_A: usize = 2;
/// nginx's `fail_timeout`: after a failed attempt it sends nothing to A for this long.
const NGINX_FAIL_TIMEOUT: Duration = Duration::from_secs(10);
/// Generous: the test is about correctness on a loaded 2-core machine, not latency.
const PATIENCE: Duration = Duration::from_secs(180);

/// A key as text: `0c9d...` or `7` (no JSON quotes).
fn key(v: &Value) -> String {
    v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())
}

/// A client's view of the collection: id → text, built only from delivered events.
#[derive(Default)]
struct View {
    items: BTreeMap<String, String>,
    duplicates: Vec<String>,
}

impl View {
    fn apply(&mut self, kind: SubscriptionKind, data: &Value) {
        let items = match data {
            Value::Array(a) => a.clone(),
            Value::Null => Vec::new(),
            other => vec![other.clone()],
        };
        let text = |i: &Value| i["text"].as_str().unwrap_or_default().to_owned();
        match kind {
            SubscriptionKind::Init => {
                self.items = items.iter().map(|i| (key(&i["id"]), text(i))).collect();
            }
            SubscriptionKind::Create => {
                for i in &items {
                    if self.items.insert(key(&i["id"]), text(i)).is_some() {
                        self.duplicates.push(key(&i["id"]));
                    }
                }
            }
            SubscriptionKind::Update => {
                for i in &items {
                    self.items.insert(key(&i["id"]), text(i));
                }
            }
            SubscriptionKind::Delete => {
                for k in &items {
                    self.items.remove(&key(k));
                }
            }
            SubscriptionKind::Unsubscribe => {}
        }
    }
}

/// How a client makes its sends safe to repeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Keying {
    /// `ChatConfig::client_ids`: the client chooses the uuid primary key.
    ClientIds,
    /// The kit's unique `client_key` field, named as the request's key field.
    ClientKey,
}

/// Everything one client's event stream said.
#[derive(Default)]
struct Watch {
    view: View,
    /// WebSocket connections opened (`Connected` events).
    connected: usize,
    /// When an open connection was lost (`Disconnected` after `Connected`).
    drops: Vec<Instant>,
    /// Attempts to connect that failed (`Disconnected` without `Connected`).
    failed_attempts: usize,
    up: bool,
    /// When the client was logged in (`Authenticated` events).
    logins: Vec<Instant>,
    state: Option<ConnectionState>,
    closing: bool,
    failure: Option<String>,
}

/// One send and what came of it.
struct Send {
    member: usize,
    text: String,
    client_key: Option<String>,
    started: Instant,
    ended: Instant,
    /// The stored item's id, or the error's text.
    outcome: Result<String, String>,
}

/// Which message numbers may be sent yet: the kills are spread over the sends, and
/// each comes while messages are being sent.
struct Budget {
    next: AtomicUsize,
    allowed: AtomicUsize,
    done: AtomicUsize,
}

struct Member {
    n: usize,
    client: Client,
    watch: Arc<Mutex<Watch>>,
    in_flight: Arc<AtomicUsize>,
    /// Whether its socket is on A now, as far as the test knows: it joined there
    /// (A's connection count rose by one while it joined) and A has not died since.
    on_a: bool,
    joined_on_a: bool,
    /// The kills it was on A for.
    kills_on_a: Vec<usize>,
    watcher: tokio::task::JoinHandle<()>,
    sender: Option<tokio::task::JoinHandle<Vec<Send>>>,
}

async fn watch(mut events: Events, sub: String, w: Arc<Mutex<Watch>>) {
    while let Some(ev) = events.next().await {
        let mut w = w.lock().unwrap();
        match ev {
            Event::Subscription { uid, kind, data } if uid == sub => w.view.apply(kind, &data),
            Event::SubscriptionError { error, .. } => w.failure = Some(format!("subscription error: {error:?}")),
            Event::State { state, reason, .. } => {
                match state {
                    ConnectionState::Connected => {
                        w.connected += 1;
                        w.up = true;
                    }
                    ConnectionState::Disconnected if w.up => {
                        w.drops.push(Instant::now());
                        w.up = false;
                    }
                    ConnectionState::Disconnected => w.failed_attempts += 1,
                    ConnectionState::Authenticated => w.logins.push(Instant::now()),
                    ConnectionState::Closed if !w.closing => w.failure = Some(format!("closed: {reason:?}")),
                    _ => {}
                }
                w.state = Some(state);
            }
            _ => {}
        }
    }
}

async fn send_all(
    client: Client,
    member: usize,
    keying: Keying,
    collection: String,
    tag: String,
    budget: Arc<Budget>,
    in_flight: Arc<AtomicUsize>,
) -> Vec<Send> {
    let mut sends = Vec::new();
    loop {
        let n = loop {
            let cur = budget.next.load(SeqCst);
            if cur >= TOTAL {
                return sends;
            }
            if cur < budget.allowed.load(SeqCst) {
                if budget.next.compare_exchange(cur, cur + 1, SeqCst, SeqCst).is_ok() {
                    break cur;
                }
            } else {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        let text = format!("{tag} m{n:04} c{member}");
        in_flight.fetch_add(1, SeqCst);
        let started = Instant::now();
        let (outcome, client_key) = match keying {
            Keying::ClientIds => (client.send_message(&text).await.map(|m| m.id), None),
            Keying::ClientKey => {
                let ck = uuid::Uuid::new_v4().to_string();
                let request = ItemsRequest::create(collection.clone(), json!({"text": text, "client_key": ck})).key_field("client_key");
                let stored = client.request(request).await.map(|v| match v {
                    Value::Array(a) => a.first().map(|i| key(&i["id"])).unwrap_or_default(),
                    item => key(&item["id"]),
                });
                (stored, Some(ck))
            }
        };
        let ended = Instant::now();
        in_flight.fetch_sub(1, SeqCst);
        budget.done.fetch_add(1, SeqCst);
        sends.push(Send { member, text, client_key, started, ended, outcome: outcome.map_err(|e| e.to_string()) });
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A new client through nginx: logs in, subscribes to the whole collection, starts its
/// watcher and its sender. Which instance it landed on shows in A's connection count.
async fn join(cluster: &Cluster, n: usize, tag: &str, budget: &Arc<Budget>) -> Member {
    // Round robin puts every other client on A: pairs share a keying, so each instance
    // gets clients of both kinds.
    let keying = if (n / 2) % 2 == 0 { Keying::ClientIds } else { Keying::ClientKey };
    let token = if n % 2 == 0 { cluster.user1().token } else { cluster.user2().token };
    let mut options = ClientOptions {
        reconnect: ReconnectPolicy {
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            max_attempts: None,
            ..ReconnectPolicy::default()
        },
        request_timeout: PATIENCE,
        max_queued: 10_000,
        // Clients are placed by nginx's round robin, one request each: the server's info,
        // read over REST after each login, would be a second request per client and put
        // every socket on the same instance. (The other cluster test reads it.)
        discovery: false,
        ..ClientOptions::default()
    };
    options.chat.client_ids = keying == Keying::ClientIds;
    // A REST request's connection to A may still be closing: wait for a steady count.
    let mut before = cluster.sockets_on(Instance::A);
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let again = cluster.sockets_on(Instance::A);
        if again == before {
            break;
        }
        before = again;
    }
    // The query names the client in nginx's access log (Directus ignores it).
    let (client, events) = Client::connect(&format!("{}?client={n}", cluster.ws_url()), options).await.expect("connect through nginx");
    client.login_with_token(&token).await.expect("login");
    let query = json!({"fields": ["id", "text"], "limit": -1});
    let sub = client.subscribe(SubscribeRequest::new(cluster.collection()).query(query)).await.expect("subscribe");
    let after = cluster.sockets_on(Instance::A);
    assert!(after == before || after == before + 1, "client {n}: A's connections went from {before} to {after} while it joined");
    let watch_state = Arc::new(Mutex::new(Watch::default()));
    let watcher = tokio::spawn(watch(events, sub.uid().to_owned(), watch_state.clone()));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let sender = tokio::spawn(send_all(client.clone(), n, keying, cluster.collection(), tag.to_owned(), budget.clone(), in_flight.clone()));
    let on_a = after == before + 1;
    eprintln!("client {n} ({keying:?}) joined on {}", if on_a { "A" } else { "B" });
    Member { n, client, watch: watch_state, in_flight, on_a, joined_on_a: on_a, kills_on_a: Vec::new(), watcher, sender: Some(sender) }
}

/// Polls `ok` every 5 ms until it holds; panics with `what` after `within`.
async fn until(within: Duration, what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out after {within:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

struct Kill {
    at: SystemTime,
    instant: Instant,
    /// The clients on A when it died.
    on_a: Vec<usize>,
    /// From the kill to the last of them logged in again (through nginx, on B).
    failover: Duration,
    /// From the kill to A answering again.
    restart: Duration,
    in_flight_on_a: usize,
}

fn epoch(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

/// Seconds since the epoch of a Directus date (`2026-11-25T18:10:01.123Z`).
fn iso_seconds(date: &str) -> Option<f64> {
    let (day, time) = date.trim_end_matches('Z').split_once('T')?;
    let d: Vec<i64> = day.split('-').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let t: Vec<f64> = time.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let (y, m) = if d[1] <= 2 { (d[0] - 1, d[1] + 9) } else { (d[0], d[1] - 3) };
    // Days from the civil date (H. Hinnant's algorithm).
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    Some(days as f64 * 86_400.0 + t[0] * 3600.0 + t[1] * 60.0 + t[2])
}

/// The table, id → (text, client_key), through nginx with the admin token.
fn table(cluster: &Cluster, tag: &str) -> BTreeMap<String, (String, Option<String>)> {
    let body = cluster.rest(
        "GET",
        &format!("/items/{}?limit=-1&fields=id,text,client_key&filter[text][_starts_with]={tag}", cluster.collection()),
        None,
    );
    let rows: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("table: {e}: {body}"));
    rows["data"]
        .as_array()
        .unwrap_or_else(|| panic!("table: {body}"))
        .iter()
        .map(|r| (key(&r["id"]), (r["text"].as_str().unwrap_or_default().to_owned(), r["client_key"].as_str().map(str::to_owned))))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_with_five_sigkills_of_instance_a() {
    let started = Instant::now();
    let mut cluster = Cluster::start(ClusterOptions { key_type: Some("uuid"), ..Default::default() });
    let cluster_start = started.elapsed();
    let bus = cluster.listen_bus("websocket.event");
    let tag = format!("failover-{}", std::process::id());
    let budget = Arc::new(Budget { next: AtomicUsize::new(0), allowed: AtomicUsize::new(0), done: AtomicUsize::new(0) });
    let mut members: Vec<Member> = Vec::new();
    for n in 0..FIRST_MEMBERS {
        members.push(join(&cluster, n, &tag, &budget).await);
    }

    let slice = TOTAL / (KILLS + 1);
    let mut kills: Vec<Kill> = Vec::new();
    let chaos_started = Instant::now();
    for k in 0..KILLS {
        if let Some(last) = kills.last() {
            // nginx tries A again after its fail_timeout, with one request, and counts A
            // as up only when that request has ended well: a WebSocket lasts, so a REST
            // request has to be the one (a real site has plenty).
            let back = last.instant + NGINX_FAIL_TIMEOUT + Duration::from_secs(1);
            tokio::time::sleep_until(back.into()).await;
            let a = cluster.instance_addr(Instance::A);
            let mut tries = 0;
            while tokio::task::block_in_place(|| cluster.ping_through_nginx()).last() != Some(&a) {
                tries += 1;
                assert!(tries < 60, "nginx sends nothing to the restarted A");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        until(PATIENCE, "every client logged in", || {
            members.iter().all(|m| m.watch.lock().unwrap().state == Some(ConnectionState::Authenticated))
        })
        .await;
        let mut arrivals = 0;
        while members.iter().filter(|m| m.on_a).count() < ON_A {
            assert!(arrivals < 12, "round {k}: {arrivals} clients joined through nginx and too few landed on A");
            let n = members.len();
            members.push(join(&cluster, n, &tag, &budget).await);
            arrivals += 1;
        }
        // Open the next slice of messages and kill A half way through it.
        budget.allowed.store((k + 1) * slice, SeqCst);
        until(PATIENCE, "half the slice sent", || budget.done.load(SeqCst) >= k * slice + slice / 2).await;
        // Preferably while one of A's clients waits for an answer (not a condition:
        // a kill between two sends tests the reconnect all the same).
        let _ = tokio::time::timeout(
            Duration::from_secs(10),
            until(PATIENCE, "a send in flight on A", || members.iter().any(|m| m.on_a && m.in_flight.load(SeqCst) > 0)),
        )
        .await;
        let in_flight_on_a = members.iter().filter(|m| m.on_a).map(|m| m.in_flight.load(SeqCst)).sum();
        let instant = Instant::now();
        let at = tokio::task::block_in_place(|| cluster.kill_now(Instance::A));
        let on_a: Vec<usize> = members.iter().filter(|m| m.on_a).map(|m| m.n).collect();
        // A's clients lose their connection and log in again through nginx (on B).
        until(PATIENCE, "A's clients to log in again", || {
            members.iter().filter(|m| m.on_a).all(|m| {
                let w = m.watch.lock().unwrap();
                w.drops.iter().any(|d| *d >= instant) && w.logins.iter().any(|l| *l >= instant)
            })
        })
        .await;
        let failover = members
            .iter()
            .filter(|m| m.on_a)
            .filter_map(|m| m.watch.lock().unwrap().logins.iter().find(|l| **l >= instant).map(|l| *l - instant))
            .max()
            .unwrap_or_default();
        for m in members.iter_mut().filter(|m| m.on_a) {
            m.on_a = false;
            m.kills_on_a.push(k);
        }
        tokio::task::block_in_place(|| cluster.restart(Instance::A));
        let restart = instant.elapsed();
        eprintln!(
            "kill {k}: {} clients on A ({on_a:?}), {in_flight_on_a} sends in flight on them, all logged in again after {failover:?}, A back after {restart:?}, {} of {TOTAL} sent",
            on_a.len(),
            budget.done.load(SeqCst)
        );
        kills.push(Kill { at, instant, on_a, failover, restart, in_flight_on_a });
    }
    budget.allowed.store(TOTAL, SeqCst);

    let mut sends: Vec<Send> = Vec::new();
    for m in &mut members {
        let records = tokio::time::timeout(PATIENCE, m.sender.take().unwrap()).await.expect("sends finish").expect("sender");
        sends.extend(records);
    }
    let chaos_time = chaos_started.elapsed();

    // What each client should show: every row, except a create that A stored in the
    // instant before it died and never announced on the Redis bus (Directus publishes
    // after the commit): only the clients that subscribed again after that kill (A's
    // clients, and those that joined later) can know it. Which kill cut each row's send:
    let rows = table(&cluster, &tag);
    let cut_by: HashMap<&String, usize> = rows
        .iter()
        .filter_map(|(id, (text, _))| {
            let send = sends.iter().find(|s| s.text == *text)?;
            let k = kills
                .iter()
                .position(|kill| kill.on_a.contains(&send.member) && send.started < kill.instant && send.ended > kill.instant)?;
            Some((id, k))
        })
        .collect();
    let announced = || -> HashSet<String> {
        bus.messages()
            .iter()
            .filter_map(|(_, payload)| serde_json::from_slice::<Value>(payload).ok())
            .filter(|m| m["action"] == "create")
            .map(|m| key(&m["key"]))
            .collect()
    };
    let expected = |m: &Member, announced: &HashSet<String>| -> BTreeMap<String, String> {
        let logins = m.watch.lock().unwrap().logins.clone();
        rows.iter()
            .filter(|(id, _)| {
                announced.contains(*id)
                    || match cut_by.get(id) {
                        Some(&k) => logins.iter().any(|l| *l > kills[k].instant),
                        None => true,
                    }
            })
            .map(|(id, (text, _))| (id.clone(), text.clone()))
            .collect()
    };
    // The last events may still be on their way.
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_secs(60) {
        let now_announced = announced();
        if members.iter().all(|m| {
            let want = expected(m, &now_announced);
            m.watch.lock().unwrap().view.items == want
        }) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for m in &members {
        m.watch.lock().unwrap().closing = true;
    }
    for m in &members {
        m.client.close().await.expect("close");
    }
    for m in &mut members {
        tokio::time::timeout(Duration::from_secs(30), &mut m.watcher).await.expect("watcher ends").expect("watcher");
    }

    // ---- every send's outcome matches the table
    let by_text: BTreeMap<&str, (&String, &Option<String>)> = rows.iter().map(|(id, (text, ck))| (text.as_str(), (id, ck))).collect();
    assert_eq!(by_text.len(), rows.len(), "a text is in the table twice");
    let mut confirmed = 0;
    let mut ambiguous_applied = 0;
    let mut ambiguous_not_applied = 0;
    let mut mismatched = Vec::new();
    let mut other_errors = Vec::new();
    for s in &sends {
        match &s.outcome {
            Ok(id) => {
                confirmed += 1;
                match rows.get(id) {
                    Some((text, ck)) if *text == s.text && (s.client_key.is_none() || *ck == s.client_key) => {}
                    row => mismatched.push(format!("{:?} confirmed as {id}, table has {row:?}", s.text)),
                }
            }
            Err(e) if e.contains("may or may not") => {
                if by_text.contains_key(s.text.as_str()) {
                    ambiguous_applied += 1
                } else {
                    ambiguous_not_applied += 1
                }
            }
            Err(e) => other_errors.push(format!("{:?}: {e}", s.text)),
        }
    }
    let sent: HashSet<&str> = sends.iter().map(|s| s.text.as_str()).collect();
    let unknown_rows: Vec<_> = rows.values().filter(|(t, _)| !sent.contains(t.as_str())).collect();
    assert_eq!(sends.len(), TOTAL, "every message was sent once");
    assert!(mismatched.is_empty(), "outcomes that do not match the table: {mismatched:?}");
    assert!(other_errors.is_empty(), "sends that failed: {other_errors:?}");
    assert!(unknown_rows.is_empty(), "rows nobody sent: {unknown_rows:?}");
    assert_eq!(
        (ambiguous_applied, ambiguous_not_applied),
        (0, 0),
        "keyed creates are never ambiguous: each is resent after a lost connection"
    );
    assert_eq!(confirmed, TOTAL);
    assert_eq!(rows.len(), TOTAL, "each message stored once");

    // ---- every message reached every subscriber, once
    let announced = announced();
    let unannounced: Vec<&String> = rows.keys().filter(|id| !announced.contains(*id)).collect();
    for id in &unannounced {
        assert!(cut_by.contains_key(id), "{id} ({:?}) was never announced on the bus, and no kill cut its send", rows[*id].0);
    }
    let mut lost = Vec::new();
    let mut doubled = Vec::new();
    let mut extra = Vec::new();
    let mut unannounced_missing = 0;
    for m in &members {
        let want = expected(m, &announced);
        let w = m.watch.lock().unwrap();
        assert!(w.failure.is_none(), "client {}: {:?}", m.n, w.failure);
        if !w.view.duplicates.is_empty() {
            doubled.push((m.n, w.view.duplicates.clone()));
        }
        for (id, (text, _)) in &rows {
            match (w.view.items.get(id), want.get(id)) {
                (Some(t), Some(_)) if t == text => {}
                (Some(t), Some(_)) => lost.push(format!("client {}: {id} shown as {t:?}, stored as {text:?}", m.n)),
                (None, Some(_)) => lost.push(format!("client {}: {id} ({text:?}) never shown", m.n)),
                (None, None) => unannounced_missing += 1,
                // Shown, though the bus never carried it and the client had not
                // subscribed since: the listener must have missed it.
                (Some(_), None) => panic!("client {} shows {id}, which the bus listener never saw announced", m.n),
            }
        }
        extra.extend(w.view.items.keys().filter(|id| !rows.contains_key(*id)).map(|id| (m.n, id.clone())));
    }
    assert!(doubled.is_empty(), "shown twice: {doubled:?}");
    assert!(extra.is_empty(), "shown but not stored: {extra:?}");
    assert!(lost.is_empty(), "{} lost: {:?}", lost.len(), &lost[..lost.len().min(20)]);
    for id in &unannounced {
        let k = cut_by[id];
        let item: Value =
            serde_json::from_str(&cluster.rest("GET", &format!("/items/{}/{id}?fields=date_created", cluster.collection()), None)).unwrap();
        let stored = item["data"]["date_created"].as_str().and_then(iso_seconds);
        eprintln!(
            "create {id} ({:?}) was stored by A {} before kill {k} and never announced on the bus: \
             shown by the clients that subscribed after the kill, not by the {} that had not",
            rows[*id].0,
            stored.map(|t| format!("{:.0} ms", (epoch(kills[k].at) - t) * 1e3)).unwrap_or_else(|| "(date unknown)".into()),
            members.iter().filter(|m| !m.watch.lock().unwrap().logins.iter().any(|l| *l > kills[k].instant)).count()
        );
    }

    // ---- A's clients, and only they, lost their connection at each kill
    let mut reconnects = 0;
    let mut failed_attempts = 0;
    for m in &members {
        let w = m.watch.lock().unwrap();
        failed_attempts += w.failed_attempts;
        assert_eq!(
            w.drops.len(),
            m.kills_on_a.len(),
            "client {} dropped {} times, was on A at kills {:?}",
            m.n,
            w.drops.len(),
            m.kills_on_a
        );
        assert_eq!(w.connected, 1 + w.drops.len(), "client {}: connections", m.n);
        reconnects += w.drops.len();
    }
    for (k, kill) in kills.iter().enumerate() {
        assert!(kill.on_a.len() >= ON_A, "kill {k}: only {:?} on A", kill.on_a);
    }

    // ---- nginx's access log: where each connection went
    let (a, b) = (cluster.instance_addr(Instance::A), cluster.instance_addr(Instance::B));
    let conns = |n: usize| -> Vec<AccessLine> {
        let mut v: Vec<AccessLine> =
            cluster.access_log().into_iter().filter(|l| l.status == 101 && l.uri.ends_with(&format!("client={n}"))).collect();
        v.sort_by(|x, y| x.started().total_cmp(&y.started()));
        v
    };
    // nginx logs a connection when it ends: the closes above are written within moments.
    until(Duration::from_secs(30), "nginx to log every connection", || {
        members.iter().all(|m| conns(m.n).len() == m.watch.lock().unwrap().connected)
    })
    .await;
    let mut moved = 0;
    for m in &members {
        let lines = conns(m.n);
        assert_eq!(lines[0].served_by() == Some(a.as_str()), m.joined_on_a, "client {}'s first connection: {:?}", m.n, lines[0]);
        for &k in &m.kills_on_a {
            let at = epoch(kills[k].at);
            let i = lines
                .iter()
                .position(|l| l.served_by() == Some(a.as_str()) && l.ended >= at - 0.5 && l.ended <= at + 30.0)
                .unwrap_or_else(|| panic!("client {}: no connection on A ended at kill {k}: {lines:?}", m.n));
            let next = lines.get(i + 1).unwrap_or_else(|| panic!("client {}: no connection after kill {k}", m.n));
            assert_eq!(next.served_by(), Some(b.as_str()), "client {} after kill {k}: {next:?}", m.n);
            moved += 1;
        }
    }

    let cut: Vec<usize> = kills
        .iter()
        .map(|kill| sends.iter().filter(|s| kill.on_a.contains(&s.member) && s.started < kill.instant && s.ended > kill.instant).count())
        .collect();
    let total_cut: usize = cut.iter().sum();
    // Where each cut send was stored: by A before it died (its answer was lost: the
    // resend met the key and read the row back), or by the resend on B.
    let (mut stored_by_a, mut stored_by_resend) = (Vec::new(), 0);
    for (k, kill) in kills.iter().enumerate() {
        for s in sends.iter().filter(|s| kill.on_a.contains(&s.member) && s.started < kill.instant && s.ended > kill.instant) {
            let Ok(id) = &s.outcome else { continue };
            let item: Value =
                serde_json::from_str(&cluster.rest("GET", &format!("/items/{}/{id}?fields=date_created", cluster.collection()), None))
                    .unwrap();
            let stored = item["data"]["date_created"].as_str().and_then(iso_seconds).expect("date_created");
            let kind = if s.client_key.is_some() { "client_key" } else { "client id" };
            // The signal lands a few ms after `at`; a resend comes only after a new
            // connection and login (hundreds of ms), so the two cannot be confused.
            if stored < epoch(kill.at) + 0.05 {
                stored_by_a.push(format!("kill {k}: {kind}, {:.0} ms before", (epoch(kill.at) - stored) * 1e3));
            } else {
                stored_by_resend += 1;
            }
        }
    }
    eprintln!(
        "failover: {TOTAL} messages by {} clients ({} joined on A), {KILLS} SIGKILLs of A, {reconnects} reconnects ({moved} to B per nginx's log, {failed_attempts} failed attempts); \
         {confirmed} confirmed, 0 mismatched, 0 lost by the clients, 0 doubled; sends cut by a kill: {cut:?}, of which stored by A before it died and read back after the resend: {stored_by_a:?}, stored by the resend: {stored_by_resend}; \
         failover (kill to A's clients logged in on B): {:?}; A restarted in {:?}; sends in flight on A at the kills: {:?}; \
         creates stored by A but never announced by it: {} (so missing, as Directus sent them, from {unannounced_missing} views of clients that had not subscribed since); \
         cluster start {cluster_start:?}, chaos {chaos_time:?}",
        members.len(),
        members.iter().filter(|m| m.joined_on_a).count(),
        kills.iter().map(|k| k.failover).collect::<Vec<_>>(),
        kills.iter().map(|k| k.restart).collect::<Vec<_>>(),
        kills.iter().map(|k| k.in_flight_on_a).collect::<Vec<_>>(),
        unannounced.len(),
    );
    assert!(total_cut > 0, "no send was cut by a kill: the test did not test resending");
    // Five kills and restarts later, stopping still leaves nothing: no instance started
    // before a restart, no nginx worker, no PostgreSQL helper, no listener.
    let left = cluster.stop_and_leftovers();
    assert!(left.is_empty(), "the stopped cluster left behind: {left:#?}");
}

#[test]
fn directus_dates_in_seconds() {
    let t = iso_seconds("2026-11-25T18:10:01.123Z").unwrap();
    assert!((t - 1_795_630_201.123).abs() < 1e-3, "{t}");
    assert_eq!(iso_seconds("1970-01-01T00:00:00.000Z"), Some(0.0));
    assert_eq!(iso_seconds("2000-03-01T00:00:00Z"), Some(951_868_800.0));
}
