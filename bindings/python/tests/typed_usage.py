"""Type-checked with mypy --strict: how user code reads with the stubs."""

from __future__ import annotations

import asyncio
from typing import List, Optional

import directus_chat
from directus_chat import AsyncClient, ChatMessage, Client, DirectusError, Event


def blocking(url: str, email: str, password: str) -> List[str]:
    lines: List[str] = []
    with Client(url, timeout=10.0) as client:
        client.login(email, password)
        with client.subscribe_chat() as sub:
            stored: ChatMessage = client.send("hello")
            lines.append(stored.text)
            event = sub.next(timeout=5.0)
            if event is not None:
                lines.extend(f"{m.author}: {m.text}" for m in event.messages)
        try:
            client.read("secrets", query={"limit": 1})
        except DirectusError as e:
            lines.append(e.code)
    return lines


async def asynchronous(url: str, token: str) -> int:
    async with AsyncClient(url) as client:
        await client.login_with_token(token)
        sub = await client.subscribe_chat()
        count = 0
        async for event in sub:
            ev: Event = event
            count += len(ev.messages)
            break
        return count


def game_loop(url: str, email: str, password: str) -> List[str]:
    lines: List[str] = []
    client = Client(url, poll=True, nowait=True, auth_mode="handshake", max_queued=64, timeout=10.0)
    login: int = client.login_nowait(email, password)
    sub = client.subscribe_chat_nowait()
    request: int = sub.request
    while client.state != "closed":
        for event in client.poll(max=50):
            if event.type == "state" and event.retry_in is not None:
                lines.append(f"{event.kind} attempt {event.attempt}, retry in {event.retry_in:.1f} s ({event.cause})")
            elif event.type == "reply" and event.request in (login, request):
                lines.append(repr(event.error))
        client.send_nowait("hi")
        client.cancel(client.request_nowait("messages", "read", {"query": {"limit": 1}}))
        client.reconnect_now()
        client.unsubscribe_nowait(sub)
        closing: int = client.close_nowait()
        lines.append(str(closing))
    return lines


async def asynchronous_typed(url: str, token: str) -> str:
    client = await AsyncClient.connect(url, timeout=5.0, auth_mode="public", nowait=False)
    await client.login_with_token(token, timeout=2.0)
    stored: ChatMessage = await client.send("hello", timeout=2.0)
    sub = await client.subscribe(None, query={"limit": 5}, timeout=3.0)
    await client.unsubscribe(sub)
    request: int = client.send_nowait("later")
    client.cancel(request)
    state: str = client.state
    await client.close()
    return stored.text + state


def presence(url: str, token: str) -> List[str]:
    with Client(url, timeout=10.0, presence_heartbeat=10.0, presence_ttl=25.0) as client:
        client.login_with_token(token)
        client.enter("general")
        client.set_typing("general", True)
        members: List[directus_chat.Member] = client.online("general")
        count: Optional[int] = client.unread("general")
        readers: List[directus_chat.Reader] = client.readers("general", "1")
        request: int = client.mark_read_nowait("general", "1")
        client.exit("general")
        return [m.user for m in members if m.typing] + [r.user for r in readers] + [str(count), str(request)]


async def another_schema(url: str, token: str) -> List[str]:
    # Every field name of the chat schema, and the presence collections, are typed
    # keyword arguments of both clients.
    with Client(url, collection="notes", text_field="content", id_field="nid", date_field="posted_at", user_field="author",
                updated_field=None, room_field=None, presence_collection="online", receipts_collection="seen") as client:
        client.login_with_token(token)
    async with AsyncClient(url, collection="notes", text_field="content", id_field="nid", date_field="posted_at",
                           user_field="author", updated_field="changed_at", presence_collection="online",
                           receipts_collection="seen") as aclient:
        await aclient.login_with_token(token)
        request: int = aclient.close_nowait()
    return [str(request)]


def on_presence(event: Event) -> str:
    if event.type == "presence" and event.kind == "typing" and event.typing:
        return f"{event.user_name or event.user} is typing in {event.room}"
    return f"{event.unread} unread" if event.unread is not None else ""


def main() -> None:
    print(directus_chat.core_version, blocking, asyncio.run)
