//! Carries out the presence machine's actions: requests and subscriptions to the
//! session, events to the user, completions to waiting calls; and feeds it the time
//! (a tick every 250 ms) and what comes back.
//!
//! Calls run the machine on the caller's thread; answers and subscription events come
//! through a channel to one task, because they arrive where no lock may be taken (the
//! chat view runs under the outlet's lock). The machine's lock is held while actions
//! are carried out, which keeps the events in order; that is safe because carrying
//! them out only queues (session commands, the outlet's queue, oneshot senders).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::mpsc;

use super::machine::{Action, Machine, Token};
use crate::client::Subscription;
use crate::error::{Error, Result};
use crate::event::Event;
use crate::protocol::SubscriptionKind;
use crate::session::{Command, Ids, Outlet, Reply, WeakSessionHandle};

/// What comes back to the machine.
pub(crate) enum Input {
    /// An event of one of its subscriptions.
    Event { id: u64, kind: SubscriptionKind, data: Value },
    /// One of its subscriptions was refused.
    Refused { id: u64, error: Error },
    /// The answer of one of its requests.
    Answer { token: Token, result: Result<Value> },
    /// Logged in on a new connection.
    Reconnected,
    /// The session ended.
    Closed,
}

type Completion = Box<dyn FnOnce(Result<Value>) + Send>;

/// The presence side of one client.
pub(crate) struct Hub {
    machine: Mutex<Machine>,
    session: WeakSessionHandle,
    /// Weak: the outlet's view holds the hub.
    outlet: Weak<Outlet>,
    ids: Arc<Ids>,
    tx: mpsc::UnboundedSender<Input>,
    completions: Mutex<HashMap<u64, Completion>>,
    /// uids of the machine's subscriptions, whose events the chat view hands here.
    uids: Mutex<HashSet<String>>,
}

/// Local wall-clock time in ms: the machine compares it with the server's dates.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

const TICK: Duration = Duration::from_millis(250);

impl Hub {
    /// Starts the hub and its task.
    pub(crate) fn start(machine: Machine, session: WeakSessionHandle, outlet: &Arc<Outlet>, ids: Arc<Ids>) -> Arc<Hub> {
        let (tx, rx) = mpsc::unbounded_channel();
        let hub = Arc::new(Hub {
            machine: Mutex::new(machine),
            session,
            outlet: Arc::downgrade(outlet),
            ids,
            tx,
            completions: Mutex::new(HashMap::new()),
            uids: Mutex::new(HashSet::new()),
        });
        crate::runtime::handle().spawn(run(hub.clone(), rx));
        hub
    }

    /// Runs `f` on the machine now and carries out what it decided.
    pub(crate) fn apply<T>(&self, f: impl FnOnce(&mut Machine, i64) -> T) -> T {
        let mut m = self.machine.lock();
        let value = f(&mut m, now_ms());
        let actions = m.take();
        self.perform(actions);
        value
    }

    /// Reads the machine.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Machine) -> T) -> T {
        f(&self.machine.lock())
    }

    /// A new waiter whose completion runs `done`.
    pub(crate) fn waiter(&self, done: impl FnOnce(Result<Value>) + Send + 'static) -> u64 {
        let id = self.ids.next();
        self.completions.lock().insert(id, Box::new(done));
        id
    }

    /// Drops a waiter whose call failed before it started.
    pub(crate) fn forget(&self, waiter: u64) {
        self.completions.lock().remove(&waiter);
    }

    /// Hands something to the task (from the chat view: only queues).
    pub(crate) fn input(&self, input: Input) {
        let _ = self.tx.send(input);
    }

    /// Whether a subscription uid is the machine's (its events are not the user's).
    pub(crate) fn owns_uid(&self, uid: &str) -> bool {
        self.uids.lock().contains(uid)
    }

    fn perform(&self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Request { token, request } => {
                    let tx = self.tx.clone();
                    let reply = Reply::new(move |result| {
                        let _ = tx.send(Input::Answer { token, result });
                    });
                    self.session.send(Command::Items { id: self.ids.next(), request, reply });
                }
                Action::Subscribe { id, request } => {
                    self.uids.lock().insert(Subscription::from_id(id).uid().to_owned());
                    let tx = self.tx.clone();
                    let reply = Reply::new(move |result| {
                        if let Err(error) = result {
                            let _ = tx.send(Input::Refused { id, error });
                        }
                    });
                    self.session.send(Command::Subscribe { id, request, reply });
                }
                Action::Unsubscribe { id } => self.session.send(Command::Unsubscribe { id, reply: Reply::ignore() }),
                Action::Emit(event) => {
                    if let Some(o) = self.outlet.upgrade() {
                        o.give(Event::Presence(event));
                    }
                }
                Action::Error(error) => {
                    log::warn!("presence: {error}");
                    if let Some(o) = self.outlet.upgrade() {
                        o.give(Event::Error { error });
                    }
                }
                Action::Done { waiter, result } => {
                    let done = self.completions.lock().remove(&waiter);
                    if let Some(done) = done {
                        done(result);
                    }
                }
            }
        }
    }

    fn closed(&self) {
        let waiting: Vec<Completion> = self.completions.lock().drain().map(|(_, c)| c).collect();
        for done in waiting {
            done(Err(Error::Closed));
        }
    }
}

async fn run(hub: Arc<Hub>, mut rx: mpsc::UnboundedReceiver<Input>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            input = rx.recv() => match input {
                None | Some(Input::Closed) => break,
                Some(Input::Event { id, kind, data }) => hub.apply(|m, now| m.event(id, kind, &data, now)),
                Some(Input::Refused { id, error }) => hub.apply(|m, _| m.refused(id, error)),
                Some(Input::Answer { token, result }) => hub.apply(|m, now| m.answer(token, result, now)),
                Some(Input::Reconnected) => hub.apply(|m, now| m.reconnected(now)),
            },
            _ = tick.tick() => {
                if hub.outlet.strong_count() == 0 {
                    break;
                }
                hub.apply(|m, now| m.tick(now));
            }
        }
    }
    hub.closed();
}
