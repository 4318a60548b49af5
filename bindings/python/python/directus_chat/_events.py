"""Events and chat messages as Python objects."""

from __future__ import annotations

import datetime as _dt
from typing import Any, List, Literal, NamedTuple, Optional, Tuple, Union

from ._native import ChatMessage, Event
from ._typing import AuthMode

__all__ = ["ChatMessage", "Event", "FileInfo", "ServerInfo", "User", "parse_date"]

# One message from the native module: (id, text, author, date, raw, key, room, author_id,
# own, edited, updated, file); ``ChatMessage._from_native`` reads it.
NativeMessage = Tuple[Any, ...]
# The native module hands over each event as an ``Event``, made in Rust: its attributes
# are made when first read (see the native module's ``events.rs``).
NativeEvent = Event


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
