"""Events and chat messages as Python objects."""

from __future__ import annotations

import datetime as _dt
from typing import Any, List, Literal, NamedTuple, Optional, Tuple, Union

from ._errors import DirectusError, error_from_code
from ._outbox import OutboxEntry
from ._typing import AuthMode

__all__ = ["ChatMessage", "Event", "FileInfo", "ServerInfo", "User", "parse_date"]

# One message from the native module: (id, text, author, date, raw, key) and, from the chat
# API on, (room, author_id, own, edited, updated).
NativeMessage = Tuple[Any, ...]
# What the native module hands over for one event.
NativeEvent = Tuple[str, Optional[str], Optional[str], Any, Optional[str], Optional[str], int, List[NativeMessage]]


def parse_date(text: Optional[str]) -> Optional[_dt.datetime]:
    """An ISO 8601 date from Directus as an aware ``datetime`` (UTC when no zone is given)."""
    if not text:
        return None
    t = text.strip()
    if t.endswith("Z"):
        t = t[:-1] + "+00:00"
    # Python 3.8-3.10 accept at most 6 fraction digits and need a zone in +HH:MM form.
    try:
        value = _dt.datetime.fromisoformat(t)
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    return value


class ChatMessage:
    """One chat message: ``id``, ``text``, ``author`` (name), ``date`` and the ``raw``
    item; its ``room`` (``None``: the lobby), ``author_id``, whether it is the logged-in
    user's ``own`` and whether it was ``edited`` (and when: ``updated``).

    ``key`` is the key the client made for it when it was sent through the outbox (its
    ``client_key``, or its primary key with client ids), else its ``id``: an outbox
    entry's local echo and the message the server stored have the same key.
    """

    __slots__ = ("id", "text", "author", "date", "raw", "key", "room", "author_id", "own", "edited", "updated", "file")

    def __init__(
        self,
        id: str,
        text: str,
        author: Optional[str],
        date: Optional[_dt.datetime],
        raw: Any,
        key: str = "",
        room: Optional[str] = None,
        author_id: Optional[str] = None,
        own: bool = False,
        edited: bool = False,
        updated: Optional[_dt.datetime] = None,
    ) -> None:
        self.id = id
        self.text = text
        self.author = author
        self.date = date
        self.raw = raw
        self.key = key or id
        self.room = room
        self.author_id = author_id
        self.own = own
        self.edited = edited
        self.updated = updated
        self.file: Optional[FileInfo] = None
        """The attached file, where the schema has a file field (``file_field=``)."""

    @classmethod
    def _from_native(cls, t: NativeMessage) -> "ChatMessage":
        m = cls(t[0], t[1], t[2], parse_date(t[3]), t[4], t[5] if len(t) > 5 else "")
        if len(t) >= 11:
            m.room, m.author_id, m.own, m.edited, m.updated = t[6], t[7], bool(t[8]), bool(t[9]), parse_date(t[10])
        if len(t) >= 12 and t[11] is not None:
            m.file = FileInfo._from_native(t[11])
        return m

    def __repr__(self) -> str:
        extra = "".join(
            part
            for part in (
                f", room={self.room!r}" if self.room is not None else "",
                ", own=True" if self.own else "",
                ", edited=True" if self.edited else "",
                f", file={self.file!r}" if self.file is not None else "",
            )
        )
        return f"ChatMessage(id={self.id!r}, author={self.author!r}, text={self.text!r}, date={self.date!r}{extra})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChatMessage) and (self.id, self.text, self.author, self.date) == (
            other.id,
            other.text,
            other.author,
            other.date,
        )

    __hash__ = None  # type: ignore[assignment]


class FileInfo:
    """A file stored on the server: an upload's result, or a message's attachment.
    ``id`` is what a message's file field holds; ``name``, ``type`` (MIME) and ``size``
    (bytes) are what the server recorded; ``raw`` the whole file object. Its contents are
    at :meth:`Client.asset_url` and come with :meth:`Client.download`."""

    __slots__ = ("id", "name", "type", "size", "raw")

    def __init__(self, id: str, name: Optional[str] = None, type: Optional[str] = None, size: Optional[int] = None, raw: Any = None) -> None:
        self.id = id
        self.name = name
        self.type = type
        self.size = size
        self.raw = raw

    @classmethod
    def _from_native(cls, t: Tuple[Any, ...]) -> "FileInfo":
        return cls(t[0], t[1], t[2], t[3], t[4])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FileInfo) and (self.id, self.name, self.type, self.size) == (other.id, other.name, other.type, other.size)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FileInfo(id={self.id!r}, name={self.name!r}, type={self.type!r}, size={self.size!r})"


class User:
    """The logged-in user: ``id``, ``first_name``, ``last_name``, ``email``."""

    __slots__ = ("id", "first_name", "last_name", "email")

    def __init__(self, id: str, first_name: Optional[str] = None, last_name: Optional[str] = None, email: Optional[str] = None) -> None:
        self.id = id
        self.first_name = first_name
        self.last_name = last_name
        self.email = email

    @classmethod
    def _from_native(cls, d: Any) -> "User":
        return cls(str(d["id"]), d.get("first_name"), d.get("last_name"), d.get("email"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, User) and (self.id, self.first_name, self.last_name, self.email) == (
            other.id,
            other.first_name,
            other.last_name,
            other.email,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, first_name={self.first_name!r}, last_name={self.last_name!r}, email={self.email!r})"


class ServerInfo:
    """What the server told about itself after a login (``GET /server/info``):
    ``version`` (e.g. ``"12.4.0"``), ``major``/``minor``/``patch`` (``None`` when the
    version is no release number), ``heartbeat`` (the server's ping period in seconds,
    ``False`` when it does not ping, ``None`` when not told), ``auth_mode``
    (``"handshake"``, ``"public"``, ``"strict"`` or ``None``) and ``error_uids``
    (whether its errors carry the request's uid: from 12.4.0)."""

    __slots__ = ("version", "major", "minor", "patch", "heartbeat", "auth_mode", "error_uids")

    def __init__(
        self,
        version: str,
        major: Optional[int] = None,
        minor: Optional[int] = None,
        patch: Optional[int] = None,
        heartbeat: Union[float, Literal[False], None] = None,
        auth_mode: Optional[AuthMode] = None,
        error_uids: Optional[bool] = None,
    ) -> None:
        self.version = version
        self.major = major
        self.minor = minor
        self.patch = patch
        self.heartbeat = heartbeat
        self.auth_mode = auth_mode
        self.error_uids = error_uids

    @classmethod
    def _from_native(cls, d: Any) -> "ServerInfo":
        heartbeat = d.get("heartbeat")
        if heartbeat is not None and heartbeat is not False:
            heartbeat = float(heartbeat)
        return cls(str(d["version"]), d.get("major"), d.get("minor"), d.get("patch"), heartbeat, d.get("auth_mode"), d.get("error_uids"))

    def _key(self) -> Tuple[Any, ...]:
        return (self.version, self.major, self.minor, self.patch, self.heartbeat, self.auth_mode, self.error_uids)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ServerInfo) and self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"ServerInfo(version={self.version!r}, heartbeat={self.heartbeat!r}, auth_mode={self.auth_mode!r}, "
            f"error_uids={self.error_uids!r})"
        )


class Event:
    """One event of a client or subscription.

    ``type`` is ``"subscription"`` (with ``kind`` ``init``/``create``/``update``/
    ``delete``), ``"state"`` (``kind`` is the new state: ``connecting``, ``connected``,
    ``authenticated``, ``disconnected``, ``closed``; ``reason`` says why),
    ``"subscription_error"``, ``"reply"`` (the outcome of a ``*_nowait`` call, whose id
    is ``request``), ``"error"``, ``"unknown"`` or ``"outbox"`` (``kind`` is the entry's
    new state: ``queued``, ``sending``, ``sent``, ``failed``, ``cancelled``; ``outbox`` is
    the :class:`OutboxEntry`, ``messages`` its local echo). State events also tell the
    connection attempt (``attempt``), the delay before the next one (``retry_in``) and why
    the client closed (``cause``). ``"presence"`` events tell what changed in a room
    one entered (:meth:`Client.enter`): ``kind`` ``online`` (``user`` came online or went
    offline: ``online``), ``typing`` (``typing``), ``unread`` (``unread``, the count) or
    ``read`` (``user``'s read marker moved to ``last_read``), with the ``room``.
    ``"transfer"`` events tell an upload's or download's progress: ``request`` names it,
    ``data`` is ``{"done": bytes, "total": bytes or None}``. ``data`` holds the items (dicts), deleted keys, or reply data;
    ``messages`` the items read as :class:`ChatMessage`; ``error`` a
    :class:`DirectusError` for failures. Events of a joined room (:meth:`Client.join`)
    name it in ``room`` (``None``: the lobby; ``is_room`` tells them from other events)
    and list the keys of deleted messages in ``deleted``, only that room's.
    """

    __slots__ = ("type", "kind", "uid", "collection", "data", "messages", "error", "reason", "request", "outbox", "room", "is_room", "deleted")

    def __init__(
        self,
        type: str,
        kind: Optional[str] = None,
        uid: Optional[str] = None,
        collection: Optional[str] = None,
        data: Any = None,
        messages: Optional[List[ChatMessage]] = None,
        error: Optional[DirectusError] = None,
        reason: Optional[str] = None,
        request: int = 0,
        outbox: Optional[OutboxEntry] = None,
    ) -> None:
        self.type = type
        self.kind = kind
        self.uid = uid
        self.collection = collection
        self.data = data
        self.messages: List[ChatMessage] = messages or []
        self.error = error
        self.reason = reason
        self.request = request
        self.outbox = outbox
        """For ``outbox`` events: the entry."""
        self.room: Optional[str] = None
        self.is_room = False
        self.deleted: List[str] = []

    @classmethod
    def _from_native(cls, t: NativeEvent, collection: Optional[str] = None, room: Any = None, is_room: bool = False) -> "Event":
        event = cls._make(t, collection)
        if event.type == "presence" and isinstance(event.data, dict):
            event.room = event.data.get("room")
        if is_room:
            event.room, event.is_room = room, True
            if event.kind == "delete" and isinstance(event.data, list):
                event.deleted = [str(k) for k in event.data]
        return event

    @classmethod
    def _make(cls, t: NativeEvent, collection: Optional[str]) -> "Event":
        type_, kind, uid, data, code, message, request, messages = t
        error = error_from_code(code, message or "") if code is not None else None
        reason = message if type_ == "state" else None
        return cls(
            type_,
            kind,
            uid,
            collection,
            data,
            [ChatMessage._from_native(m) for m in messages],
            error,
            reason,
            request,
            OutboxEntry(data) if type_ == "outbox" else None,
        )

    def _presence(self, key: str) -> Any:
        return self.data.get(key) if self.type == "presence" and isinstance(self.data, dict) else None

    @property
    def user(self) -> Optional[str]:
        """Presence events: the user's id; else ``None``."""
        value = self._presence("user")
        return str(value) if value is not None else None

    @property
    def user_name(self) -> Optional[str]:
        """Presence events: the user's first name, when readable; else ``None``."""
        value = self._presence("name")
        return str(value) if value is not None else None

    @property
    def online(self) -> Optional[bool]:
        """``online`` presence events: whether the user is online now; else ``None``."""
        value = self._presence("online")
        return bool(value) if value is not None else None

    @property
    def typing(self) -> Optional[bool]:
        """``typing`` presence events: whether the user types now; else ``None``."""
        value = self._presence("typing")
        return bool(value) if value is not None else None

    @property
    def unread(self) -> Optional[int]:
        """``unread`` presence events: the room's unread count; else ``None``."""
        value = self._presence("count")
        return int(value) if value is not None else None

    @property
    def last_read(self) -> Optional[str]:
        """``read`` presence events: the key of the last message the user read."""
        value = self._presence("last_read")
        return str(value) if value is not None else None

    def _state_detail(self, key: str) -> Any:
        return self.data.get(key) if self.type == "state" and isinstance(self.data, dict) else None

    @property
    def attempt(self) -> int:
        """State events: which connection attempt in a row the state belongs to (0 for
        a connection that is or was open, n for the n-th attempt since); else 0."""
        value = self._state_detail("attempt")
        return int(value) if value is not None else 0

    @property
    def retry_in(self) -> Optional[float]:
        """``disconnected`` events: seconds before the next attempt, ``None`` when no
        attempt follows (the client is about to close); else ``None``."""
        value = self._state_detail("retry_in")
        return float(value) if value is not None else None

    @property
    def cause(self) -> Optional[str]:
        """The ``closed`` event: why the client closed: ``by_user``, ``gave_up``
        (the reconnect attempts are spent), ``auth_refused`` or ``failed``; else ``None``."""
        value = self._state_detail("cause")
        return str(value) if value is not None else None

    def __repr__(self) -> str:
        parts = [f"type={self.type!r}"]
        for name in ("kind", "uid", "collection", "room"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value!r}")
        if self.messages:
            parts.append(f"messages={self.messages!r}")
        elif self.data is not None and self.type != "state":
            text = repr(self.data)
            parts.append(f"data={text if len(text) <= 200 else text[:197] + '...'}")
        if self.attempt:
            parts.append(f"attempt={self.attempt}")
        for name in ("retry_in", "cause", "error", "reason"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value!r}")
        if self.request:
            parts.append(f"request={self.request}")
        return f"Event({', '.join(parts)})"


class Member(NamedTuple):
    """A user online in a room (:meth:`Client.online`)."""

    user: str
    """The user's id."""
    name: Optional[str]
    """The user's first name, when readable."""
    typing: bool
    """Whether the user types."""
    seen: str
    """The server's time of the user's last write (ISO 8601)."""


class Reader(NamedTuple):
    """A user who has read a message (:meth:`Client.readers`)."""

    user: str
    """The user's id."""
    name: Optional[str]
    """The user's first name, when readable."""
    last_read: Optional[str]
    """The key of the last message they read."""
    last_read_date: Optional[str]
    """That message's date (ISO 8601)."""
