"""Type-checked with mypy --strict: how user code reads with the stubs."""

from __future__ import annotations

import asyncio
from typing import List

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


def main() -> None:
    print(directus_chat.core_version, blocking, asyncio.run)
