"""The blocking API: :class:`Client` and :class:`Subscription`."""

from __future__ import annotations

import json as _json
import queue
import threading
import weakref
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from . import _native
from ._calls import Calls, blocking
from ._calls import dumps as _dumps
from ._errors import ClosedError, DirectusError, DirectusTimeoutError, InvalidArgumentError
from ._events import Event, FileInfo, Member, Reader, ServerInfo, User
from ._logging import ensure_log_bridge, logger
from ._outbox import Outbox
from ._shutdown import register_thread
from ._typing import AuthMode

__all__ = ["Client", "Subscription", "EventCallback", "ErrorHook"]

EventCallback = Callable[[Event], None]
"""A callback that receives events."""

ErrorHook = Callable[[BaseException, Event], None]
"""Called with an exception a user callback raised, and the event it was handling."""

_END = None


# `room=` of a subscription that is not a room's.
_NOT_A_ROOM: Any = object()


class Subscription:
    """A live subscription.

    Iterate over it (``for event in sub``) or call :meth:`next` to take its events;
    with a callback, events go to the callback instead. Iteration ends when the
    subscription ends (unsubscribed, refused, or the client closed). Use it as a
    context manager to unsubscribe on exit. A subscription without a callback that is
    no longer referenced unsubscribes by itself (nobody could read its events).
    """

    def __init__(
        self,
        client: "Client",
        uid: str,
        collection: str,
        sink: Optional[Callable[[Optional[Event]], None]],
        sink_counts: bool = False,
        room: Any = _NOT_A_ROOM,
    ) -> None:
        self._client = client
        self._native = client._native
        # A sink that queues events itself (asyncio) reports their consumption itself.
        self._sink_counts = sink_counts
        self.uid = uid
        """The uid the server tags this subscription's events with."""
        self.collection = collection
        """The subscribed collection."""
        self.is_room = room is not _NOT_A_ROOM
        """Whether this is a room joined with :meth:`Client.join`."""
        self.room: Optional[str] = room if self.is_room else None
        """The joined room (``None``: the lobby)."""
        self._sink = sink
        # A user's callback, called straight from ``_deliver`` (see ``Client._sink_of``).
        self._callback: Optional[EventCallback] = getattr(sink, "_user_callback", None)
        self._queue: "queue.Queue[Optional[Event]]" = queue.Queue()
        self._ready = threading.Event()
        self._error: Optional[DirectusError] = None
        self._ended = False
        self.request = 0
        """For a subscription made without waiting: the request id of the ``reply``
        event that completes its subscribe (after the ``init``), else 0."""

    # Called on the client's dispatcher thread. An event counts as consumed (so the
    # session may read on) once the user has taken it: when a callback returns, or when
    # ``next`` hands it out; ``max_buffered_events`` bounds this queue that way.
    def _deliver(self, event: Event) -> None:
        if event.type == "subscription_error":
            self._error = event.error
            self._ready.set()
            event._consumed()
            self._end()
            return
        if event.kind == "init":
            self._ready.set()
        callback = self._callback
        if callback is not None:
            # The common case, without the layers of a generic sink: every call costs on
            # a busy subscription.
            try:
                callback(event)
            except Exception as exc:  # a user callback must never stop the session
                self._client._callback_failed(exc, event)
            finally:
                event._consumed()
            return
        if self._sink is not None:
            try:
                self._sink(event)
            finally:
                if not self._sink_counts:
                    event._consumed()
        else:
            self._queue.put(event)

    def _end(self, discard: bool = False) -> None:
        """Ends the subscription; ``discard`` drops the events nobody took yet (after
        an unsubscribe, none may be delivered)."""
        if self._ended:
            return
        self._ended = True
        self._ready.set()
        if discard:
            self._release()
        if self._sink is not None:
            self._sink(_END)
        else:
            self._queue.put(_END)

    def _release(self) -> None:
        """Counts every event still queued as consumed, and drops it."""
        while True:
            try:
                event = self._queue.get_nowait()
            except queue.Empty:
                break
            if event is _END:
                self._queue.put(_END)
                break
            event._consumed()

    @property
    def ended(self) -> bool:
        """Whether the subscription has ended."""
        return self._ended

    def next(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The next event, waiting up to ``timeout`` seconds (``None``: no limit).

        Returns ``None`` on timeout; raises :class:`ClosedError` once the subscription
        has ended and every event was taken.
        """
        if self._client._poll_mode:
            raise InvalidArgumentError("INVALID_ARGUMENT", "a poll-mode client hands out every event from Client.poll()")
        try:
            event = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if event is _END:
            self._queue.put(_END)
            raise ClosedError("CLOSED", "the subscription has ended")
        event._consumed()
        return event

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        while True:
            try:
                event = self.next(timeout=0.5)
            except ClosedError:
                raise StopIteration from None
            if event is not None:
                return event

    def unsubscribe(self, timeout: Optional[float] = None) -> None:
        """Ends the subscription; no event of it is delivered afterwards."""
        self._client.unsubscribe(self, timeout=timeout)

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._ended and not self._client.closed:
            self.unsubscribe()

    def __repr__(self) -> str:
        return f"<Subscription uid={self.uid!r} collection={self.collection!r} ended={self._ended}>"

    def __del__(self) -> None:
        try:
            if not self._ended:
                self._native.unsubscribe_nowait(self.uid)
            # Nobody can take what is still queued any more.
            self._release()
        except Exception:
            pass  # the client is gone or closed: nothing to end


class Client:
    """A connection to a Directus server's realtime endpoint (blocking API).

    Connects on construction. ``url`` is ``ws://host:port/websocket``,
    ``wss://...`` or the server's ``http(s)://`` base URL. Every blocking call takes a
    ``timeout`` (seconds; default: the client's ``timeout``) and releases the GIL while
    it waits. Callbacks run on one dispatcher thread of this client, in event order; an
    exception raised in one is logged on the ``directus_chat`` logger and passed to
    ``on_callback_error``, and the session goes on.

    Chat helpers use ``collection``, ``text_field`` and ``author_path`` (the defaults
    match the Directus chat guides), and the schema's other field names: ``id_field``
    (the primary key), ``date_field`` (the creation date, which orders the history),
    ``user_field`` (the author relation), ``room_field`` and ``updated_field`` (the edit
    date; ``None`` for schemas without one). Presence and read receipts live in
    ``presence_collection`` and ``receipts_collection`` (the schema kit's names by
    default). With ``client_ids=True`` (for uuid-keyed
    collections) the client picks each message's key, so a message whose answer was
    lost with the connection is resent safely and stored once.

    With ``outbox`` (a file path), ``client.outbox`` sends through a durable outbox
    (see :class:`Outbox`): written to the file before the call returns, resumed by the
    next client on the file after a crash, stored exactly once, never timed out.

    At most ``max_buffered_events`` events, or ``max_buffered_bytes`` bytes of them
    (their data as the server sent it plus the event itself; 2 MiB), wait for the user
    (in subscription queues, or for callbacks to return); at either mark the session
    stops reading the socket until the user catches up, so memory stays bounded.

    Never blocking the caller: with ``nowait=True`` the constructor returns at once and
    the socket opens in the background (``state`` events report it; a failed attempt is
    retried like a lost connection); requests made meanwhile wait for it and for the
    login, without timing out. Every request has a ``*_nowait`` form that returns a
    request id, completed by one ``reply`` event. With ``poll=True`` the client has no
    dispatcher thread: a game loop takes the events with :meth:`poll`, e.g. once per
    frame. ``auth_mode="public"`` is for servers that serve requests before a login
    (``WEBSOCKETS_REST_AUTH=public``), ``"strict"`` for servers whose upgrade needs a
    token (see :data:`AuthMode`); ``max_queued`` bounds the requests that wait for the
    login or a reconnect. After each login the client reads what the server tells about
    itself (:attr:`server_info`) over REST (``rest_url``) and adapts to it;
    ``discovery=False`` leaves it to behaviour alone.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        collection: str = "messages",
        text_field: str = "text",
        author_path: str = "user_created.first_name",
        ca_pem: Optional[str] = None,
        system_roots: bool = False,
        reconnect: bool = True,
        heartbeat: Optional[float] = 30.0,
        client_ids: bool = False,
        max_buffered_events: int = 100_000,
        max_buffered_bytes: int = 2 << 20,
        outbox: Optional[str] = None,
        max_queued: int = 1024,
        auth_mode: AuthMode = "handshake",
        nowait: bool = False,
        poll: bool = False,
        room_field: Optional[str] = "room",
        client_key: Optional[str] = None,
        history_limit: int = 100,
        presence_heartbeat: Optional[float] = None,
        presence_ttl: Optional[float] = None,
        presence_on_join: bool = False,
        file_field: Optional[str] = None,
        rest_url: Optional[str] = None,
        id_field: str = "id",
        date_field: str = "date_created",
        user_field: str = "user_created",
        updated_field: Optional[str] = "date_updated",
        presence_collection: str = "presence",
        receipts_collection: str = "read_receipts",
        discovery: bool = True,
        on_state: Optional[EventCallback] = None,
        on_event: Optional[EventCallback] = None,
        on_error: Optional[Callable[[DirectusError], None]] = None,
        on_callback_error: Optional[ErrorHook] = None,
    ) -> None:
        ensure_log_bridge()
        self.timeout = timeout
        """The default timeout of blocking calls, in seconds."""
        self.collection = collection
        """The chat collection."""
        if auth_mode not in ("handshake", "public", "strict"):
            raise InvalidArgumentError("INVALID_ARGUMENT", f"auth_mode is {auth_mode!r}: use 'handshake', 'public' or 'strict'")
        self._poll_mode = poll
        # Request id -> what completes it (the asyncio client's futures), and what wants
        # to see each state event; both called on the dispatcher thread.
        self._replies: Dict[int, Callable[[Event], None]] = {}
        self._state_hooks: List[Callable[[Event], None]] = []
        # The state event that settled the first attempt to connect (connected,
        # disconnected or closed), for those who wait for it.
        self._first: Optional[Event] = None
        self._on_state = on_state
        self._on_event = on_event
        self._on_error = on_error
        self._on_callback_error = on_callback_error
        self._lock = threading.Lock()
        # Callback subscriptions live as long as the client; iterator subscriptions as
        # long as the user holds them.
        self._subs: Dict[str, Subscription] = {}
        self._weak_subs: "weakref.WeakValueDictionary[str, Subscription]" = weakref.WeakValueDictionary()
        self._closed = threading.Event()
        self._native = _native.NativeClient(
            url,
            timeout=timeout,
            collection=collection,
            text_field=text_field,
            author_path=author_path,
            ca_pem=ca_pem,
            system_roots=system_roots,
            reconnect=reconnect,
            heartbeat=heartbeat,
            client_ids=client_ids,
            max_buffered_events=max_buffered_events,
            max_buffered_bytes=max_buffered_bytes,
            outbox=outbox,
            nowait=nowait,
            auth_mode=auth_mode,
            max_queued=max_queued,
            room_field=room_field,
            client_key=client_key,
            history_limit=history_limit,
            presence_heartbeat=presence_heartbeat,
            presence_ttl=presence_ttl,
            presence_on_join=presence_on_join,
            file_field=file_field,
            rest_url=rest_url,
            id_field=id_field,
            date_field=date_field,
            user_field=user_field,
            updated_field=updated_field,
            presence_collection=presence_collection,
            receipts_collection=receipts_collection,
            discovery=discovery,
        )
        self._outbox = Outbox(self._native) if outbox is not None else None
        self._thread = threading.Thread(target=self._dispatch, name="directus-chat-dispatch", daemon=True)
        # Registered before it runs a callback that might call shutdown(), which must see
        # it is one of ours; joined by the shutdown at exit (see _shutdown). A poll-mode
        # client has none running: the shutdown closes it natively.
        register_thread(self._thread)
        if not poll:
            self._thread.start()

    # ---- dispatching (the dispatcher thread)

    def _dispatch(self) -> None:
        while not self._closed.is_set():
            self._pump(0.5)

    def _pump(self, timeout: float) -> None:
        route = self._route
        for native in self._native.next_events(512, timeout):
            route(native)

    def _route(self, event: Event) -> None:
        type_, uid = event.type, event.uid
        if type_ == "subscription":
            # Most events: found without the lock (a dict read is atomic); one not found
            # may still be registering, under the lock.
            sub = self._subs.get(uid) if uid is not None else None
            if sub is None:
                with self._lock:
                    sub = self._lookup(uid)
            if sub is None:
                event._consumed()
                return
            event._adopt(sub.collection, sub.room, sub.is_room)
            sub._deliver(event)
            return
        if type_ == "subscription_error":
            with self._lock:
                sub = self._lookup(uid)
                if sub is not None and type_ == "subscription_error":
                    self._drop(sub.uid)
            if sub is not None:
                event._adopt(sub.collection, sub.room, sub.is_room)
                sub._deliver(event)
            else:
                event._consumed()
            return
        try:
            if type_ == "reply":
                with self._lock:
                    hook = self._replies.pop(event.request, None)
                if hook is not None:
                    hook(event)
                    return
            self._route_client_event(event)
        finally:
            event._consumed()

    def _route_client_event(self, event: Event) -> None:
        type_ = event.type
        if type_ == "state" and event.kind is not None:
            with self._lock:
                if self._first is None and event.kind in ("connected", "disconnected", "closed"):
                    self._first = event
                hooks = list(self._state_hooks)
            for hook in hooks:
                hook(event)
            if self._on_state is not None:
                self._call(self._on_state, event)
            if event.kind == "closed":
                self._finish()
        elif type_ == "error" and event.error is not None:
            on_error, error = self._on_error, event.error
            if on_error is not None:
                self._call(lambda _event: on_error(error), event)
            else:
                logger.warning("directus_chat: %s", event.error)
        if self._on_event is not None:
            self._call(self._on_event, event)

    def _call(self, callback: Callable[[Event], Any], event: Event) -> None:
        try:
            callback(event)
        except Exception as exc:  # a user callback must never stop the session
            self._callback_failed(exc, event)

    def _callback_failed(self, exc: Exception, event: Event) -> None:
        """Reports an exception a user callback raised (within its ``except``)."""
        logger.error("exception in a directus_chat callback while handling %r", event, exc_info=True)
        if self._on_callback_error is not None:
            try:
                self._on_callback_error(exc, event)
            except Exception:
                logger.exception("exception in on_callback_error")

    def _lookup(self, uid: Optional[str]) -> Optional[Subscription]:
        if uid is None:
            return None
        return self._subs.get(uid) or self._weak_subs.get(uid)

    def _drop(self, uid: str) -> None:
        self._subs.pop(uid, None)
        self._weak_subs.pop(uid, None)

    def _finish(self) -> None:
        with self._lock:
            subs = list(self._subs.values()) + list(self._weak_subs.values())
            self._subs.clear()
            self._weak_subs.clear()
        for sub in subs:
            sub._end()
        self._closed.set()

    def _on_dispatcher(self) -> bool:
        return threading.current_thread() is self._thread

    # ---- authentication (the requests of both clients are described in _calls.py)

    login = blocking(Calls.login)
    login_with_token = blocking(Calls.login_with_token)
    login_with_refresh_token = blocking(Calls.login_with_refresh_token)

    # ---- subscriptions

    def subscribe(
        self,
        collection: Optional[str] = None,
        *,
        query: Optional[Dict[str, Any]] = None,
        event: Optional[str] = None,
        item: Any = None,
        callback: Optional[EventCallback] = None,
        timeout: Optional[float] = None,
    ) -> Subscription:
        """Subscribes to ``collection`` (default: the chat collection with the chat
        query: every field plus the author's name, oldest first).

        ``event`` filters to ``"create"``, ``"update"`` or ``"delete"``; ``item`` to one
        primary key. Waits until the server acknowledged with its ``init`` (the
        subscription's first event: the history). Raises :class:`ForbiddenError` and
        friends when refused.
        """
        return self._subscribe(collection, query, event, item, self._sink_of(callback), timeout)

    def _sink_of(self, callback: Optional[EventCallback]) -> Optional[Callable[[Optional[Event]], None]]:
        if callback is None:
            return None
        cb = callback

        def sink(ev: Optional[Event]) -> None:
            if ev is not None:
                self._call(cb, ev)

        sink._user_callback = cb  # type: ignore[attr-defined]
        return sink

    def _register(
        self,
        collection: Optional[str],
        sink: Optional[Callable[[Optional[Event]], None]],
        sink_counts: bool,
        start: Callable[[], Tuple[str, int]],
        room: Any = _NOT_A_ROOM,
    ) -> Subscription:
        """Starts a subscription with ``start`` (a native call giving its uid and the
        request id of its reply) and makes it known to the dispatcher."""
        if self._closed.is_set():
            raise ClosedError("CLOSED", "the client is closed")
        with self._lock:
            # Registered under the lock the dispatcher routes with, so the init cannot
            # arrive before the subscription is known.
            uid, request = start()
            sub = Subscription(self, uid, collection or self.collection, sink, sink_counts, room)
            sub.request = request
            # Poll mode keeps every subscription: its events come from poll(), not from
            # the object, so dropping the object must not end it.
            if sink is not None or self._poll_mode:
                self._subs[uid] = sub
            else:
                self._weak_subs[uid] = sub
        return sub

    def _subscribe(
        self,
        collection: Optional[str],
        query: Optional[Dict[str, Any]],
        event: Optional[str],
        item: Any,
        sink: Optional[Callable[[Optional[Event]], None]],
        timeout: Optional[float],
        sink_counts: bool = False,
        *,
        room: Any = _NOT_A_ROOM,
    ) -> Subscription:
        if self._poll_mode:
            raise InvalidArgumentError("INVALID_ARGUMENT", "a poll-mode client subscribes with subscribe_nowait() and takes events with poll()")
        limit = self.timeout if timeout is None else timeout
        if room is _NOT_A_ROOM:
            sub = self._register(collection, sink, sink_counts, lambda: (self._native.subscribe(collection, _dumps(query), event, _dumps(item)), 0))
        else:
            # The user first, so the history says which messages are one's own.
            self._native.known_me(limit)
            sub = self._register(None, sink, sink_counts, lambda: (self._native.join(room), 0), room)
        uid = sub.uid
        if self._on_dispatcher():
            # Called from a callback: deliver events here, or the init would wait for us.
            while not sub._ready.is_set() and not self._closed.is_set():
                self._pump(min(limit, 0.5))
        elif not sub._ready.wait(limit):
            self._forget(sub)
            try:
                self._native.unsubscribe(uid, limit)
            except DirectusError:
                pass  # it may have ended meanwhile; the timeout is what the caller needs
            raise DirectusTimeoutError("TIMEOUT", f"no answer to the subscription within {limit} s")
        if sub._error is not None:
            raise sub._error
        if self._closed.is_set() and not sub._ready.is_set():
            raise ClosedError("CLOSED", "the client is closed")
        return sub

    def subscribe_chat(self, *, callback: Optional[EventCallback] = None, timeout: Optional[float] = None) -> Subscription:
        """The chat subscription of the Directus guides (same as ``subscribe()``)."""
        return self.subscribe(None, callback=callback, timeout=timeout)

    # ---- rooms

    def join(self, room: Optional[str] = None, *, callback: Optional[EventCallback] = None, timeout: Optional[float] = None) -> Subscription:
        """Joins a room (``None``: the lobby, the messages without a room) and returns
        its subscription, once its history (the newest ``history_limit`` messages, the
        first event) arrived. Its events name the room (``event.room``), their messages
        say whether they are one's ``own`` and ``edited``, a ``delete`` event lists the
        room's deleted keys (``event.deleted``). A client may be in several rooms.
        """
        return self._subscribe(None, None, None, None, self._sink_of(callback), timeout, room=room)

    def join_nowait(self, room: Optional[str] = None, *, callback: Optional[EventCallback] = None) -> Subscription:
        """Joins a room without waiting (see :meth:`join`): the history arrives as the
        subscription's first event, then a ``reply`` event whose ``request`` is
        ``Subscription.request`` (or the refusal)."""
        if callback is not None and self._poll_mode:
            raise InvalidArgumentError("INVALID_ARGUMENT", "a poll-mode client hands out every event from Client.poll(): no callbacks")

        def start() -> Tuple[str, int]:
            uid = self._native.join(room, reply=True)
            return uid, self._native.subscription_id(uid)

        return self._register(None, self._sink_of(callback), False, start, room)

    def _leave_subs(self, room: Optional[str]) -> None:
        with self._lock:
            subs = [s for s in list(self._subs.values()) + list(self._weak_subs.values()) if s.is_room and s.room == room]
            for sub in subs:
                self._drop(sub.uid)
        for sub in subs:
            sub._end(discard=True)

    def leave(self, room: Optional[str] = None, *, timeout: Optional[float] = None) -> None:
        """Leaves a room: every subscription joined to it ends; no event of it comes after."""
        self._leave_subs(room)
        if not self._closed.is_set():
            self._native.leave(room, timeout)

    def leave_nowait(self, room: Optional[str] = None) -> None:
        """Leaves a room without waiting for the server (no event of it comes after)."""
        self._leave_subs(room)
        if not self._closed.is_set():
            self._native.leave_nowait(room)

    @property
    def me(self) -> Optional[User]:
        """The logged-in user, once known (after :meth:`whoami` or :meth:`join`)."""
        d = self._native.me()
        return None if d is None else User._from_native(d)

    def _forget(self, sub: Subscription) -> None:
        with self._lock:
            self._drop(sub.uid)
        sub._end(discard=True)

    def unsubscribe(self, subscription: Subscription, *, timeout: Optional[float] = None) -> None:
        """Ends a subscription; no event of it is delivered after this returns."""
        self._forget(subscription)
        if not self._closed.is_set():
            self._native.unsubscribe(subscription.uid, timeout)

    # ---- calls that return at once: each completes as one ``reply`` event with the id it returns

    def login_nowait(self, email: str, password: str) -> int:
        """Logs in without waiting; made before the socket is open, it goes out once it is."""
        return self._native.login_nowait(email, password)

    def login_with_token_nowait(self, token: str) -> int:
        """Logs in with an access token without waiting."""
        return self._native.login_with_token_nowait(token)

    def login_with_refresh_token_nowait(self, token: str) -> int:
        """Logs in with a refresh token without waiting."""
        return self._native.login_with_refresh_token_nowait(token)

    def subscribe_nowait(
        self, collection: Optional[str] = None, *, query: Optional[Dict[str, Any]] = None, event: Optional[str] = None, item: Any = None, callback: Optional[EventCallback] = None
    ) -> Subscription:
        """Subscribes without waiting (arguments as :meth:`subscribe`). The history
        arrives as the subscription's first event, then a ``reply`` event whose
        ``request`` is ``Subscription.request`` completes the subscribe (or carries the
        refusal). Made before the login, it goes out after it."""
        if callback is not None and self._poll_mode:
            raise InvalidArgumentError("INVALID_ARGUMENT", "a poll-mode client hands out every event from Client.poll(): no callbacks")
        sink = self._sink_of(callback)
        return self._register(collection, sink, False, lambda: self._start_subscription(collection, query, event, item))

    def _start_subscription(self, collection: Optional[str], query: Optional[Dict[str, Any]], event: Optional[str], item: Any) -> Tuple[str, int]:
        uid = self._native.subscribe(collection, _dumps(query), event, _dumps(item), reply=True)
        return uid, self._native.subscription_id(uid)

    def subscribe_chat_nowait(self, *, callback: Optional[EventCallback] = None) -> Subscription:
        """The chat subscription without waiting (see :meth:`subscribe_nowait`)."""
        return self.subscribe_nowait(None, callback=callback)

    def unsubscribe_nowait(self, subscription: Subscription) -> int:
        """Ends a subscription without waiting: no event of it is delivered after this
        returns; the server's confirmation is a ``reply`` event with the returned id."""
        self._forget(subscription)
        return self._native.unsubscribe_with_reply(subscription.uid)

    def request_nowait(self, collection: str, action: str, payload: Optional[Dict[str, Any]] = None) -> int:
        """An items request without waiting (arguments as :meth:`request`)."""
        return self._native.request_nowait(collection, action, _dumps(payload))

    def cancel(self, request: int) -> None:
        """Cancels a request made without waiting: its ``reply`` comes at once with
        :class:`CancelledError` (code ``CANCELLED``). One still waiting for the connection
        or the login is never sent; unknown and finished ids are ignored."""
        self._native.cancel(request)

    def reconnect_now(self) -> None:
        """Skips the wait before the next reconnect attempt (a "retry now" button)."""
        self._native.reconnect_now()

    def close_nowait(self) -> int:
        """Asks the client to close and returns at once. Returns the request id of the
        ``reply`` event that completes the close, just before the final ``closed`` state
        event (``reason`` says why); 0 if the client had already closed (no reply follows)."""
        return self._native.close_nowait()

    @property
    def state(self) -> str:
        """The connection state (``connecting``, ``connected``, ``authenticated``,
        ``disconnected``, ``closed``) as of the last state event the session reported,
        without waiting: for a status line drawn every frame."""
        return self._native.state()

    def poll(self, max: int = 100, timeout: float = 0.0) -> List[Event]:
        """Poll mode (``poll=True``): up to ``max`` events, in order, waiting up to
        ``timeout`` seconds for the first (0: not at all, as a frame does). A game loop
        calls it once per frame; ``max`` caps the frame's chat work, the rest waits for
        the next frame. Empty when nothing came, and after the ``closed`` state event."""
        if not self._poll_mode:
            raise InvalidArgumentError("INVALID_ARGUMENT", "poll() is for clients made with poll=True; this one has a dispatcher thread")
        natives = self._native.next_events(max, timeout)
        # Handed to the user now: counted as consumed now.
        for native in natives:
            native._consumed()
        events = []
        for native in natives:
            event = native
            sub = self._lookup(event.uid) if event.type in ("subscription", "subscription_error") else None
            if sub is not None:
                event._adopt(sub.collection, sub.room, sub.is_room)
            if sub is not None and event.type == "subscription_error":
                with self._lock:
                    self._drop(sub.uid)
                sub._ended = True
            if event.type == "state" and event.kind == "closed":
                self._finish()
            events.append(event)
        return events

    # ---- chat and items

    @property
    def outbox(self) -> Outbox:
        """The client's outbox; :class:`InvalidArgumentError` without one."""
        if self._outbox is None:
            raise InvalidArgumentError("INVALID_ARGUMENT", "this client has no outbox: pass outbox=PATH")
        return self._outbox

    send = blocking(Calls.send)
    load_older = blocking(Calls.load_older)
    edit_message = blocking(Calls.edit_message)
    delete_message = blocking(Calls.delete_message)
    whoami = blocking(Calls.whoami)
    known_server_info = blocking(Calls.known_server_info)
    enter = blocking(Calls.enter)
    exit = blocking(Calls.exit)
    mark_read = blocking(Calls.mark_read)
    request = blocking(Calls.request)
    create = blocking(Calls.create)
    read = blocking(Calls.read)
    update = blocking(Calls.update)
    delete = blocking(Calls.delete)
    upload = blocking(Calls.upload)
    download = blocking(Calls.download)

    def upload_nowait(self, path: Optional[str] = None, *, data: Optional[bytes] = None, name: Optional[str] = None, type: Optional[str] = None) -> int:
        """:meth:`upload` without waiting: progress arrives as ``transfer`` events (at the
        start, each percent, the end) and the stored file as a ``reply`` event (read it
        with :meth:`file_of`), both with the returned request id; :meth:`cancel` stops it."""
        return self._native.upload_nowait(None if path is None else str(path), data, name, type)

    def download_nowait(self, file_id: str, dest: str) -> int:
        """:meth:`download` without waiting; progress and the outcome as for uploads."""
        return self._native.download_nowait(file_id, str(dest))

    def download_bytes(self, file_id: str, *, timeout: Optional[float] = None) -> bytes:
        """Downloads file ``file_id``'s contents into memory."""
        return self._native.download_bytes(file_id, timeout)

    def asset_url(self, file_id: str) -> str:
        """The URL of file ``file_id``'s contents (``<server>/assets/<id>``); fetching it
        needs the user's token unless the public role may read files."""
        return self._native.asset_url(file_id)

    @property
    def server_info(self) -> Optional[ServerInfo]:
        """What the server told about itself after the last login it could be read for
        (``GET /server/info``: version, heartbeat, auth mode), without waiting; see
        :meth:`known_server_info`."""
        d = self._native.server_info()
        return None if d is None else ServerInfo._from_native(d)

    def known_server_info_nowait(self) -> int:
        """:meth:`known_server_info` without waiting: the info arrives as a ``reply``
        event with the returned request id (read it with :meth:`server_info_of`)."""
        return self._native.known_server_info_nowait()

    def server_info_of(self, event: Event) -> Optional[ServerInfo]:
        """The server info of a :meth:`known_server_info_nowait` reply, else ``None``."""
        if event.type != "reply" or event.error is not None or not isinstance(event.data, dict) or "version" not in event.data:
            return None
        return ServerInfo._from_native(event.data)

    def file_of(self, event: Event) -> Optional[FileInfo]:
        """The stored file of an upload's ``reply`` event, else ``None``."""
        if event.type != "reply" or event.error is not None or event.data is None:
            return None
        stored = self._native.file_of(_json.dumps(event.data))
        return None if stored is None else FileInfo._from_native(stored)

    def send_nowait(self, text: str, *, room: Optional[str] = None, extra: Optional[Dict[str, Any]] = None) -> int:
        """Sends a chat message (to ``room``, with ``extra`` fields) without waiting; its
        outcome arrives as a ``reply`` event (to ``on_event``, or from :meth:`poll`)
        carrying the returned request id."""
        if room is None and extra is None:
            return self._native.send_nowait(text)
        return self._native.send_with_nowait(text, room, _dumps(extra))

    def load_older_nowait(self, room: Optional[str] = None, *, before: Optional[str] = None, count: int = 50) -> int:
        """:meth:`load_older` without waiting: the page arrives as a ``reply`` event
        whose ``messages`` are the older messages, oldest first."""
        return self._native.load_older_nowait(room, before, count)

    def edit_message_nowait(self, id: str, text: str) -> int:
        """:meth:`edit_message` without waiting; the outcome is a ``reply`` event."""
        return self._native.edit_message_nowait(str(id), text)

    def delete_message_nowait(self, id: str) -> int:
        """:meth:`delete_message` without waiting; the outcome is a ``reply`` event."""
        return self._native.delete_message_nowait(str(id))

    # ---- presence, typing, read receipts

    def enter_nowait(self, room: str) -> int:
        """:meth:`enter` without waiting (it waits for the login by itself); the outcome
        is a ``reply`` event."""
        return self._native.enter_nowait(room)

    def exit_nowait(self, room: str) -> int:
        """:meth:`exit` without waiting; the outcome is a ``reply`` event."""
        return self._native.exit_nowait(room)

    def mark_read_nowait(self, room: str, message: str) -> int:
        """:meth:`mark_read` without waiting; the outcome is a ``reply`` event."""
        return self._native.mark_read_nowait(room, str(message))

    def set_typing(self, room: str, typing: bool = True) -> None:
        """Says whether the user types in an entered room: call it with ``True`` on every
        keystroke and ``False`` when the text is sent or cleared. Never waits: the flag
        is written when typing starts or stops and refreshed at most every 3.25 s while
        keystrokes come; others drop it 5 s after its last write."""
        self._native.set_typing(room, typing)

    def online(self, room: str) -> List[Member]:
        """Who is online in an entered room (oneself included), by user id; empty when
        not in it."""
        return [Member(*m) for m in self._native.online(room) or []]

    def unread(self, room: str) -> Optional[int]:
        """How many messages of others in an entered room come after one's read marker;
        ``None`` when not in the room or not counted yet."""
        return self._native.unread(room)

    def readers(self, room: str, message: str) -> List[Reader]:
        """Who has read ``message`` (an id this client showed, or someone's marker) in an
        entered room: users whose read marker is at it or later."""
        return [Reader(*r) for r in self._native.readers(room, str(message)) or []]

    def presence_writes(self, room: str) -> int:
        """How many writes of one's presence row this client made in a room."""
        return self._native.presence_writes(room) or 0

    # ---- lifecycle

    @property
    def closed(self) -> bool:
        """Whether the client is closed."""
        return self._closed.is_set() or self._native.closed

    def close(self, *, timeout: Optional[float] = None) -> None:
        """Closes the client: requests already sent may finish, subscriptions end, the
        last event is the ``closed`` state. Closing twice is fine."""
        self._native.close(timeout)
        if self._thread.is_alive() and not self._on_dispatcher():
            self._thread.join(self.timeout if timeout is None else timeout)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<directus_chat.Client state={self.state!r} subscriptions={len(self._subs) + len(self._weak_subs)}>"
