//! Presence, typing and read receipts on [`Client`].

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;

use super::{Hub, Member, Reader};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::event::{ConnectionState, Event};

impl Client {
    fn presence_hub(&self) -> Result<&Arc<Hub>> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        self.chat_state().presence(self.outlet())
    }

    /// The date of a message this client showed, for read markers.
    fn shown_date(&self, room: &str, message: &str) -> Option<String> {
        self.chat_state().cursor(&Some(room.to_owned()), Some(message)).ok().flatten().map(|c| c.date)
    }

    async fn me_id(&self) -> Result<String> {
        self.known_me().await.map(|me| me.id).ok_or_else(|| Error::InvalidArgument("the logged-in user is not known: log in first".into()))
    }

    async fn await_waiter(&self, rx: oneshot::Receiver<Result<Value>>) -> Result<Value> {
        match tokio::time::timeout(self.options().request_timeout, rx).await {
            Ok(r) => r.unwrap_or(Err(Error::Closed)),
            Err(_) => Err(Error::Timeout),
        }
    }

    fn start_enter(&self, room: &str, me: &str, done: impl FnOnce(Result<Value>) + Send + 'static) -> Result<()> {
        let hub = self.presence_hub()?;
        let waiter = hub.waiter(done);
        hub.apply(|m, now| m.enter(room, me, now, Some(waiter)));
        Ok(())
    }

    /// Enters a room's presence: writes one's presence row there (then a heartbeat
    /// every [`super::PresenceConfig::heartbeat`]) and follows who is online and typing
    /// ([`Event::Presence`], [`Client::online`]), who read what ([`Client::readers`]) and
    /// the unread count ([`Client::unread`]). Returns once the row is written. Needs
    /// the schema kit's `presence` and `read_receipts` collections.
    pub async fn enter(&self, room: &str) -> Result<()> {
        let me = self.me_id().await?;
        let (tx, rx) = oneshot::channel();
        self.start_enter(room, &me, move |r| {
            let _ = tx.send(r);
        })?;
        self.await_waiter(rx).await.map(drop)
    }

    /// Waits (without a time limit, like every nowait request) until the user is known,
    /// then enters `room` with `done` as its completion. Holds no [`Client`]: a client
    /// whose handles are all dropped before its login ends as usual.
    fn enter_when_known(&self, room: &str, done: impl FnOnce(Result<Value>) + Send + 'static) -> Result<()> {
        let hub = self.presence_hub()?.clone();
        let (chat, outlet, room) = (self.chat_state().clone(), self.outlet().clone(), room.to_owned());
        let timeout = self.options().request_timeout;
        crate::runtime::handle().spawn(async move {
            loop {
                if outlet.flow().state() == ConnectionState::Closed {
                    return done(Err(Error::Closed));
                }
                if let Some(n) = chat.want_identity() {
                    let _ = chat.identity_after(n, timeout).await;
                }
                if let Some(me) = chat.me() {
                    let waiter = hub.waiter(done);
                    hub.apply(|m, now| m.enter(&room, &me.id, now, Some(waiter)));
                    return;
                }
                // Not logged in yet: wait for it.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Ok(())
    }

    /// Enters a room's presence for a join ([`super::PresenceConfig::on_join`]): in the
    /// background, a failure only logged and reported as an error event.
    pub(crate) fn enter_for_join(&self, room: &str) {
        let r = room.to_owned();
        let _ = self.enter_when_known(room, move |result| {
            if let Err(e) = result {
                log::warn!("could not enter the presence of room {r}: {e}");
            }
        });
    }

    /// Exits a room's presence for a leave, without waiting.
    pub(crate) fn exit_for_leave(&self, room: &str) {
        if let Some(hub) = self.chat_state().presence_started() {
            hub.apply(|m, _| m.exit(room, None));
        }
    }

    /// [`Client::enter`] without waiting: the outcome arrives as an [`Event::Reply`]
    /// with the returned id. It waits for the login (and the user's identity) first,
    /// without a time limit, like every nowait call.
    pub fn enter_nowait(&self, room: &str) -> Result<u64> {
        let id = self.next_id();
        let outlet = self.outlet().clone();
        self.enter_when_known(room, move |result| outlet.give(Event::Reply { request: id, result }))?;
        Ok(id)
    }

    /// Exits a room's presence: deletes one's row (peers see the exit at once) and
    /// stops following the room's presence and receipts.
    pub async fn exit(&self, room: &str) -> Result<()> {
        let hub = self.presence_hub()?;
        let (tx, rx) = oneshot::channel();
        let waiter = hub.waiter(move |r| {
            let _ = tx.send(r);
        });
        hub.apply(|m, _| m.exit(room, Some(waiter)));
        self.await_waiter(rx).await.map(drop)
    }

    /// [`Client::exit`] without waiting; the outcome is an [`Event::Reply`].
    pub fn exit_nowait(&self, room: &str) -> Result<u64> {
        let hub = self.presence_hub()?;
        let id = self.next_id();
        let outlet = self.outlet().clone();
        let waiter = hub.waiter(move |result| outlet.give(Event::Reply { request: id, result }));
        hub.apply(|m, _| m.exit(room, Some(waiter)));
        Ok(id)
    }

    /// Says whether the user is typing in a room (entered with [`Client::enter`]): call
    /// it with `true` on every keystroke and with `false` when the text is sent or
    /// cleared. Never waits: the flag is written at once when typing starts or stops,
    /// and refreshed at most every [`super::PresenceConfig::typing_interval`] while
    /// keystrokes keep coming; peers drop it by themselves
    /// [`super::PresenceConfig::typing_ttl`] after its last write.
    pub fn set_typing(&self, room: &str, typing: bool) -> Result<()> {
        self.presence_hub()?.apply(|m, now| m.set_typing(room, typing, now))
    }

    fn start_mark(&self, room: &str, message: &str, done: impl FnOnce(Result<Value>) + Send + 'static) -> Result<()> {
        let hub = self.presence_hub()?;
        let date = self.shown_date(room, message);
        let waiter = hub.waiter(done);
        let started = hub.apply(|m, _| m.mark_read(room, message, date, Some(waiter)));
        if started.is_err() {
            hub.forget(waiter);
        }
        started
    }

    /// Moves one's read marker in a room (entered) to `message` (its key): others see
    /// it ([`Client::readers`]), and the unread count goes down to the messages after
    /// it. Returns once the marker is stored.
    pub async fn mark_read(&self, room: &str, message: &str) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.start_mark(room, message, move |r| {
            let _ = tx.send(r);
        })?;
        self.await_waiter(rx).await.map(drop)
    }

    /// [`Client::mark_read`] without waiting; the outcome is an [`Event::Reply`].
    pub fn mark_read_nowait(&self, room: &str, message: &str) -> Result<u64> {
        let id = self.next_id();
        let outlet = self.outlet().clone();
        self.start_mark(room, message, move |result| outlet.give(Event::Reply { request: id, result }))?;
        Ok(id)
    }

    /// Who is online in a room one entered, by user id (with whether they type);
    /// `None` when not in it.
    pub fn online(&self, room: &str) -> Option<Vec<Member>> {
        self.chat_state().presence_started()?.read(|m| m.online(room))
    }

    /// How many messages of others in a room are after one's read marker; `None` when
    /// not in the room or not counted yet. Changes arrive as [`Event::Presence`].
    pub fn unread(&self, room: &str) -> Option<u64> {
        self.chat_state().presence_started()?.read(|m| m.unread(room))
    }

    /// Who has read `message` (a key this client showed, or the key of someone's read
    /// marker) in a room one entered: users whose marker is at it or at a later
    /// message. `None` when not in the room.
    pub fn readers(&self, room: &str, message: &str) -> Option<Vec<Reader>> {
        let date = self.shown_date(room, message);
        self.chat_state().presence_started()?.read(|m| m.readers(room, message, date.as_deref()))
    }

    /// How many writes of one's presence row this client made in a room (heartbeats
    /// and typing), for measurements.
    pub fn presence_writes(&self, room: &str) -> Option<u64> {
        self.chat_state().presence_started()?.read(|m| m.writes(room))
    }

    /// Whether the client entered a room's presence.
    pub fn entered(&self, room: &str) -> bool {
        self.chat_state().presence_started().is_some_and(|h| h.read(|m| m.entered(room)))
    }
}
