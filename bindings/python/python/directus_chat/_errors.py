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
    "CancelledError",
    "OutboxError",
    "error_from_code",
]

class DirectusError(Exception):
    """Any error of this package.

    ``code`` is the Directus error code for server errors (``AUTH_FAILED``,
    ``FORBIDDEN``, ``TOKEN_EXPIRED``, ``INVALID_PAYLOAD``, ...) or one of the library's
    codes (``CONNECTION``, ``TIMEOUT``, ``CLOSED``, ``INVALID_ARGUMENT``, ``TLS``,
    ``QUEUE_FULL``, ``PROTOCOL``, ``CANCELLED``, ``IN_CALLBACK``, ``OUTBOX_*``); ``message`` is the readable text.
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
    """The user may not do this (``FORBIDDEN``; ``INVALID_COLLECTION`` on Directus before
    12.3), e.g. read a collection without permission."""


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


class CancelledError(DirectusError):
    """The request was cancelled before its outcome was known."""


class OutboxError(DirectusError):
    """The outbox file cannot be used: ``OUTBOX_LOCKED`` (another client has it open),
    ``OUTBOX_CORRUPT``, ``OUTBOX_FOREIGN`` (another application's database),
    ``OUTBOX_VERSION``, ``OUTBOX_IO``. The file is left as it was."""


# By the kind the Rust core gives each code (``_native.error_kind``), which is where
# the meaning of Directus' codes across server versions is kept.
_KINDS: dict[str, type[DirectusError]] = {
    "auth": AuthError,
    "forbidden": ForbiddenError,
    "server": ServerError,
    "connection": DirectusConnectionError,
    "timeout": DirectusTimeoutError,
    "closed": ClosedError,
    "invalid_argument": InvalidArgumentError,
    "tls": DirectusConnectionError,
    "queue_full": DirectusError,
    "protocol": ProtocolError,
    "cancelled": CancelledError,
    "in_callback": DirectusError,
    "outbox": OutboxError,
}


def error_from_code(code: str, message: str) -> DirectusError:
    """The exception for an error code (used by the native module)."""
    from . import _native

    return _KINDS.get(_native.error_kind(code), ServerError)(code, message)
