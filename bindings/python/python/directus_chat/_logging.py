"""The Rust core's log records, forwarded to the ``directus_chat`` logger."""

from __future__ import annotations

import atexit
import logging
import threading
from typing import Optional

from . import _native

__all__ = ["ensure_log_bridge", "set_log_level", "logger"]

logger = logging.getLogger("directus_chat")
_lock = threading.Lock()
_started = False
_stop = threading.Event()
_thread: Optional[threading.Thread] = None


def _pump() -> None:
    core = logger.getChild("core")
    while not _stop.is_set():
        for level, target, message in _native.next_logs(0.25):
            core.log(level, "%s", message, extra={"rust_target": target})


def _stop_pump() -> None:
    # At exit, before daemon threads are cut off: a daemon thread that comes back from
    # the native wait while the interpreter finalizes is ended by pthread_exit inside
    # Rust frames, which aborts the process ("FATAL: exception not rethrown"; seen in
    # the asyncio benchmark). So the pump is stopped and joined while it still can be.
    _stop.set()
    if _thread is not None:
        _thread.join(2.0)


def ensure_log_bridge() -> None:
    """Starts forwarding (once per process) at the ``directus_chat`` logger's level."""
    global _started
    with _lock:
        if _started:
            return
        _started = True
        _native.install_log_bridge(logger.getEffectiveLevel() or logging.WARNING)
        global _thread
        _thread = threading.Thread(target=_pump, name="directus-chat-log", daemon=True)
        _thread.start()
        atexit.register(_stop_pump)


def set_log_level(level: int) -> None:
    """Sets which records of the Rust core are forwarded (a ``logging`` level)."""
    ensure_log_bridge()
    _native.install_log_bridge(level)
