"""Puts the rows of a partial benchmark run (`scripts/bench.sh --only roundtrip`) in place
of the same kinds of rows in the results of the last full run, and notes in the meta line
what was re-run when. Prints the merged JSON lines.

Results written before the meta line existed get one made from what they hold (the flood
size and rounds from the flood rows) and from the BENCHMARKS.md they produced (the date,
the machine and the @directus/sdk version), so the report keeps saying what the full run
was.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from typing import Any, Dict, List


def machine_of(md: str) -> List[str]:
    """The machine lines of a BENCHMARKS.md (CPU, memory, compilers)."""
    return [l for l in md.splitlines() if re.match(r"- (CPU|memory|rustc|Python)[: ]", l)]


def meta_of(rows: List[Dict[str, Any]], benchmarks: str) -> Dict[str, Any]:
    flood = [r["result"] for r in rows if r.get("kind") == "flood" and "result" in r]
    raw_rounds = sum(1 for r in flood if r.get("client", "").startswith("raw"))
    md = open(benchmarks).read() if os.path.exists(benchmarks) else ""
    date = re.search(r"Written by `scripts/bench.sh` on ([^.(]+?)(?: \(|\.)", md)
    sdk = re.search(r"@directus/sdk (\S+?)\s*$", md, re.M)
    profile = re.search(r"- build: (\w+)", md)
    return {
        "kind": "meta",
        "machine": machine_of(md),
        "date": date.group(1).strip() if date else "?",
        "events": flood[0]["sent"] if flood else 0,
        "repeat": raw_rounds or 1,
        "profile": profile.group(1) if profile else "release",
        "sdk_version": sdk.group(1) if sdk else "?",
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kept", required=True, help="results of the last full run")
    ap.add_argument("--new", required=True, help="results of this partial run")
    ap.add_argument("--kinds", required=True, help="comma-separated kinds this run replaces")
    ap.add_argument("--what", required=True, help="what was re-run, for the report")
    ap.add_argument("--date", required=True)
    ap.add_argument("--benchmarks", required=True, help="BENCHMARKS.md of the last full run")
    ap.add_argument("--only", required=True, help="the --only argument of scripts/bench.sh, for the report")
    a = ap.parse_args()

    kinds = set(a.kinds.split(","))
    # Kept rows are copied as they are (a small diff), parsed only to be sorted out.
    kept = [(l.rstrip("\n"), json.loads(l)) for l in open(a.kept) if l.strip()] if os.path.exists(a.kept) else []
    new = [l.rstrip("\n") for l in open(a.new) if l.strip()]
    meta = next((r for _, r in kept if r.get("kind") == "meta"), None) or meta_of([r for _, r in kept], a.benchmarks)
    if "machine" not in meta and os.path.exists(a.benchmarks):
        # The full run's machine, not this one's: most rows are from there.
        meta["machine"] = machine_of(open(a.benchmarks).read())
    # A later rerun of the same rows replaces the note of an earlier one.
    reruns = [r for r in meta.get("reruns", []) if not set(r.get("kinds", [])) <= kinds]
    meta["reruns"] = reruns + [{"what": a.what, "date": a.date, "only": a.only, "kinds": sorted(kinds)}]
    print(json.dumps(meta))
    for line in [l for l, r in kept if r.get("kind") != "meta" and r.get("kind") not in kinds] + new:
        print(line)


if __name__ == "__main__":
    main()
