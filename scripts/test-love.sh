#!/usr/bin/env bash
# The LÖVE chat overlay (examples/love, Debian's love 11.4 with LuaJIT) in a real X
# server (Xvfb) against a real Directus behind a proxy that delays every chunk by 1 s
# (tests/support/delay_proxy.py), so that any call waiting for the server would freeze
# frames for seconds: love.load must only issue the non-blocking calls (it prints how
# long joining took) and frames must go on while the server answers (the history is
# drawn only after 60 frames or more). Ada's message is in the history; the game sends
# one of Kevin's (--send, the same path as Enter) and gets another typed into its window
# by xdotool (key events through the X server: love.textinput, Enter sends); once both
# are drawn it saves that frame (love.graphics.captureScreenshot) and prints its chat
# lines. Checks the lines and the PNG (size, not blank, text drawn) and keeps it as
# target/love/chat_overlay.png.
#   scripts/test-love.sh [LIBRARY]   (default: target/debug/libdirectus_chat.so, built here)
# Prints `love: N passed, M failed`.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/love
mkdir -p "$out"

need=()
for pkg in love xvfb xauth xdotool fonts-dejavu-core; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "[test-love] installing Debian packages: ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${need[@]}" >&2
fi
lib="${1:-}"
if [ -z "$lib" ]; then
  cargo build --lib 2>&1 | tail -n 1 >&2
  lib="$PWD/target/debug/libdirectus_chat.so"
fi

. scripts/testbed-env.sh
dir="$(mktemp -d)"
trap 'testbed_stop; rm -rf "$dir"' EXIT
cdef="$dir/directus_chat.cdef"
scripts/lua-cdef.sh "$cdef"
testbed_start
upstream="${DIRECTUS_WS_URL#*://}"; upstream="${upstream%%/*}"
python3 tests/support/delay_proxy.py --listen 0 --upstream "$upstream" --delay 1 --watch-pid $$ >"$dir/slow.out" &
for _ in $(seq 1 100); do grep -q '^listening' "$dir/slow.out" && break; sleep 0.1; done
slow_url="ws://127.0.0.1:$(awk '/^listening/ { print $2 }' "$dir/slow.out")/websocket"

history="history for LÖVE $$ $RANDOM"
curl -fsS -X POST -H "Content-Type: application/json" -H "Authorization: Bearer $DCHAT_USER2_TOKEN" \
  -d "{\"text\":\"$history\"}" "$DIRECTUS_URL/items/messages" >/dev/null
sent="sent from LÖVE é $$"
typed="typed into LOVE $$"
shot="$dir/overlay.png"
rm -f "$out/chat_overlay.png"

# Once the history is on screen, xdotool focuses the window and types a line.
status=0
timeout 150 xvfb-run -a -s "-screen 0 1024x768x24" bash -c '
  out="$1" err="$2" typed="$3"; shift 3
  "$@" >"$out" 2>"$err" & app=$!
  for i in $(seq 1 600); do grep -q "^history shown" "$err" && break; kill -0 "$app" 2>/dev/null || break; sleep 0.1; done
  if win="$(timeout 20 xdotool search --sync --name "directus-chat love overlay" | head -n 1)" && [ -n "$win" ]; then
    xdotool windowfocus --sync "$win" && xdotool type --delay 10 "$typed" && xdotool key Return
  fi
  wait "$app"
' _ "$dir/love.out" "$dir/love.err" "$typed" \
  love examples/love --lib "$lib" --cdef "$cdef" "$slow_url" "$DCHAT_USER1_EMAIL" "$DCHAT_USER1_PASSWORD" \
  --send "$sent" --expect "$typed" --screenshot "$shot" --quit-after 90 || status=$?
cat "$dir/love.err" >&2

pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "love: $1" >&2; }
[ "$status" = 0 ] && ok || bad "exit status $status"
for line in "$DCHAT_USER2_NAME: $history" "$DCHAT_USER1_NAME: $sent" "$DCHAT_USER1_NAME: $typed"; do
  grep -qxF "$line" "$dir/love.out" && ok || { bad "missing drawn line '$line' in:"; cat "$dir/love.out" >&2; }
done
# Nothing waited: joining only issued requests, and frames went on while they completed.
join_ms="$(sed -n 's/^join took \([0-9.]*\) ms$/\1/p' "$dir/love.err")"
awk -v ms="${join_ms:-999999}" 'BEGIN { exit !(ms < 50) }' && ok || bad "love.load's join took '${join_ms}' ms"
n="$(sed -n 's/^history shown at frame \([0-9]*\)$/\1/p' "$dir/love.err")"
[ "${n:-0}" -ge 60 ] && ok || bad "the history was drawn at frame '${n}', not after frames went on while the server answered"
if [ -f "$shot" ]; then
  cp "$shot" "$out/chat_overlay.png"
  # Size, not blank, text drawn.
  if python3 scripts/check-screenshot.py "$shot" 800 600; then ok; else bad "screenshot check failed"; fi
else
  bad "no screenshot at $shot"
fi
echo "love: $pass passed, $fail failed"
[ "$fail" = 0 ]
