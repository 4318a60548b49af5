"""Python clients against the flood server; each prints one JSON line.

    python flood.py callback|asyncio|websockets URL EVENTS

``callback`` and ``asyncio`` use our module (directus_chat); ``websockets`` is what a
Python user would write by hand with the ``websockets`` package and ``json``. Every
client reads each created message's text, starts its clock at the subscription's
``init`` and stops at EVENTS delivered or after 2 s without an event.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import threading
import time

IDLE = 2.0
TOKEN = "bench-token"
QUERY = {"fields": ["*", "user_created.first_name"], "sort": "-date_created", "limit": 100}


def cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


class Count:
    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()
        self.cpu_start = cpu()
        self.delivered = 0
        self.text_bytes = 0

    def add(self, texts: list) -> None:  # type: ignore[type-arg]
        for t in texts:
            self.text_bytes += len(t)
        self.delivered += len(texts)
        self.last = time.perf_counter()

    def report(self, client: str, sent: int) -> None:
        secs = max(self.last - self.start, 1e-9)
        print(
            json.dumps(
                {
                    "client": client,
                    "sent": sent,
                    "delivered": self.delivered,
                    "seconds": secs,
                    "events_per_s": self.delivered / secs,
                    "cpu_s": cpu() - self.cpu_start,
                    "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                    "text_bytes": self.text_bytes,
                }
            ),
            flush=True,
        )


def ours_callback(url: str, sent: int) -> None:
    from directus_chat import Client

    count: list = []  # the Count, made when the init arrives
    done = threading.Event()

    def on_event(event) -> None:  # type: ignore[no-untyped-def]
        if event.kind == "init":
            count.append(Count())
        elif event.kind == "create" and count:
            count[0].add([m.text for m in event.messages])
            if count[0].delivered >= sent:
                done.set()

    with Client(url, timeout=30) as client:
        client.login_with_token(TOKEN)
        client.subscribe_chat(callback=on_event)
        while not done.wait(0.05):
            if count and time.perf_counter() - count[0].last > IDLE:
                break
        count[0].report("directus-chat Python, callback", sent)


async def ours_asyncio(url: str, sent: int) -> None:
    from directus_chat import AsyncClient

    async with AsyncClient(url, timeout=30) as client:
        await client.login_with_token(TOKEN)
        sub = await client.subscribe_chat()
        count = None
        while True:
            event = await sub.next(timeout=IDLE)
            if event is None:
                break
            if event.kind == "init":
                count = Count()
            elif event.kind == "create" and count is not None:
                count.add([m.text for m in event.messages])
                if count.delivered >= sent:
                    break
        assert count is not None, "no init arrived"
        count.report("directus-chat Python, asyncio", sent)


async def websockets_json(url: str, sent: int) -> None:
    import websockets

    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(json.dumps({"type": "auth", "access_token": TOKEN}))
        await ws.send(json.dumps({"type": "subscribe", "collection": "messages", "query": QUERY, "uid": "chat"}))
        count = None
        while True:
            try:
                frame = await asyncio.wait_for(ws.recv(), IDLE)
            except asyncio.TimeoutError:
                break
            msg = json.loads(frame)
            if msg.get("type") == "ping":
                await ws.send('{"type":"pong"}')
            elif msg.get("type") == "subscription":
                if msg.get("event") == "init":
                    count = Count()
                elif msg.get("event") == "create" and count is not None:
                    count.add([item["text"] for item in msg["data"]])
                    if count.delivered >= sent:
                        break
        assert count is not None, "no init arrived"
        count.report("Python websockets + json", sent)


def main() -> None:
    mode, url, sent = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "callback":
        ours_callback(url, sent)
    elif mode == "asyncio":
        asyncio.run(ours_asyncio(url, sent))
    elif mode == "websockets":
        asyncio.run(websockets_json(url, sent))
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
