"""The process-wide shutdown and exit: each in a subprocess of its own, since a shutdown
closes every client of the process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from conftest import Server


def run(script: str, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_clients_and_a_log_handler_left_at_exit_end_cleanly(server: Server) -> None:
    kevin = server.user(1)
    script = """
        import asyncio, atexit, logging, sys, threading
        states = []
        # Registered before the package's own exit hook, so it runs after it.
        atexit.register(lambda: print("states at exit:", ",".join(states), flush=True))
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
        import directus_chat
        directus_chat.set_log_level(logging.DEBUG)
        c = directus_chat.Client(sys.argv[1], on_state=lambda e: states.append(e.kind or "?"))
        c.login(sys.argv[2], sys.argv[3])
        c.subscribe_chat(callback=lambda e: None)
        c.send("left open at exit")
        # An asyncio client left open too, and a callback that is running at exit.
        async def main():
            a = directus_chat.AsyncClient(sys.argv[1])
            await a.__aenter__()
            await a.login(sys.argv[2], sys.argv[3])
            await a.subscribe_chat()
        asyncio.run(main())
        print("done", flush=True)
    """
    # The abort this guards against depends on thread timing: a few runs.
    for _ in range(3):
        proc = run(script, server.ws_url, kevin["email"], kevin["password"])
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert lines[0] == "done", proc.stdout
        assert lines[1].startswith("states at exit:") and lines[1].endswith(",closed"), proc.stdout
        assert "FATAL" not in proc.stderr, proc.stderr
        # The log handler got the core's records, the close included.
        assert "directus_chat.core" in proc.stderr, proc.stderr


def test_shutdown_closes_clients_refuses_callbacks_and_the_package_works_again(server: Server) -> None:
    kevin = server.user(1)
    script = """
        import sys, threading, time
        import directus_chat
        from directus_chat import DirectusError
        url, email, password = sys.argv[1:4]
        seen = []
        inside = []
        def on_event(e):
            seen.append((e.type, e.kind))
            if len(inside) == 0:
                try:
                    directus_chat.shutdown(5)
                    inside.append("returned")
                except DirectusError as err:
                    inside.append(err.code)
        c = directus_chat.Client(url, on_event=on_event)
        c.login(email, password)
        sub = c.subscribe_chat()
        c.send("before shutdown")
        directus_chat.shutdown(20)
        assert c.closed and c.state == "closed", c.state
        assert seen[-1] == ("state", "closed"), seen
        assert inside == ["IN_CALLBACK"], inside
        assert sub.ended
        names = [t.name for t in threading.enumerate() if t.name.startswith("directus-chat")]
        assert names == [], names
        # The package works again.
        d = directus_chat.Client(url)
        d.login(email, password)
        with d.subscribe_chat() as s:
            text = f"after shutdown {time.time()}"
            d.send(text)
            got = False
            for event in s:
                if any(m.text == text for m in event.messages):
                    got = True
                    break
        assert got
        directus_chat.shutdown(20)
        assert d.closed
        print("ok", flush=True)
    """
    proc = run(script, server.ws_url, kevin["email"], kevin["password"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok", proc.stdout + proc.stderr


def test_without_logging_configured_warnings_stay_off_stderr() -> None:
    # A connection refused: the core logs a warning, which reaches the package's logger.
    script = """
        import logging, sys, time
        import directus_chat
        seen = []
        def count(record):
            seen.append(record.getMessage())
            return True
        logging.getLogger("directus_chat.core").addFilter(count)
        try:
            directus_chat.Client("ws://127.0.0.1:1/websocket", timeout=5)
        except directus_chat.DirectusConnectionError:
            pass
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            time.sleep(0.05)
        print(len(seen), flush=True)
    """
    proc = run(script)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.strip()) >= 1, "the warning reached the directus_chat logger"
    assert proc.stderr == "", proc.stderr
