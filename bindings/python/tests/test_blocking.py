"""The chat scenario through the blocking API, against a real Directus."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any, List

import pytest

import directus_chat
from directus_chat import AuthError, ChatMessage, Client, ClosedError, Event, ForbiddenError, InvalidArgumentError

from conftest import Server


def marker(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}"


def next_matching(sub: directus_chat.Subscription, predicate: Any, timeout: float = 15.0) -> Event:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ev = sub.next(timeout=0.5)
        if ev is not None and predicate(ev):
            return ev
    raise AssertionError("no matching event")


def with_text(kind: str, text: str) -> Any:
    return lambda ev: ev.kind == kind and any(m.text == text for m in ev.messages)


def test_two_users_history_create_update_delete_unsubscribe(server: Server) -> None:
    kevin_u, ada_u = server.user(1), server.user(2)
    with Client(server.ws_url, timeout=15) as kevin, Client(server.ws_url, timeout=15) as ada:
        kevin.login(kevin_u["email"], kevin_u["password"])
        ada.login_with_token(ada_u["token"])
        tag = marker("history")
        sent = [kevin.send(f"{tag} #{i}") for i in range(1, 4)]
        assert all(isinstance(m, ChatMessage) for m in sent)
        ksub, asub = kevin.subscribe_chat(), ada.subscribe(server.collection, query={"fields": ["*", "user_created.first_name"], "sort": "date_created", "limit": -1})
        for sub in (ksub, asub):
            init = sub.next(timeout=5)
            assert init is not None and init.kind == "init" and init.type == "subscription"
            assert init.collection == server.collection
            history = [m for m in init.messages if m.text.startswith(tag)]
            assert [m.text for m in history] == [f"{tag} #{i}" for i in range(1, 4)]
            assert {m.author for m in history} == {kevin_u["name"]}
            assert all(m.date is not None and m.date.tzinfo is not None for m in history)
            assert "ChatMessage(" in repr(history[0]) and "Event(" in repr(init)

        hello = marker("hello from Ada")
        ada.send(hello)
        for sub in (ksub, asub):
            ev = next_matching(sub, with_text("create", hello))
            assert ev.messages[0].author == ada_u["name"]

        edited = f"{tag} #1 edited"
        updated = kevin.update(server.collection, {"text": edited}, id=int(sent[0].id))
        assert updated["text"] == edited
        for sub in (ksub, asub):
            next_matching(sub, with_text("update", edited))
        kevin.delete(server.collection, id=int(sent[1].id))
        for sub in (ksub, asub):
            ev = next_matching(sub, lambda e: e.kind == "delete" and sent[1].id in [str(k) for k in e.data])
            assert ev.messages == []

        asub.unsubscribe()
        assert asub.ended
        after = marker("after unsubscribe")
        kevin.send(after)
        next_matching(ksub, with_text("create", after))
        time.sleep(1.5)
        with pytest.raises(ClosedError):
            while True:
                ev2 = asub.next(timeout=0.1)
                assert ev2 is None or ev2.type != "subscription" or ev2.kind == "init", ev2
                if ev2 is None:
                    raise ClosedError("CLOSED", "drained")
    assert kevin.closed and ada.closed
    assert kevin.state == "closed"


def test_wrong_password_is_auth_failed(server: Server) -> None:
    with Client(server.ws_url, timeout=10) as c:
        with pytest.raises(AuthError) as info:
            c.login(server.user(1)["email"], "definitely-wrong-password")
        assert info.value.code == "AUTH_FAILED"
        assert "definitely-wrong-password" not in repr(info.value) + str(info.value)


def test_forbidden_collection_fails_that_request_only(server: Server) -> None:
    with Client(server.ws_url, timeout=10) as c:
        c.login_with_token(server.user(1)["token"])
        with pytest.raises(ForbiddenError) as info:
            c.read(server.forbidden)
        assert info.value.code == "FORBIDDEN"
        with pytest.raises(ForbiddenError):
            c.subscribe(server.forbidden)
        assert isinstance(c.read(server.collection, query={"limit": 1}), list)
        with pytest.raises(InvalidArgumentError):
            c.request(server.collection, "explode")


def test_a_raising_callback_does_not_stop_later_events(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    seen: List[str] = []
    hooked: List[BaseException] = []
    done = threading.Event()
    tag = marker("cb")

    def callback(ev: Event) -> None:
        for m in ev.messages:
            if m.text.startswith(tag):
                seen.append(m.text)
                if m.text.endswith("#1"):
                    raise RuntimeError("boom in user code")
                if m.text.endswith("#3"):
                    done.set()

    with caplog.at_level(logging.ERROR, logger="directus_chat"):
        with Client(server.ws_url, timeout=10, on_callback_error=lambda exc, ev: hooked.append(exc)) as c:
            c.login_with_token(server.user(2)["token"])
            c.subscribe_chat(callback=callback)
            for i in (1, 2, 3):
                c.send(f"{tag} #{i}")
            assert done.wait(15)
    assert seen == [f"{tag} #1", f"{tag} #2", f"{tag} #3"]
    assert len(hooked) == 1 and "boom" in str(hooked[0])
    assert any("boom in user code" in (r.exc_text or "") or r.exc_info for r in caplog.records)


def test_a_thousand_messages_arrive_in_order(server: Server) -> None:
    tag = marker("burst")
    n = 1000
    with Client(server.ws_url, timeout=30) as sender, Client(server.ws_url, timeout=30) as receiver:
        sender.login_with_token(server.user(1)["token"])
        receiver.login_with_token(server.user(2)["token"])
        sub = receiver.subscribe_chat()
        ids = [sender.send_nowait(f"{tag} {i}") for i in range(n)]
        assert len(set(ids)) == n
        got: List[str] = []
        deadline = time.monotonic() + 120
        while len(got) < n and time.monotonic() < deadline:
            ev = sub.next(timeout=1)
            if ev is not None and ev.kind == "create":
                got.extend(m.text for m in ev.messages if m.text.startswith(tag))
        assert got == [f"{tag} {i}" for i in range(n)]


def test_secrets_stay_out_of_logs_and_reprs(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    directus_chat.set_log_level(logging.DEBUG)
    try:
        with caplog.at_level(logging.DEBUG, logger="directus_chat"):
            user = server.user(1)
            with Client(server.ws_url, timeout=10) as c:
                c.login(user["email"], user["password"])
                c.login_with_token(user["token"])
                text = repr(c)
            time.sleep(1.5)  # let the log thread forward the core's records
        logged = " ".join(r.getMessage() for r in caplog.records)
        assert "authenticated" in logged, logged
        for secret in (user["password"], user["token"]):
            assert secret not in logged and secret not in text
    finally:
        directus_chat.set_log_level(logging.WARNING)


def test_timeouts_and_closed_client(server: Server) -> None:
    c = Client(server.ws_url, timeout=10)
    c.login_with_token(server.user(1)["token"])
    c.close()
    c.close()
    with pytest.raises(ClosedError):
        c.send("too late")
    with pytest.raises(directus_chat.DirectusConnectionError):
        Client("ws://127.0.0.1:9/websocket", timeout=2)


def test_a_dropped_subscription_unsubscribes(server: Server) -> None:
    import gc

    with Client(server.ws_url, timeout=10) as c:
        c.login_with_token(server.user(1)["token"])
        sub = c.subscribe_chat()
        uid = sub.uid
        assert c._lookup(uid) is sub
        del sub
        gc.collect()
        assert c._lookup(uid) is None
        # The session still works and can subscribe again.
        again = c.subscribe_chat()
        assert again.uid != uid
