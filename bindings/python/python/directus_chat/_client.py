"""The blocking API: :class:`Client` and :class:`Subscription`."""

from __future__ import annotations

import json
import queue
import threading
import weakref
from typing import Any, Callable, Dict, Iterator, Optional, Sequence

from . import _native
from ._errors import ClosedError, DirectusError, DirectusTimeoutError, InvalidArgumentError
from ._events import ChatMessage, Event, NativeEvent
from ._logging import ensure_log_bridge, logger
from ._shutdown import register_thread
from ._outbox import Outbox

__all__ = ["Client", "Subscription", "EventCallback", "ErrorHook"]

EventCallback = Callable[[Event], None]
"""A callback that receives events."""

ErrorHook = Callable[[BaseException, Event], None]
"""Called with an exception a user callback raised, and the event it was handling."""

_END = None


def _dumps(value: Any) -> Optional[str]:
    return None if value is None else json.dumps(value)


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
    ) -> None:
        self._client = client
        self._native = client._native
        # A sink that queues events itself (asyncio) reports their consumption itself.
        self._sink_counts = sink_counts
        self.uid = uid
        """The uid the server tags this subscription's events with."""
        self.collection = collection
        """The subscribed collection."""
        self._sink = sink
        self._queue: "queue.Queue[Optional[Event]]" = queue.Queue()
        self._ready = threading.Event()
        self._error: Optional[DirectusError] = None
        self._ended = False

    # Called on the client's dispatcher thread. An event counts as consumed (so the
    # session may read on) once the user has taken it: when a callback returns, or when
    # ``next`` hands it out; ``max_buffered_events`` bounds this queue that way.
    def _deliver(self, event: Event) -> None:
        if event.type == "subscription_error":
            self._error = event.error
            self._ready.set()
            self._native.consumed(1)
            self._end()
            return
        if event.kind == "init":
            self._ready.set()
        if self._sink is not None:
            try:
                self._sink(event)
            finally:
                if not self._sink_counts:
                    self._native.consumed(1)
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
        dropped = 0
        while True:
            try:
                event = self._queue.get_nowait()
            except queue.Empty:
                break
            if event is _END:
                self._queue.put(_END)
                break
            dropped += 1
        if dropped:
            self._native.consumed(dropped)

    @property
    def ended(self) -> bool:
        """Whether the subscription has ended."""
        return self._ended

    def next(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The next event, waiting up to ``timeout`` seconds (``None``: no limit).

        Returns ``None`` on timeout; raises :class:`ClosedError` once the subscription
        has ended and every event was taken.
        """
        try:
            event = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if event is _END:
            self._queue.put(_END)
            raise ClosedError("CLOSED", "the subscription has ended")
        self._native.consumed(1)
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
    match the Directus chat guides). With ``client_ids=True`` (for uuid-keyed
    collections) the client picks each message's key, so a message whose answer was
    lost with the connection is resent safely and stored once.

    With ``outbox`` (a file path), ``client.outbox`` sends through a durable outbox
    (see :class:`Outbox`): written to the file before the call returns, resumed by the
    next client on the file after a crash, stored exactly once, never timed out.

    At most ``max_buffered_events`` events wait for the user (in subscription queues,
    or for callbacks to return); at that mark the session stops reading the socket
    until the user catches up, so memory stays bounded.
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
        outbox: Optional[str] = None,
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
        self.state = "connecting"
        """The connection state: connecting, connected, authenticated, disconnected, closed."""
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
            outbox=outbox,
        )
        self._outbox = Outbox(self._native) if outbox is not None else None
        self._thread = threading.Thread(target=self._dispatch, name="directus-chat-dispatch", daemon=True)
        # Registered before it runs a callback that might call shutdown(), which must see
        # it is one of ours; joined by the shutdown at exit (see _shutdown).
        register_thread(self._thread)
        self._thread.start()

    # ---- dispatching (the dispatcher thread)

    def _dispatch(self) -> None:
        while not self._closed.is_set():
            self._pump(0.5)

    def _pump(self, timeout: float) -> None:
        for native in self._native.next_events(512, timeout):
            self._route(native)

    def _route(self, native: NativeEvent) -> None:
        type_, uid = native[0], native[2]
        if type_ in ("subscription", "subscription_error"):
            with self._lock:
                sub = self._lookup(uid)
                if sub is not None and type_ == "subscription_error":
                    self._drop(sub.uid)
            if sub is not None:
                sub._deliver(Event._from_native(native, sub.collection))
            else:
                self._native.consumed(1)
            return
        try:
            self._route_client_event(native)
        finally:
            self._native.consumed(1)

    def _route_client_event(self, native: NativeEvent) -> None:
        type_ = native[0]
        event = Event._from_native(native)
        if type_ == "state" and event.kind is not None:
            self.state = event.kind
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

    # ---- authentication

    def login(self, email: str, password: str, *, timeout: Optional[float] = None) -> None:
        """Logs in with email and password; raises :class:`AuthError` (``AUTH_FAILED``) if refused."""
        self._native.login(email, password, timeout)

    def login_with_token(self, token: str, *, timeout: Optional[float] = None) -> None:
        """Logs in with an access token (a user's static token or a JWT)."""
        self._native.login_with_token(token, timeout)

    def login_with_refresh_token(self, token: str, *, timeout: Optional[float] = None) -> None:
        """Logs in with a refresh token (they rotate: the client keeps the newest)."""
        self._native.login_with_refresh_token(token, timeout)

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
        sink: Optional[Callable[[Optional[Event]], None]] = None
        if callback is not None:
            cb = callback

            def sink(ev: Optional[Event]) -> None:
                if ev is not None:
                    self._call(cb, ev)

        return self._subscribe(collection, query, event, item, sink, timeout)

    def _subscribe(
        self,
        collection: Optional[str],
        query: Optional[Dict[str, Any]],
        event: Optional[str],
        item: Any,
        sink: Optional[Callable[[Optional[Event]], None]],
        timeout: Optional[float],
        sink_counts: bool = False,
    ) -> Subscription:
        if self._closed.is_set():
            raise ClosedError("CLOSED", "the client is closed")
        with self._lock:
            # Registered under the lock the dispatcher routes with, so the init cannot
            # arrive before the subscription is known.
            uid = self._native.subscribe(collection, _dumps(query), event, _dumps(item))
            sub = Subscription(self, uid, collection or self.collection, sink, sink_counts)
            if sink is not None:
                self._subs[uid] = sub
            else:
                self._weak_subs[uid] = sub
        limit = self.timeout if timeout is None else timeout
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

    def _forget(self, sub: Subscription) -> None:
        with self._lock:
            self._drop(sub.uid)
        sub._end(discard=True)

    def unsubscribe(self, subscription: Subscription, *, timeout: Optional[float] = None) -> None:
        """Ends a subscription; no event of it is delivered after this returns."""
        self._forget(subscription)
        if not self._closed.is_set():
            self._native.unsubscribe(subscription.uid, timeout)

    # ---- chat and items

    @property
    def outbox(self) -> Outbox:
        """The client's outbox; :class:`InvalidArgumentError` without one."""
        if self._outbox is None:
            raise InvalidArgumentError("INVALID_ARGUMENT", "this client has no outbox: pass outbox=PATH")
        return self._outbox

    def send(self, text: str, *, timeout: Optional[float] = None) -> ChatMessage:
        """Sends a chat message and returns it as the server stored it."""
        return ChatMessage._from_native(self._native.send(text, timeout))

    def send_nowait(self, text: str) -> int:
        """Sends a chat message without waiting; its outcome arrives as a ``reply``
        event (to ``on_event``) carrying the returned request id."""
        return self._native.send_nowait(text)

    def request(self, collection: str, action: str, payload: Optional[Dict[str, Any]] = None, *, timeout: Optional[float] = None) -> Any:
        """An items request: ``action`` is create/read/update/delete, ``payload`` a dict
        with any of ``data``, ``id``, ``ids``, ``query``. Returns the server's data."""
        return self._native.request(collection, action, _dumps(payload), timeout)

    def create(self, collection: str, data: Any, *, timeout: Optional[float] = None) -> Any:
        """Creates one item (``data`` a dict) or several (a list); returns them as stored."""
        return self.request(collection, "create", {"data": data}, timeout=timeout)

    def read(
        self,
        collection: str,
        *,
        id: Any = None,
        ids: Optional[Sequence[Any]] = None,
        query: Optional[Dict[str, Any]] = None,
        timeout: Optional[float] = None,
    ) -> Any:
        """Reads one item (``id``), several (``ids``) or those matching ``query``."""
        return self.request(collection, "read", _target(id, ids, query), timeout=timeout)

    def update(
        self,
        collection: str,
        data: Dict[str, Any],
        *,
        id: Any = None,
        ids: Optional[Sequence[Any]] = None,
        query: Optional[Dict[str, Any]] = None,
        timeout: Optional[float] = None,
    ) -> Any:
        """Updates the chosen items with ``data``; returns them as stored."""
        payload = _target(id, ids, query)
        payload["data"] = data
        return self.request(collection, "update", payload, timeout=timeout)

    def delete(
        self,
        collection: str,
        *,
        id: Any = None,
        ids: Optional[Sequence[Any]] = None,
        query: Optional[Dict[str, Any]] = None,
        timeout: Optional[float] = None,
    ) -> Any:
        """Deletes the chosen items (the server requires ``id``, ``ids`` or ``query``)."""
        return self.request(collection, "delete", _target(id, ids, query), timeout=timeout)

    # ---- lifecycle

    @property
    def closed(self) -> bool:
        """Whether the client is closed."""
        return self._closed.is_set() or self._native.closed

    def close(self, *, timeout: Optional[float] = None) -> None:
        """Closes the client: requests already sent may finish, subscriptions end, the
        last event is the ``closed`` state. Closing twice is fine."""
        self._native.close(timeout)
        if not self._on_dispatcher():
            self._thread.join(self.timeout if timeout is None else timeout)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<directus_chat.Client state={self.state!r} subscriptions={len(self._subs) + len(self._weak_subs)}>"


def _target(id: Any, ids: Optional[Sequence[Any]], query: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    payload: Dict[str, Any] = {}
    if id is not None:
        payload["id"] = id
    if ids is not None:
        payload["ids"] = list(ids)
    if query is not None:
        payload["query"] = query
    return payload


