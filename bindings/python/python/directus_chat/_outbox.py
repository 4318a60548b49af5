"""The outbox: sends written to a local file first, sent exactly once, in order.

``Client(url, outbox="chat-outbox.db")`` keeps the client's outbox in that file;
``client.outbox.send("hi")`` writes the message there before it returns and gives it a
local id and a key. Its local echo arrives at once as an ``outbox`` event (``kind``
``queued``), then ``sending``, then ``sent`` (``event.outbox.item`` is the stored item)
or ``failed`` (``event.error``, ``event.outbox.retryable``). A message in the outbox
never times out: lost connections and wire timeouts are retried with the same key, and
the key makes a resend of a stored message meet itself, so it is stored once and its
final state is the one the database has. Another client opening the file gets
:class:`OutboxError` (``OUTBOX_LOCKED``); a damaged or foreign file is refused and left
as it is. A new client on the file resumes what was not sent, in order.

The local echo and the stored message share their key (:attr:`OutboxEntry.key`,
:attr:`ChatMessage.key`): a view keyed by it shows each message once, pending, then sent.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

from ._errors import DirectusError, error_from_code

__all__ = ["Outbox", "OutboxEntry"]


class OutboxEntry:
    """One message (or item) in the outbox, as of one of its events.

    ``local_id`` (its number, the order it was queued in), ``key`` (the key the client
    made, in ``key_field``: the primary key, or ``client_key`` on integer-keyed
    collections), ``collection``, ``data`` (the item as queued), ``state`` (``queued``,
    ``sending``, ``sent``, ``failed``, ``cancelled``), ``attempts``, ``queued_at_ms``;
    ``item`` (the stored item) once sent; ``error`` and ``retryable`` once failed.
    """

    __slots__ = ("local_id", "key", "collection", "key_field", "data", "state", "attempts", "queued_at_ms", "item", "error", "retryable")

    def __init__(self, raw: Dict[str, Any]) -> None:
        self.local_id: int = raw["local_id"]
        self.key: str = raw["key"]
        self.collection: str = raw["collection"]
        self.key_field: str = raw["key_field"]
        self.data: Any = raw["data"]
        self.state: str = raw["state"]
        self.attempts: int = raw["attempts"]
        self.queued_at_ms: int = raw["queued_at_ms"]
        self.item: Any = raw.get("item")
        failure = raw.get("error")
        self.error: Optional[DirectusError] = error_from_code(failure["code"], failure["message"]) if failure else None
        self.retryable: bool = bool(raw.get("retryable", False))

    def __repr__(self) -> str:
        extra = f", error={self.error.code!r}, retryable={self.retryable}" if self.error is not None else ""
        return f"OutboxEntry(local_id={self.local_id}, state={self.state!r}, key={self.key!r}, attempts={self.attempts}{extra})"


class Outbox:
    """A client's outbox (``client.outbox``). Each call writes the outbox file before it
    returns (a disk sync, a few milliseconds, with the GIL released)."""

    def __init__(self, native: Any) -> None:
        self._native = native

    def send(self, text: str) -> OutboxEntry:
        """Queues a chat message; returns its entry (``queued``)."""
        return OutboxEntry(self._native.outbox_send(text))

    def create(self, collection: str, data: Dict[str, Any], *, key_field: str = "id") -> OutboxEntry:
        """Queues the create of one item. Its key is the text in ``key_field``, or a new
        uuid put there; the field must be unique on the server (a uuid primary key, or a
        field such as ``client_key``)."""
        return OutboxEntry(self._native.outbox_create(collection, json.dumps(data), key_field))

    def list(self) -> List[OutboxEntry]:
        """The entries not yet over (queued, being sent, failed), oldest first."""
        return [OutboxEntry(raw) for raw in self._native.outbox_list()]

    def cancel(self, local_id: int) -> OutboxEntry:
        """Removes an entry that never went out, or that failed. One already handed to the
        server may be stored, so it cannot be cancelled (:class:`InvalidArgumentError`)."""
        return OutboxEntry(self._native.outbox_cancel(local_id))

    def edit(self, local_id: int, fields: Dict[str, Any]) -> OutboxEntry:
        """Changes fields of an entry that never went out (or failed); the key stays."""
        return OutboxEntry(self._native.outbox_edit(local_id, json.dumps(fields)))

    def retry(self, local_id: int) -> OutboxEntry:
        """Puts a failed entry back in the queue, in its place, with its key."""
        return OutboxEntry(self._native.outbox_retry(local_id))
