//! The outbox beside a session: the file and the machine behind one lock, the app's
//! calls (which write the file before they return), and one task that hands entries to
//! the session one at a time and applies their outcomes.
//!
//! File writes never run on the runtime's worker threads: the task does them through
//! `spawn_blocking`, the app's calls on the app's thread. The session only ever sees
//! ordinary keyed creates; their replies come back to the task as messages.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::{Map, Value};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::machine::{Machine, Step};
use super::store::Store;
use super::OutboxEntry;
use crate::error::{Error, Result};
use crate::event::Event;
use crate::protocol::{ItemAction, ItemsRequest};
use crate::session::{Command, Ids, Outlet, Reply, WeakSessionHandle};

/// What the task hears.
enum Input {
    /// Something was queued or retried.
    Wake,
    /// The outcome of an entry's attempt.
    Attempt { local_id: u64, result: Result<Value> },
    /// The answer to the look-up of an entry's key.
    Verify { local_id: u64, result: Result<Value> },
}

struct Inner {
    /// `None` once the client ended: the file is closed and its lock released.
    store: Option<Store>,
    machine: Machine,
}

/// The shared part of an outbox.
pub(crate) struct Core {
    inner: Mutex<Inner>,
    outlet: Arc<Outlet>,
    session: WeakSessionHandle,
    ids: Arc<Ids>,
    inputs: mpsc::UnboundedSender<Input>,
    released: watch::Sender<bool>,
    path: PathBuf,
    /// Whether the missing-key warning was given.
    warned: std::sync::atomic::AtomicBool,
}

impl Core {
    /// Starts the outbox of a client on an opened file with its entries: their local
    /// echoes are given at once, then the task resumes sending them in order.
    pub(crate) fn start(
        store: Store,
        entries: Vec<OutboxEntry>,
        outlet: Arc<Outlet>,
        session: WeakSessionHandle,
        ids: Arc<Ids>,
    ) -> Arc<Core> {
        let (inputs, rx) = mpsc::unbounded_channel();
        let path = store.path().to_owned();
        for entry in &entries {
            outlet.give(Event::Outbox(Box::new(entry.clone())));
        }
        let core = Arc::new(Core {
            inner: Mutex::new(Inner { store: Some(store), machine: Machine::resume(entries) }),
            outlet,
            session,
            ids,
            inputs,
            released: watch::Sender::new(false),
            path,
            warned: Default::default(),
        });
        crate::runtime::handle().spawn(run(core.clone(), rx));
        core
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    // ---- the app's calls (on the app's thread; each writes the file before returning)

    /// Queues a create of one item, with the key it carries in `key_field` or a new one.
    pub(crate) fn enqueue(&self, request: ItemsRequest) -> Result<OutboxEntry> {
        let (key, own_key, data) = keyed(&request)?;
        let mut inner = self.inner.lock();
        let store = self.open(&mut inner)?;
        let entry = store.insert(request.collection_name(), request.key_field_name(), &key, own_key, &data)?;
        inner.machine.add(entry.clone());
        // The local echo, in order with the session's events.
        self.outlet.give(Event::Outbox(Box::new(entry.clone())));
        drop(inner);
        let _ = self.inputs.send(Input::Wake);
        Ok(entry)
    }

    fn open<'a>(&self, inner: &'a mut Inner) -> Result<&'a mut Store> {
        match inner.store.as_mut() {
            Some(store) if !inner.machine.is_stopped() => Ok(store),
            _ => Err(Error::Closed),
        }
    }

    pub(crate) fn list(&self) -> Vec<OutboxEntry> {
        self.inner.lock().machine.list()
    }

    pub(crate) fn cancel(&self, local_id: u64) -> Result<OutboxEntry> {
        let mut inner = self.inner.lock();
        inner.machine.check_changeable(local_id)?;
        self.open(&mut inner)?.remove(local_id)?;
        let entry = inner.machine.cancel(local_id)?;
        self.outlet.give(Event::Outbox(Box::new(entry.clone())));
        Ok(entry)
    }

    pub(crate) fn edit(&self, local_id: u64, patch: &Value) -> Result<OutboxEntry> {
        let mut inner = self.inner.lock();
        let data = inner.machine.edited_data(local_id, patch)?;
        self.open(&mut inner)?.set_data(local_id, &data)?;
        let entry = inner.machine.set_data(local_id, data).ok_or_else(|| Error::InvalidArgument(format!("no message {local_id}")))?;
        self.outlet.give(Event::Outbox(Box::new(entry.clone())));
        Ok(entry)
    }

    pub(crate) fn retry(&self, local_id: u64) -> Result<OutboxEntry> {
        let mut inner = self.inner.lock();
        inner.machine.check_retry(local_id)?;
        self.open(&mut inner)?.requeue(local_id)?;
        let entry = inner.machine.retry(local_id).ok_or_else(|| Error::InvalidArgument(format!("no message {local_id}")))?;
        self.outlet.give(Event::Outbox(Box::new(entry.clone())));
        drop(inner);
        let _ = self.inputs.send(Input::Wake);
        Ok(entry)
    }

    /// Resolves once the file is closed (the client ended).
    pub(crate) async fn released(&self) {
        let mut rx = self.released.subscribe();
        let _ = rx.wait_for(|released| *released).await;
    }

    // ---- the task's work (on blocking threads)

    /// Hands the next entry to the session if it may go; returns when to look again.
    fn pump(&self) -> Option<Instant> {
        let mut inner = self.inner.lock();
        let now = Instant::now();
        if let Some(step) = inner.machine.next(now) {
            self.perform(&mut inner, step, now);
        }
        inner.machine.wake_at()
    }

    fn outcome(&self, input: Input) {
        let mut inner = self.inner.lock();
        let now = Instant::now();
        let step = match input {
            Input::Attempt { local_id, result } => inner.machine.outcome(local_id, result, now),
            Input::Verify { local_id, result } => inner.machine.verified(local_id, result, now),
            Input::Wake => None,
        };
        if let Some(step) = step {
            self.perform(&mut inner, step, now);
        }
    }

    fn perform(&self, inner: &mut Inner, step: Step, now: Instant) {
        match step {
            Step::Attempt { entry, request } => {
                let local_id = entry.local_id;
                // Counted durably before it goes: after a crash, the next attempt knows
                // the server may have it.
                let counted = inner.store.as_mut().ok_or(Error::Closed).and_then(|s| s.attempt(local_id, !entry.own_key));
                if let Err(e) = counted {
                    self.report(e);
                    inner.machine.attempt_not_recorded(local_id, now);
                    return;
                }
                self.outlet.give(Event::Outbox(Box::new(entry)));
                self.submit(request, move |result| Input::Attempt { local_id, result });
            }
            Step::Verify { local_id, request } => self.submit(request, move |result| Input::Verify { local_id, result }),
            Step::Sent(entry) => {
                // Had this failed, the next client would send it again and meet its key.
                if let Some(Err(e)) = inner.store.as_mut().map(|s| s.remove_sent(entry.local_id)) {
                    self.report(e);
                }
                self.check_key_kept(&entry);
                self.outlet.give(Event::Outbox(Box::new(entry)));
            }
            Step::Failed(entry) => {
                if let super::OutboxState::Failed { error, retryable } = &entry.state {
                    if let Some(Err(e)) = inner.store.as_mut().map(|s| s.fail(entry.local_id, error, *retryable)) {
                        self.report(e);
                    }
                }
                self.outlet.give(Event::Outbox(Box::new(entry)));
            }
        }
    }

    /// Directus drops fields a collection does not have without a word: a stored item
    /// without its key means resends cannot meet their first attempt. Said once.
    fn check_key_kept(&self, entry: &OutboxEntry) {
        let item = entry.item();
        if !item.is_object() || item.get(&entry.key_field).and_then(Value::as_str) == Some(entry.key.as_str()) {
            return;
        }
        if self.warned.swap(true, std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let why = format!(
            "the server stored outbox entry {} without its key in `{}`: the collection `{}` lacks that unique field (or the user may not \
             read it), so a message resent after a lost answer may be stored twice; add it (the schema kit's `client_key`)",
            entry.local_id, entry.key_field, entry.collection
        );
        log::warn!("{why}");
        self.outlet.give(Event::Error { error: Error::InvalidArgument(why) });
    }

    fn report(&self, error: Error) {
        log::error!("outbox {}: {error}", self.path.display());
        self.outlet.give(Event::Error { error });
    }

    /// Hands a request to the session; its outcome comes back to the task. A session
    /// that has ended drops the reply, which reports `Closed`.
    fn submit(&self, request: ItemsRequest, input: impl FnOnce(Result<Value>) -> Input + Send + 'static) {
        let inputs = self.inputs.clone();
        let reply = Reply::new(move |result| {
            let _ = inputs.send(input(result));
        });
        let id = self.ids.next();
        // No caller deadline: the session times out only an attempt on the wire.
        let _ = self.session.try_send(Command::Items { id, request, reply });
    }

    /// The client ended: the file closes (releasing its lock), nothing more goes out.
    fn release(&self) {
        let mut inner = self.inner.lock();
        inner.machine.stop();
        inner.store = None;
        drop(inner);
        self.released.send_replace(true);
    }
}

/// The key and data of a create the outbox can take: one item, whose key field holds
/// a text key or nothing (then a new uuid goes there, and the key is the outbox's own).
fn keyed(request: &ItemsRequest) -> Result<(String, bool, Value)> {
    request.validate()?;
    if request.action_kind() != ItemAction::Create {
        return Err(Error::InvalidArgument("the outbox takes creates only".into()));
    }
    let Some(Value::Object(fields)) = request.data_value() else {
        return Err(Error::InvalidArgument("an outbox create holds one item (a JSON object)".into()));
    };
    let mut fields: Map<String, Value> = fields.clone();
    let field = request.key_field_name();
    let (key, own) = match fields.get(field) {
        None | Some(Value::Null) => {
            let key = uuid::Uuid::new_v4().to_string();
            fields.insert(field.to_owned(), Value::String(key.clone()));
            (key, true)
        }
        Some(Value::String(k)) if !k.is_empty() => (k.clone(), false),
        Some(_) => return Err(Error::InvalidArgument(format!("the key field `{field}` must hold a text key (or nothing)"))),
    };
    Ok((key, own, Value::Object(fields)))
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(out) => Some(out),
        Err(e) => {
            log::error!("outbox task: {e}");
            None
        }
    }
}

/// The task: sends, applies outcomes, sleeps through retry delays, and ends with the
/// session, closing the file.
async fn run(core: Arc<Core>, mut inputs: mpsc::UnboundedReceiver<Input>) {
    let far = || Instant::now() + Duration::from_secs(86_400 * 365);
    loop {
        let c = core.clone();
        let wake = blocking(move || c.pump()).await.flatten();
        tokio::select! {
            biased;
            input = inputs.recv() => match input {
                Some(input) => {
                    let c = core.clone();
                    blocking(move || c.outcome(input)).await;
                }
                None => break,
            },
            _ = tokio::time::sleep_until(wake.unwrap_or_else(far)) => {}
            _ = core.outlet.closed() => {
                // The session gave every outcome before its final event: take them.
                while let Ok(input) = inputs.try_recv() {
                    let c = core.clone();
                    blocking(move || c.outcome(input)).await;
                }
                break;
            }
        }
    }
    let c = core.clone();
    if blocking(move || c.release()).await.is_none() {
        core.release();
    }
}
