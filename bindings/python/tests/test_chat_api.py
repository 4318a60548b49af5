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

from directus_chat import AsyncClient, ChatMessage, Client, DirectusError, Event, ForbiddenError, InvalidArgumentError, User
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


def test_a_schema_with_other_field_names_and_presence_collections(server: Server) -> None:
    """Every field name of the chat schema is a keyword argument, as in Rust's ChatConfig
    and C's dchat_options_set_chat_fields: a collection made here keeps its text in
    ``content``, its key in ``nid``, its date in ``posted_at``, its author in ``author``
    and its edit date in ``changed_at``, and has no rooms. The presence collections are
    named too."""
    coll = f"notes_{uuid.uuid4().hex[:8]}"

    def field(name: str, type_: str, special: Optional[List[str]] = None, schema: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        return {"field": name, "type": type_, "schema": schema or {}, "meta": {"special": special} if special else {}}

    admin(server, "POST", "/collections", {"collection": coll, "meta": {}, "schema": {}, "fields": [
        field("nid", "integer", schema={"is_primary_key": True, "has_auto_increment": True}),
        field("content", "text"),
        field("author", "uuid", ["user-created"]),
        field("posted_at", "timestamp", ["date-created"]),
        field("changed_at", "timestamp", ["date-updated"]),
    ]})
    admin(server, "POST", "/relations", {"collection": coll, "field": "author", "related_collection": "directus_users"})
    me = admin(server, "GET", "/users/me?fields=id,first_name")["data"]
    for text in ("first note", "second note"):
        admin(server, "POST", f"/items/{coll}", {"content": text})
        time.sleep(1.1)  # distinct dates: the history is ordered by posted_at
    schema: Dict[str, Any] = dict(
        collection=coll, text_field="content", author_path="author.first_name", id_field="nid", date_field="posted_at",
        user_field="author", updated_field="changed_at", room_field=None,
    )
    with Client(server.ws_url, timeout=15, **schema) as client:
        client.login_with_token(server.env["DIRECTUS_ADMIN_TOKEN"])
        assert client.whoami().id == me["id"]
        with client.join() as sub:  # no room field: the lobby is every message
            init = events_until(sub, lambda seen: len(seen) >= 1)[0]
            assert init.kind == "init"
            history = init.messages
            assert [m.text for m in history] == ["first note", "second note"], history
            assert all(m.id.isdigit() and m.date is not None and m.author_id == me["id"] and m.own for m in history)
            assert all(m.author == me["first_name"] and not m.edited for m in history)
            sent = client.send("third note")
            assert sent.id.isdigit() and int(sent.id) > int(history[-1].id) and sent.text == "third note" and sent.date is not None
            created = events_until(sub, lambda seen: any(e.kind == "create" for e in seen))
            assert texts(created) == ["third note"]
            edited = client.edit_message(sent.id, "third note, changed")
            assert edited.edited and edited.updated is not None
            updated = events_until(sub, lambda seen: any(e.kind == "update" for e in seen))
            changed = [m for e in updated if e.kind == "update" for m in e.messages]
            assert [(m.id, m.text, m.edited) for m in changed] == [(sent.id, "third note, changed", True)]
            # Older history pages by posted_at, then nid.
            older = client.load_older(None, before=history[-1].id, count=5)
            assert [m.text for m in older] == ["first note"]

    # Presence in the collections named (the kit's, passed explicitly), and refused in
    # collections that are not there.
    k = server.user(1)
    room = make_room(server, "py-presence-names")
    named = dict(presence_collection=server.env["DCHAT_PRESENCE_COLLECTION"], receipts_collection=server.env["DCHAT_RECEIPTS_COLLECTION"])
    with Client(server.ws_url, timeout=15, **named) as client:
        client.login_with_token(k["token"])
        client.enter(room)
        me_id = client.me.id if client.me else ""
        deadline = time.monotonic() + 10
        while me_id not in [m.user for m in client.online(room)] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [m.user for m in client.online(room)] == [me_id]
        client.exit(room)
    with Client(server.ws_url, timeout=5, presence_collection="no_presence_here", receipts_collection="no_receipts_here") as client:
        client.login_with_token(k["token"])
        with pytest.raises(DirectusError):
            client.enter(room)
