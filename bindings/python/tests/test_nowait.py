"""Never blocking the caller (issue 11), against a real Directus:

- a pygame-style game loop: ``Client(poll=True, nowait=True)``, the ``*_nowait`` calls and
  ``poll(max=...)`` once per frame, through a proxy that delays every chunk by 1 s, so
  any call that waited for the server would take 2 s; every call is timed and the
  slowest of each kind printed;
- asyncio without executor threads: the loop's default executor refuses all work, and
  30 reads awaited at once add no thread; cancelling an ``await`` (or its timeout)
  cancels the request, which is then never sent;
- public mode (no login), and a client that gives up reconnecting;
- ``AsyncClient`` takes ``Client``'s typed options: mypy rejects a misspelt one.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, DefaultDict, Dict, List, Optional, TypeVar

import pytest

from directus_chat import AsyncClient, CancelledError, Client, DirectusTimeoutError, Event, InvalidArgumentError

from conftest import Server

T = TypeVar("T")
# Far below the 2 s a round trip through the slow proxy takes: a call under it did not wait.
QUICK = 0.25


class Timings:
    def __init__(self) -> None:
        self.calls: DefaultDict[str, List[float]] = defaultdict(list)

    def __call__(self, name: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.calls[name].append(time.perf_counter() - start)

    def report(self, title: str) -> Dict[str, float]:
        print(f"\n{title}: per call (slowest, 99th percentile), in ms")
        worst = {}
        for name, times in sorted(self.calls.items()):
            ordered = sorted(times)
            worst[name] = ordered[-1]
            p99 = ordered[int((len(ordered) - 1) * 0.99)]
            print(f"  {name:34} {len(times):6} calls  max {ordered[-1] * 1000:8.2f}  p99 {p99 * 1000:7.2f}")
        return worst


def test_a_game_loop_in_poll_mode_never_waits(server: Server, slow_url: str) -> None:
    user = server.user(1)
    text = f"pygame {uuid.uuid4().hex[:10]}"
    t = Timings()
    client = t("Client(poll=True, nowait=True)", Client, slow_url, poll=True, nowait=True, timeout=30)
    login = t("login_nowait", client.login_nowait, user["email"], user["password"])
    sub = t("subscribe_chat_nowait", client.subscribe_chat_nowait)
    send = t("send_nowait", client.send_nowait, text)
    with pytest.raises(InvalidArgumentError):
        client.subscribe_chat()  # a poll-mode client takes its events with poll()
    states: List[Event] = []
    replies: Dict[int, Event] = {}
    seen = init_first = closing = False
    unsubscribe: Optional[int] = None
    close_request = 0
    previous: Optional[Event] = None
    before_closed: Optional[Event] = None
    closed: Optional[Event] = None
    frames = 0
    deadline = time.monotonic() + 90
    while closed is None and time.monotonic() < deadline:
        frame_start = time.monotonic()
        frames += 1
        for ev in t("poll(max=50)", client.poll, max=50):
            if ev.type == "state" and ev.kind == "closed":
                before_closed = previous
            previous = ev
            if ev.type == "state":
                states.append(ev)
                if ev.kind == "closed":
                    closed = ev
            elif ev.type == "reply":
                replies[ev.request] = ev
            elif ev.type == "subscription" and ev.uid == sub.uid:
                init_first = init_first or (ev.kind == "init" and sub.request not in replies)
                # Sent with the subscribe: in the history, or a create event.
                seen = seen or any(m.text == text for m in ev.messages)
        t("state", lambda: client.state)
        ready = all(r in replies and replies[r].error is None for r in (login, sub.request, send))
        if ready and seen and unsubscribe is None:
            unsubscribe = t("unsubscribe_nowait", client.unsubscribe_nowait, sub)
        if unsubscribe is not None and unsubscribe in replies and not closing:
            close_request = t("close_nowait", client.close_nowait)
            closing = True
        time.sleep(max(0.0, 1 / 60 - (time.monotonic() - frame_start)))
    worst = t.report(f"a game loop at 60 fps through a slow server ({frames} frames)")
    errors = {r: e.error for r, e in replies.items() if e.error is not None}
    assert not errors, errors
    assert login in replies and sub.request in replies and send in replies and unsubscribe in replies
    assert init_first and seen
    assert closed is not None and closed.cause == "by_user", states
    # The close is a nowait call like the others: its reply is the event just before closed.
    assert close_request != 0 and close_request in replies
    assert before_closed is not None and before_closed.type == "reply" and before_closed.request == close_request
    assert client.close_nowait() == 0, "closing a closed client: no request"
    assert [s.kind for s in states][:3] == ["connecting", "connected", "authenticated"]
    assert all(ev.attempt == 0 for ev in states)
    assert client.poll() == [] and client.state == "closed"
    assert max(worst.values()) < QUICK, worst


def test_poll_is_for_poll_mode_and_a_client_that_gives_up(server: Server) -> None:
    with Client(server.ws_url, timeout=10) as client:
        with pytest.raises(InvalidArgumentError):
            client.poll()
    # A closed port: the attempts are told by the state events, then it gives up.
    client = Client("ws://127.0.0.1:9/websocket", poll=True, nowait=True, reconnect=False)
    events: List[Event] = []
    deadline = time.monotonic() + 20
    while not any(e.kind == "closed" for e in events) and time.monotonic() < deadline:
        events.extend(e for e in client.poll(max=10) if e.type == "state")
        time.sleep(0.02)
    kinds = [e.kind for e in events]
    assert kinds == ["connecting", "disconnected", "closed"], kinds
    assert events[1].retry_in is None and events[-1].cause == "gave_up"
    client.close()


class NoExecutor(concurrent.futures.ThreadPoolExecutor):
    """The loop's default executor, refusing work: nothing may park a thread."""

    def submit(self, *args: Any, **kwargs: Any) -> "concurrent.futures.Future[Any]":
        raise AssertionError("run_in_executor was called")


def test_asyncio_parks_no_thread_and_a_cancelled_await_cancels_the_request(server: Server, slow_url: str) -> None:
    user = server.user(1)
    cancelled_text = f"cancelled {uuid.uuid4().hex[:10]}"
    timed_out_text = f"timed out {uuid.uuid4().hex[:10]}"
    also_cancelled = f"also cancelled {uuid.uuid4().hex[:10]}"

    async def run() -> None:
        asyncio.get_running_loop().set_default_executor(NoExecutor())
        async with AsyncClient(slow_url, timeout=30) as client:
            assert client.state == "connected"
            await client.login(user["email"], user["password"])
            assert client.state == "authenticated"
            threads = threading.active_count()
            reads = [asyncio.ensure_future(client.read(server.collection, query={"limit": 1})) for _ in range(30)]
            await asyncio.sleep(0.5)
            during = threading.active_count()
            results = await asyncio.gather(*reads)
            print(f"\nasyncio: {threads} threads before 30 concurrent reads, {during} while they waited")
            assert during == threads
            assert all(isinstance(r, list) for r in results)
            stored = await client.send(f"async send {uuid.uuid4().hex[:6]}")
            assert stored.id and stored.text.startswith("async send")

        # Requests made before the login wait for it, on no wire: cancel one, time one out.
        async with AsyncClient(server.ws_url, timeout=10, nowait=True) as client:
            task = asyncio.ensure_future(client.send(cancelled_text))
            await asyncio.sleep(0.3)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            with pytest.raises(DirectusTimeoutError):
                await client.send(timed_out_text, timeout=0.3)
            request = client.send_nowait(also_cancelled)
            client.cancel(request)
            await client.login(user["email"], user["password"])
            await asyncio.sleep(1.0)
            for text in (cancelled_text, timed_out_text, also_cancelled):
                assert await client.read(server.collection, query={"filter": {"text": {"_eq": text}}}) == []

    asyncio.run(run())


def test_asyncio_subscribe_unsubscribe_and_cancel_a_subscribe(server: Server, slow_url: str) -> None:
    user = server.user(2)

    async def run() -> None:
        async with AsyncClient(server.ws_url, timeout=10) as client:
            await client.login_with_token(user["token"])
            sub = await client.subscribe_chat()
            assert sub.request > 0
            init = await sub.next(timeout=5)
            assert init is not None and init.kind == "init"
            await client.unsubscribe(sub)
            assert [ev async for ev in sub] == []
        async with AsyncClient(slow_url, timeout=30, nowait=True) as slow:
            # Not even connected yet: the subscribe waits, and its cancellation ends it.
            task = asyncio.ensure_future(slow.subscribe_chat())
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert not slow.client._subs and not slow.client._weak_subs

    asyncio.run(run())


def test_a_cancelled_nowait_request_replies_cancelled(server: Server) -> None:
    client = Client(server.ws_url, poll=True, nowait=True, timeout=10)
    request = client.send_nowait("never sent: no login")
    client.cancel(request)
    reply: Optional[Event] = None
    deadline = time.monotonic() + 10
    while reply is None and time.monotonic() < deadline:
        reply = next((e for e in client.poll() if e.type == "reply" and e.request == request), None)
        time.sleep(0.01)
    assert reply is not None and isinstance(reply.error, CancelledError) and reply.error.code == "CANCELLED"
    client.close()


def test_public_mode_needs_no_login(public_server: Server) -> None:
    with Client(public_server.ws_url, auth_mode="public", timeout=10) as client:
        assert isinstance(client.read(public_server.collection, query={"limit": 1}), list)
        sub = client.subscribe(public_server.collection, query={"fields": ["*"], "limit": 5})
        init = sub.next(timeout=5)
        assert init is not None and init.kind == "init"
    # The same requests in handshake mode wait for a login that never comes.
    with Client(public_server.ws_url, timeout=10) as client:
        with pytest.raises(DirectusTimeoutError):
            client.read(public_server.collection, query={"limit": 1}, timeout=1.0)
    with pytest.raises(InvalidArgumentError):
        Client(public_server.ws_url, auth_mode="open", timeout=5)  # type: ignore[arg-type]

    async def run() -> None:
        async with AsyncClient(public_server.ws_url, auth_mode="public", timeout=10) as client:
            assert isinstance(await client.read(public_server.collection, query={"limit": 1}), list)

    asyncio.run(run())


MISSPELT = """
from directus_chat import AsyncClient, Client

Client("ws://x", timout=3.0)
AsyncClient("ws://x", colection="messages")
async def f() -> None:
    await AsyncClient.connect("ws://x", nowiat=True)
    c = AsyncClient("ws://x")
    await c.login("a", "b", timeuot=1.0)
"""


def test_mypy_rejects_misspelt_options(tmp_path: Path) -> None:
    source = tmp_path / "misspelt.py"
    source.write_text(MISSPELT)
    out = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(source)], capture_output=True, text=True)
    print(out.stdout)
    assert out.returncode == 1
    for wrong in ("timout", "colection", "nowiat", "timeuot"):
        assert f'Unexpected keyword argument "{wrong}"' in out.stdout, wrong
