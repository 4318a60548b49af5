"""Type names shared by the package's modules."""

from __future__ import annotations

from typing import Literal

__all__ = ["AuthMode"]

AuthMode = Literal["handshake", "public"]
"""How the server authenticates WebSocket clients (``WEBSOCKETS_REST_AUTH``):
``"handshake"`` (the default: requests wait for a login) or ``"public"`` (requests go
at once with public permissions)."""
