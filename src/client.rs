//! The Rust API: a [`Client`] and the [`Events`] it reports.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::chat::{ChatConfig, ChatMessage};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::options::ClientOptions;
use crate::protocol::{AuthCredentials, ClientMessage, EventFilter, ItemAction};
use crate::secret::Secret;
use crate::session::{self, retry_for, Batch, Command, EventSink, Flow, Reply, SessionHandle, SubscriptionSpec};
use crate::transport::Endpoint;

/// What to subscribe to: a collection, optionally one item, one kind of event and a query.
#[derive(Clone, Debug, PartialEq)]
pub struct SubscribeRequest {
    spec: SubscriptionSpec,
}

impl SubscribeRequest {
    /// Every event of `collection`.
    pub fn new(collection: impl Into<String>) -> Self {
        SubscribeRequest {
            spec: SubscriptionSpec { collection: collection.into(), event: None, item: None, query: None, key_field: "id".into() },
        }
    }

    /// Only events of this kind (the server then sends an `init` without data).
    pub fn event(mut self, event: EventFilter) -> Self {
        self.spec.event = Some(event);
        self
    }

    /// Only the item with this primary key.
    pub fn item(mut self, id: impl Into<Value>) -> Self {
        self.spec.item = Some(id.into());
        self
    }

    /// A Directus query (`fields`, `filter`, `sort`, `limit`, ...).
    pub fn query(mut self, query: Value) -> Self {
        self.spec.query = Some(query);
        self
    }

    /// The collection's primary key field (default `id`). The session tracks items by
    /// it to deliver what was missed across a join or a reconnect exactly once.
    pub fn key_field(mut self, field: impl Into<String>) -> Self {
        self.spec.key_field = field.into();
        self
    }
}

/// A live subscription. Its uid is on every event it produces.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Subscription {
    id: u64,
    uid: String,
}

const SUBSCRIPTION_UID_PREFIX: &str = "s-";

impl Subscription {
    fn from_id(id: u64) -> Self {
        Subscription { id, uid: format!("{SUBSCRIPTION_UID_PREFIX}{id}") }
    }

    /// The uid the server tags this subscription's events with.
    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// The subscription's number, unique within its client (the C API's handle).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The number of the subscription with this uid, for uids this library made.
    pub fn id_of_uid(uid: &str) -> Option<u64> {
        uid.strip_prefix(SUBSCRIPTION_UID_PREFIX)?.parse().ok()
    }
}

/// An `items` request: one of the four actions on a collection.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemsRequest {
    collection: String,
    action: ItemAction,
    data: Option<Value>,
    id: Option<Value>,
    ids: Option<Vec<Value>>,
    query: Option<Value>,
    key_field: String,
}

impl ItemsRequest {
    /// A request of any action; add `data`, `id`, `ids`, `query` as it needs.
    pub fn new(collection: impl Into<String>, action: ItemAction) -> Self {
        ItemsRequest { collection: collection.into(), action, data: None, id: None, ids: None, query: None, key_field: "id".into() }
    }

    /// Create one item (`data` an object) or several (`data` an array).
    pub fn create(collection: impl Into<String>, data: Value) -> Self {
        Self::new(collection, ItemAction::Create).data(data)
    }

    /// Read items; narrow with `id`, `ids` or `query`.
    pub fn read(collection: impl Into<String>) -> Self {
        Self::new(collection, ItemAction::Read)
    }

    /// Update with `data`; choose the items with `id`, `ids` or `query`.
    pub fn update(collection: impl Into<String>, data: Value) -> Self {
        Self::new(collection, ItemAction::Update).data(data)
    }

    /// Delete; choose the items with `id`, `ids` or `query` (the server requires one).
    pub fn delete(collection: impl Into<String>) -> Self {
        Self::new(collection, ItemAction::Delete)
    }

    /// The payload of a create or update.
    pub fn data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    /// One primary key.
    pub fn id(mut self, id: impl Into<Value>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Several primary keys.
    pub fn ids(mut self, ids: Vec<Value>) -> Self {
        self.ids = Some(ids);
        self
    }

    /// A Directus query.
    pub fn query(mut self, query: Value) -> Self {
        self.query = Some(query);
        self
    }

    /// The collection's primary key field (default `id`). A create whose items carry
    /// their key can be retried safely after a lost connection (see the README's
    /// reliability section).
    pub fn key_field(mut self, field: impl Into<String>) -> Self {
        self.key_field = field.into();
        self
    }

    /// Builds a request from a JSON payload `{data?, id?, ids?, query?}`, as the C and
    /// Python surfaces pass it.
    pub fn from_payload(collection: &str, action: ItemAction, payload: Value) -> Result<Self> {
        let mut req = Self::new(collection, action);
        match payload {
            Value::Null => {}
            Value::Object(mut m) => {
                req.data = m.remove("data");
                req.id = m.remove("id");
                req.query = m.remove("query");
                req.ids = match m.remove("ids") {
                    None => None,
                    Some(Value::Array(a)) => Some(a),
                    Some(_) => return Err(Error::InvalidArgument("`ids` must be an array".into())),
                };
                if let Some(k) = m.keys().next() {
                    return Err(Error::InvalidArgument(format!("unknown payload key `{k}` (use data, id, ids, query)")));
                }
            }
            _ => return Err(Error::InvalidArgument("the payload must be a JSON object".into())),
        }
        Ok(req)
    }
}

/// The stream of a client's events, in order. It ends after the `Closed` state event.
#[derive(Debug)]
pub struct Events {
    rx: mpsc::UnboundedReceiver<Event>,
    ended: bool,
    flow: Arc<Flow>,
}

impl Events {
    /// Hands `event` over unless it belongs to an ended subscription (`Err(())`: skip it).
    fn take(&mut self, event: Option<Event>) -> std::result::Result<Option<Event>, ()> {
        match event {
            Some(e) if !self.flow.take(&e) => Err(()),
            Some(e) => {
                self.ended = e.is_closed();
                Ok(Some(e))
            }
            None => {
                self.ended = true;
                Ok(None)
            }
        }
    }

    /// The next event; `None` once the `Closed` event has been returned.
    pub async fn next(&mut self) -> Option<Event> {
        while !self.ended {
            let e = self.rx.recv().await;
            if let Ok(e) = self.take(e) {
                return e;
            }
        }
        None
    }

    /// The next event if one is ready, without waiting.
    pub fn try_next(&mut self) -> Option<Event> {
        while !self.ended {
            let e = self.rx.try_recv().ok()?;
            if let Ok(e) = self.take(Some(e)) {
                return e;
            }
        }
        None
    }

    /// Blocks the calling thread for the next event, up to `timeout` (`None`: no
    /// limit). `Ok(None)` means the stream ended. Not for async code: see
    /// [`crate::blocking::wait`].
    pub fn blocking_next(&mut self, timeout: Option<std::time::Duration>) -> Result<Option<Event>> {
        crate::blocking::wait(self.next(), timeout)
    }

    /// Whether the `Closed` event has been returned.
    pub fn is_ended(&self) -> bool {
        self.ended
    }
}

/// A connection to a Directus server's realtime endpoint.
///
/// Cheap to clone; all clones share one session. Every call may be made from any
/// thread and any async runtime. The session ends with [`Client::close`], a fatal
/// connection error, or when the last clone is dropped.
#[derive(Clone)]
pub struct Client {
    session: SessionHandle,
    options: Arc<ClientOptions>,
    sink: EventSink,
    next_id: Arc<AtomicU64>,
    flow: Arc<Flow>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("closed", &self.session.is_closed()).finish_non_exhaustive()
    }
}

async fn outcome(rx: oneshot::Receiver<Result<Value>>) -> Result<Value> {
    rx.await.unwrap_or(Err(Error::Closed))
}

impl Client {
    /// Opens the WebSocket at `url` (`ws://`, `wss://`, or the server's `http(s)://`
    /// base URL) and returns the client with its event stream.
    pub async fn connect(url: &str, options: ClientOptions) -> Result<(Client, Events)> {
        let (tx, rx) = mpsc::unbounded_channel();
        let sink: EventSink = Arc::new(move |event| {
            let _ = tx.send(event);
        });
        let (client, ready, flow) = Client::start(url, options, sink)?;
        ready.await.unwrap_or(Err(Error::Closed))?;
        Ok((client, Events { rx, ended: false, flow }))
    }

    /// Starts a session that reports its events to `sink` (called on a runtime thread;
    /// it must not block). The receiver says when the socket is open; whoever takes the
    /// events tells the returned [`Flow`] (`taken`) for each.
    pub(crate) fn start(url: &str, options: ClientOptions, sink: EventSink) -> Result<(Client, oneshot::Receiver<Result<()>>, Arc<Flow>)> {
        let endpoint = Endpoint::parse(url)?;
        let options = Arc::new(options);
        let flow = Flow::new(options.max_buffered_events);
        let batch = Batch::new(sink);
        let (counted, held) = (flow.clone(), batch.clone());
        let sink: EventSink = Arc::new(move |event| {
            counted.given();
            held.give(event)
        });
        let (session, ready) = session::start(endpoint, options.clone(), sink.clone(), flow.clone(), batch);
        Ok((Client { session, options, sink, next_id: Arc::new(AtomicU64::new(1)), flow: flow.clone() }, ready, flow))
    }

    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The chat schema of this client.
    pub fn chat(&self) -> &ChatConfig {
        &self.options.chat
    }

    /// The options this client was made with.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.session.is_closed()
    }

    fn call(&self, command: impl FnOnce(Reply) -> Command) -> impl Future<Output = Result<Value>> {
        let (reply, rx) = Reply::oneshot();
        self.session.send(command(reply));
        outcome(rx)
    }

    /// A reply that reports its outcome as an [`Event::Reply`] with a new request id.
    fn reply_as_event(&self) -> (u64, Reply) {
        let id = self.next_id();
        let sink = self.sink.clone();
        (id, Reply::new(move |result| sink(Event::Reply { request: id, result })))
    }

    // ---- authentication

    /// Authenticates with any of the three credential forms.
    pub async fn authenticate(&self, credentials: AuthCredentials) -> Result<()> {
        self.call(|reply| Command::Login { credentials, reply }).await.map(drop)
    }

    /// Logs in with email and password.
    pub async fn login(&self, email: &str, password: &str) -> Result<()> {
        self.authenticate(AuthCredentials::Password { email: email.into(), password: Secret::new(password) }).await
    }

    /// Logs in with an access token (a user's static token or a JWT).
    pub async fn login_with_token(&self, access_token: &str) -> Result<()> {
        self.authenticate(AuthCredentials::AccessToken(Secret::new(access_token))).await
    }

    /// Logs in with a refresh token (from an earlier login; they rotate).
    pub async fn login_with_refresh_token(&self, refresh_token: &str) -> Result<()> {
        self.authenticate(AuthCredentials::RefreshToken(Secret::new(refresh_token))).await
    }

    // ---- subscriptions

    fn subscribe_command(&self, request: SubscribeRequest, reply: Reply) -> (Subscription, Command) {
        let sub = Subscription::from_id(self.next_id());
        (sub.clone(), Command::Subscribe { uid: sub.uid, spec: request.spec, reply })
    }

    /// Subscribes and waits until the server acknowledged it with its `init`. The
    /// init itself (the history) is the subscription's first event on [`Events`].
    pub async fn subscribe(&self, request: SubscribeRequest) -> Result<Subscription> {
        let (reply, rx) = Reply::oneshot();
        let (sub, command) = self.subscribe_command(request, reply);
        self.session.send(command);
        outcome(rx).await.map(|_| sub)
    }

    /// Subscribes without waiting. A refusal arrives as [`Event::SubscriptionError`].
    pub fn subscribe_nowait(&self, request: SubscribeRequest) -> Subscription {
        let (sub, command) = self.subscribe_command(request, Reply::ignore());
        self.session.send(command);
        sub
    }

    /// The chat subscription: every field plus the author's name, with the newest
    /// [`ChatConfig::history_limit`] messages as history (see
    /// [`ChatConfig::subscription_query`]); [`ChatConfig::messages`] reads them oldest
    /// first.
    pub fn chat_subscription(&self) -> SubscribeRequest {
        let chat = &self.options.chat;
        SubscribeRequest::new(chat.collection.clone()).query(chat.subscription_query()).key_field(chat.id_field.clone())
    }

    /// Ends a subscription. No event of it is delivered after this call.
    pub async fn unsubscribe(&self, subscription: &Subscription) -> Result<()> {
        self.flow.end_subscription(&subscription.uid);
        let uid = subscription.uid.clone();
        self.call(|reply| Command::Unsubscribe { uid, reply }).await.map(drop)
    }

    /// The subscription with this number (see [`Subscription::id`]).
    pub fn subscription(&self, id: u64) -> Subscription {
        Subscription::from_id(id)
    }

    /// Ends a subscription without waiting for the server's confirmation.
    pub fn unsubscribe_nowait(&self, subscription: &Subscription) {
        self.flow.end_subscription(&subscription.uid);
        self.session.send(Command::Unsubscribe { uid: subscription.uid.clone(), reply: Reply::ignore() });
    }

    // ---- items

    fn items_message(&self, request: ItemsRequest) -> Result<(ClientMessage, session::Retry)> {
        if request.collection.is_empty() {
            return Err(Error::InvalidArgument("the collection name is empty".into()));
        }
        let message = ClientMessage::Items {
            collection: request.collection,
            action: request.action,
            data: request.data,
            id: request.id,
            ids: request.ids,
            query: request.query,
            uid: Some(format!("r-{}", self.next_id())),
        };
        let retry = retry_for(&message, &request.key_field);
        Ok((message, retry))
    }

    /// Sends an items request and returns the server's `data`.
    pub async fn request(&self, request: ItemsRequest) -> Result<Value> {
        let (message, retry) = self.items_message(request)?;
        self.call(|reply| Command::Items { message, reply, retry }).await
    }

    /// Sends an items request without waiting; its outcome arrives as an
    /// [`Event::Reply`] carrying the returned id.
    pub fn request_nowait(&self, request: ItemsRequest) -> Result<u64> {
        let (message, retry) = self.items_message(request)?;
        let (id, reply) = self.reply_as_event();
        // A closed session gets no event for this request: the caller learns it here,
        // and the event stream still ends with `Closed`.
        self.session.try_send(Command::Items { message, reply, retry }).map_err(|c| {
            c.into_reply().disarm();
            Error::Closed
        })?;
        Ok(id)
    }

    /// Creates one item and returns it as stored.
    pub async fn create(&self, collection: &str, data: Value) -> Result<Value> {
        self.request(ItemsRequest::create(collection, data)).await
    }

    /// Reads items matching `query` (a Directus query object).
    pub async fn read(&self, collection: &str, query: Value) -> Result<Value> {
        self.request(ItemsRequest::read(collection).query(query)).await
    }

    /// Updates the item with key `id`.
    pub async fn update(&self, collection: &str, id: impl Into<Value>, data: Value) -> Result<Value> {
        self.request(ItemsRequest::update(collection, data).id(id)).await
    }

    /// Deletes the item with key `id`.
    pub async fn delete(&self, collection: &str, id: impl Into<Value>) -> Result<Value> {
        self.request(ItemsRequest::delete(collection).id(id)).await
    }

    // ---- chat

    fn chat_create(&self, text: &str) -> ItemsRequest {
        let chat = &self.options.chat;
        ItemsRequest::create(chat.collection.clone(), chat.new_message(text)).key_field(chat.id_field.clone())
    }

    /// Sends a chat message and returns it as the server stored it.
    pub async fn send_message(&self, text: &str) -> Result<ChatMessage> {
        let item = self.request(self.chat_create(text)).await?;
        self.options.chat.message(&item).ok_or_else(|| Error::Protocol("the server's answer is not a message".into()))
    }

    /// Sends a chat message without waiting; the outcome arrives as an
    /// [`Event::Reply`] carrying the returned id.
    pub fn send_message_nowait(&self, text: &str) -> Result<u64> {
        self.request_nowait(self.chat_create(text))
    }

    // ---- lifecycle

    /// Closes the session: pending requests fail with [`Error::Closed`], the event
    /// stream ends with the `Closed` state event. Closing twice is fine.
    pub async fn close(&self) -> Result<()> {
        self.call(|reply| Command::Close { reply }).await.map(drop)
    }

    /// Asks the session to close without waiting.
    pub fn close_nowait(&self) {
        self.session.send(Command::Close { reply: Reply::ignore() });
    }
}

/// Runs a future of this crate to completion on the calling thread. For the C surface,
/// whose callers are never runtime threads.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    crate::runtime::handle().block_on(future)
}
