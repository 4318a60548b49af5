"""The asyncio API: :class:`AsyncClient` and :class:`AsyncSubscription`.

No executor thread waits for anything: every request is started with a native call
that returns at once (a request id), and its ``reply`` event, which the client's one
dispatcher thread receives, completes an asyncio future through
``loop.call_soon_threadsafe``. So a thousand pending awaits cost a thousand futures, not
a thousand threads, and the event loop is never blocked. Cancelling an ``await``
(``task.cancel()``, a timeout) cancels the request in the session: one still waiting
for the connection or the login is never sent. The methods and keyword arguments are
those of :class:`~directus_chat.Client`, generated from the same descriptions
(``_calls.py``), so mypy checks them the same way.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Coroutine, List, Optional, Tuple, TypeVar

from ._calls import Call, Calls, Join, Subscribe
from ._client import _NOT_A_ROOM, Client, Subscription
from ._errors import ClosedError, DirectusConnectionError, DirectusError, DirectusTimeoutError, InvalidArgumentError
from ._events import Event, Member, Reader, ServerInfo, User
from ._outbox import Outbox

if TYPE_CHECKING:
    from typing_extensions import Concatenate, ParamSpec

    P = ParamSpec("P")

__all__ = ["AsyncClient", "AsyncSubscription"]

T = TypeVar("T")
R = TypeVar("R")


def _options_of(init: "Callable[Concatenate[Any, P], None]") -> "Callable[[Callable[..., R]], Callable[Concatenate[Any, P], R]]":
    """Types a function as taking the parameters of ``init`` (after ``self``): the
    asyncio client takes exactly the blocking client's keyword arguments."""

    def apply(f: Callable[..., R]) -> "Callable[Concatenate[Any, P], R]":
        return f

    return apply


def awaitable(describe: "Callable[P, Call[T]]") -> "Callable[Concatenate[AsyncClient, P], Coroutine[Any, Any, T]]":
    """The asyncio client's method for a request: starts it without waiting and awaits its reply."""

    async def method(self: AsyncClient, /, *args: "P.args", **kwargs: "P.kwargs") -> T:
        call = describe(*args, **kwargs)
        native = self.client._native
        return await self._reply(lambda: call.start(native), lambda data: call.answer(native, data), call.timeout)

    functools.update_wrapper(method, describe)
    return method


def _subscriber(describe: "Callable[P, Subscribe]") -> "Callable[Concatenate[AsyncClient, P], Coroutine[Any, Any, AsyncSubscription]]":
    """The asyncio client's ``subscribe``: subscribes without waiting, awaits the reply
    that follows the ``init``, and returns the subscription to iterate over."""

    async def method(self: AsyncClient, /, *args: "P.args", **kwargs: "P.kwargs") -> AsyncSubscription:
        return await self._subscribe(describe(*args, **kwargs))

    functools.update_wrapper(method, describe)
    return method


class AsyncSubscription:
    """A live subscription for asyncio: ``async for event in sub``, or ``await sub.next()``."""

    def __init__(self, owner: "AsyncClient", loop: asyncio.AbstractEventLoop, native: Any) -> None:
        self._owner = owner
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

    @property
    def room(self) -> Optional[str]:
        """The joined room (``None``: the lobby, or not a room)."""
        assert self._sub is not None
        return self._sub.room

    @property
    def request(self) -> int:
        """The request id of the reply that completed the subscribe."""
        assert self._sub is not None
        return self._sub.request

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
        event._consumed()
        return event

    def _release(self) -> None:
        """Counts every event nobody took as consumed, and drops it."""
        with self._handover_lock:
            pending, self._handover = self._handover, []
        dropped = [e for e in pending if e is not None]
        # The end mark stays, wherever it waits: iteration must still end.
        ended = len(pending) > len(dropped)
        while not self._queue.empty():
            event = self._queue.get_nowait()
            if event is None:
                ended = True
                break
            dropped.append(event)
        if ended:
            self._queue.put_nowait(None)
        for event in dropped:
            event._consumed()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        try:
            event = await self.next()
        except ClosedError:
            raise StopAsyncIteration from None
        assert event is not None
        return event

    async def unsubscribe(self, *, timeout: Optional[float] = None) -> None:
        """Ends the subscription (events not taken yet are dropped, none comes after
        this returns) and awaits the server's confirmation."""
        sub = self._sub
        if sub is None or sub.ended:
            return
        client = self._owner.client
        client._forget(sub)
        self._release()
        if not client.closed:
            native = client._native
            await self._owner._reply(lambda: native.unsubscribe_with_reply(sub.uid), lambda data: None, timeout)

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
    exit (or ``client = await AsyncClient.connect(url, ...)``). Takes the keyword
    arguments of :class:`Client` (``nowait=True``: do not wait for the socket on entry;
    requests wait for it; ``poll`` is not for asyncio); every request is awaitable, takes
    ``timeout=`` (default: the client's), and is cancelled in the session when its
    ``await`` is cancelled or times out.
    """

    @_options_of(Client.__init__)
    def __init__(self, url: str, **options: Any) -> None:
        if options.get("poll"):
            raise InvalidArgumentError("INVALID_ARGUMENT", "AsyncClient delivers events to the loop itself: poll=True is for game loops")
        self._url = url
        self._options = options
        self._client: Optional[Client] = None

    @classmethod
    @_options_of(Client.__init__)
    async def connect(cls, url: str, **options: Any) -> "AsyncClient":
        """Connects and returns the client (keyword arguments as :class:`Client`)."""
        client = cls(url, **options)
        await client._open()
        return client

    async def _open(self) -> None:
        if self._client is not None:
            return
        # The socket opens in the background; the first state event that settles the
        # first attempt ends the wait (or, with nowait=True, nothing is waited for).
        wait = not self._options.get("nowait", False)
        client = Client(self._url, **dict(self._options, nowait=True))
        self._client = client
        if wait:
            try:
                await self._first_attempt(client)
            except BaseException:
                client.close_nowait()
                raise

    async def _first_attempt(self, client: Client) -> None:
        loop = asyncio.get_running_loop()
        settled: "asyncio.Future[Event]" = loop.create_future()

        def watch(event: Event) -> None:
            if event.kind in ("connected", "authenticated", "disconnected", "closed"):
                client._state_hooks.remove(watch)
                _settle_threadsafe(loop, settled, lambda: settled.set_result(event))

        with client._lock:
            first = client._first
            if first is None:
                client._state_hooks.append(watch)
        event = first if first is not None else await settled
        if event.kind in ("disconnected", "closed"):
            raise DirectusConnectionError("CONNECTION", event.reason or "the connection failed")

    @property
    def client(self) -> Client:
        """The underlying client (its dispatcher thread delivers this client's events)."""
        if self._client is None:
            raise ClosedError("CLOSED", "not connected: use `async with` or AsyncClient.connect")
        return self._client

    @property
    def outbox(self) -> Outbox:
        """The client's outbox (``outbox=PATH``); its calls write a local file (a few
        milliseconds) and return, so they may be called from the loop."""
        return self.client.outbox

    def _waiter(self, answer: Callable[[Any], T]) -> "Tuple[asyncio.Future[T], Callable[[Event], None]]":
        """A future of the loop, and what completes it from the dispatcher thread with a
        reply event (the data made into the result by ``answer``, or the error)."""
        loop = asyncio.get_running_loop()
        done: "asyncio.Future[T]" = loop.create_future()

        def complete(event: Event) -> None:
            _settle_threadsafe(loop, done, lambda: _settle(done, event, answer))

        return done, complete

    async def _await(self, done: "asyncio.Future[T]", request: int, timeout: Optional[float]) -> T:
        """Awaits a request's future; a timeout or a cancelled await cancels the request."""
        client = self.client
        limit = client.timeout if timeout is None else timeout
        try:
            return await asyncio.wait_for(done, limit if limit >= 0 else None)
        except asyncio.TimeoutError:
            client._native.cancel(request)
            raise DirectusTimeoutError("TIMEOUT", f"no answer within {limit} s") from None
        except asyncio.CancelledError:
            client._native.cancel(request)
            raise

    async def _reply(self, start: Callable[[], int], answer: Callable[[Any], T], timeout: Optional[float]) -> T:
        """Starts a request (``start`` returns its id) and awaits its reply event."""
        client = self.client
        done, complete = self._waiter(answer)
        with client._lock:
            # Under the lock the dispatcher routes replies with: the reply cannot come
            # before its waiter is known.
            request = start()
            client._replies[request] = complete
        return await self._await(done, request, timeout)

    async def _subscribe(self, spec: Subscribe) -> AsyncSubscription:
        client = self.client
        native = client._native
        sub = AsyncSubscription(self, asyncio.get_running_loop(), native)
        done, complete = self._waiter(lambda data: None)

        def start() -> Tuple[str, int]:
            # Under the client's lock, which _register holds while it makes the
            # subscription known: neither its init nor its reply can come first.
            uid, request = spec.start(native)
            client._replies[request] = complete
            return uid, request

        room = spec.room if isinstance(spec, Join) else _NOT_A_ROOM
        sub._sub = client._register(spec.collection, sub._push_threadsafe, True, start, room)
        try:
            await self._await(done, sub._sub.request, spec.timeout)
        except BaseException:
            # An init that came before the cancel is nobody's: counted as consumed, dropped.
            client._forget(sub._sub)
            sub._release()
            raise
        return sub

    # ---- the requests: the same as Client's, awaitable (see _calls.py)

    login = awaitable(Calls.login)
    login_with_token = awaitable(Calls.login_with_token)
    login_with_refresh_token = awaitable(Calls.login_with_refresh_token)
    send = awaitable(Calls.send)
    request = awaitable(Calls.request)
    create = awaitable(Calls.create)
    read = awaitable(Calls.read)
    update = awaitable(Calls.update)
    delete = awaitable(Calls.delete)
    subscribe = _subscriber(Calls.subscription)
    load_older = awaitable(Calls.load_older)
    edit_message = awaitable(Calls.edit_message)
    delete_message = awaitable(Calls.delete_message)
    whoami = awaitable(Calls.whoami)
    known_server_info = awaitable(Calls.known_server_info)
    enter = awaitable(Calls.enter)
    exit = awaitable(Calls.exit)
    mark_read = awaitable(Calls.mark_read)

    def set_typing(self, room: str, typing: bool = True) -> None:
        """Says whether the user types in an entered room (see :meth:`Client.set_typing`); never waits."""
        self.client.set_typing(room, typing)

    def online(self, room: str) -> List[Member]:
        """Who is online in an entered room (see :meth:`Client.online`)."""
        return self.client.online(room)

    def unread(self, room: str) -> Optional[int]:
        """The unread count of an entered room (see :meth:`Client.unread`)."""
        return self.client.unread(room)

    def readers(self, room: str, message: str) -> List[Reader]:
        """Who has read ``message`` in an entered room (see :meth:`Client.readers`)."""
        return self.client.readers(room, message)

    upload = awaitable(Calls.upload)
    download = awaitable(Calls.download)

    async def join(self, room: Optional[str] = None, *, timeout: Optional[float] = None) -> AsyncSubscription:
        """Joins a room (see :meth:`Client.join`) and returns an async iterable of its events."""
        # The user first, so that the history says which messages are one's own.
        await self._reply(self.client._native.known_me_nowait, lambda data: None, timeout)
        return await self._subscribe(Calls.join(room, timeout=timeout))

    async def leave(self, room: Optional[str] = None) -> None:
        """Leaves a room: no event of it is delivered after this returns."""
        self.client.leave_nowait(room)

    @property
    def me(self) -> Optional[User]:
        """The logged-in user, once known (after :meth:`whoami` or :meth:`join`)."""
        return self.client.me

    @property
    def server_info(self) -> Optional[ServerInfo]:
        """What the server told about itself after a login (see :attr:`Client.server_info`)."""
        return self.client.server_info

    async def subscribe_chat(self, *, timeout: Optional[float] = None) -> AsyncSubscription:
        """The chat subscription of the Directus guides (same as ``subscribe()``)."""
        return await self.subscribe(None, timeout=timeout)

    async def unsubscribe(self, subscription: AsyncSubscription, *, timeout: Optional[float] = None) -> None:
        """Ends a subscription (see :meth:`AsyncSubscription.unsubscribe`)."""
        await subscription.unsubscribe(timeout=timeout)

    # ---- without waiting

    def send_nowait(self, text: str) -> int:
        """Sends a chat message without waiting (see :meth:`Client.send_nowait`)."""
        return self.client.send_nowait(text)

    def cancel(self, request: int) -> None:
        """Cancels a request made without waiting (see :meth:`Client.cancel`)."""
        self.client.cancel(request)

    def reconnect_now(self) -> None:
        """Skips the wait before the next reconnect attempt."""
        self.client.reconnect_now()

    def close_nowait(self) -> int:
        """Asks the client to close without waiting (see :meth:`Client.close_nowait`);
        returns the request id of its ``reply`` event."""
        return self.client.close_nowait()

    @property
    def state(self) -> str:
        """The connection state (see :attr:`Client.state`); ``closed`` before connecting."""
        return self._client.state if self._client is not None else "closed"

    async def close(self) -> None:
        """Closes the client and awaits its final ``closed`` event. Closing twice is fine."""
        client = self._client
        if client is None:
            return
        loop = asyncio.get_running_loop()
        closed: "asyncio.Future[None]" = loop.create_future()

        def watch(event: Event) -> None:
            if event.kind == "closed":
                _settle_threadsafe(loop, closed, lambda: closed.set_result(None))

        with client._lock:
            client._state_hooks.append(watch)
        if client._closed.is_set() or client._native.closed:
            return
        client.close_nowait()
        try:
            await asyncio.wait_for(closed, client.timeout)
        except asyncio.TimeoutError:
            raise DirectusTimeoutError("TIMEOUT", f"the client did not close within {client.timeout} s") from None

    async def __aenter__(self) -> "AsyncClient":
        await self._open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<directus_chat.AsyncClient state={self.state!r}>"


def _settle_threadsafe(loop: asyncio.AbstractEventLoop, future: "asyncio.Future[Any]", settle: Callable[[], None]) -> None:
    """Runs ``settle`` on the loop, unless the future is done by then (cancelled)."""

    def run() -> None:
        if not future.done():
            settle()

    try:
        loop.call_soon_threadsafe(run)
    except RuntimeError:
        pass  # the loop is closed: nobody awaits any more


def _settle(future: "asyncio.Future[T]", event: Event, answer: Callable[[Any], T]) -> None:
    if event.error is not None:
        future.set_exception(event.error)
        return
    try:
        future.set_result(answer(event.data))
    except DirectusError as e:
        future.set_exception(e)

