"""Type names shared by the package's modules."""

from __future__ import annotations

from typing import Literal

__all__ = ["AuthMode"]

AuthMode = Literal["handshake", "public", "strict"]
"""How the server authenticates WebSocket clients (``WEBSOCKETS_REST_AUTH``):
``"handshake"`` (the default: requests wait for a login), ``"public"`` (requests made
before the first login go at once with public permissions; after a login they wait for
it and every re-login) or ``"strict"`` (the upgrade needs a token: put
``?access_token=`` on the URL; reconnects after a login carry a current one)."""
