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

