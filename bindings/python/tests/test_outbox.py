"""The outbox from Python, against a real Directus: local echo then reconcile, sent
exactly once, the lock, a damaged file, cancel/edit, and resuming after a close."""

from __future__ import annotations

import queue
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Dict, List

import pytest

from directus_chat import Client, Event, InvalidArgumentError, OutboxError

from conftest import Server


def outbox_events(q: "queue.Queue[Event]", want: int, state: str, timeout: float = 30.0) -> List[Event]:
    """Outbox events until ``want`` of them are in ``state``."""
    got: List[Event] = []
    deadline = time.monotonic() + timeout
    while sum(1 for e in got if e.kind == state) < want:
        try:
            got.append(q.get(timeout=max(0.0, deadline - time.monotonic())))
        except queue.Empty:
            raise AssertionError(f"only {[e.kind for e in got]} within {timeout} s") from None
    return got


def test_local_echo_then_reconcile_each_message_once(server: Server, tmp_path: Path) -> None:
    tag = f"py-outbox-{uuid.uuid4().hex[:8]}"
    events: "queue.Queue[Event]" = queue.Queue()
    view: Dict[str, List[str]] = {}  # key -> what the view showed, in order
    creates: "queue.Queue[Event]" = queue.Queue()

    def on_event(ev: Event) -> None:
        if ev.type == "outbox":
            events.put(ev)

    with Client(server.ws_url, timeout=15, outbox=str(tmp_path / "outbox.db"), on_event=on_event) as client:
        client.login_with_token(server.user(1)["token"])
        sub = client.subscribe_chat(callback=creates.put)
        sent = [client.outbox.send(f"{tag} {i}") for i in range(10)]
        assert [e.state for e in sent] == ["queued"] * 10
        assert len({e.key for e in sent}) == 10
        seen = outbox_events(events, 10, "sent")
        for ev in seen:
            assert ev.outbox is not None and ev.uid == ev.outbox.key
            assert len(ev.messages) == 1 and ev.messages[0].key == ev.outbox.key, "the local echo is a chat message"
            if ev.kind == "queued":
                assert ev.outbox.key not in view, "shown twice"
                view[ev.outbox.key] = ["pending"]
            elif ev.kind == "sent":
                view[ev.outbox.key].append("sent")
                assert ev.outbox.item is not None and ev.outbox.item["client_key"] == ev.outbox.key
        # The server's create events carry the same keys: the same lines, not new ones.
        deadline = time.monotonic() + 15
        stored = 0
        while stored < 10 and time.monotonic() < deadline:
            try:
                ev = creates.get(timeout=0.5)
            except queue.Empty:
                continue
            for m in ev.messages if ev.kind == "create" else []:
                if m.text.startswith(tag):
                    assert m.key in view, "a create of ours without its echo"
                    view[m.key].append("stored")
                    stored += 1
        assert stored == 10
        assert all(h[0] == "pending" and sorted(h[1:]) == ["sent", "stored"] for h in view.values()), view
        assert client.outbox.list() == []
        rows = client.read(server.collection, query={"filter": {"text": {"_starts_with": tag}}, "limit": -1})
        assert sorted(r["text"] for r in rows) == sorted(f"{tag} {i}" for i in range(10))
        sub.unsubscribe()
    print("outbox (python): 10 messages, each shown once: pending, then stored and sent")


def test_the_lock_a_foreign_file_cancel_edit_and_resume(server: Server, tmp_path: Path) -> None:
    path = str(tmp_path / "outbox.db")
    tag = f"py-resume-{uuid.uuid4().hex[:8]}"
    first = Client(server.ws_url, timeout=15, outbox=path)
    with pytest.raises(OutboxError) as locked:
        Client(server.ws_url, timeout=15, outbox=path)
    assert locked.value.code == "OUTBOX_LOCKED"
    # Never logged in: nothing goes out. The first entry is handed to the session (it
    # may be stored: no cancel), the others can be cancelled and edited.
    a = first.outbox.send(f"{tag} a")
    b = first.outbox.send(f"{tag} b")
    c = first.outbox.send(f"{tag} c")
    time.sleep(0.5)
    with pytest.raises(InvalidArgumentError):
        first.outbox.cancel(a.local_id)
    assert first.outbox.cancel(b.local_id).state == "cancelled"
    assert first.outbox.edit(c.local_id, {"text": f"{tag} c, edited"}).data["text"] == f"{tag} c, edited"
    first.close()

    # A new client on the file resumes what was left, in order, and sends it.
    events: "queue.Queue[Event]" = queue.Queue()
    with Client(server.ws_url, timeout=15, outbox=path, on_event=lambda ev: events.put(ev) if ev.type == "outbox" else None) as second:
        assert [e.local_id for e in second.outbox.list()] == [a.local_id, c.local_id]
        second.login_with_token(server.user(1)["token"])
        outbox_events(events, 2, "sent")
        rows = second.read(server.collection, query={"filter": {"text": {"_starts_with": tag}}, "sort": ["id"], "limit": -1})
        assert [r["text"] for r in rows] == [f"{tag} a", f"{tag} c, edited"]

    damaged = tmp_path / "damaged.db"
    con = sqlite3.connect(damaged)
    con.execute("CREATE TABLE notes (t TEXT)")
    con.commit()
    con.close()
    with pytest.raises(OutboxError) as foreign:
        Client(server.ws_url, timeout=15, outbox=str(damaged))
    assert foreign.value.code == "OUTBOX_FOREIGN"
    print("outbox (python): lock, foreign file, cancel, edit, resume: as expected")
