"""What the server tells about itself (GET /server/info after each login), typed, from
the blocking and the asyncio client; and nothing (with the chat still working) when its
REST API cannot be reached."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Optional

from conftest import Server

from directus_chat import AsyncClient, Client, Event, ServerInfo


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_server_info_is_read_after_the_login(server: Server) -> None:
    kevin = server.user(1)
    with Client(server.ws_url, timeout=15, poll=True) as client:
        assert client.server_info is None, "nothing before a login"
        client.login(kevin["email"], kevin["password"])
        info = client.known_server_info()
        assert isinstance(info, ServerInfo)
        assert info.version == server.env["DIRECTUS_VERSION"]
        assert (info.major, info.minor, info.patch) == tuple(int(p) for p in info.version.split("."))
        assert info.auth_mode == "handshake"
        assert isinstance(info.heartbeat, float) and info.heartbeat > 0
        assert info.error_uids == ((info.major or 0, info.minor or 0) >= (12, 4))
        assert client.server_info == info
        request = client.known_server_info_nowait()
        reply: Optional[Event] = None
        deadline = time.monotonic() + 15
        while reply is None and time.monotonic() < deadline:
            reply = next((e for e in client.poll(timeout=0.1) if e.type == "reply" and e.request == request), None)
        assert reply is not None and client.server_info_of(reply) == info


def test_asyncio_and_no_rest(server: Server) -> None:
    kevin = server.user(1)

    async def main() -> None:
        async with AsyncClient(server.ws_url, timeout=15) as client:
            await client.login_with_token(kevin["token"])
            info = await client.known_server_info()
            assert info is not None and info.version == server.env["DIRECTUS_VERSION"]
            assert client.server_info == info
        # The REST API unreachable: no info, and the session goes by behaviour.
        async with AsyncClient(server.ws_url, timeout=15, rest_url=f"http://127.0.0.1:{_closed_port()}/") as client:
            await client.login_with_token(kevin["token"])
            assert await client.known_server_info() is None
            sent = await client.send("without REST")
            assert sent.text == "without REST"

    asyncio.run(main())
