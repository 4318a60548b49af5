"""A Python client that stops reading holds the server back instead of growing.

Events count as consumed when the user takes them from a subscription (or a callback
returns), so ``max_buffered_events`` and ``max_buffered_bytes`` bound the package's own
queues too. A flood from
the benchmarks' loopback server (a flood is a fault a real Directus cannot be made to
produce on demand) is pushed at a client that does not read; its resident memory is
sampled while the session lives, then it reads everything: every event arrives once.
The same run with an unbounded buffer shows the measurement would see the growth.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator

import pytest

from conftest import listening

ROOT = Path(__file__).resolve().parents[3]
EVENTS = 200_000

CLIENT = r"""
import json, sys, time
from directus_chat import Client

def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

url, limit, byte_limit, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
with Client(url, timeout=60, max_buffered_events=limit, max_buffered_bytes=byte_limit, heartbeat=None, reconnect=False) as client:
    client.login_with_token("bench-token")
    sub = client.subscribe(query={"limit": 100})
    base = rss_kib()
    samples = []
    # Nobody reads for 6 s while the server floods.
    for _ in range(24):
        time.sleep(0.25)
        samples.append(rss_kib())
    got, ids, deadline = 0, set(), time.time() + 180
    while got < total and time.time() < deadline:
        event = sub.next(timeout=10)
        if event is None:
            break
        if event.kind == "create":
            got += len(event.data)
            ids.update(item["id"] for item in event.data)
    print(json.dumps({"base_kib": base, "peak_kib": max(samples), "got": got, "distinct": len(ids), "state": client.state}))
"""


@pytest.fixture(scope="module")
def flood_url() -> Iterator[str]:
    binary = os.environ.get("DCHAT_FLOOD_SERVER")
    if not binary:
        subprocess.run(["cargo", "build", "-q", "-p", "directus-chat-bench", "--bin", "flood_server"], cwd=ROOT, check=True)
        binary = str(ROOT / "target" / "debug" / "flood_server")
    with listening([binary, "--events", str(EVENTS), "--parent-pid", str(os.getpid())]) as url:
        yield url


def run_client(url: str, limit: int, byte_limit: int = 2 << 20) -> Dict[str, int]:
    args = [sys.executable, "-c", CLIENT, url, str(limit), str(byte_limit), str(EVENTS)]
    out = subprocess.run(args, check=True, stdout=subprocess.PIPE, text=True, timeout=300)
    result: Dict[str, int] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"max_buffered_events={limit}, max_buffered_bytes={byte_limit}: {result}")
    return result


@pytest.mark.timeout(600)
def test_a_client_that_does_not_read_stays_bounded_and_loses_nothing(flood_url: str) -> None:
    bounded = run_client(flood_url, 1_000)
    growth_mib = (bounded["peak_kib"] - bounded["base_kib"]) / 1024
    assert growth_mib < 24, f"grew by {growth_mib:.1f} MiB while nobody read"
    assert bounded["got"] == EVENTS and bounded["distinct"] == EVENTS, bounded
    # The default bound on bytes alone (2 MiB of events) holds it back too.
    by_bytes = run_client(flood_url, 10**9)
    bytes_growth_mib = (by_bytes["peak_kib"] - by_bytes["base_kib"]) / 1024
    assert bytes_growth_mib < 32, f"grew by {bytes_growth_mib:.1f} MiB while nobody read"
    assert by_bytes["got"] == EVENTS and by_bytes["distinct"] == EVENTS, by_bytes
    # Without either bound the same flood piles up in the package's queue: the
    # measurements above would have seen it.
    unbounded = run_client(flood_url, 10**9, 1 << 40)
    assert (unbounded["peak_kib"] - unbounded["base_kib"]) / 1024 > 4 * max(growth_mib, bytes_growth_mib, 8), unbounded
