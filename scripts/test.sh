#!/usr/bin/env bash
# Runs every test of the project. This is the README's test command and what CI runs.
#   - Rust unit tests (protocol, session pieces) and integration tests against a real
#     Directus that the tests start and stop themselves;
#   - the C ABI tests (callback and poll mode) and the C example;
#   - a short fuzz run of the protocol decoder (scripts/fuzz.sh runs the long one);
#   - the game hosts: the SDL overlay, the C# bindings on Mono, the LÖVE overlay;
#   - the schema kit on fresh Directus 10.13.4, 11.17.4 and 12.4.0 (scripts/test-schema-kit.sh);
#   - the Python package: pip install, mypy --strict, pytest (blocking and asyncio);
#   - cargo fmt --check and cargo clippy -D warnings over the whole workspace;
#   - in CI, a check that the committed C header matches a fresh one.
set -euo pipefail
cd "$(dirname "$0")/.."
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

scripts/bootstrap.sh
# The older Directus releases (version tests, schema kit) install in the background,
# overlapping the build and the first suites (each install holds its own lock, so a
# suite that needs one before it is done simply waits for it).
install_log="$(mktemp)"
trap 'rm -f "$log" "$log.clippy" "$log.build" "$install_log"' EXIT
( for v in 10.13.4 11.17.4; do DIRECTUS_VERSION=$v scripts/directus-install.sh >/dev/null || echo "install of $v failed"; done ) >"$install_log" 2>&1 &
install_job=$!

echo "== cargo fmt --check, cargo clippy -D warnings (every crate of the workspace)" >&2
if cargo fmt --all --check >/dev/null 2>&1; then echo "lint fmt: 1 passed, 0 failed" | tee -a "$log"
else echo "lint fmt: 0 passed, 1 failed" | tee -a "$log"; cargo fmt --all --check 2>&1 | head -n 40 >&2; fi
if cargo clippy --workspace --all-targets -- -D warnings 2>"$log.clippy"; then echo "lint clippy: 1 passed, 0 failed" | tee -a "$log"
else echo "lint clippy: 0 passed, 1 failed" | tee -a "$log"; grep -E -A8 "^(error|warning)" "$log.clippy" | head -n 60 >&2; fi
rm -f "$log.clippy"

echo "== cargo build" >&2
# The debug builds and the test servers take several GiB (the build of every target alone
# about 2.3); a disk that cannot hold them fails at link time with a one-line error, so
# say how much room there is up front, and print the compiler's own errors (not just its
# last lines) when the build fails.
free_kib="$(df -Pk . | awk 'NR == 2 { print $4 }')"
if [ "${free_kib:-0}" -lt $((8 * 1024 * 1024)) ]; then
  echo "warning: only $((free_kib / 1024)) MiB free on $(df -P . | awk 'NR == 2 { print $6 }'); the build and the test servers need about 8 GiB" >&2
fi
if ! cargo build --workspace --all-targets >"$log.build" 2>&1; then
  grep -E -B2 -A14 "^error" "$log.build" | head -n 120 >&2
  df -h . >&2
  rm -f "$log.build"
  exit 101
fi
tail -n 1 "$log.build"
rm -f "$log.build"
if [ "${CI:-}" = "true" ]; then
  echo "== header check" >&2
  git diff --exit-code -- include/directus_chat.h || { echo "include/directus_chat.h differs from a fresh cbindgen run: commit the regenerated header" >&2; exit 1; }
fi

echo "== cargo test" >&2
cargo test --all-targets -- --test-threads 4 2>&1 | tee -a "$log"

echo "== C ABI tests" >&2
scripts/test-c.sh 2>&1 | tee -a "$log"

echo "== hosts: install (pkg-config, CMake), C log hook, C++, LuaJIT, API docs" >&2; scripts/test-hosts.sh 2>&1 | tee -a "$log"

echo "== the README's demo command, driven like a user" >&2
demo_out="$(mktemp)"
{ sleep 15; echo "hello from the demo $$"; sleep 3; echo /quit; } | timeout 180 scripts/demo.sh >"$demo_out" 2>/dev/null
if grep -qxF "Kevin (you): hello from the demo $$" "$demo_out"; then echo "demo: 1 passed, 0 failed" | tee -a "$log"
else echo "demo: 0 passed, 1 failed" | tee -a "$log"; cat "$demo_out" >&2; fi
rm -f "$demo_out"

echo "== the SDL game-loop example under Xvfb" >&2; scripts/test-sdl.sh 2>&1 | tee -a "$log"
echo "== the C# bindings on Mono (Unity / Godot-Mono plugin loading)" >&2; scripts/test-csharp.sh 2>&1 | tee -a "$log"
echo "== the LÖVE chat overlay under Xvfb" >&2; scripts/test-love.sh 2>&1 | tee -a "$log"
echo "== wss:// through nginx with a test CA, from C" >&2; scripts/test-nginx.sh 2>&1 | tee -a "$log"

echo "== a short fuzz run of the protocol decoder" >&2
scripts/fuzz.sh 200000 2>&1 | tee -a "$log"

echo "== the schema kit on fresh Directus 10.13.4, 11.17.4 and 12.4.0 (raw REST and WebSocket)" >&2
wait "$install_job" || true
cat "$install_log" >&2
scripts/test-schema-kit.sh 2>&1 | tee -a "$log"

echo "== Python tests" >&2
scripts/test-python.sh 2>&1 | tee -a "$log"

echo "== a quick run of the benchmark harness (scripts/bench.sh --smoke)" >&2
scripts/bench.sh --smoke 2>&1 | tee -a "$log" || echo "bench smoke: 0 passed, 1 failed" | tee -a "$log"

# One closing line over every suite.
awk '
  /^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
  /^(chat_test [a-z]+|demo|lint [a-z]+): [0-9]+ passed, [0-9]+ failed$/ { p += $(NF-3); f += $(NF-1) }
  /^(sdl_overlay|csharp|love): [0-9]+ passed, [0-9]+ failed$/ { p += $2; f += $4 }
  /^fuzz: [0-9]+ passed, [0-9]+ failed/ { p += $2; f += $4 }
  /^bench smoke: [0-9]+ passed, [0-9]+ failed$/ { p += $3; f += $5 }
  /^schema_kit: [0-9]+ passed, [0-9]+ failed$/ { p += $2; f += $4 }
  /^([0-9]+ failed, )?[0-9]+ passed.* in [0-9.]+s/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed/) p += $(i-1); if ($(i) ~ /^failed/) f += $(i-1) } }
  END { printf "all suites: %d passed, %d failed\n", p, f; exit (f > 0) }
' "$log"
