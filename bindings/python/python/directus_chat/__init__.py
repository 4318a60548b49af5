"""directus_chat: a realtime (WebSocket) client for Directus, with a Rust core.

Blocking::

    from directus_chat import Client
    with Client("ws://127.0.0.1:8055/websocket") as client:
        client.login("kevin@example.com", "password")
        with client.subscribe_chat() as sub:
            client.send("hello")
            for event in sub:
                for m in event.messages:
                    print(f"{m.author}: {m.text}")

asyncio::

    async with AsyncClient(url) as client:
        await client.login_with_token(token)
        async for event in await client.subscribe_chat():
            ...
"""

from ._aio import AsyncClient, AsyncSubscription
from ._client import Client, ErrorHook, EventCallback, Subscription
from ._errors import (
    AuthError,
    ClosedError,
    DirectusConnectionError,
    DirectusError,
    DirectusTimeoutError,
    ForbiddenError,
    InvalidArgumentError,
    ProtocolError,
    CancelledError,
    OutboxError,
    ServerError,
)
from ._events import ChatMessage, Event, FileInfo, Member, Reader, ServerInfo, User
from ._logging import set_log_level
from ._outbox import Outbox, OutboxEntry
from ._native import version as _core_version
from ._shutdown import shutdown

__version__ = "0.1.0"
"""The package version."""

core_version: str = _core_version()
"""The version of the Rust core."""

__all__ = [
    "AsyncClient",
    "AsyncSubscription",
    "AuthError",
    "ChatMessage",
    "Client",
    "ClosedError",
    "DirectusConnectionError",
    "DirectusError",
    "DirectusTimeoutError",
    "ErrorHook",
    "Event",
    "Member",
    "EventCallback",
    "FileInfo",
    "ForbiddenError",
    "InvalidArgumentError",
    "ProtocolError",
    "CancelledError",
    "Outbox",
    "OutboxEntry",
    "OutboxError",
    "ServerError",
    "ServerInfo",
    "Subscription",
    "Reader",
    "User",
    "core_version",
    "set_log_level",
    "shutdown",
]
