"""The requests of the API, each described once for both clients.

A :class:`Call` says how the blocking :class:`~directus_chat.Client` makes a request
(a native call that waits with the GIL released) and how the asyncio
:class:`~directus_chat.AsyncClient` starts it without waiting (a native ``*_nowait``
call that returns a request id, completed later by a ``reply`` event), and what the
answer becomes. :class:`Calls` holds one typed function per request; ``Client`` and
``AsyncClient`` turn each into a method with :func:`blocking` and
``_aio.awaitable``, so both clients take the same arguments, checked by mypy, and the
signatures are written once.
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any, Callable, Dict, Generic, List, Optional, Sequence, Tuple, TypeVar

from ._events import ChatMessage, FileInfo, ServerInfo, User
from ._native import NativeClient

if TYPE_CHECKING:
    from typing_extensions import Concatenate, ParamSpec

    P = ParamSpec("P")

__all__ = ["Call", "Calls", "Join", "Subscribe", "blocking", "dumps"]

T = TypeVar("T")


def dumps(value: Any) -> Optional[str]:
    """JSON text for the native module, or ``None``."""
    return None if value is None else json.dumps(value)


class Call(Generic[T]):
    """One request: ``wait`` makes it and waits (GIL released) up to a timeout;
    ``start`` sends it without waiting and returns its request id; ``answer`` turns the
    data of its ``reply`` event into the result."""

    __slots__ = ("wait", "start", "answer", "timeout")

    def __init__(
        self,
        wait: Callable[[NativeClient, Optional[float]], T],
        start: Callable[[NativeClient], int],
        answer: Callable[[NativeClient, Any], T],
        timeout: Optional[float],
    ) -> None:
        self.wait = wait
        self.start = start
        self.answer = answer
        self.timeout = timeout


class Subscribe:
    """A subscribe request of the asyncio client: what to subscribe to, and how long to
    wait for the server's acknowledgement (its ``init``)."""

    __slots__ = ("collection", "query", "event", "item", "timeout")

    def __init__(self, collection: Optional[str], query: Optional[Dict[str, Any]], event: Optional[str], item: Any, timeout: Optional[float]) -> None:
        self.collection = collection
        self.query = query
        self.event = event
        self.item = item
        self.timeout = timeout

    def start(self, native: NativeClient) -> Tuple[str, int]:
        """Subscribes without waiting: the uid, and the request id of the reply that
        follows the ``init`` (or carries the refusal)."""
        uid = native.subscribe(self.collection, dumps(self.query), self.event, dumps(self.item), reply=True)
        return uid, native.subscription_id(uid)


class Join(Subscribe):
    """A room to join (:meth:`Client.join`), for the asyncio client."""

    __slots__ = ("room",)

    def __init__(self, room: Optional[str], timeout: Optional[float]) -> None:
        super().__init__(None, None, None, None, timeout)
        self.room = room

    def start(self, native: NativeClient) -> Tuple[str, int]:
        uid = native.join(self.room, reply=True)
        return uid, native.subscription_id(uid)


def _nothing(native: NativeClient, data: Any) -> None:
    return None


def _data(native: NativeClient, data: Any) -> Any:
    return data


def _message(native: NativeClient, data: Any) -> ChatMessage:
    stored = native.message_of(json.dumps(data))
    if stored is None:
        from ._errors import ProtocolError

        raise ProtocolError("PROTOCOL", "the server's answer is not a message")
    return ChatMessage._from_native(stored)


def _messages(native: NativeClient, data: Any) -> List[ChatMessage]:
    return [ChatMessage._from_native(m) for m in native.messages_of(json.dumps(data))]


def _file(native: NativeClient, data: Any) -> FileInfo:
    stored = native.file_of(json.dumps(data))
    if stored is None:
        from ._errors import ProtocolError

        raise ProtocolError("PROTOCOL", "the server's answer is not a file")
    return FileInfo._from_native(stored)


def _bytes(native: NativeClient, data: Any) -> int:
    return int(data["bytes"])


def _user(native: NativeClient, data: Any) -> User:
    return User._from_native(data)


def _server_info(native: NativeClient, data: Any) -> Optional[ServerInfo]:
    return None if data is None else ServerInfo._from_native(data)


def _target(id: Any, ids: Optional[Sequence[Any]], query: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    payload: Dict[str, Any] = {}
    if id is not None:
        payload["id"] = id
    if ids is not None:
        payload["ids"] = list(ids)
    if query is not None:
        payload["query"] = query
    return payload


class Calls:
    """The requests both clients make; each function's docstring is the method's."""

    @staticmethod
    def subscription(
        collection: Optional[str] = None,
        *,
        query: Optional[Dict[str, Any]] = None,
        event: Optional[str] = None,
        item: Any = None,
        timeout: Optional[float] = None,
    ) -> Subscribe:
        """Subscribes to ``collection`` (default: the chat collection with the chat
        query: every field plus the author's name, oldest first); ``event`` filters to
        ``"create"``, ``"update"`` or ``"delete"``, ``item`` to one primary key. Returns
        once the server acknowledged with its ``init`` (the subscription's first event:
        the history); raises :class:`ForbiddenError` and friends when refused."""
        return Subscribe(collection, query, event, item, timeout)

    @staticmethod
    def login(email: str, password: str, *, timeout: Optional[float] = None) -> Call[None]:
        """Logs in with email and password; raises :class:`AuthError` (``AUTH_FAILED``) if refused."""
        return Call(lambda n, t: n.login(email, password, t), lambda n: n.login_nowait(email, password), _nothing, timeout)

    @staticmethod
    def login_with_token(token: str, *, timeout: Optional[float] = None) -> Call[None]:
        """Logs in with an access token (a user's static token or a JWT)."""
        return Call(lambda n, t: n.login_with_token(token, t), lambda n: n.login_with_token_nowait(token), _nothing, timeout)

    @staticmethod
    def login_with_refresh_token(token: str, *, timeout: Optional[float] = None) -> Call[None]:
        """Logs in with a refresh token (they rotate: the client keeps the newest)."""
        return Call(
            lambda n, t: n.login_with_refresh_token(token, t), lambda n: n.login_with_refresh_token_nowait(token), _nothing, timeout
        )

    @staticmethod
    def send(text: str, *, room: Optional[str] = None, extra: Optional[Dict[str, Any]] = None, timeout: Optional[float] = None) -> Call[ChatMessage]:
        """Sends a chat message (to ``room``, with the ``extra`` fields of your schema)
        and returns it as the server stored it. The client-made key (``client_ids``,
        ``client_key``) that makes a retry after a lost connection safe is kept."""
        if room is None and extra is None:
            return Call(lambda n, t: ChatMessage._from_native(n.send(text, t)), lambda n: n.send_nowait(text), _message, timeout)
        more = dumps(extra)
        return Call(
            lambda n, t: ChatMessage._from_native(n.send_with(text, room, more, t)), lambda n: n.send_with_nowait(text, room, more), _message, timeout
        )

    @staticmethod
    def join(room: Optional[str] = None, *, timeout: Optional[float] = None) -> Join:
        """Joins a room (``None``: the lobby, the messages without a room); returns its
        subscription once its history (the newest ``history_limit`` messages, the first
        event) arrived. Its events name the room (``event.room``), their messages say
        whether they are one's ``own`` and ``edited``, a ``delete`` event lists the
        room's deleted keys (``event.deleted``). A client may be in several rooms."""
        return Join(room, timeout)

    @staticmethod
    def load_older(room: Optional[str] = None, *, before: Optional[str] = None, count: int = 50, timeout: Optional[float] = None) -> Call[List[ChatMessage]]:
        """Up to ``count`` messages of ``room`` older than ``before`` (the id of a
        message this client showed; ``None``: the oldest it showed of that room),
        oldest first. Pages go by date, then key, never by offset: paging back while
        others post neither repeats nor skips a message, and never repeats what the
        room's events delivered. An empty list is the beginning of the room."""
        return Call(
            lambda n, t: [ChatMessage._from_native(m) for m in n.load_older(room, before, count, t)],
            lambda n: n.load_older_nowait(room, before, count),
            _messages,
            timeout,
        )

    @staticmethod
    def edit_message(id: str, text: str, *, timeout: Optional[float] = None) -> Call[ChatMessage]:
        """Changes the text of one's own message and returns it as stored; raises
        :class:`ForbiddenError` for another user's (with the schema kit's permissions)."""
        key = str(id)
        return Call(lambda n, t: ChatMessage._from_native(n.edit_message(key, text, t)), lambda n: n.edit_message_nowait(key, text), _message, timeout)

    @staticmethod
    def delete_message(id: str, *, timeout: Optional[float] = None) -> Call[None]:
        """Deletes one's own message; raises :class:`ForbiddenError` for another user's."""
        key = str(id)
        return Call(lambda n, t: n.delete_message(key, t), lambda n: n.delete_message_nowait(key), _nothing, timeout)

    @staticmethod
    def whoami(*, timeout: Optional[float] = None) -> Call[User]:
        """Asks the server who the logged-in user is. From then on (as after a join) the
        user is learned again after every login and re-login."""
        return Call(lambda n, t: User._from_native(n.whoami(t)), lambda n: n.whoami_nowait(), _user, timeout)

    @staticmethod
    def known_server_info(*, timeout: Optional[float] = None) -> Call[Optional[ServerInfo]]:
        """Waits (at most ``timeout``) until the server's info, read over REST after the
        last login, is in, and returns it; ``None`` when it could not be read (no login,
        REST unreachable or refused: the session then goes by behaviour)."""
        return Call(lambda n, t: _server_info(n, n.known_server_info(t)), lambda n: n.known_server_info_nowait(), _server_info, timeout)

    @staticmethod
    def enter(room: str, *, timeout: Optional[float] = None) -> Call[None]:
        """Enters a room's presence: writes one's presence row there (then a heartbeat)
        and follows who is online and typing, who read what, and the room's unread count
        (``presence`` events; :meth:`online`, :meth:`unread`, :meth:`readers`). Returns
        once the row is written. Needs the schema kit's ``presence`` and
        ``read_receipts`` collections."""
        return Call(lambda n, t: n.enter(room, t), lambda n: n.enter_nowait(room), _nothing, timeout)

    @staticmethod
    def exit(room: str, *, timeout: Optional[float] = None) -> Call[None]:
        """Exits a room's presence: deletes one's row (others see it at once) and stops
        following the room's presence and receipts."""
        return Call(lambda n, t: n.exit(room, t), lambda n: n.exit_nowait(room), _nothing, timeout)

    @staticmethod
    def mark_read(room: str, message: str, *, timeout: Optional[float] = None) -> Call[None]:
        """Moves one's read marker in an entered room to ``message`` (its id): others see
        it, and the unread count drops to the messages after it."""
        key = str(message)
        return Call(lambda n, t: n.mark_read(room, key, t), lambda n: n.mark_read_nowait(room, key), _nothing, timeout)

    @staticmethod
    def upload(
        path: Optional[str] = None,
        *,
        data: Optional[bytes] = None,
        name: Optional[str] = None,
        type: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> Call[FileInfo]:
        """Uploads a file to the server (REST ``POST /files`` with the login's token):
        the file at ``path``, or ``data`` named ``name``; ``type`` is its MIME type.
        Returns it as stored; send it in a message with ``send(text, extra={"file":
        f.id})``. Waits without a limit unless ``timeout`` is given; for progress events
        and a cancel see :meth:`Client.upload_nowait`."""
        where = None if path is None else str(path)
        return Call(
            lambda n, t: FileInfo._from_native(n.upload(where, data, name, type, t)),
            lambda n: n.upload_nowait(where, data, name, type),
            _file,
            timeout,
        )

    @staticmethod
    def download(file_id: str, dest: str, *, timeout: Optional[float] = None) -> Call[int]:
        """Downloads file ``file_id``'s contents into ``dest`` (written as
        ``dest + ".part"`` and renamed when complete); returns the number of bytes."""
        where = str(dest)
        return Call(lambda n, t: n.download(file_id, where, t), lambda n: n.download_nowait(file_id, where), _bytes, timeout)

    @staticmethod
    def request(collection: str, action: str, payload: Optional[Dict[str, Any]] = None, *, timeout: Optional[float] = None) -> Call[Any]:
        """An items request: ``action`` is create/read/update/delete, ``payload`` a dict
        with any of ``data``, ``id``, ``ids``, ``query``. Returns the server's data."""
        text = dumps(payload)
        return Call(lambda n, t: n.request(collection, action, text, t), lambda n: n.request_nowait(collection, action, text), _data, timeout)

    @staticmethod
    def create(collection: str, data: Any, *, timeout: Optional[float] = None) -> Call[Any]:
        """Creates one item (``data`` a dict) or several (a list); returns them as stored."""
        return Calls.request(collection, "create", {"data": data}, timeout=timeout)

    @staticmethod
    def read(
        collection: str,
        *,
        id: Any = None,
        ids: Optional[Sequence[Any]] = None,
        query: Optional[Dict[str, Any]] = None,
        timeout: Optional[float] = None,
    ) -> Call[Any]:
        """Reads one item (``id``), several (``ids``) or those matching ``query``."""
        return Calls.request(collection, "read", _target(id, ids, query), timeout=timeout)

    @staticmethod
    def update(
        collection: str,
        data: Dict[str, Any],
        *,
        id: Any = None,
        ids: Optional[Sequence[Any]] = None,
        query: Optional[Dict[str, Any]] = None,
        timeout: Optional[float] = None,
    ) -> Call[Any]:
        """Updates the chosen items with ``data``; returns them as stored."""
        payload = _target(id, ids, query)
        payload["data"] = data
        return Calls.request(collection, "update", payload, timeout=timeout)

    @staticmethod
    def delete(
        collection: str,
        *,
        id: Any = None,
        ids: Optional[Sequence[Any]] = None,
        query: Optional[Dict[str, Any]] = None,
        timeout: Optional[float] = None,
    ) -> Call[Any]:
        """Deletes the chosen items (the server requires ``id``, ``ids`` or ``query``)."""
        return Calls.request(collection, "delete", _target(id, ids, query), timeout=timeout)


def blocking(describe: "Callable[P, Call[T]]") -> "Callable[Concatenate[Any, P], T]":
    """The blocking client's method for a request: makes it and waits for its answer."""

    def method(self: Any, /, *args: "P.args", **kwargs: "P.kwargs") -> T:
        call = describe(*args, **kwargs)
        return call.wait(self._native, call.timeout)

    functools.update_wrapper(method, describe)
    return method
