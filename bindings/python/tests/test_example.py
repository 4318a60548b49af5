"""examples/python/chat.py, driven the way a user would."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
import uuid

from conftest import ROOT, Server


def test_terminal_chat_example(server: Server) -> None:
    ada = server.user(2)
    history = f"py history {uuid.uuid4().hex[:8]}"
    req = urllib.request.Request(
        f"{server.http_url}/items/{server.collection}",
        data=json.dumps({"text": history}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {ada['token']}"},
        method="POST",
    )
    urllib.request.urlopen(req, timeout=10).read()
    kevin = server.user(1)
    typed = f"typed in the Python example {uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "examples/python/chat.py"), server.ws_url, kevin["email"], kevin["password"]],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    proc.stdin.write(typed + "\n")
    proc.stdin.flush()
    time.sleep(2)
    out, err = proc.communicate("/quit\n", timeout=30)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert f"{ada['name']}: {history}" in lines, out
    assert f"{kevin['name']}: {typed}" in lines, out


def test_a_client_left_open_at_exit_is_closed_cleanly(server: Server) -> None:
    kevin = server.user(1)
    script = (
        "import sys, directus_chat\n"
        "c = directus_chat.Client(sys.argv[1])\n"
        "c.login(sys.argv[2], sys.argv[3])\n"
        "c.subscribe_chat(callback=lambda e: None)\n"
        "c.send('left open at exit')\n"
        "print('done', flush=True)\n"
    )
    # The abort this guards against depends on thread timing: a few runs.
    for _ in range(3):
        proc = subprocess.run(
            [sys.executable, "-c", script, server.ws_url, kevin["email"], kevin["password"]],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == "done"
        assert "FATAL" not in proc.stderr, proc.stderr
