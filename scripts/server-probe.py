#!/usr/bin/env python3
"""Captures what a live Directus test bed says over REST and the WebSocket, frame by frame.

    scripts/server-probe.py TESTBED_ENV_FILE [--section NAME]... > frames.txt

TESTBED_ENV_FILE is the KEY=VALUE file scripts/directus.sh writes (DIR/testbed.env). The
output is the evidence behind docs/server-versions.md: every frame sent (`->`) and every
frame received (`<-`) per scenario, with the time it took. Needs the `websockets`
package (scripts/test-schema-kit.sh makes a venv with it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
import urllib.error
import urllib.request
from typing import Any, Optional

import websockets

ENV: dict[str, str] = {}
OUT: list[str] = []


SECRET = re.compile(r'("(?:access_token|refresh_token|password)": ")[^"]*(")')


def emit(line: str) -> None:
    # The frames are kept as evidence; the credentials in them are not.
    print(SECRET.sub(r"\1<redacted>\2", line), flush=True)


def rest(method: str, path: str, token: Optional[str], body: Any = None) -> tuple[int, Any]:
    req = urllib.request.Request(ENV["DIRECTUS_URL"] + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")


class Conn:
    """A raw socket that records every frame and answers server pings."""

    def __init__(self, ws: Any, label: str) -> None:
        self.ws = ws
        self.label = label
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.reader = asyncio.create_task(self.read())
        self.closed_at: Optional[float] = None

    async def read(self) -> None:
        try:
            async for raw in self.ws:
                msg = json.loads(raw)
                if msg.get("type") == "ping":
                    await self.ws.send('{"type":"pong"}')
                    continue
                await self.queue.put(msg)
        except websockets.ConnectionClosed:
            pass
        self.closed_at = time.monotonic()
        await self.queue.put({"__closed__": True, "code": self.ws.close_code})

    async def send(self, msg: Any) -> None:
        text = msg if isinstance(msg, str) else json.dumps(msg)
        emit(f"  {self.label} -> {text}")
        await self.ws.send(text)

    async def frames(self, wait: float, until_uid: Any = None, until: Any = None) -> list[dict[str, Any]]:
        """Frames within `wait` s; stops early 0.3 s after one with uid `until_uid` or matching `until`."""
        got: list[dict[str, Any]] = []
        start = time.monotonic()
        deadline = start + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                msg = await asyncio.wait_for(self.queue.get(), left)
            except asyncio.TimeoutError:
                break
            ms = (time.monotonic() - start) * 1000
            got.append(msg)
            emit(f"  {self.label} <- {json.dumps(msg)}   [{ms:.0f} ms]")
            if "__closed__" in msg:
                break
            if (until_uid is not None and msg.get("uid") == until_uid) or (until is not None and until(msg)):
                deadline = min(deadline, time.monotonic() + 0.3)
        return got

    async def ask(self, msg: dict[str, Any], wait: float = 2.0) -> list[dict[str, Any]]:
        try:
            await self.send(msg)
        except websockets.ConnectionClosed as e:
            emit(f"  {self.label} !! cannot send, the connection is closed: {e}")
            return []
        return await self.frames(wait, until_uid=msg.get("uid"))

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()


async def connect(label: str, auth: Optional[dict[str, Any]] = None, query: str = "") -> Conn:
    ws = await websockets.connect(ENV["DIRECTUS_WS_URL"] + query, max_size=None, ping_interval=None)
    c = Conn(ws, label)
    if auth is not None:
        await c.send(auth)
        await c.frames(3, until=lambda m: m.get("type") == "auth")
    return c


def token(n: int) -> dict[str, Any]:
    return {"type": "auth", "access_token": ENV[f"DCHAT_USER{n}_TOKEN"]}


def section(name: str) -> None:
    emit(f"\n## {name}")


# ------------------------------------------------------------------ scenarios


async def s_errors() -> None:
    section("errors: forbidden and missing collections, bad input")
    c = await connect("kevin", token(1))
    forbidden = ENV["DCHAT_FORBIDDEN_COLLECTION"]
    await c.ask({"type": "subscribe", "collection": forbidden, "uid": "sub-forbidden"})
    await c.ask({"type": "subscribe", "collection": "no_such_collection", "uid": "sub-missing"})
    await c.ask({"type": "subscribe", "collection": ENV["DCHAT_COLLECTION"], "query": {"fields": ["no_such_field"]}, "uid": "sub-badfield"})
    await c.ask({"type": "items", "collection": forbidden, "action": "read", "uid": "read-forbidden"})
    await c.ask({"type": "items", "collection": "no_such_collection", "action": "read", "uid": "read-missing"})
    await c.ask({"type": "items", "collection": ENV["DCHAT_COLLECTION"], "action": "delete", "uid": "delete-nothing"})
    # A cheap behavioural probe for "do errors carry my uid": an invalid filter operator.
    await c.ask({"type": "items", "collection": ENV["DCHAT_COLLECTION"], "action": "read", "query": {"filter": {"id": {"_bogus": 1}}}, "uid": "read-badquery"})
    await c.ask({"type": "subscribe", "collection": ENV["DCHAT_COLLECTION"], "query": {"filter": {"id": {"_bogus": 1}}}, "uid": "sub-badquery"})
    await c.ask({"type": "subscribe", "collection": forbidden, "event": "create", "uid": "sub-forbidden-create-only"})
    await c.ask({"type": "items", "collection": "directus_users", "action": "read", "uid": "read-users"})
    await c.ask({"type": "unsubscribe", "uid": "never-subscribed"})
    await c.ask({"type": "ping", "uid": "p1"})
    await c.send("this is not json")
    await c.frames(1.0)
    await c.ask({"type": "subscribe", "uid": "sub-no-collection"})
    await c.close()


async def s_chat() -> None:
    section("chat: subscribe, create, update, delete, item subscription, unsubscribe")
    coll, textf = ENV["DCHAT_COLLECTION"], ENV["DCHAT_TEXT_FIELD"]
    k = await connect("kevin", {"type": "auth", "email": ENV["DCHAT_USER1_EMAIL"], "password": ENV["DCHAT_USER1_PASSWORD"], "uid": "login"})
    a = await connect("ada", token(2))
    q = {"fields": ["*", "user_created.first_name"], "filter": {"room": {"_eq": "general"}}, "sort": ["date_created", "id"], "limit": 2}
    await k.ask({"type": "subscribe", "collection": coll, "query": q, "uid": "room-general"})
    await k.ask({"type": "items", "collection": coll, "action": "create", "data": {textf: "probe hello", "room": "general", "client_key": "probe-key-1"}, "uid": "create-1"})
    created = [m for m in await k.frames(1.5)]
    await k.ask({"type": "items", "collection": coll, "action": "create", "data": {textf: "probe twice", "room": "general", "client_key": "probe-key-1"}, "uid": "create-dup"})
    ids = [m["data"][0]["id"] for m in created if m.get("event") == "create" and m.get("data")]
    rows = (rest("GET", f"/items/{coll}?filter[client_key][_eq]=probe-key-1&fields=id,date_created,date_updated", ENV["DIRECTUS_ADMIN_TOKEN"])[1] or {}).get("data") or []
    emit(f"  REST admin GET {coll} by client_key -> {json.dumps(rows)}")
    mid = rows[0]["id"] if rows else (ids[0] if ids else None)
    await k.ask({"type": "subscribe", "collection": coll, "item": mid, "query": {"fields": ["id", textf, "date_updated"]}, "uid": "one-item"})
    await k.ask({"type": "items", "collection": coll, "action": "update", "id": mid, "data": {textf: "probe edited"}, "uid": "update-1"})
    await k.frames(1.5)
    await a.ask({"type": "items", "collection": coll, "action": "update", "id": mid, "data": {textf: "ada was here"}, "uid": "update-other"})
    await a.ask({"type": "items", "collection": coll, "action": "delete", "id": mid, "uid": "delete-other"})
    await k.ask({"type": "items", "collection": coll, "action": "update", "id": mid, "data": {"user_created": ENV["DCHAT_USER2_ID"]}, "uid": "update-owner"})
    await k.ask({"type": "items", "collection": coll, "action": "delete", "id": mid, "uid": "delete-1"})
    await k.frames(1.5)
    await k.ask({"type": "unsubscribe", "uid": "one-item"})
    await k.ask({"type": "subscribe", "collection": coll, "event": "create", "uid": "creates-only"})
    await k.ask({"type": "unsubscribe"})
    await k.close()
    await a.close()


async def s_whoami() -> None:
    section("who am I: directus_users subscription filtered on $CURRENT_USER")
    k = await connect("kevin", token(1))
    await k.ask({"type": "subscribe", "collection": "directus_users", "query": {"fields": ["id", "first_name", "last_name", "email", "avatar"], "filter": {"id": {"_eq": "$CURRENT_USER"}}}, "uid": "me"})
    await k.ask({"type": "unsubscribe", "uid": "me"})
    await k.ask({"type": "subscribe", "collection": "directus_users", "item": "$CURRENT_USER", "uid": "me-item"})
    await k.ask({"type": "subscribe", "collection": "directus_settings", "uid": "settings"})
    await k.ask({"type": "subscribe", "collection": "directus_roles", "uid": "roles"})
    await k.close()


async def s_presence() -> None:
    section("presence and read receipts: upsert by a made key")
    me, room = ENV["DCHAT_USER1_ID"], "general"
    pres, rec = ENV["DCHAT_PRESENCE_COLLECTION"], ENV["DCHAT_RECEIPTS_COLLECTION"]
    k = await connect("kevin", token(1))
    a = await connect("ada", token(2))
    key = f"{me}:{room}"
    await k.ask({"type": "items", "collection": pres, "action": "create", "data": {"id": key, "room": room, "typing": False}, "uid": "presence-create"})
    await k.ask({"type": "items", "collection": pres, "action": "create", "data": {"id": key, "room": room, "typing": True}, "uid": "presence-again"})
    await k.ask({"type": "items", "collection": pres, "action": "update", "id": key, "data": {"typing": True}, "uid": "presence-update"})
    await a.ask({"type": "items", "collection": pres, "action": "update", "id": key, "data": {"typing": False}, "uid": "presence-other"})
    await k.ask({"type": "items", "collection": rec, "action": "create", "data": {"id": key, "room": room, "last_read": "1", "last_read_date": "2026-01-01T00:00:00Z"}, "uid": "receipt-create"})
    await k.ask({"type": "items", "collection": rec, "action": "update", "id": key, "data": {"last_read": "2"}, "uid": "receipt-update"})
    await k.ask({"type": "items", "collection": pres, "action": "delete", "id": key, "uid": "presence-delete"})
    await k.ask({"type": "items", "collection": rec, "action": "delete", "id": key, "uid": "receipt-delete"})
    await k.close()
    await a.close()


async def s_capabilities() -> None:
    section("capabilities: what a chat user may read about the server")
    for who, tok in (("public", None), ("kevin", ENV["DCHAT_USER1_TOKEN"]), ("admin", ENV["DIRECTUS_ADMIN_TOKEN"])):
        status, body = rest("GET", "/server/info", tok)
        emit(f"  REST {who} GET /server/info -> {status} {json.dumps(body)}")
    for path in ("/server/health", "/settings?fields=project_name,public_registration", "/users/me?fields=id,first_name,role", "/server/specs/oas"):
        status, body = rest("GET", path, ENV["DCHAT_USER1_TOKEN"])
        text = json.dumps(body)
        emit(f"  REST kevin GET {path} -> {status} {text[:300]}{'...' if len(text) > 300 else ''}")


async def s_expiry() -> None:
    section("token expiry (server started with ACCESS_TOKEN_TTL)")
    status, body = rest("POST", "/auth/login", None, {"email": ENV["DCHAT_USER1_EMAIL"], "password": ENV["DCHAT_USER1_PASSWORD"]})
    access, refresh = body["data"]["access_token"], body["data"]["refresh_token"]
    emit(f"  REST login -> expires {body['data']['expires']} ms")
    k = await connect("kevin", {"type": "auth", "access_token": access, "uid": "a1"})
    await k.ask({"type": "subscribe", "collection": ENV["DCHAT_COLLECTION"], "event": "create", "uid": "s1"})
    frames = await k.frames(30, until=lambda m: (m.get("error") or {}).get("code") == "TOKEN_EXPIRED")
    status, _ = rest("POST", f"/items/{ENV['DCHAT_COLLECTION']}", ENV["DIRECTUS_ADMIN_TOKEN"], {ENV["DCHAT_TEXT_FIELD"]: "made by the admin while kevin's token is expired"})
    emit(f"  REST admin creates a message while kevin's token is expired -> {status}")
    await k.frames(1.5)
    await k.ask({"type": "items", "collection": ENV["DCHAT_COLLECTION"], "action": "read", "query": {"limit": 1}, "uid": "read-while-expired"})
    await k.ask({"type": "items", "collection": ENV["DCHAT_FORBIDDEN_COLLECTION"], "action": "read", "uid": "secrets-while-expired"})
    await k.ask({"type": "items", "collection": ENV["DCHAT_COLLECTION"], "action": "create", "data": {ENV["DCHAT_TEXT_FIELD"]: "sent while expired"}, "uid": "create-while-expired"})
    await k.ask({"type": "subscribe", "collection": ENV["DCHAT_FORBIDDEN_COLLECTION"], "uid": "sub-while-expired"})
    await k.ask({"type": "auth", "refresh_token": refresh, "uid": "renew"})
    await k.ask({"type": "items", "collection": ENV["DCHAT_COLLECTION"], "action": "read", "query": {"limit": 1, "fields": ["id"]}, "uid": "read-after"})
    await k.close()
    # And one that never renews: the server gives up after the auth timeout.
    status, body = rest("POST", "/auth/login", None, {"email": ENV["DCHAT_USER2_EMAIL"], "password": ENV["DCHAT_USER2_PASSWORD"]})
    a = await connect("ada", {"type": "auth", "access_token": body["data"]["access_token"]})
    await a.frames(45, until=lambda m: "__closed__" in m)
    await a.close()


async def s_handshake() -> None:
    section("handshake: bad password, wrong first message, token on the URL")
    c = await connect("anon")
    await c.send({"type": "auth", "email": ENV["DCHAT_USER1_EMAIL"], "password": "wrong", "uid": "bad"})
    await c.frames(3, until=lambda m: "__closed__" in m)
    c = await connect("anon2")
    await c.send({"type": "ping", "uid": "early"})
    await c.frames(3, until=lambda m: "__closed__" in m)
    try:
        c = await connect("url-token", None, "?access_token=" + ENV["DCHAT_USER1_TOKEN"])
        await c.ask({"type": "ping", "uid": "p"})
        await c.ask({"type": "items", "collection": ENV["DCHAT_COLLECTION"], "action": "read", "query": {"limit": 1, "fields": ["id"]}, "uid": "r"})
        await c.close()
    except Exception as e:  # noqa: BLE001 - recorded as evidence
        emit(f"  url-token: {type(e).__name__}: {e}")


async def s_items() -> None:
    section("item subscriptions: integer keys sent as numbers or strings")
    coll, textf = ENV["DCHAT_COLLECTION"], ENV["DCHAT_TEXT_FIELD"]
    k = await connect("kevin", token(1))
    made = await k.ask({"type": "items", "collection": coll, "action": "create", "data": {textf: "item probe"}, "uid": "c"})
    mid = next(m["data"]["id"] for m in made if m.get("uid") == "c")
    await k.ask({"type": "subscribe", "collection": coll, "item": mid, "uid": "item-as-number"})
    await k.ask({"type": "subscribe", "collection": coll, "item": str(mid), "uid": "item-as-string"})
    await k.ask({"type": "items", "collection": coll, "action": "update", "id": mid, "data": {textf: "updated, id sent as a number"}, "uid": "u-num"})
    await k.frames(1.0)
    await k.ask({"type": "items", "collection": coll, "action": "update", "id": str(mid), "data": {textf: "updated, id sent as a string"}, "uid": "u-str"})
    await k.frames(1.0)
    status, _ = rest("PATCH", f"/items/{coll}/{mid}", ENV["DIRECTUS_ADMIN_TOKEN"], {textf: "updated over REST"})
    emit(f"  REST admin PATCH /items/{coll}/{mid} -> {status}")
    await k.frames(1.0)
    await k.ask({"type": "items", "collection": coll, "action": "delete", "id": mid, "uid": "d-num"})
    await k.frames(1.0)
    await k.close()


SECTIONS = {"errors": s_errors, "chat": s_chat, "items": s_items, "whoami": s_whoami, "presence": s_presence,
            "capabilities": s_capabilities, "handshake": s_handshake, "expiry": s_expiry}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("env_file")
    ap.add_argument("--section", action="append", choices=list(SECTIONS))
    args = ap.parse_args()
    for line in open(args.env_file):
        if "=" in line:
            k, v = line.rstrip("\n").split("=", 1)
            ENV[k] = v
    emit(f"# Directus {ENV.get('DIRECTUS_VERSION')} at {ENV['DIRECTUS_URL']}")
    for name in args.section or [s for s in SECTIONS if s != "expiry"]:
        await SECTIONS[name]()


if __name__ == "__main__":
    asyncio.run(main())
