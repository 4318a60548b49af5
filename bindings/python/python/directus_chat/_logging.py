"""The Rust core's log records, forwarded to the ``directus_chat`` logger."""

from __future__ import annotations

import logging
import threading

from . import _native

__all__ = ["ensure_log_bridge", "set_log_level", "logger"]

logger = logging.getLogger("directus_chat")
_lock = threading.Lock()
_started = False


def _pump() -> None:
    core = logger.getChild("core")
    while True:
        for level, target, message in _native.next_logs(1.0):
            core.log(level, "%s", message, extra={"rust_target": target})


def ensure_log_bridge() -> None:
    """Starts forwarding (once per process) at the ``directus_chat`` logger's level."""
    global _started
    with _lock:
        if _started:
            return
        _started = True
        _native.install_log_bridge(logger.getEffectiveLevel() or logging.WARNING)
        threading.Thread(target=_pump, name="directus-chat-log", daemon=True).start()


def set_log_level(level: int) -> None:
    """Sets which records of the Rust core are forwarded (a ``logging`` level)."""
    ensure_log_bridge()
    _native.install_log_bridge(level)
