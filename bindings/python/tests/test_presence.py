"""Presence, typing and read receipts from Python (blocking with callbacks, and asyncio),
against a real Directus seeded with the schema kit."""

from __future__ import annotations

import asyncio
import json
import queue
import time
import urllib.request
import uuid
from typing import Callable, List

from directus_chat import AsyncClient, Client, Event, InvalidArgumentError

from conftest import Server


def make_room(server: Server, tag: str) -> str:
    room = f"{tag}-{uuid.uuid4().hex[:8]}"
    req = urllib.request.Request(
        server.http_url + "/items/rooms",
        data=json.dumps({"id": room, "name": tag}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {server.env['DIRECTUS_ADMIN_TOKEN']}"},
        method="POST",
    )
    urllib.request.urlopen(req, timeout=30).read()
    return room


def wait_for(events: "queue.Queue[Event]", want: Callable[[Event], bool], timeout: float = 15.0) -> Event:
    deadline = time.monotonic() + timeout
    seen: List[Event] = []
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"not within {timeout} s; presence events: {[(e.kind, e.data) for e in seen]}"
        try:
            event = events.get(timeout=left)
        except queue.Empty:
            continue
        if event.type == "presence":
            if want(event):
                return event
            seen.append(event)


def test_presence_typing_unread_and_readers(server: Server) -> None:
    kevin, ada = server.user(1), server.user(2)
    kevin_id, ada_id = server.env["DCHAT_USER1_ID"], server.env["DCHAT_USER2_ID"]
    room = make_room(server, "py-presence")
    kq: "queue.Queue[Event]" = queue.Queue()
    aq: "queue.Queue[Event]" = queue.Queue()
    with Client(server.ws_url, timeout=15, client_key="client_key", on_event=kq.put) as k, Client(
        server.ws_url, timeout=15, client_key="client_key", on_event=aq.put
    ) as a:
        k.login(kevin["email"], kevin["password"])
        a.login(ada["email"], ada["password"])
        k.enter(room)
        assert wait_for(kq, lambda e: e.kind == "unread").unread == 0
        started = time.monotonic()
        a.enter(room)
        came = wait_for(kq, lambda e: e.kind == "online" and e.user == ada_id and e.online is True, timeout=5)
        assert came.room == room and came.user_name == ada["name"]
        appeared = time.monotonic() - started
        assert {m.user for m in k.online(room)} == {kevin_id, ada_id}

        # A keystroke shows, then expires by itself.
        started = time.monotonic()
        a.set_typing(room, True)
        wait_for(kq, lambda e: e.kind == "typing" and e.user == ada_id and e.typing is True, timeout=5)
        assert any(m.typing for m in k.online(room) if m.user == ada_id)
        wait_for(kq, lambda e: e.kind == "typing" and e.user == ada_id and e.typing is False, timeout=10)
        expired = time.monotonic() - started
        assert expired > 4.0

        # Unread counts rise with Ada's messages, drop after a read marker.
        sent = [a.send(f"py unread {i}", room=room) for i in range(2)]
        wait_for(kq, lambda e: e.kind == "unread" and e.unread == 2)
        assert k.unread(room) == 2
        k.mark_read(room, sent[1].id)
        wait_for(kq, lambda e: e.kind == "unread" and e.unread == 0)
        wait_for(aq, lambda e: e.kind == "read" and e.user == kevin_id and e.last_read == sent[1].id)
        assert [r.user for r in a.readers(room, sent[1].id)] == [kevin_id]
        request = k.mark_read_nowait(room, sent[0].id)
        assert request > 0
        wait_for(kq, lambda e: e.kind == "unread" and e.unread == 1)

        # A clean exit is seen at once.
        started = time.monotonic()
        a.exit(room)
        wait_for(kq, lambda e: e.kind == "online" and e.user == ada_id and e.online is False, timeout=5)
        gone = time.monotonic() - started
        assert [m.user for m in k.online(room)] == [kevin_id]
        try:
            k.set_typing("nowhere", True)
            raise AssertionError("typing in a room one is not in")
        except InvalidArgumentError:
            pass
        assert k.unread("nowhere") is None
        print(f"presence from Python: online after {appeared:.2f} s, typing expired after {expired:.2f} s, offline {gone:.2f} s after an exit")


def test_presence_with_asyncio(server: Server) -> None:
    kevin, ada = server.user(1), server.user(2)
    ada_id = server.env["DCHAT_USER2_ID"]
    room = make_room(server, "py-presence-aio")

    async def main() -> None:
        async with AsyncClient(server.ws_url, timeout=15) as k, AsyncClient(server.ws_url, timeout=15) as a:
            await k.login(kevin["email"], kevin["password"])
            await a.login(ada["email"], ada["password"])
            await k.enter(room)
            await a.enter(room)
            deadline = time.monotonic() + 5
            while ada_id not in {m.user for m in k.online(room)}:
                assert time.monotonic() < deadline, "Ada not online"
                await asyncio.sleep(0.05)
            a.set_typing(room, True)
            while not any(m.typing for m in k.online(room) if m.user == ada_id):
                assert time.monotonic() < deadline + 5, "Ada not typing"
                await asyncio.sleep(0.05)
            await a.exit(room)
            while ada_id in {m.user for m in k.online(room)}:
                assert time.monotonic() < deadline + 10, "Ada still online"
                await asyncio.sleep(0.05)
            await k.exit(room)
            assert k.online(room) == []

    asyncio.run(main())
