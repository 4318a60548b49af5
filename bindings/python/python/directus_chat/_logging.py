"""The Rust core's log records, forwarded to the ``directus_chat`` logger."""

from __future__ import annotations

import logging
import threading
import time
from typing import List, Optional, Tuple

from . import _native

__all__ = ["ensure_log_bridge", "set_log_level", "stop_pump", "pump_thread", "logger"]

logger = logging.getLogger("directus_chat")
# A library leaves output to the application: without this, every warning of the
# package (a server error the caller already got as an exception, each reconnect
# attempt) would reach stderr through logging's last-resort handler whenever the
# application has configured no logging at all.
logger.addHandler(logging.NullHandler())
logger.getChild("core").addHandler(logging.NullHandler())

_lock = threading.Lock()
_started = False
_stop = threading.Event()
_thread: Optional[threading.Thread] = None


def _forward(records: List[Tuple[int, str, str]]) -> None:
    core = logger.getChild("core")
    for level, target, message in records:
        core.log(level, "%s", message, extra={"rust_target": target})


def _pump() -> None:
    while not _stop.is_set():
        _forward(_native.next_logs(0.25))


def ensure_log_bridge() -> None:
    """Starts forwarding at the ``directus_chat`` logger's level (once, and again after
    a :func:`directus_chat.shutdown`)."""
    global _started, _thread
    with _lock:
        if _started:
            return
        _started = True
        _stop.clear()
        _native.install_log_bridge(logger.getEffectiveLevel() or logging.WARNING)
        _thread = threading.Thread(target=_pump, name="directus-chat-log", daemon=True)
        _thread.start()


def pump_thread() -> Optional[threading.Thread]:
    """The thread that forwards the records, if it runs."""
    return _thread


def stop_pump(deadline: float) -> bool:
    """Stops the forwarding thread, waiting until ``deadline`` (``time.monotonic()``),
    then forwards what is still queued from this thread. False if the thread did not
    end in time. The next client starts it again."""
    global _started, _thread
    with _lock:
        thread, _thread = _thread, None
        _started = False
        _stop.set()
    if thread is not None:
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            return False
    _forward(_native.next_logs(0.0))
    return True


def set_log_level(level: int) -> None:
    """Sets which records of the Rust core are forwarded (a ``logging`` level)."""
    ensure_log_bridge()
    _native.install_log_bridge(level)
