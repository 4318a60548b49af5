"""The exceptions of directus_chat: one hierarchy rooted at :class:`DirectusError`."""

from __future__ import annotations

__all__ = [
    "DirectusError",
    "AuthError",
    "ForbiddenError",
    "ServerError",
    "DirectusConnectionError",
    "DirectusTimeoutError",
    "ClosedError",
    "InvalidArgumentError",
    "ProtocolError",
    "error_from_code",
]

_AUTH_CODES = frozenset({"AUTH_FAILED", "TOKEN_EXPIRED", "AUTH_TIMEOUT", "INVALID_CREDENTIALS"})


class DirectusError(Exception):
    """Any error of this package.

    ``code`` is the Directus error code for server errors (``AUTH_FAILED``,
    ``FORBIDDEN``, ``TOKEN_EXPIRED``, ``INVALID_PAYLOAD``, ...) or one of the library's
    codes (``CONNECTION``, ``TIMEOUT``, ``CLOSED``, ``INVALID_ARGUMENT``, ``TLS``,
    ``QUEUE_FULL``, ``PROTOCOL``, ``IN_CALLBACK``); ``message`` is the readable text.
    Neither ever contains a password or token.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class ServerError(DirectusError):
    """The server refused a request; ``code`` says why."""


class AuthError(ServerError):
    """The server refused the credentials (``AUTH_FAILED``, ``TOKEN_EXPIRED``, ...)."""


class ForbiddenError(ServerError):
    """The user may not do this (``FORBIDDEN``), e.g. read a collection without permission."""


class DirectusConnectionError(DirectusError, ConnectionError):
    """The connection failed or was lost before the answer came."""


class DirectusTimeoutError(DirectusError, TimeoutError):
    """No answer within the timeout."""


class ClosedError(DirectusError):
    """The client is closed."""


class InvalidArgumentError(DirectusError, ValueError):
    """An argument was not acceptable (bad URL, unknown action, bad JSON, ...)."""


class ProtocolError(DirectusError):
    """The server sent something this library cannot read."""


_LIBRARY_CODES: dict[str, type[DirectusError]] = {
    "CONNECTION": DirectusConnectionError,
    "TIMEOUT": DirectusTimeoutError,
    "CLOSED": ClosedError,
    "INVALID_ARGUMENT": InvalidArgumentError,
    "TLS": DirectusConnectionError,
    "QUEUE_FULL": DirectusError,
    "PROTOCOL": ProtocolError,
    "IN_CALLBACK": DirectusError,
}


def error_from_code(code: str, message: str) -> DirectusError:
    """The exception for an error code (used by the native module)."""
    if code in _AUTH_CODES:
        return AuthError(code, message)
    if code == "FORBIDDEN":
        return ForbiddenError(code, message)
    cls = _LIBRARY_CODES.get(code)
    if cls is not None:
        return cls(code, message)
    return ServerError(code, message)
