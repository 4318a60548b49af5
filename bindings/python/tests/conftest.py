"""A real Directus for the Python tests, started by the project's test bed."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "directus.sh"


class Server:
    """The test bed's output: URLs and users."""

    def __init__(self, env: Dict[str, str]) -> None:
        self.env = env
        self.ws_url = env["DIRECTUS_WS_URL"]
        self.http_url = env["DIRECTUS_URL"]
        self.collection = env["DCHAT_COLLECTION"]
        self.forbidden = env["DCHAT_FORBIDDEN_COLLECTION"]

    def user(self, n: int) -> Dict[str, str]:
        return {k: self.env[f"DCHAT_USER{n}_{k.upper()}"] for k in ("email", "password", "name", "token")}


def start_server(extra: Optional[List[str]] = None) -> Tuple[str, Server]:
    """Starts a test-bed server (``extra``: more scripts/directus.sh arguments); returns
    its folder (for ``stop``) and what it printed."""
    folder = tempfile.mkdtemp(prefix="dchat-py-")
    out = subprocess.run(
        [str(SCRIPT), "start", folder, "--watch-pid", str(os.getpid()), "--remove-dir"] + (extra or []),
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    return folder, Server(dict(line.split("=", 1) for line in out.splitlines() if "=" in line))


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    folder, server = start_server()
    try:
        yield server
    finally:
        subprocess.run([str(SCRIPT), "stop", folder], check=False)


@pytest.fixture(scope="module")
def proxy(server: Server) -> Iterator[Dict[str, str]]:
    """nginx with a test CA (scripts/tls-proxy.sh) in front of the test server: its
    ``PROXY_WSS_URL``, ``PROXY_CA_PEM`` (a file) and ``PROXY_ACCESS_LOG``."""
    folder = tempfile.mkdtemp(prefix="dchat-py-nginx-")
    script = ROOT / "scripts" / "tls-proxy.sh"
    out = subprocess.run(
        [str(script), "start", folder, "--upstream", server.env["DIRECTUS_PORT"], "--watch-pid", str(os.getpid())],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    try:
        yield dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    finally:
        subprocess.run([str(script), "stop", folder], check=False)
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def listening(command: List[str]) -> Iterator[str]:
    """Runs a loopback server whose first line of output is ``listening PORT`` (or
    ``WORD PORT``), yields its WebSocket URL, and kills it afterwards."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        port = process.stdout.readline().split()[1]
        yield f"ws://127.0.0.1:{port}/websocket"
    finally:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def slow_url(server: Server) -> Iterator[str]:
    """The server behind a TCP proxy that delays every chunk by 1 s each way
    (tests/support/delay_proxy.py): any call that waited for the server would take 2 s."""
    upstream = server.ws_url.split("://", 1)[1].split("/", 1)[0]
    proxy = ROOT / "tests" / "support" / "delay_proxy.py"
    with listening([sys.executable, str(proxy), "--listen", "0", "--upstream", upstream, "--delay", "1", "--watch-pid", str(os.getpid())]) as url:
        yield url


@pytest.fixture(scope="session")
def public_server() -> Iterator[Server]:
    """A server in public mode (WEBSOCKETS_REST_AUTH=public) whose public policy may read
    the messages: requests need no login."""
    folder, server = start_server(["--env", "WEBSOCKETS_REST_AUTH=public"])
    try:
        token = server.env["DIRECTUS_ADMIN_TOKEN"]

        def api(method: str, path: str, body: Optional[object] = None) -> object:
            request = urllib.request.Request(
                server.http_url + path,
                method=method,
                data=None if body is None else json.dumps(body).encode(),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            # A loaded machine makes Directus shed load with 503 (its pressure limiter): retry.
            for attempt in range(20):
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        return json.load(response)
                except urllib.error.HTTPError as e:
                    if e.code != 503 or attempt == 19:
                        raise
                    time.sleep(1.0)
            raise AssertionError("unreachable")

        policies = api("GET", "/policies?fields=id,name")
        assert isinstance(policies, dict)
        public = next(p["id"] for p in policies["data"] if p["name"] == "$t:public_label")
        # (Permissions on directus_users are a licensed feature: authors stay unnamed.)
        api("POST", "/permissions", {"policy": public, "collection": server.collection, "action": "read", "fields": ["*"], "permissions": {}})
        yield server
    finally:
        subprocess.run([str(SCRIPT), "stop", folder], check=False)
