"""Turns the JSON lines of one scripts/bench.sh run into BENCHMARKS.md and a PNG chart."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
from typing import Any, Dict, List, Optional

RAW = "raw tokio-tungstenite + serde_json"
JS = "@directus/sdk iterator"
C_CALLBACK = "directus-chat C ABI, callback"
C_POLL = "directus-chat C ABI, poll/drain"
RUST = "directus-chat Rust API"
PY_CALLBACK = "directus-chat Python, callback"
PY_ASYNCIO = "directus-chat Python, asyncio"
PY_WEBSOCKETS = "Python websockets + json"


def sh(cmd: str) -> str:
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:
        return ""


def machine() -> List[str]:
    cpu = sh("lscpu | sed -n 's/^Model name: *//p' | head -n 1") or platform.processor()
    mem_kib = sh("awk '/MemTotal/ {print $2}' /proc/meminfo")
    mem = f"{int(mem_kib) / 1024 / 1024:.1f} GiB" if mem_kib.isdigit() else "?"
    return [
        f"- CPU: {cpu}, {os.cpu_count()} logical cores (shared with other work on this machine)",
        f"- memory: {mem}; kernel {platform.release()}",
        f"- {sh('rustc --version')}; {sh('gcc --version | head -n 1')}",
        f"- Python {platform.python_version()}; Node {sh('node --version')}",
    ]


def flood_table(rows: List[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """Per client: the median over rounds of events/s, CPU and RSS."""
    by: Dict[str, List[Dict[str, Any]]] = {}
    for r in rows:
        by.setdefault(r["client"], []).append(r)
    out: Dict[str, Dict[str, Any]] = {}
    for client, rs in by.items():
        rate = statistics.median(r["events_per_s"] for r in rs)
        out[client] = {
            "events_per_s": rate,
            "rounds": [round(r["events_per_s"]) for r in rs],
            "delivered": statistics.median(r["delivered"] for r in rs),
            "sent": rs[0]["sent"],
            "cpu_us_per_event": statistics.median(r["cpu_s"] / max(r["delivered"], 1) * 1e6 for r in rs),
            "max_rss_mib": max(r["max_rss_kib"] for r in rs) / 1024,
        }
    return out


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return a / b if a is not None and b else None


def fmt_ratio(x: Optional[float]) -> str:
    return "n/a" if x is None else f"{x:.2f}×"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--chart", required=True)
    # The run's sizes come from the results' meta line (written by scripts/bench.sh); these
    # override it.
    ap.add_argument("--events", type=int)
    ap.add_argument("--repeat", type=int)
    ap.add_argument("--profile")
    ap.add_argument("--sdk-version")
    ap.add_argument("--smoke", action="store_true")
    a = ap.parse_args()

    lines = [json.loads(l) for l in open(a.results) if l.strip()]
    meta = next((l for l in lines if l["kind"] == "meta"), {})
    lines = [l for l in lines if l["kind"] != "meta"]
    a.events = a.events if a.events is not None else meta.get("events", 0)
    a.repeat = a.repeat if a.repeat is not None else meta.get("repeat", 1)
    a.profile = a.profile or meta.get("profile", "?")
    a.sdk_version = a.sdk_version or meta.get("sdk_version", "?")
    failed = [l for l in lines if "failed" in l]
    flood = flood_table([l["result"] for l in lines if l["kind"] == "flood" and "result" in l])
    scale = [l["result"] for l in lines if l["kind"] == "scale" and "result" in l]
    latency = {l["result"]["client"]: l["result"] for l in lines if l["kind"] == "latency" and "result" in l}
    callgrind = {l["result"]["client"]: l["result"] for l in lines if l["kind"] == "callgrind" and "result" in l}
    across = {l["result"]["client"]: l["result"] for l in lines if l["kind"] == "latency_cluster" and "result" in l}

    raw = flood.get(RAW, {}).get("events_per_s")
    js_name = next((c for c in flood if c.startswith(JS)), None)
    js = flood[js_name]["events_per_s"] if js_name else None

    md: List[str] = []
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    md.append("# Benchmarks")
    md.append("")
    written = meta.get("date", now)
    md.append(f"Written by `scripts/bench.sh` on {written}" + (" (SMOKE RUN: tiny sizes, debug build; numbers mean nothing)" if a.smoke else "") + ".")
    for rerun in meta.get("reruns", []):
        md.append(
            f"The {rerun['what']} were run again on {rerun['date']} (`scripts/bench.sh --only {rerun.get('only', 'roundtrip')}`); "
            "the other rows are from the full run."
        )
    md.append("")
    # A partial run's report describes the machine of the full run (most rows are from it).
    md += meta.get("machine") or machine()
    md.append(f"- build: {a.profile}; @directus/sdk {a.sdk_version}")
    md.append("")
    md.append("## Event flood")
    md.append("")
    md.append(
        f"A loopback server (`bench/src/bin/flood_server.rs`) accepts the auth and the chat subscription, "
        f"then pushes {a.events:,} subscription `create` events (about 200 bytes each: id, text, "
        f"date_created, user_created.first_name) back to back. Each client, in its own process, "
        f"reads them and touches every message's text; events/s is delivered events from the `init` "
        f"to the last one received, the median of {a.repeat} round(s) run in turns against the same server. "
        f"Clients count what they get (2 s without an event ends a run): the JS SDK drops events. "
        f"CPU is the client process's user+system time over the same span."
    )
    md.append("")
    md.append("| client | events/s | vs raw | vs JS SDK | delivered / sent | CPU µs/event | peak RSS MiB | rounds (events/s) |")
    md.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for client, f in flood.items():
        md.append(
            f"| {client} | {f['events_per_s']:,.0f} | {fmt_ratio(ratio(f['events_per_s'], raw))} | "
            f"{fmt_ratio(ratio(f['events_per_s'], js))} | {f['delivered']:,.0f} / {f['sent']:,} | "
            f"{f['cpu_us_per_event']:.2f} | {f['max_rss_mib']:.1f} | {', '.join(f'{x:,}' for x in f['rounds'])} |"
        )
    md.append("")
    md.append("## Sessions in one process")
    md.append("")
    md.append(
        "Authenticated sessions, each subscribed to the chat, opened through the Rust API against the "
        "flood server (no events); memory per session is (RSS after − RSS before) / N, threads from "
        "`/proc/self/status`. (The C and Python surfaces add one delivery thread per client, so the "
        "scale test uses the Rust API; the sessions themselves share the library's fixed I/O threads.)"
    )
    md.append("")
    md.append("| sessions | KiB per session | threads | connect+auth+subscribe per s | RSS before → after (MiB) |")
    md.append("| ---: | ---: | ---: | ---: | --- |")
    for s in scale:
        md.append(
            f"| {s['sessions']:,} | {s['kib_per_session']:.1f} | {s['threads']} | {s['sessions_per_s']:,.0f} | "
            f"{s['rss_before_kib'] / 1024:.1f} → {s['rss_after_kib'] / 1024:.1f} |"
        )
    md.append("")
    md.append("## Round trip against a real Directus")
    md.append("")
    md.append(
        "Directus 12.4.0 from the test bed (`scripts/directus.sh`, SQLite, on this machine): the time from "
        "sending a chat message to receiving its own subscription `create` event, for our Rust API and a raw "
        "tokio-tungstenite client on their own connections, in alternating blocks of 50 messages with one "
        "subscriber at a time (Directus re-reads each event once per subscriber, in turn, so a second "
        "subscriber would always be served a read later)."
    )
    md.append("")
    md.append("| client | messages | p50 ms | p99 ms | mean ms | max ms |")
    md.append("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, l in latency.items():
        md.append(f"| {name} | {l['messages']:,} | {l['p50_ms']:.2f} | {l['p99_ms']:.2f} | {l['mean_ms']:.2f} | {l['max_ms']:.2f} |")
    md.append("")
    md.append("## Round trip across a cluster")
    md.append("")
    md.append(
        "Directus 12.4.0 as a cluster from the test bed (`scripts/cluster.sh`: two instances sharing PostgreSQL "
        "and Redis, on this machine): one client sends a chat message on instance A, another, the only "
        "subscriber, receives its `create` event on instance B; the event travels from A to B on the Redis bus. "
        "The time from the send to the event; sender and receiver are both ours (Rust API) or both raw "
        "tokio-tungstenite clients, in one process, in alternating blocks of 50 messages."
    )
    md.append("")
    md.append("| client (sender on A, receiver on B) | messages | p50 ms | p99 ms | mean ms | max ms | p50 vs raw |")
    md.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    raw_across = across.get("raw tokio-tungstenite")
    for name, l in across.items():
        vs = fmt_ratio(ratio(l["p50_ms"], raw_across["p50_ms"] if raw_across else None))
        md.append(
            f"| {name} | {l['messages']:,} | {l['p50_ms']:.2f} | {l['p99_ms']:.2f} | {l['mean_ms']:.2f} | {l['max_ms']:.2f} | {vs} |"
        )
    if not across:
        md.append("| (not run) | | | | | | |")
    md.append("")

    if callgrind:
        md.append("## Instructions per event")
        md.append("")
        md.append(
            "`valgrind --tool=callgrind` through a smaller flood (whole process, every thread, start-up "
            "included): instructions do not depend on what else the machine is doing."
        )
        md.append("")
        md.append("| client | events | instructions | per event |")
        md.append("| --- | ---: | ---: | ---: |")
        for name, c in callgrind.items():
            md.append(f"| {name} | {c['events']:,} | {c['instructions']:,} | {c['instructions'] / max(c['events'], 1):,.0f} |")
        md.append("")

    # The targets (issue 16; the earlier ones kept for reference), checked against this run.
    md.append("## Targets")
    md.append("")
    md.append("| target | measured | met |")
    md.append("| --- | --- | --- |")

    def target(what: str, measured: str, ok: Optional[bool]) -> None:
        md.append(f"| {what} | {measured} | {'n/a' if ok is None else ('yes' if ok else 'no')} |")

    def rate(name: str) -> Optional[float]:
        return flood.get(name, {}).get("events_per_s")

    node = rate(next((c for c in flood if c.endswith("(no SDK)")), ""))
    for name, base, base_name, at_least in [
        (C_CALLBACK, raw, "raw", 1.0),
        (RUST, raw, "raw", 1.0),
        (C_POLL, raw, "raw", 0.9),
        (PY_CALLBACK, node, "bare Node 22 WebSocket + JSON.parse", 1.0),
        (PY_ASYNCIO, node, "bare Node 22 WebSocket + JSON.parse", 0.5),
    ]:
        r = ratio(rate(name), base)
        target(f"{name.replace('directus-chat ', '')} ≥ {at_least:.1f}× {base_name}", fmt_ratio(r), None if r is None else r >= at_least)
    for names, limit in [((C_CALLBACK, C_POLL, RUST), 32), ((PY_CALLBACK, PY_ASYNCIO), 64)]:
        peaks = [(n, flood[n]["max_rss_mib"]) for n in names if n in flood]
        if peaks:
            worst = max(p for _, p in peaks)
            shown = ", ".join(f"{n.replace('directus-chat ', '')} {p:.1f}" for n, p in peaks)
            target(f"peak RSS ≤ {limit} MiB through the flood, default options", f"{shown} MiB", worst <= limit)
    c_cb = rate(C_CALLBACK)
    r2 = ratio(c_cb, js)
    target("(for reference) C callback vs the JS SDK", fmt_ratio(r2), None)
    py_cb = rate(PY_CALLBACK)
    r4 = ratio(py_cb, rate(PY_WEBSOCKETS))
    target("(for reference) Python callback vs Python websockets + json", fmt_ratio(r4), None)
    by_size = {s["sessions"]: s for s in scale}
    if 10_000 in by_size:
        fixed = len({s["threads"] for s in scale}) == 1
        s10 = by_size[10_000]
        threads = ", ".join(str(s["threads"]) for s in scale)
        sizes = ", ".join(f"{s['sessions']:,}" for s in scale)
        target(
            "10,000 sessions at ≤ 32 KiB each, fixed thread count",
            f"{s10['kib_per_session']:.1f} KiB; threads {threads} at {sizes} sessions",
            s10["kib_per_session"] <= 32 and fixed,
        )
    if 50_000 in by_size:
        s50 = by_size[50_000]
        target("(stretch) 50,000 sessions at ≤ 16 KiB each", f"{s50['kib_per_session']:.1f} KiB", s50["kib_per_session"] <= 16)
    ours, rawl = latency.get("directus-chat Rust API"), latency.get("raw tokio-tungstenite")
    if ours and rawl:
        p50, p99 = ratio(ours["p50_ms"], rawl["p50_ms"]), ratio(ours["p99_ms"], rawl["p99_ms"])
        target("round trip within 1.05× of raw (p50)", fmt_ratio(p50), p50 is not None and p50 <= 1.05)
        target("round trip within 1.05× of raw (p99)", fmt_ratio(p99), p99 is not None and p99 <= 1.05)
    ours_x, raw_x = across.get("directus-chat Rust API"), across.get("raw tokio-tungstenite")
    if ours_x and raw_x:
        p50, p99 = ratio(ours_x["p50_ms"], raw_x["p50_ms"]), ratio(ours_x["p99_ms"], raw_x["p99_ms"])
        target("(for reference) round trip across the cluster vs raw (p50)", fmt_ratio(p50), None)
        target("(for reference) round trip across the cluster vs raw (p99)", fmt_ratio(p99), None)
    md.append("")
    if failed:
        md.append("## Runs that failed")
        md.append("")
        for f in failed:
            md.append(f"- {f['kind']}: `{f['failed']}`")
        md.append("")
    notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "NOTES.md")
    if os.path.exists(notes) and not a.smoke:
        md.append(open(notes).read().rstrip())
        md.append("")
    md.append("![events per second and CPU per event](bench/chart.png)")
    md.append("")
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as fh:
        fh.write("\n".join(md))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(flood)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5))
    rates = [flood[n]["events_per_s"] for n in names]
    colors = ["#1f77b4" if n.startswith("directus-chat") else "#999999" for n in names]
    ax1.barh(names, rates, color=colors)
    ax1.set_xscale("log")
    ax1.set_xlabel("events delivered per second (log)")
    ax1.invert_yaxis()
    for i, v in enumerate(rates):
        ax1.text(v, i, f" {v:,.0f}", va="center", fontsize=8)
    ax2.barh(names, [flood[n]["cpu_us_per_event"] for n in names], color=colors)
    ax2.set_xscale("log")
    ax2.set_xlabel("client CPU µs per delivered event (log)")
    ax2.invert_yaxis()
    ax2.set_yticklabels([])
    fig.suptitle(f"{a.events:,}-event flood on loopback ({written}); ours in blue")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(a.chart)), exist_ok=True)
    fig.savefig(a.chart, dpi=110)


if __name__ == "__main__":
    main()
