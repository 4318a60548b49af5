"""The asyncio API: :class:`AsyncClient` and :class:`AsyncSubscription`.

Calls run the blocking client in the loop's executor (the GIL is released while the
Rust core waits), and events reach the loop through ``call_soon_threadsafe``, so the
event loop is never blocked. Cancelling an awaiting task leaves the session intact; a
request already sent still completes in the session.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Sequence, TypeVar

from ._client import Client, Subscription
from ._errors import ClosedError
from ._events import ChatMessage, Event
from ._outbox import Outbox

__all__ = ["AsyncClient", "AsyncSubscription"]

T = TypeVar("T")


class AsyncSubscription:
    """A live subscription for asyncio: ``async for event in sub``, or ``await sub.next()``."""

    def __init__(self, loop: asyncio.AbstractEventLoop, native: Any) -> None:
        self._loop = loop
        # Events count as consumed when ``next`` hands them out, so the client's
        # ``max_buffered_events`` bounds this queue.
        self._native = native
        self._queue: "asyncio.Queue[Optional[Event]]" = asyncio.Queue()
        self._sub: Optional[Subscription] = None
        self._ended = False
        # Events from the dispatcher thread not yet moved into the queue; one wake-up
        # of the loop moves all of them (a wake-up per event made asyncio the slowest
        # way to read a burst: see BENCHMARKS.md).
        self._handover: List[Optional[Event]] = []
        self._handover_lock = threading.Lock()

    def _push_threadsafe(self, event: Optional[Event]) -> None:
        # On the client's dispatcher thread: hand over to the loop, never block it.
        with self._handover_lock:
            self._handover.append(event)
            if len(self._handover) > 1:
                return  # a wake-up is already on its way and will take this one too
        try:
            self._loop.call_soon_threadsafe(self._take_handover)
        except RuntimeError:
            pass  # the loop is closed: nobody is listening any more

    def _take_handover(self) -> None:
        # On the loop: move what the dispatcher handed over into the queue, in order.
        with self._handover_lock:
            events, self._handover = self._handover, []
        for event in events:
            self._queue.put_nowait(event)

    @property
    def uid(self) -> str:
        """The subscription's uid."""
        assert self._sub is not None
        return self._sub.uid

    @property
    def collection(self) -> str:
        """The subscribed collection."""
        assert self._sub is not None
        return self._sub.collection

    async def next(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The next event; ``None`` on timeout; raises :class:`ClosedError` once ended."""
        if self._ended:
            raise ClosedError("CLOSED", "the subscription has ended")
        if not self._queue.empty():
            # Already here: no timer, no task (wait_for costs both on every call).
            event = self._queue.get_nowait()
        else:
            try:
                event = await asyncio.wait_for(self._queue.get(), timeout)
            except asyncio.TimeoutError:
                return None
        if event is None:
            self._ended = True
            raise ClosedError("CLOSED", "the subscription has ended")
        self._native.consumed(1)
        return event

    def _release(self) -> None:
        """Counts every event nobody took as consumed, and drops it."""
        with self._handover_lock:
            pending, self._handover = self._handover, []
        dropped = sum(1 for e in pending if e is not None)
        while not self._queue.empty():
            if self._queue.get_nowait() is None:
                self._queue.put_nowait(None)
                break
            dropped += 1
        if dropped:
            self._native.consumed(dropped)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        try:
            event = await self.next()
        except ClosedError:
            raise StopAsyncIteration from None
        assert event is not None
        return event

    async def unsubscribe(self) -> None:
        """Ends the subscription; events not taken yet are dropped."""
        if self._sub is not None:
            sub = self._sub
            await asyncio.get_running_loop().run_in_executor(None, sub.unsubscribe)
            self._release()

    async def __aenter__(self) -> "AsyncSubscription":
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._sub is not None and not self._sub.ended:
            await self.unsubscribe()

    def __repr__(self) -> str:
        return f"<AsyncSubscription uid={self._sub.uid if self._sub else None!r}>"


class AsyncClient:
    """A connection to Directus' realtime endpoint for asyncio.

    ``async with AsyncClient(url, ...) as client:`` connects on entry and closes on
    exit (or ``client = await AsyncClient.connect(url, ...)``). Takes the same keyword
    arguments as :class:`Client`; every call is awaitable.
    """

    def __init__(self, url: str, **options: Any) -> None:
        self._url = url
        self._options = options
        self._client: Optional[Client] = None

    @classmethod
    async def connect(cls, url: str, **options: Any) -> "AsyncClient":
        """Connects and returns the client."""
        client = cls(url, **options)
        await client._open()
        return client

    async def _open(self) -> None:
        if self._client is None:
            self._client = await self._run(functools.partial(Client, self._url, **self._options))

    @property
    def client(self) -> Client:
        """The underlying blocking client."""
        if self._client is None:
            raise ClosedError("CLOSED", "not connected: use `async with` or AsyncClient.connect")
        return self._client

    @property
    def outbox(self) -> Outbox:
        """The client's outbox (``outbox=PATH``); its calls write a local file (a few
        milliseconds) and return, so they may be called from the loop."""
        return self.client.outbox

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(None, fn)

    async def login(self, email: str, password: str, *, timeout: Optional[float] = None) -> None:
        """Logs in with email and password."""
        await self._run(functools.partial(self.client.login, email, password, timeout=timeout))

    async def login_with_token(self, token: str, *, timeout: Optional[float] = None) -> None:
        """Logs in with an access token."""
        await self._run(functools.partial(self.client.login_with_token, token, timeout=timeout))

    async def login_with_refresh_token(self, token: str, *, timeout: Optional[float] = None) -> None:
        """Logs in with a refresh token."""
        await self._run(functools.partial(self.client.login_with_refresh_token, token, timeout=timeout))

    async def subscribe(
        self,
        collection: Optional[str] = None,
        *,
        query: Optional[Dict[str, Any]] = None,
        event: Optional[str] = None,
        item: Any = None,
        timeout: Optional[float] = None,
    ) -> AsyncSubscription:
        """Subscribes (see :meth:`Client.subscribe`) and returns an async iterable."""
        client = self.client
        sub = AsyncSubscription(asyncio.get_running_loop(), client._native)
        sub._sub = await self._run(
            functools.partial(client._subscribe, collection, query, event, item, sub._push_threadsafe, timeout, True)
        )
        return sub

    async def subscribe_chat(self, *, timeout: Optional[float] = None) -> AsyncSubscription:
        """The chat subscription of the Directus guides."""
        return await self.subscribe(None, timeout=timeout)

    async def send(self, text: str, *, timeout: Optional[float] = None) -> ChatMessage:
        """Sends a chat message; returns it as stored."""
        return await self._run(functools.partial(self.client.send, text, timeout=timeout))

    async def request(self, collection: str, action: str, payload: Optional[Dict[str, Any]] = None, *, timeout: Optional[float] = None) -> Any:
        """An items request (see :meth:`Client.request`)."""
        return await self._run(functools.partial(self.client.request, collection, action, payload, timeout=timeout))

    async def create(self, collection: str, data: Any, *, timeout: Optional[float] = None) -> Any:
        """Creates items; returns them as stored."""
        return await self._run(functools.partial(self.client.create, collection, data, timeout=timeout))

    async def read(
        self, collection: str, *, id: Any = None, ids: Optional[Sequence[Any]] = None, query: Optional[Dict[str, Any]] = None, timeout: Optional[float] = None
    ) -> Any:
        """Reads items."""
        return await self._run(functools.partial(self.client.read, collection, id=id, ids=ids, query=query, timeout=timeout))

    async def update(
        self,
        collection: str,
        data: Dict[str, Any],
        *,
        id: Any = None,
        ids: Optional[Sequence[Any]] = None,
        query: Optional[Dict[str, Any]] = None,
        timeout: Optional[float] = None,
    ) -> Any:
        """Updates items."""
        return await self._run(functools.partial(self.client.update, collection, data, id=id, ids=ids, query=query, timeout=timeout))

    async def delete(
        self, collection: str, *, id: Any = None, ids: Optional[Sequence[Any]] = None, query: Optional[Dict[str, Any]] = None, timeout: Optional[float] = None
    ) -> Any:
        """Deletes items."""
        return await self._run(functools.partial(self.client.delete, collection, id=id, ids=ids, query=query, timeout=timeout))

    async def close(self) -> None:
        """Closes the client."""
        if self._client is not None:
            await self._run(self._client.close)

    async def __aenter__(self) -> "AsyncClient":
        await self._open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
