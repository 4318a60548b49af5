"""The process-wide shutdown: every client closed, every thread of the package ended.

It runs by itself at interpreter exit. Threads that wait in the Rust core (each client's
dispatcher, the log forwarder) must be gone before the interpreter finalizes: a daemon
thread that comes back from a native wait then is ended inside Rust frames, which
aborts the process ("FATAL: exception not rethrown").
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from typing import List

from . import _native
from ._errors import DirectusError, DirectusTimeoutError
from ._logging import logger, pump_thread, stop_pump

__all__ = ["shutdown", "register_thread"]

_threads: "weakref.WeakSet[threading.Thread]" = weakref.WeakSet()
_running = threading.Lock()

EXIT_TIMEOUT = 10.0
"""Seconds the exit hook allows for closing the clients left open."""


def register_thread(thread: threading.Thread) -> None:
    """Registers a thread of the package (a client's dispatcher) for :func:`shutdown`."""
    _threads.add(thread)


def _on_package_thread() -> bool:
    current = threading.current_thread()
    return current in _threads or current is pump_thread()


def shutdown(timeout: float = EXIT_TIMEOUT) -> None:
    """Closes every client of the process and ends every thread of the package and of
    its Rust core, waiting up to ``timeout`` seconds in all.

    Each client is closed as by :meth:`Client.close` (its subscriptions end, its last
    event is the ``closed`` state, delivered to callbacks as usual). The package stays
    usable: a new client starts everything again. Runs by itself at interpreter exit.

    Raises :class:`DirectusError` with code ``IN_CALLBACK`` when called from a thread of
    the package (a callback, a logging handler run for the package), which it would
    have to wait for; :class:`DirectusTimeoutError` naming what did not end in time.
    """
    if _on_package_thread():
        raise DirectusError("IN_CALLBACK", "shutdown() cannot be called from a callback of directus_chat: it would wait for itself")
    deadline = time.monotonic() + max(0.0, timeout)

    def left() -> float:
        return max(0.0, deadline - time.monotonic())

    if not _running.acquire(timeout=left()):
        raise DirectusTimeoutError("TIMEOUT", "another shutdown is still running")
    try:
        late: List[str] = []

        def native_shutdown() -> None:
            try:
                _native.shutdown(left())
            except DirectusTimeoutError as e:
                what = e.message.split("still running: ", 1)[-1]
                if what not in late:
                    late.append(what)

        # The clients close; their dispatchers take the last events meanwhile (the GIL
        # is released while the core waits), then end.
        native_shutdown()
        for thread in list(_threads):
            if thread.ident is None:
                continue  # registered, not started yet: nothing to join
            thread.join(left())
            if thread.is_alive():
                late.append(f"thread {thread.name}")
        if not stop_pump(deadline):
            late.append("thread directus-chat-log")
        # A dispatcher that read its last events after the core had stopped may have
        # started the core's runtime again to wait on them: that one is stopped too.
        native_shutdown()
        if late:
            raise DirectusTimeoutError("TIMEOUT", "shutdown timed out; still running: " + ", ".join(late))
    finally:
        _running.release()


def _at_exit() -> None:
    try:
        shutdown(EXIT_TIMEOUT)
    except DirectusError as e:
        logger.warning("directus_chat: shutdown at exit: %s", e)


atexit.register(_at_exit)
