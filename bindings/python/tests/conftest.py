"""A real Directus for the Python tests, started by the project's test bed."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, Iterator

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


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    folder = tempfile.mkdtemp(prefix="dchat-py-")
    out = subprocess.run(
        [str(SCRIPT), "start", folder, "--watch-pid", str(os.getpid())],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    try:
        yield Server(env)
    finally:
        subprocess.run([str(SCRIPT), "stop", folder], check=False)
