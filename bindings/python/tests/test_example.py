"""examples/python/chat.py, driven the way a user would."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from typing import Optional

from conftest import ROOT, Server


def post(server: Server, token: str, text: str, room: Optional[str] = None) -> None:
    req = urllib.request.Request(
        f"{server.http_url}/items/{server.collection}",
        data=json.dumps({"text": text, "room": room}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    urllib.request.urlopen(req, timeout=10).read()


def test_terminal_chat_example(server: Server) -> None:
    ada = server.user(2)
    kevin = server.user(1)
    history = f"py history {uuid.uuid4().hex[:8]}"
    post(server, ada["token"], history)
    own_history = f"py own history {uuid.uuid4().hex[:8]}"
    post(server, kevin["token"], own_history)
    room = server.env["DCHAT_ROOM"]
    tag = uuid.uuid4().hex[:8]
    for i in (1, 2, 3):
        post(server, ada["token"], f"py room {i} {tag}", room)
    typed = f"typed in the Python example {uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "examples/python/chat.py"), server.ws_url, kevin["email"], kevin["password"]],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "DCHAT_HISTORY": "2"},
    )
    assert proc.stdin is not None
    for line, pause in (
        (typed, 2.0),
        (f"/join {room}", 2.0),
        ("/who", 1.0),
        ("/older", 1.0),
        (f"mine {tag}", 2.0),
        (f"/edit mine again {tag}", 2.0),
        ("/delete", 2.0),
    ):
        proc.stdin.write(line + "\n")
        proc.stdin.flush()
        time.sleep(pause)
    out, err = proc.communicate("/quit\n", timeout=30)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert f"{ada['name']}: {history}" in lines, out
    assert f"{kevin['name']} (you): {own_history}" in lines, out
    assert f"{kevin['name']} (you): {typed}" in lines, out
    assert f"[{room}] {ada['name']}: py room 2 {tag}" in lines, out
    assert f"[{room}] {ada['name']}: py room 3 {tag}" in lines, out
    assert "-- 1 older message(s)" in lines, out
    assert lines.index(f"[{room}] {ada['name']}: py room 1 {tag}") > lines.index(f"[{room}] {ada['name']}: py room 3 {tag}"), out
    assert f"[{room}] {kevin['name']} (you): mine {tag}" in lines, out
    assert f"[{room}] {kevin['name']} (you): mine again {tag} (edited)" in lines, out
    assert any(re.fullmatch(rf"\[{re.escape(room)}\] \(message \d+ deleted\)", line) for line in lines), out
    # Joining the room entered its presence: Kevin sees himself online, /who lists him.
    assert f"* [{room}] {kevin['name']} is online" in lines, out
    assert any(re.fullmatch(rf"\* \[{re.escape(room)}\] \d+ online:.* {re.escape(kevin['name'])}( .*)?", line) for line in lines), out

