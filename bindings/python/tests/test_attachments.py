"""Attachments across languages against a real Directus: a 5 MiB image uploaded from C
(tests/c/attachment_test.c, with progress events) reaches a Python peer as a message
with its file's name, type, size and URL, and the bytes the peer downloads are
identical; an upload through the nginx wss:// setup works with the test CA; progress
and cancel from Python."""

from __future__ import annotations

import hashlib
import os
import subprocess
import uuid
from pathlib import Path
from typing import Dict, List

import pytest

import directus_chat
from directus_chat import Client, Event

from conftest import ROOT, Server


def build_c_test(tmp: Path) -> Path:
    subprocess.run(["cargo", "build", "-q", "--lib"], cwd=ROOT, check=True)
    lib = ROOT / "target" / "debug"
    exe = tmp / "attachment_test"
    subprocess.run(
        ["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-I", str(ROOT / "include"), "-o", str(exe),
         str(ROOT / "tests" / "c" / "attachment_test.c"), f"-L{lib}", "-ldirectus_chat", f"-Wl,-rpath,{lib}", "-lpthread"],
        check=True,
    )
    return exe


def image(path: Path, size: int) -> bytes:
    """A PNG signature followed by noise: an "image" as far as names and types go, and
    bytes that no other upload shares."""
    data = b"\x89PNG\r\n\x1a\n" + os.urandom(size - 8)
    path.write_bytes(data)
    return data


def test_a_5_mib_image_uploaded_from_c_reaches_a_python_peer_and_downloads_identically(server: Server, tmp_path: Path) -> None:
    exe = build_c_test(tmp_path)
    data = image(tmp_path / "upload.png", 5 * 1024 * 1024)
    name = f"cat-{uuid.uuid4().hex[:8]}.png"
    text = f"a picture {uuid.uuid4().hex[:10]}"
    kevin, esther = server.user(1), server.user(2)
    with Client(server.ws_url, timeout=20, client_key="client_key", file_field="file") as peer:
        peer.login(esther["email"], esther["password"])
        with peer.join() as lobby:
            init = lobby.next(timeout=15)
            assert init is not None and init.kind == "init"
            env = dict(os.environ, DIRECTUS_WS_URL=server.ws_url, DCHAT_EMAIL=kevin["email"], DCHAT_PASSWORD=kevin["password"],
                       DCHAT_FILE=str(tmp_path / "upload.png"), DCHAT_FILE_NAME=name, DCHAT_TEXT=text)
            run = subprocess.run([str(exe)], env=env, stdout=subprocess.PIPE, text=True, timeout=300)
            print(run.stdout)
            assert run.returncode == 0, run.stdout
            out = dict(line.split("=", 1) for line in run.stdout.splitlines() if "=" in line)
            got = None
            for _ in range(60):
                ev = lobby.next(timeout=0.5)
                if ev is not None and ev.kind == "create":
                    got = next((m for m in ev.messages if m.text == text), None)
                    if got is not None:
                        break
            assert got is not None, "the message with the file did not arrive"
    assert got.file is not None
    assert (got.file.id, got.file.name, got.file.type, got.file.size) == (out["FILE_ID"], name, "image/png", len(data))
    assert got.author == kevin["name"] and not got.own
    with Client(server.ws_url, timeout=20, file_field="file") as again:
        again.login(esther["email"], esther["password"])
        url = again.asset_url(got.file.id)
        assert url == f"{server.http_url.rstrip('/')}/assets/{got.file.id}"
        downloaded = again.download_bytes(got.file.id)
        assert hashlib.sha256(downloaded).hexdigest() == hashlib.sha256(data).hexdigest()
        dest = tmp_path / "down.png"
        assert again.download(got.file.id, str(dest)) == len(data)
        assert dest.read_bytes() == data
    print(f"attachments: 5 MiB from C to Python, {out['PROGRESS_EVENTS']} progress events, sha256 equal")


def test_progress_and_cancel_from_python(server: Server) -> None:
    kevin = server.user(1)
    with Client(server.ws_url, timeout=20, poll=True) as client:
        client.login(kevin["email"], kevin["password"])
        request = client.upload_nowait(data=os.urandom(300_000), name="noise.bin", type="application/octet-stream")
        seen: List[Event] = []
        reply = None
        for _ in range(400):
            for ev in client.poll(max=100, timeout=0.1):
                if ev.request == request and ev.type == "transfer":
                    seen.append(ev)
                elif ev.request == request and ev.type == "reply":
                    reply = ev
            if reply is not None:
                break
        assert reply is not None and reply.error is None
        f = client.file_of(reply)
        assert f is not None and f.size == 300_000 and f.name == "noise.bin"
        assert [e.data["done"] for e in seen][0] == 0 and seen[-1].data == {"done": 300_000, "total": 300_000}

        big = client.upload_nowait(data=os.urandom(64 * 1024 * 1024), name="big.bin")
        cancelled = None
        for _ in range(600):
            for ev in client.poll(max=100, timeout=0.1):
                if ev.request == big and ev.type == "transfer" and ev.data["done"] > 0:
                    client.cancel(big)
                elif ev.request == big and ev.type == "reply":
                    cancelled = ev
            if cancelled is not None:
                break
        assert cancelled is not None and isinstance(cancelled.error, directus_chat.CancelledError)
        with pytest.raises(directus_chat.InvalidArgumentError):
            client.upload("/nonexistent/file.png")


def test_an_upload_through_nginx_with_the_test_ca(server: Server, proxy: Dict[str, str], tmp_path: Path) -> None:
    kevin = server.user(1)
    ca_pem = Path(proxy["PROXY_CA_PEM"]).read_text()
    data = image(tmp_path / "via-nginx.png", 2 * 1024 * 1024)
    with Client(proxy["PROXY_WSS_URL"], timeout=20, ca_pem=ca_pem, file_field="file") as client:
        client.login(kevin["email"], kevin["password"])
        f = client.upload(str(tmp_path / "via-nginx.png"), type="image/png")
        assert f.size == len(data) and f.name == "via-nginx.png"
        assert client.asset_url(f.id).startswith(proxy["PROXY_WSS_URL"].replace("wss://", "https://").rsplit("/websocket", 1)[0])
        assert client.download_bytes(f.id) == data
    log = Path(proxy["PROXY_ACCESS_LOG"]).read_text()
    assert '"POST /files HTTP/1.1" 200' in log and f'"GET /assets/{f.id} HTTP/1.1" 200' in log
    # Without the CA, the upload is refused like the socket.
    with pytest.raises(directus_chat.DirectusConnectionError):
        Client(proxy["PROXY_WSS_URL"], timeout=15)
