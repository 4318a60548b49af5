//! What the session's machines ask the loop to do.

use serde_json::Value;

use super::key::Key;
use super::reply::Reply;
use crate::error::Error;
use crate::event::Event;
use crate::protocol::ClientMessage;

/// One thing to carry out, in order.
pub(crate) enum Action {
    /// Send this frame.
    Write(String),
    /// Hand this event to the user.
    Emit(Event),
    /// Complete a request.
    Reply(Reply, Result<Value, Error>),
    /// The connection is unusable (the server went silent): drop it with this reason.
    Drop(String),
}

impl std::fmt::Debug for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Write(frame) => f.debug_tuple("Write").field(frame).finish(),
            Action::Emit(event) => f.debug_tuple("Emit").field(event).finish(),
            Action::Reply(_, result) => f.debug_tuple("Reply").field(result).finish(),
            Action::Drop(reason) => f.debug_tuple("Drop").field(reason).finish(),
        }
    }
}

/// The actions one input produced, the requests it put on the wire (whose deadlines
/// start now), and the reads of the session's own it wants made (which go in the items
/// lane, see `outgoing`).
#[derive(Default, Debug)]
pub(crate) struct Actions {
    pub(crate) list: Vec<Action>,
    pub(crate) written: Vec<Key>,
    pub(crate) reads: Vec<(Key, String)>,
}

impl Actions {
    /// Sends a message that answers nothing (a pong, a ping).
    pub(crate) fn write(&mut self, message: &ClientMessage) {
        self.list.push(Action::Write(message.encode()));
    }

    /// Sends the frame of the request `key`.
    pub(crate) fn write_request(&mut self, key: Key, frame: String) {
        self.written.push(key);
        self.list.push(Action::Write(frame));
    }

    /// Asks for a read of the session's own, sent when the items lane allows.
    pub(crate) fn read(&mut self, key: Key, message: &ClientMessage) {
        self.reads.push((key, message.encode()));
    }

    pub(crate) fn emit(&mut self, event: Event) {
        self.list.push(Action::Emit(event));
    }

    pub(crate) fn reply(&mut self, reply: Reply, result: Result<Value, Error>) {
        self.list.push(Action::Reply(reply, result));
    }
}
