//! The chat API of [`Client`]: rooms, older history, edits and deletions of one's own
//! messages, extra fields on send, who the user is, and chat events.

use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::event::ChatEvent;
use super::identity::Identity;
use super::rooms::{room_query, Room};
use super::state::ChatState;
use super::ChatMessage;
use crate::client::{Client, Subscription};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::protocol::ItemsRequest;
use crate::session::{Command, Reply};

fn room_of(room: Option<&str>) -> Room {
    room.map(str::to_owned)
}

impl Client {
    fn chat_view(&self) -> &Arc<ChatState> {
        self.chat_state()
    }

    fn as_message(&self, item: &Value) -> Result<ChatMessage> {
        let me = self.chat_view().own_id();
        self.chat().message_for(item, me.as_deref()).ok_or_else(|| Error::Protocol("the server's answer is not a message".into()))
    }

    // ---- who am I

    /// The logged-in user, once known. The chat API learns it over the socket after
    /// every login (and every re-login after a lost connection) once it is in use (a
    /// room joined, [`Client::whoami`] called); a login made after that waits until the
    /// user is known.
    pub fn me(&self) -> Option<Identity> {
        self.chat_view().me()
    }

    /// Asks the server who the logged-in user is, and keeps the answer for
    /// [`Client::me`] and the own flags of messages. Fails with the server's error
    /// where the user may not read their own user record.
    pub async fn whoami(&self) -> Result<Identity> {
        let n = self.chat_view().refetch_identity().ok_or(Error::Closed)?;
        self.chat_view().identity_after(n, self.options().request_timeout).await
    }

    /// Waits (at most the request timeout) until the logged-in user is known, as the
    /// chat API learns it (this puts it in use), and returns it; `None` when it cannot
    /// be learned (not logged in, no permission to read one's own user).
    pub async fn known_me(&self) -> Option<Identity> {
        self.settle_identity().await;
        self.me()
    }

    /// [`Client::whoami`] without waiting: the user arrives as an [`Event::Reply`] with
    /// the returned id, its data `{id, first_name, last_name, email}`.
    pub fn whoami_nowait(&self) -> Result<u64> {
        self.identity_reply(true)
    }

    /// [`Client::known_me`] without waiting: the user (or `null`) arrives as an
    /// [`Event::Reply`] with the returned id.
    pub fn known_me_nowait(&self) -> Result<u64> {
        self.identity_reply(false)
    }

    fn identity_reply(&self, ask: bool) -> Result<u64> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        let id = self.next_id();
        let (client, outlet) = (self.clone(), self.outlet().clone());
        // The identity comes from the session's events, not from one request: a task
        // waits for it and reports it the way every nowait call reports its outcome.
        crate::runtime::handle().spawn(async move {
            let result = if ask {
                client.whoami().await.map(|me| me.to_json())
            } else {
                Ok(client.known_me().await.map_or(Value::Null, |me| me.to_json()))
            };
            outlet.give(Event::Reply { request: id, result });
        });
        Ok(id)
    }

    /// Whether the reply with this request id is a page of [`Client::load_older_nowait`]
    /// (whose items are chat messages, oldest first).
    pub fn is_history_page(&self, request: u64) -> bool {
        self.chat_view().room_of_page(request).is_some()
    }

    /// The chat event of `event` (an event of a joined room, or the answer of
    /// [`Client::load_older_nowait`]): its room, what happened, the messages oldest
    /// first with their own flags, or the deleted keys. `None` for any other event.
    pub fn chat_event(&self, event: &Event) -> Option<ChatEvent> {
        self.chat_view().chat_event(event)
    }

    // ---- rooms

    async fn settle_identity(&self) {
        if let Some(n) = self.chat_view().want_identity() {
            let _ = self.chat_view().identity_after(n, self.options().request_timeout).await;
        }
    }

    /// Joins a room (`None`: the lobby, the messages without a room): subscribes to its
    /// messages and waits for the `init`, its newest [`super::ChatConfig::history_limit`]
    /// messages, which is the subscription's first event. Every event of it is a chat
    /// event of that room ([`Client::chat_event`]). A client may be in several rooms.
    pub async fn join(&self, room: Option<&str>) -> Result<Subscription> {
        let request = self.chat().room_subscription(room)?;
        self.settle_identity().await;
        let sub = Subscription::from_id(self.next_id());
        self.chat_view().joining(&sub, room_of(room));
        let id = sub.id();
        match self.call(|reply| Command::Subscribe { id, request, reply }).await {
            Ok(_) => {
                self.presence_on_join(room);
                Ok(sub)
            }
            Err(e) => {
                self.chat_view().left(&sub);
                Err(e)
            }
        }
    }

    /// Joins a room without waiting: the history (or a refusal) arrives as an event.
    pub fn join_nowait(&self, room: Option<&str>) -> Result<Subscription> {
        let request = self.chat().room_subscription(room)?;
        self.chat_view().want_identity();
        let sub = Subscription::from_id(self.next_id());
        self.chat_view().joining(&sub, room_of(room));
        self.send_nowait(Command::Subscribe { id: sub.id(), request, reply: Reply::ignore() })?;
        self.presence_on_join(room);
        Ok(sub)
    }

    /// Joins a room without waiting, like [`Client::join_nowait`], and reports the outcome
    /// as one [`Event::Reply`] whose request id is the subscription's number: `Ok(null)`
    /// right after the room's history, or the refusal.
    pub fn join_nowait_with_reply(&self, room: Option<&str>) -> Result<Subscription> {
        let request = self.chat().room_subscription(room)?;
        self.chat_view().want_identity();
        let sub = Subscription::from_id(self.next_id());
        self.chat_view().joining(&sub, room_of(room));
        self.send_nowait(Command::Subscribe { id: sub.id(), request, reply: self.reply_as_event(sub.id()) })?;
        self.presence_on_join(room);
        Ok(sub)
    }

    /// With [`super::PresenceConfig::on_join`], a joined room's presence is entered too.
    fn presence_on_join(&self, room: Option<&str>) {
        if let (true, Some(room)) = (self.chat().presence.on_join, room) {
            self.enter_for_join(room);
        }
    }

    fn presence_on_leave(&self, room: Option<&str>) {
        if let (true, Some(room)) = (self.chat().presence.on_join, room) {
            self.exit_for_leave(room);
        }
    }

    /// Leaves a room: ends every subscription joined to it. No event of it is delivered
    /// after this returns.
    pub async fn leave(&self, room: Option<&str>) -> Result<()> {
        self.presence_on_leave(room);
        let mut outcome = Ok(());
        for id in self.chat_view().subscriptions_of(room) {
            let sub = self.subscription(id);
            let r = self.unsubscribe(&sub).await;
            self.chat_view().left(&sub);
            if outcome.is_ok() {
                outcome = r;
            }
        }
        outcome
    }

    /// Leaves a room without waiting for the server.
    pub fn leave_nowait(&self, room: Option<&str>) {
        self.presence_on_leave(room);
        for id in self.chat_view().subscriptions_of(room) {
            let sub = self.subscription(id);
            self.unsubscribe_nowait(&sub);
            self.chat_view().left(&sub);
        }
    }

    // ---- sending

    fn create_in(&self, room: Option<&str>, text: &str, extra: Value) -> Result<ItemsRequest> {
        let chat = self.chat();
        let mut data = chat.new_message_with(text, extra)?;
        if let Some(room) = room {
            let field = chat.room_field.as_ref().ok_or_else(|| Error::InvalidArgument("the chat schema has no room field".into()))?;
            data[field.as_str()] = room.into();
        }
        Ok(chat.create_request(data))
    }

    /// Sends a message to a room (`None`: the lobby) and returns it as stored.
    pub async fn send_to(&self, room: Option<&str>, text: &str) -> Result<ChatMessage> {
        let item = self.request(self.create_in(room, text, Value::Null)?).await?;
        self.as_message(&item)
    }

    /// Sends a message to a room without waiting; the outcome is an [`Event::Reply`]
    /// with the returned id.
    pub fn send_to_nowait(&self, room: Option<&str>, text: &str) -> Result<u64> {
        self.request_nowait(self.create_in(room, text, Value::Null)?)
    }

    /// Sends a message with extra fields (`extra`, a JSON object: a file, the room, any
    /// field of your schema). The message keeps the client-made key
    /// ([`super::ChatConfig::client_ids`], [`super::ChatConfig::client_key_field`]) that
    /// makes a retry after a lost connection safe.
    pub async fn send_with(&self, text: &str, extra: Value) -> Result<ChatMessage> {
        let item = self.request(self.create_in(None, text, extra)?).await?;
        self.as_message(&item)
    }

    /// [`Client::send_with`] without waiting; the outcome is an [`Event::Reply`].
    pub fn send_with_nowait(&self, text: &str, extra: Value) -> Result<u64> {
        self.request_nowait(self.create_in(None, text, extra)?)
    }

    // ---- history

    fn page_request(&self, room: Option<&str>, before: Option<&str>, count: u32) -> Result<ItemsRequest> {
        if count == 0 {
            return Err(Error::InvalidArgument("a page holds at least one message".into()));
        }
        let cursor = self.chat_view().cursor(&room_of(room), before)?;
        let query = room_query(self.chat(), room, cursor.as_ref(), count)?;
        Ok(ItemsRequest::read(self.chat().collection.clone()).query(query).key_field(self.chat().id_field.clone()))
    }

    /// Up to `count` messages of a room older than `before` (a message this client
    /// showed; `None`: the oldest it showed of that room, or the newest messages if it
    /// showed none), oldest first. Pages go by date, then key (never by offset), so
    /// paging back while others post neither repeats nor skips a message, and a page
    /// never repeats what the room's events delivered. An empty page is the beginning.
    pub async fn load_older(&self, room: Option<&str>, before: Option<&str>, count: u32) -> Result<Vec<ChatMessage>> {
        let request = self.page_request(room, before, count)?;
        let (tx, rx) = oneshot::channel();
        let state = self.chat_view().clone();
        let page_room = room_of(room);
        // Recorded on the session's thread, in order with the events, so that a
        // deletion that follows the page finds its messages.
        let reply = Reply::new(move |result| {
            let _ = tx.send(state.page_answer(&page_room, result));
        })
        .by(self.deadline());
        self.send_nowait(Command::Items { id: self.next_id(), request, reply })?;
        let data = rx.await.unwrap_or(Err(Error::Closed))?;
        let me = self.chat_view().own_id();
        Ok(self.chat().messages_for(&data, me.as_deref()))
    }

    /// [`Client::load_older`] without waiting: the page arrives as an [`Event::Reply`]
    /// with the returned id, whose items are in message order; [`Client::chat_event`]
    /// reads it as a chat event of kind `Older`.
    pub fn load_older_nowait(&self, room: Option<&str>, before: Option<&str>, count: u32) -> Result<u64> {
        let request = self.page_request(room, before, count)?;
        let id = self.next_id();
        self.chat_view().paging(id, room_of(room));
        let state = self.chat_view().clone();
        let outlet = self.outlet().clone();
        let page_room = room_of(room);
        let reply = Reply::new(move |result| {
            let result = state.page_answer(&page_room, result);
            outlet.give(Event::Reply { request: id, result });
        });
        self.send_nowait(Command::Items { id, request, reply })?;
        Ok(id)
    }

    // ---- edits and deletions

    fn edit_request(&self, id: &str, text: &str) -> ItemsRequest {
        let chat = self.chat();
        ItemsRequest::update(chat.collection.clone(), json!({ chat.text_field.as_str(): text })).id(chat.key_value(id))
    }

    fn delete_request(&self, id: &str) -> ItemsRequest {
        ItemsRequest::delete(self.chat().collection.clone()).id(self.chat().key_value(id))
    }

    /// Changes the text of one's own message; returns it as stored (edited). Another
    /// user's message is refused by the server (`FORBIDDEN`, with the schema kit's
    /// permissions). Others see it as an edited chat event.
    pub async fn edit_message(&self, id: &str, text: &str) -> Result<ChatMessage> {
        let item = self.request(self.edit_request(id, text)).await?;
        self.as_message(&item)
    }

    /// [`Client::edit_message`] without waiting; the outcome is an [`Event::Reply`].
    pub fn edit_message_nowait(&self, id: &str, text: &str) -> Result<u64> {
        self.request_nowait(self.edit_request(id, text))
    }

    /// Deletes one's own message. Others see a deleted chat event naming its key.
    pub async fn delete_message(&self, id: &str) -> Result<()> {
        self.request(self.delete_request(id)).await.map(drop)
    }

    /// [`Client::delete_message`] without waiting; the outcome is an [`Event::Reply`].
    pub fn delete_message_nowait(&self, id: &str) -> Result<u64> {
        self.request_nowait(self.delete_request(id))
    }
}
