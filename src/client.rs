//! The Rust API: a [`Client`] and the [`Events`] it reports.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::oneshot;

use crate::chat::state::ChatState;
use crate::chat::{ChatConfig, ChatMessage};
use crate::discovery::Discovery;
use crate::error::{Error, Result};
use crate::event::{ConnectionState, Event};
use crate::files::Files;
use crate::options::ClientOptions;
use crate::outbox::{self, Outbox};
use crate::protocol::{AuthCredentials, ItemsRequest, SubscribeRequest};
use crate::secret::Secret;
use crate::session::{self, Command, Feed, Flow, Ids, Key, Outlet, Queue, Reply, SessionHandle, Target};
use crate::transport::Endpoint;

/// A live subscription. Its uid is on every event it produces.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Subscription {
    id: u64,
    uid: String,
}

impl Subscription {
    pub(crate) fn from_id(id: u64) -> Self {
        Subscription { id, uid: Key::Subscribe(id).uid() }
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
        Key::subscription_of(uid)
    }
}

/// The stream of a client's events, in order. It ends after the `Closed` state event.
pub struct Events {
    queue: Arc<Queue>,
    /// Taken from the queue in bursts, handed out one at a time.
    taken: VecDeque<Event>,
    /// The count and bytes of the events of `taken` handed out, counted as taken once
    /// the burst is through (an update of the shared counters per event cost more than
    /// the rest of the hand-over).
    handed: (usize, usize),
    ended: bool,
    flow: Arc<Flow>,
    /// Whether taking an event counts it as consumed (see [`Events::defer_consumption`]).
    counting: bool,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").field("ended", &self.ended).finish_non_exhaustive()
    }
}

/// Counts events as consumed for a stream whose consumer keeps its own queue (see
/// [`Events::defer_consumption`]).
#[derive(Clone)]
pub struct Consumption(Arc<Flow>);

impl Consumption {
    /// The user took `n` more events from the consumer's own queue.
    pub fn consumed(&self, n: usize) {
        self.0.consumed(n)
    }

    /// The user took an event from the consumer's own queue; `weight` is what
    /// [`Consumption::weight`] said of it, so that
    /// [`ClientOptions::max_buffered_bytes`] bounds that queue too.
    pub fn consumed_event(&self, weight: usize) {
        self.0.released(weight);
        self.0.consumed(1);
    }

    /// What holding `event` counts for against [`ClientOptions::max_buffered_bytes`].
    pub fn weight(event: &Event) -> usize {
        event.weight()
    }
}

impl std::fmt::Debug for Consumption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Consumption")
    }
}

impl Events {
    /// The next event taken from the queue that may be handed over (not one of an
    /// ended subscription); `None` when none is taken yet.
    fn hand_over(&mut self) -> Option<Event> {
        while let Some(e) = self.taken.pop_front() {
            let admitted = self.flow.admits(&e);
            if self.counting || !admitted {
                self.handed.0 += 1;
                self.handed.1 += e.weight();
            }
            if !admitted {
                continue;
            }
            self.ended = e.is_closed();
            return Some(e);
        }
        self.count_handed();
        None
    }

    fn count_handed(&mut self) {
        let (count, bytes) = std::mem::take(&mut self.handed);
        self.flow.taken(count, bytes);
    }

    /// The next event; `None` once the `Closed` event has been returned.
    pub async fn next(&mut self) -> Option<Event> {
        while !self.ended {
            if let Some(e) = self.hand_over() {
                return Some(e);
            }
            self.queue.take(&mut self.taken).await;
            if self.taken.is_empty() {
                // The session is gone without its `Closed` event (a shutdown that ran
                // out of time).
                self.ended = true;
            }
        }
        None
    }

    /// The next event if one is ready, without waiting.
    pub fn try_next(&mut self) -> Option<Event> {
        while !self.ended {
            if let Some(e) = self.hand_over() {
                return Some(e);
            }
            if self.queue.take_now(&mut self.taken) {
                self.ended = true;
            } else if self.taken.is_empty() {
                return None;
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

    /// For consumers that move events into a queue of their own (a binding for another
    /// language): from now on an event taken from this stream does not count as
    /// consumed until [`Consumption::consumed`] says the user took it, so
    /// [`ClientOptions::max_buffered_events`] bounds that queue too.
    pub fn defer_consumption(&mut self) -> Consumption {
        self.counting = false;
        Consumption(self.flow.clone())
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
    outlet: Arc<Outlet>,
    ids: Arc<Ids>,
    chat: Arc<ChatState>,
    outbox: Option<Outbox>,
    files: Arc<Files>,
    discovery: Arc<Discovery>,
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
    /// base URL) and returns the client with its event stream once the socket is open.
    /// If the first attempt fails, the client is closed and the error returned (see
    /// [`Client::connect_nowait`] for a client that keeps trying).
    pub async fn connect(url: &str, options: ClientOptions) -> Result<(Client, Events)> {
        let (client, events, ready) = Client::connect_nowait(url, options)?;
        match ready.await.unwrap_or(Err(Error::Closed)) {
            Ok(()) => Ok((client, events)),
            Err(e) => {
                // Awaited, so that the outbox file is released when this returns.
                let _ = client.close().await;
                Err(e)
            }
        }
    }

    /// Returns the client and its event stream at once; the session opens the socket
    /// in the background, reporting its progress as state events (`Connecting`,
    /// `Connected`, or `Disconnected` with the next attempt's delay), and keeps trying
    /// as [`ClientOptions::reconnect`] allows. Requests made meanwhile wait for the
    /// connection (and the login). The receiver tells how the first attempt went.
    pub fn connect_nowait(url: &str, options: ClientOptions) -> Result<(Client, Events, oneshot::Receiver<Result<()>>)> {
        let queue = Arc::new(Queue::default());
        let (client, ready) = Client::start(url, options, Feed(queue.clone()))?;
        let events = Events { queue, taken: VecDeque::new(), handed: (0, 0), ended: false, flow: client.flow().clone(), counting: true };
        Ok((client, events, ready))
    }

    /// Starts a session that hands its events to `target`. The receiver says how the
    /// first attempt to open the socket went.
    pub(crate) fn start(
        url: &str,
        options: ClientOptions,
        target: impl Target + 'static,
    ) -> Result<(Client, oneshot::Receiver<Result<()>>)> {
        let chat = ChatState::new(options.chat.clone(), options.track_limit);
        Client::start_with_chat(url, options, target, chat)
    }

    /// Like [`Client::start`], with the chat state the surface's events are read with.
    pub(crate) fn start_with_chat(
        url: &str,
        options: ClientOptions,
        target: impl Target + 'static,
        chat: Arc<ChatState>,
    ) -> Result<(Client, oneshot::Receiver<Result<()>>)> {
        let endpoint = Endpoint::parse(url)?;
        // Before the session starts: a file that cannot be used fails the call.
        let opened = options.outbox_path.as_deref().map(outbox::open).transpose()?;
        let options = Arc::new(options);
        let files = Files::new(&endpoint, options.clone())?;
        let discovery = Discovery::new(files.clone(), endpoint.clone(), options.clone());
        let outlet =
            Outlet::with_views(options.max_buffered_events, options.max_buffered_bytes, target, vec![discovery.clone(), chat.clone()]);
        let ids = Arc::new(Ids::default());
        let (session, ready) = session::start(endpoint, options.clone(), outlet.clone(), ids.clone());
        chat.attach(session.downgrade(), ids.clone());
        discovery.attach(session.downgrade());
        let outbox = opened.map(|o| Outbox::start(o, outlet.clone(), session.downgrade(), ids.clone(), options.chat.clone()));
        Ok((Client { session, options, outlet, ids, chat, outbox, files, discovery }, ready))
    }

    /// The outbox of this client ([`ClientOptions::outbox_path`]); an
    /// [`Error::InvalidArgument`] when it has none.
    pub fn outbox(&self) -> Result<&Outbox> {
        self.outbox.as_ref().ok_or_else(|| Error::InvalidArgument("this client has no outbox (set its outbox path)".into()))
    }

    /// The producer's side of this client's events, for replies that hand their outcome
    /// over as an event.
    pub(crate) fn outlet(&self) -> &Arc<Outlet> {
        &self.outlet
    }

    /// The REST side of this client (attachments).
    pub(crate) fn files(&self) -> &Arc<Files> {
        &self.files
    }

    /// What this client learns about its server (see [`Client::server_info`]).
    pub(crate) fn discovery(&self) -> &Arc<Discovery> {
        &self.discovery
    }

    /// The chat state (rooms joined, messages shown, the user) of this client.
    pub(crate) fn chat_state(&self) -> &Arc<ChatState> {
        &self.chat
    }

    /// A new request or subscription number.
    pub(crate) fn next_id(&self) -> u64 {
        self.ids.next()
    }

    /// The deadline of a call made now.
    pub(crate) fn deadline(&self) -> tokio::time::Instant {
        tokio::time::Instant::now() + self.options.request_timeout
    }

    /// The consumer's side of this client's events (counting what the user took), for
    /// the surfaces.
    pub(crate) fn flow(&self) -> &Arc<Flow> {
        self.outlet.flow()
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

    /// The connection state as of the last state event the session reported (which
    /// the event stream may not have delivered yet).
    pub fn state(&self) -> ConnectionState {
        self.outlet.flow().state()
    }

    /// A reply for a caller who waits, from now, at most the request timeout.
    fn waiting(&self) -> (Reply, oneshot::Receiver<Result<Value>>) {
        let (reply, rx) = Reply::oneshot();
        (reply.by(tokio::time::Instant::now() + self.options.request_timeout), rx)
    }

    pub(crate) fn call(&self, command: impl FnOnce(Reply) -> Command) -> impl Future<Output = Result<Value>> {
        let (reply, rx) = self.waiting();
        self.session.send(command(reply));
        outcome(rx)
    }

    /// A reply that reports its outcome as an [`Event::Reply`] with request id `id`.
    pub(crate) fn reply_as_event(&self, id: u64) -> Reply {
        let outlet = self.outlet.clone();
        Reply::new(move |result| outlet.give(Event::Reply { request: id, result }))
    }

    /// Hands a command whose outcome arrives as an event to the session; a closed
    /// session gets no event for it: the caller learns it here, and the event stream
    /// still ends with `Closed`.
    pub(crate) fn send_nowait(&self, command: Command) -> Result<()> {
        self.session.try_send(command).map_err(|c| {
            if let Some(reply) = c.into_reply() {
                reply.disarm();
            }
            Error::Closed
        })
    }

    // ---- authentication

    /// Authenticates with any of the three credential forms.
    pub async fn authenticate(&self, credentials: AuthCredentials) -> Result<()> {
        let identity = self.chat.login_requested();
        self.files.logged_in(&credentials);
        self.discovery.login_requested();
        let id = self.ids.next();
        if let Err(e) = self.call(|reply| Command::Login { id, credentials, reply }).await {
            self.discovery.login_failed();
            return Err(e);
        }
        self.chat.logged_in();
        // Once the chat API is in use, a login returns when the user is known too (or
        // known to be unknowable: that is no reason to fail the login).
        if let Some(n) = identity {
            let _ = self.chat.identity_after(n, self.options.request_timeout).await;
        }
        Ok(())
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

    /// Authenticates without waiting. The outcome arrives as an [`Event::Reply`] with
    /// the returned request id; a login made before the socket is open goes out once it
    /// is, and does not time out while it waits for it.
    pub fn authenticate_nowait(&self, credentials: AuthCredentials) -> Result<u64> {
        self.chat.login_requested();
        self.files.logged_in(&credentials);
        self.discovery.login_requested();
        let id = self.ids.next();
        self.send_nowait(Command::Login { id, credentials, reply: self.reply_as_event(id) })?;
        Ok(id)
    }

    // ---- subscriptions

    /// Subscribes and waits until the server acknowledged it with its `init`. The
    /// init itself (the history) is the subscription's first event on [`Events`].
    pub async fn subscribe(&self, request: SubscribeRequest) -> Result<Subscription> {
        let sub = Subscription::from_id(self.ids.next());
        let id = sub.id;
        self.call(|reply| Command::Subscribe { id, request, reply }).await.map(|_| sub)
    }

    /// Subscribes without waiting. A refusal arrives as [`Event::SubscriptionError`].
    pub fn subscribe_nowait(&self, request: SubscribeRequest) -> Subscription {
        let sub = Subscription::from_id(self.ids.next());
        self.session.send(Command::Subscribe { id: sub.id, request, reply: Reply::ignore() });
        sub
    }

    /// Subscribes without waiting, like [`Client::subscribe_nowait`], and reports the
    /// outcome as one [`Event::Reply`] whose request id is the subscription's number
    /// ([`Subscription::id`]): `Ok(null)` right after the subscription's `init` event, or
    /// the refusal (which also arrives as [`Event::SubscriptionError`]). Like every
    /// nowait request it waits for the connection and the login without timing out.
    pub fn subscribe_nowait_with_reply(&self, request: SubscribeRequest) -> Result<Subscription> {
        let sub = Subscription::from_id(self.ids.next());
        self.send_nowait(Command::Subscribe { id: sub.id, request, reply: self.reply_as_event(sub.id) })?;
        Ok(sub)
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
        self.flow().end_subscription(&subscription.uid);
        let id = subscription.id;
        self.call(|reply| Command::Unsubscribe { id, reply }).await.map(drop)
    }

    /// The subscription with this number (see [`Subscription::id`]).
    pub fn subscription(&self, id: u64) -> Subscription {
        Subscription::from_id(id)
    }

    /// Ends a subscription without waiting for the server's confirmation.
    pub fn unsubscribe_nowait(&self, subscription: &Subscription) {
        self.flow().end_subscription(&subscription.uid);
        self.session.send(Command::Unsubscribe { id: subscription.id, reply: Reply::ignore() });
    }

    /// Ends a subscription without waiting, like [`Client::unsubscribe_nowait`], and
    /// reports the server's confirmation as one [`Event::Reply`] with the returned
    /// request id (a new number: the subscription's own number is its subscribe's).
    pub fn unsubscribe_nowait_with_reply(&self, subscription: &Subscription) -> Result<u64> {
        self.flow().end_subscription(&subscription.uid);
        let id = self.ids.next();
        self.send_nowait(Command::Unsubscribe { id: subscription.id, reply: self.reply_as_event(id) })?;
        Ok(id)
    }

    // ---- items

    /// Sends an items request and returns the server's `data`.
    pub async fn request(&self, request: ItemsRequest) -> Result<Value> {
        request.validate()?;
        let id = self.ids.next();
        self.call(|reply| Command::Items { id, request, reply }).await
    }

    /// Sends an items request without waiting; its outcome arrives as an
    /// [`Event::Reply`] carrying the returned id.
    pub fn request_nowait(&self, request: ItemsRequest) -> Result<u64> {
        request.validate()?;
        let id = self.ids.next();
        self.send_nowait(Command::Items { id, request, reply: self.reply_as_event(id) })?;
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
        chat.create_request(chat.new_message(text))
    }

    /// Sends a chat message and returns it as the server stored it.
    pub async fn send_message(&self, text: &str) -> Result<ChatMessage> {
        let item = self.request(self.chat_create(text)).await?;
        let me = self.chat.own_id();
        self.options.chat.message_for(&item, me.as_deref()).ok_or_else(|| Error::Protocol("the server's answer is not a message".into()))
    }

    /// Sends a chat message without waiting; the outcome arrives as an
    /// [`Event::Reply`] carrying the returned id.
    pub fn send_message_nowait(&self, text: &str) -> Result<u64> {
        self.request_nowait(self.chat_create(text))
    }

    /// Cancels the request with this id (from a `*_nowait` call, or a subscription's
    /// number): it ends at once with [`Error::Cancelled`]. A request still waiting for
    /// the login or a connection is never sent; one already sent may still be applied
    /// by the server, and is not sent again after a reconnect; a subscription ends.
    /// Unknown or finished ids are ignored.
    pub fn cancel(&self, request: u64) {
        if !self.files.cancel(request) {
            self.session.send(Command::Cancel { id: request });
        }
    }

    // ---- lifecycle

    /// Skips the wait before the next reconnect attempt (a "retry now" button); does
    /// nothing while connected.
    pub fn reconnect_now(&self) {
        self.session.send(Command::ReconnectNow);
    }

    /// Closes the session: pending requests fail with [`Error::Closed`], the event
    /// stream ends with the `Closed` state event. Closing twice is fine. The outbox
    /// (if any) keeps what was not sent in its file, for the next client.
    pub async fn close(&self) -> Result<()> {
        self.files.cancel_all();
        let (reply, rx) = Reply::oneshot();
        self.session.send(Command::Close { reply });
        let closed = outcome(rx).await.map(drop);
        // The outbox file is closed (and its lock released) by the time this returns.
        if let Some(outbox) = &self.outbox {
            outbox.released().await;
        }
        closed
    }

    /// Asks the session to close without waiting.
    pub fn close_nowait(&self) {
        self.files.cancel_all();
        self.session.send(Command::Close { reply: Reply::ignore() });
    }

    /// Asks the session to close without waiting, like [`Client::close_nowait`], and
    /// reports the close as one [`Event::Reply`] with the returned request id, given just
    /// before the final `Closed` state event (nothing follows that one). `None` when the
    /// session had already ended: its `Closed` event was its last, and no reply follows.
    pub fn close_nowait_with_reply(&self) -> Option<u64> {
        self.files.cancel_all();
        let id = self.ids.next();
        self.send_nowait(Command::Close { reply: self.reply_as_event(id).before_closed() }).ok().map(|()| id)
    }
}

/// Runs a future of this crate to completion on the calling thread. For the C surface,
/// whose callers are never runtime threads.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    crate::runtime::handle().block_on(future)
}
