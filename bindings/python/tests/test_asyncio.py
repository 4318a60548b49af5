"""The chat scenario through the asyncio API, against a real Directus."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, List

import pytest

from directus_chat import AsyncClient, AsyncSubscription, AuthError, Event, ForbiddenError

from conftest import Server


async def next_matching(sub: AsyncSubscription, predicate: Any, timeout: float = 15.0) -> Event:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ev = await sub.next(timeout=0.5)
        if ev is not None and predicate(ev):
            return ev
    raise AssertionError("no matching event")


def with_text(kind: str, text: str) -> Any:
    return lambda ev: ev.kind == kind and any(m.text == text for m in ev.messages)


async def scenario(server: Server) -> None:
    tag = f"aio-{uuid.uuid4().hex[:8]}"
    kevin_u, ada_u = server.user(1), server.user(2)
    async with AsyncClient(server.ws_url, timeout=15) as kevin, AsyncClient(server.ws_url, timeout=15) as ada:
        await kevin.login(kevin_u["email"], kevin_u["password"])
        await ada.login_with_token(ada_u["token"])
        sent = [await kevin.send(f"{tag} #{i}") for i in (1, 2, 3)]
        ksub = await kevin.subscribe_chat()
        asub = await ada.subscribe_chat()
        for sub in (ksub, asub):
            init = await sub.next(timeout=5)
            assert init is not None and init.kind == "init"
            assert [m.text for m in init.messages if m.text.startswith(tag)] == [f"{tag} #{i}" for i in (1, 2, 3)]

        # The loop stays responsive while a call waits in the executor.
        ticks: List[float] = []

        async def ticker() -> None:
            for _ in range(5):
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)

        hello = f"{tag} hello"
        await asyncio.gather(ada.send(hello), ticker())
        assert len(ticks) == 5
        for sub in (ksub, asub):
            ev = await next_matching(sub, with_text("create", hello))
            assert ev.messages[0].author == ada_u["name"]

        edited = f"{tag} #1 edited"
        await kevin.update(server.collection, {"text": edited}, id=int(sent[0].id))
        await next_matching(asub, with_text("update", edited))
        await kevin.delete(server.collection, id=int(sent[1].id))
        await next_matching(asub, lambda e: e.kind == "delete" and sent[1].id in [str(k) for k in e.data])

        with pytest.raises(ForbiddenError):
            await ada.read(server.forbidden)
        assert isinstance(await ada.read(server.collection, query={"limit": 1}), list)

        await asub.unsubscribe()
        after = f"{tag} after"
        await kevin.send(after)
        await next_matching(ksub, with_text("create", after))
        await asyncio.sleep(1.0)
        rest = [ev async for ev in asub]
        assert all(ev.type != "subscription" or ev.kind == "init" for ev in rest), rest

    async with AsyncClient(server.ws_url, timeout=10) as bad:
        with pytest.raises(AuthError) as info:
            await bad.login(kevin_u["email"], "wrong-password")
        assert info.value.code == "AUTH_FAILED"


def test_asyncio_scenario(server: Server) -> None:
    asyncio.run(scenario(server))


def test_async_for_ends_when_the_client_closes(server: Server) -> None:
    async def run() -> int:
        client = await AsyncClient.connect(server.ws_url, timeout=10)
        await client.login_with_token(server.user(1)["token"])
        sub = await client.subscribe_chat()
        count = 0

        async def consume() -> None:
            nonlocal count
            async for _ in sub:
                count += 1

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.5)
        await client.close()
        await asyncio.wait_for(task, 10)
        return count

    assert asyncio.run(run()) >= 1
