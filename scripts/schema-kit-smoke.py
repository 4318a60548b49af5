#!/usr/bin/env python3
"""Proves that a Directus with the schema kit applied gives a working chat, with nothing
but raw REST and a raw WebSocket client (the `websockets` package): the checks a user of
the kit would make by hand. Used by scripts/test-schema-kit.sh.

    schema-kit-smoke.py --url URL --admin-token T --user1 EMAIL:PASSWORD --user2 EMAIL:PASSWORD
                        [--collection messages] [--text-field text] [--room general]
                        [--presence presence] [--receipts read_receipts] [--label NAME]

Prints one `ok N - what` or `not ok N - what: why` line per check and exits 1 if any failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from typing import Any, Callable, Optional

import websockets

RESULTS: list[bool] = []
LABEL = ""


def check(ok: bool, what: str, why: Any = "") -> bool:
    RESULTS.append(bool(ok))
    n = len(RESULTS)
    print(f"{'ok' if ok else 'not ok'} {n} - {LABEL}{what}" + ("" if ok else f": {why}"), flush=True)
    return bool(ok)


def rest(url: str, method: str, path: str, token: Optional[str] = None, body: Any = None) -> tuple[int, Any]:
    req = urllib.request.Request(url + path, method=method, data=None if body is None else json.dumps(body).encode())
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")


class Socket:
    """One raw connection. Requests go one at a time, because servers before 12.3 send
    some errors without the request's uid: the first reply with our uid, or the first
    error without any uid, answers the one request outstanding."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self.n = 0

    @classmethod
    async def open(cls, url: str) -> "Socket":
        return cls(await websockets.connect(url, ping_interval=None, max_size=None))

    async def recv(self, timeout: float) -> dict[str, Any]:
        while True:
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if msg.get("type") == "ping":
                await self.ws.send('{"type":"pong"}')
                continue
            return msg

    async def request(self, msg: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        self.n += 1
        uid = f"r{self.n}"
        await self.ws.send(json.dumps({**msg, "uid": uid}))
        deadline = time.monotonic() + timeout
        while True:
            reply = await self.recv(max(0.01, deadline - time.monotonic()))
            if reply.get("uid") == uid:
                return reply
            if reply.get("status") == "error" and "uid" not in reply and reply.get("type") in (msg["type"], "subscribe", "server"):
                return reply
            self.events.append(reply)

    async def event(self, sub: str, pred: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> Optional[dict[str, Any]]:
        for i, e in enumerate(self.events):
            if e.get("uid") == sub and pred(e):
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                e = await self.recv(max(0.01, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                break
            if e.get("uid") == sub and pred(e):
                return e
            self.events.append(e)
        return None

    async def close(self) -> None:
        await self.ws.close()


def code(reply: dict[str, Any]) -> Optional[str]:
    return (reply.get("error") or {}).get("code") if reply.get("status") == "error" else None


async def run(a: argparse.Namespace) -> None:
    ws_url = a.url.replace("http://", "ws://").replace("https://", "wss://").rstrip("/") + "/websocket"
    coll, textf, room = a.collection, a.text_field, a.room
    (e1, p1), (e2, p2) = a.user1.split(":", 1), a.user2.split(":", 1)
    status, body = rest(a.url, "GET", f"/users?filter[email][_in]={e1},{e2}&fields=id,email", a.admin_token)
    ids = {u["email"]: u["id"] for u in (body or {}).get("data", [])} if status == 200 else {}

    kevin = await Socket.open(ws_url)
    reply = await kevin.request({"type": "auth", "email": e1, "password": p1})
    if not check(reply.get("status") == "ok" and "refresh_token" in reply, "a chat user logs in over the socket (email, password)", reply):
        return
    reply = await kevin.request({"type": "subscribe", "collection": "directus_users",
                                 "query": {"fields": ["id", "first_name"], "filter": {"id": {"_eq": "$CURRENT_USER"}}}})
    me = (reply.get("data") or [{}])[0].get("id") if reply.get("event") == "init" else None
    check(me is not None and me == ids.get(e1), "who am I: a directus_users subscription filtered on $CURRENT_USER names the user", reply)
    await kevin.request({"type": "unsubscribe"})
    me = me or ids.get(e1)

    sub = await kevin.request({"type": "subscribe", "collection": coll,
                               "query": {"fields": ["*", "user_created.first_name"], "filter": {"room": {"_eq": room}},
                                         "sort": ["date_created", "id"], "limit": 50}})
    check(sub.get("event") == "init" and isinstance(sub.get("data"), list), f"subscribes to the messages of room {room!r}", sub)
    sub_uid = sub.get("uid", "")

    key = str(uuid.uuid4())
    text = f"hello {key[:8]}"
    created = await kevin.request({"type": "items", "collection": coll, "action": "create", "data": {textf: text, "room": room, "client_key": key}})
    item = created.get("data") if created.get("type") == "items" and "status" not in created else None
    check(isinstance(item, dict) and item.get(textf) == text and item.get("user_created") == me,
          "creates a message in the room (room, client_key; user_created is the user)", created)
    ev = await kevin.event(sub_uid, lambda e: e.get("event") == "create" and any(d.get(textf) == text for d in e.get("data") or []))
    check(ev is not None and ev["data"][0].get("room") == room and ev["data"][0].get("date_updated") is None,
          "sees the create event of its message (date_updated still empty)", ev or kevin.events[-3:])
    again = await kevin.request({"type": "items", "collection": coll, "action": "create", "data": {textf: text + " again", "room": room, "client_key": key}})
    check(code(again) == "RECORD_NOT_UNIQUE", "a second create with the same client_key is RECORD_NOT_UNIQUE", again)

    ada = await Socket.open(ws_url)
    reply = await ada.request({"type": "auth", "email": e2, "password": p2})
    check(reply.get("status") == "ok", "a second user logs in", reply)
    hers = await ada.request({"type": "items", "collection": coll, "action": "create", "data": {textf: f"from ada {key[:8]}", "room": room}})
    her_id = (hers.get("data") or {}).get("id") if isinstance(hers.get("data"), dict) else None
    check(her_id is not None, "the second user creates a message", hers)
    ev = await kevin.event(sub_uid, lambda e: e.get("event") == "create" and any(d.get("id") == her_id for d in e.get("data") or []))
    check(ev is not None and ((ev["data"][0].get("user_created") or {}).get("first_name") is not None),
          "the first user sees it, with its author's first name", ev)
    denied = await kevin.request({"type": "items", "collection": coll, "action": "update", "id": her_id, "data": {textf: "not yours"}})
    check(code(denied) == "FORBIDDEN", "updating another user's message is FORBIDDEN", denied)
    denied = await kevin.request({"type": "items", "collection": coll, "action": "delete", "id": her_id})
    check(code(denied) == "FORBIDDEN", "deleting another user's message is FORBIDDEN", denied)
    status, body = rest(a.url, "GET", f"/items/{coll}/{her_id}?fields={textf}", a.admin_token)
    check(status == 200 and body["data"][textf] == f"from ada {key[:8]}", "and it is unchanged in the database", body)

    edited = await kevin.request({"type": "items", "collection": coll, "action": "update", "id": item["id"] if item else None,
                                  "data": {textf: text + " (edited)"}})
    ok = isinstance(edited.get("data"), dict) and edited["data"].get(textf) == text + " (edited)" and edited["data"].get("date_updated")
    check(bool(ok), "the author edits their own message; date_updated is set", edited)
    ev = await kevin.event(sub_uid, lambda e: e.get("event") == "update")
    check(ev is not None and ev["data"][0].get(textf) == text + " (edited)", "the update event follows", ev)

    # Presence: an upsert by a made key ("<user>:<room>"), create first, update on conflict.
    pkey = f"{me}:{room}"
    pres = await kevin.request({"type": "items", "collection": a.presence, "action": "create", "data": {"id": pkey, "room": room, "typing": False}})
    pd = pres.get("data") if isinstance(pres.get("data"), dict) else {}
    check(pd.get("user") == me and pd.get("date_updated"), "creates its presence row; user and date_updated (heartbeat) are set on create", pres)
    dup = await kevin.request({"type": "items", "collection": a.presence, "action": "create", "data": {"id": pkey, "room": room, "typing": True}})
    check(code(dup) == "RECORD_NOT_UNIQUE", "a second create of the presence row is RECORD_NOT_UNIQUE (then update)", dup)
    upd = await kevin.request({"type": "items", "collection": a.presence, "action": "update", "id": pkey, "data": {"typing": True}})
    ud = upd.get("data") if isinstance(upd.get("data"), dict) else {}
    check(ud.get("typing") in (True, 1) and ud.get("date_updated") and ud.get("date_updated") >= pd.get("date_updated", ""),
          "updates its presence row (typing); the heartbeat moves", upd)
    other = await ada.request({"type": "items", "collection": a.presence, "action": "update", "id": pkey, "data": {"typing": False}})
    check(code(other) == "FORBIDDEN", "another user cannot update that presence row (FORBIDDEN)", other)
    seen = await ada.request({"type": "items", "collection": a.presence, "action": "read", "query": {"filter": {"room": {"_eq": room}}}})
    check(isinstance(seen.get("data"), list) and any(r.get("id") == pkey for r in seen["data"]), "others can read who is present", seen)

    rec = await kevin.request({"type": "items", "collection": a.receipts, "action": "create",
                               "data": {"id": pkey, "room": room, "last_read": str(her_id), "last_read_date": "2026-01-01T00:00:00Z"}})
    check(isinstance(rec.get("data"), dict) and rec["data"].get("user") == me, "creates its read receipt", rec)
    rec = await kevin.request({"type": "items", "collection": a.receipts, "action": "update", "id": pkey, "data": {"last_read": str(item["id"] if item else "")}})
    check(isinstance(rec.get("data"), dict) and rec["data"].get("date_updated"), "moves its read marker (update)", rec)
    other = await ada.request({"type": "items", "collection": a.receipts, "action": "delete", "id": pkey})
    check(code(other) == "FORBIDDEN", "another user cannot delete that read receipt (FORBIDDEN)", other)
    gone = await kevin.request({"type": "items", "collection": a.presence, "action": "delete", "id": pkey})
    check(gone.get("data") == pkey, "deletes its own presence row (leaving)", gone)
    gone = await kevin.request({"type": "items", "collection": a.receipts, "action": "delete", "id": pkey})
    check(gone.get("data") == pkey, "deletes its own read receipt", gone)

    await kevin.close()
    await ada.close()


def main() -> int:
    global LABEL
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--admin-token", required=True)
    ap.add_argument("--user1", required=True)
    ap.add_argument("--user2", required=True)
    ap.add_argument("--collection", default="messages")
    ap.add_argument("--text-field", default="text")
    ap.add_argument("--room", default="general")
    ap.add_argument("--presence", default="presence")
    ap.add_argument("--receipts", default="read_receipts")
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    LABEL = f"{a.label}: " if a.label else ""
    try:
        asyncio.run(run(a))
    except Exception as e:  # noqa: BLE001 - any crash is a failed check, reported as such
        check(False, "the smoke test ran to its end", f"{type(e).__name__}: {e}")
    return 0 if all(RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main())
