"""The chat API from Python (blocking and asyncio), against a real Directus seeded with
the schema kit: rooms, older history, edits and deletions, who am I, extra fields."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
import uuid
from typing import Any, Dict, List, Optional

import pytest

from directus_chat import AsyncClient, ChatMessage, Client, Event, ForbiddenError, InvalidArgumentError, User
from directus_chat import Subscription

from conftest import Server


def admin(server: Server, method: str, path: str, body: Any = None) -> Any:
    req = urllib.request.Request(
        server.http_url + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {server.env['DIRECTUS_ADMIN_TOKEN']}"},
        method=method,
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def make_room(server: Server, tag: str) -> str:
    room = f"{tag}-{uuid.uuid4().hex[:8]}"
    admin(server, "POST", "/items/rooms", {"id": room, "name": tag})
    return room


def events_until(sub: Subscription, done: Any, timeout: float = 15.0) -> List[Event]:
    seen: List[Event] = []
    deadline = time.monotonic() + timeout
    while not done(seen):
        if time.monotonic() > deadline:
            raise AssertionError(f"not done in time: {seen!r}")
        ev = sub.next(timeout=0.5)
        if ev is not None:
            seen.append(ev)
    return seen


def texts(events: List[Event], kind: str = "create") -> List[str]:
    return [m.text for e in events if e.kind == kind for m in e.messages]


def test_rooms_own_messages_edits_deletions_and_forbidden(server: Server) -> None:
    k, a = server.user(1), server.user(2)
    alpha, beta = make_room(server, "py-alpha"), make_room(server, "py-beta")
    with Client(server.ws_url, timeout=15) as kevin, Client(server.ws_url, timeout=15) as ada:
        kevin.login(k["email"], k["password"])
        ada.login_with_token(a["token"])
        assert kevin.me is None, "not asked yet"
        me = kevin.whoami()
        assert isinstance(me, User) and me.first_name == k["name"] and me.email == k["email"]
        assert kevin.me == me
        k_alpha = kevin.join(alpha)
        a_alpha, a_beta = ada.join(alpha), ada.join(beta)
        assert (k_alpha.room, a_beta.room, a_beta.is_room) == (alpha, beta, True)
        assert ada.me is not None and ada.me.first_name == a["name"], "joining asked who she is"
        # The history is the room's first event.
        assert events_until(a_alpha, lambda s: any(e.kind == "init" for e in s))[0].room == alpha

        sent = kevin.send("in alpha", room=alpha)
        assert (sent.room, sent.own, sent.edited) == (alpha, True, False)
        ada.send("in beta", room=beta)
        seen = events_until(a_alpha, lambda s: "in alpha" in texts(s))
        m = next(m for e in seen for m in e.messages if m.text == "in alpha")
        assert (m.room, m.own, m.author, m.author_id) == (alpha, False, k["name"], me.id)
        assert all(e.room == alpha for e in seen)
        assert "in beta" in texts(events_until(a_beta, lambda s: "in beta" in texts(s)))
        mine = events_until(k_alpha, lambda s: "in alpha" in texts(s))
        assert [m.own for e in mine for m in e.messages if m.text == "in alpha"] == [True]

        edited = kevin.edit_message(sent.id, "in alpha, edited")
        assert edited.edited and edited.text == "in alpha, edited"
        seen = events_until(a_alpha, lambda s: "in alpha, edited" in texts(s, "update"))
        m = next(m for e in seen if e.kind == "update" for m in e.messages)
        assert (m.id, m.edited, m.own) == (sent.id, True, False) and m.updated is not None

        hers = ada.send("ada's", room=alpha)
        with pytest.raises(ForbiddenError):
            kevin.edit_message(hers.id, "not yours")
        with pytest.raises(ForbiddenError):
            kevin.delete_message(hers.id)

        kevin.delete_message(sent.id)
        seen = events_until(a_alpha, lambda s: any(e.kind == "delete" for e in s))
        gone = [e for e in seen if e.kind == "delete"]
        assert [(e.room, e.deleted) for e in gone] == [(alpha, [sent.id])]
        # Beta is told nothing of alpha's deletion.
        time.sleep(1.0)
        while (ev := a_beta.next(timeout=0.2)) is not None:
            assert ev.kind != "delete", ev

        ada.leave(beta)
        assert a_beta.ended


def test_older_history_in_pages_with_extra_fields_and_the_client_key(server: Server) -> None:
    k = server.user(1)
    room = make_room(server, "py-older")
    admin(server, "POST", "/items/messages", [{"text": f"old {i}", "room": room} for i in range(25)])
    with Client(server.ws_url, timeout=15, history_limit=5, client_key="client_key") as kevin:
        kevin.login_with_token(k["token"])
        sub = kevin.join(room)
        history = events_until(sub, lambda s: any(e.kind == "init" for e in s))
        shown = [m.text for e in history for m in e.messages]
        assert shown == [f"old {i}" for i in range(20, 25)]
        pages: List[List[ChatMessage]] = []
        while page := kevin.load_older(room, count=6):
            pages.append(page)
        assert [len(p) for p in pages] == [6, 6, 6, 2]
        older = [m.text for p in reversed(pages) for m in p]
        assert older == [f"old {i}" for i in range(0, 20)], "each once, in order"
        # Before a given message; a message never shown has no known place.
        assert [m.text for m in kevin.load_older(room, before=pages[0][0].id, count=2)] == ["old 12", "old 13"]
        with pytest.raises(InvalidArgumentError):
            kevin.load_older(room, before="987654321")

        m = kevin.send("with extras", room=room, extra={"file": None})
        assert m.room == room and isinstance(m.raw["client_key"], str) and len(m.raw["client_key"]) == 36
        request = kevin.send_nowait("no wait", room=room)
        assert request > 0
        assert "no wait" in texts(events_until(sub, lambda s: "no wait" in texts(s)))


def test_asyncio_chat_api(server: Server) -> None:
    k = server.user(1)
    room = make_room(server, "py-aio")

    async def scenario() -> None:
        async with AsyncClient(server.ws_url, timeout=15) as client:
            await client.login_with_token(k["token"])
            me = await client.whoami()
            assert client.me == me
            sub = await client.join(room)
            assert sub.room == room
            first = await sub.next(timeout=10)
            assert first is not None and first.kind == "init" and first.room == room
            sent = await client.send("async hello", room=room)
            ev: Optional[Event] = None
            while ev is None or not any(m.text == "async hello" for m in ev.messages):
                ev = await sub.next(timeout=10)
                assert ev is not None
            assert ev.room == room and ev.messages[-1].own
            await client.edit_message(sent.id, "async edited")
            assert [m.text for m in await client.load_older(room)] == []
            await client.delete_message(sent.id)
            await client.leave(room)

    asyncio.run(scenario())
