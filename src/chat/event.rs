//! Chat events: the events of joined rooms and the answers of history pages, read as
//! chat messages of a named room.

use super::rooms::Room;
use super::ChatMessage;

/// What a chat event says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChatEventKind {
    /// The newest messages of a room, when it was joined.
    History,
    /// New messages.
    Created,
    /// Messages were edited (each has [`ChatMessage::edited`] set).
    Edited,
    /// Messages were deleted: see [`ChatEvent::deleted`].
    Deleted,
    /// A page of older messages (the answer of `load_older`).
    Older,
}

impl ChatEventKind {
    /// A lower-case name: `history`, `created`, `edited`, `deleted`, `older`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChatEventKind::History => "history",
            ChatEventKind::Created => "created",
            ChatEventKind::Edited => "edited",
            ChatEventKind::Deleted => "deleted",
            ChatEventKind::Older => "older",
        }
    }
}

/// One event of the chat API: what happened in which room.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatEvent {
    /// The room; `None` is the lobby.
    pub room: Room,
    /// What happened.
    pub kind: ChatEventKind,
    /// The messages, oldest first (empty for [`ChatEventKind::Deleted`]).
    pub messages: Vec<ChatMessage>,
    /// The keys of deleted messages of this room (only for [`ChatEventKind::Deleted`]).
    pub deleted: Vec<String>,
    /// The room subscription's number (0 for a history page).
    pub subscription: u64,
    /// The request id of a history page fetched with `load_older_nowait` (else 0).
    pub request: u64,
}
