#!/usr/bin/env bash
# The game-loop example (examples/sdl/chat_overlay.c) in a real X server (Xvfb) against
# a real Directus: Ada's message is in the history, the overlay sends one of Kevin's,
# waits until its own create event is drawn, saves that frame and prints its chat lines.
# A second run gets its message typed into the window (xdotool: key events through the
# X server, Enter sends), and talks wss:// through nginx with a test CA (--ca-pem). Checks the lines and the screenshots (size, not blank, text
# drawn); they are kept as target/sdl/chat_overlay{,_typed}.{bmp,png} for a human.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/sdl
mkdir -p "$out"

need=()
for pkg in libsdl2-dev libsdl2-ttf-dev xvfb xauth xdotool fonts-dejavu-core; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "[test-sdl] installing Debian packages: ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -o DPkg::Lock::Timeout=600 "${need[@]}" >&2
fi

cargo build --lib 2>&1 | tail -n 1 >&2
gcc -std=c11 -Wall -Wextra -Werror -g -O1 -Iinclude $(pkg-config --cflags sdl2 SDL2_ttf) \
  -o "$out/chat_overlay" examples/sdl/chat_overlay.c \
  -Ltarget/debug -ldirectus_chat -Wl,-rpath,"$PWD/target/debug" $(pkg-config --libs sdl2 SDL2_ttf) -lm -lpthread

. scripts/testbed-env.sh
dir="$(mktemp -d)"
trap 'testbed_stop; rm -rf "$dir"' EXIT
testbed_start
testbed_start_tls_proxy

history="history for the overlay $$ $RANDOM"
curl -fsS -X POST -H "Content-Type: application/json" -H "Authorization: Bearer $DCHAT_USER2_TOKEN" \
  -d "{\"text\":\"$history\"}" "$DIRECTUS_URL/items/messages" >/dev/null
sent="sent from the game loop $$"
shot="$dir/overlay.bmp"
rm -f "$out"/chat_overlay*.bmp "$out"/chat_overlay*.png

# A real X server (Xvfb) with a window: the x11 video driver, not SDL's offscreen one.
# Ada types in the room the overlay is in (a client of the Rust example that says it
# types every second): the overlay must show "Ada is typing…" (issue 13).
cargo build -q --example presence_app 2>&1 | tail -n 1 >&2
target/debug/examples/presence_app "$DIRECTUS_WS_URL" "$DCHAT_USER2_TOKEN" general --typing >"$dir/typist.out" 2>/dev/null &
typist=$!
trap 'kill "$typist" 2>/dev/null || true; testbed_stop; rm -rf "$dir"' EXIT
for _ in $(seq 1 200); do grep -q '^entered' "$dir/typist.out" && break; sleep 0.1; done

status=0
SDL_VIDEODRIVER=x11 timeout 120 xvfb-run -a -s "-screen 0 1024x768x24" \
  "$out/chat_overlay" "$DIRECTUS_WS_URL" "$DCHAT_USER1_EMAIL" "$DCHAT_USER1_PASSWORD" \
  --send "$sent" --screenshot "$shot" --frames 3600 --expect-typing "$DCHAT_USER2_NAME" >"$dir/overlay.out" 2>"$dir/overlay.err" || status=$?
kill "$typist" 2>/dev/null || true
cat "$dir/overlay.err" >&2

pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "sdl overlay: $1" >&2; }
check_run() { # name exit-status stdout screenshot expected-line...
  local name="$1" st="$2" stdout="$3" bmp="$4" line; shift 4
  [ "$st" = 0 ] && ok || bad "$name: exit status $st"
  for line in "$@"; do
    grep -qxF "$line" "$stdout" && ok || { bad "$name: missing drawn line '$line' in:"; cat "$stdout" >&2; }
  done
  if [ -f "$bmp" ]; then
    cp "$bmp" "$out/$name.bmp"
    # Size, not blank, text drawn; also writes a PNG copy.
    if python3 scripts/check-screenshot.py "$bmp" 800 600 "$out/$name.png"; then ok; else bad "$name: screenshot check failed"; fi
  else
    bad "$name: no screenshot at $bmp"
  fi
}
check_run chat_overlay "$status" "$dir/overlay.out" "$shot" "$DCHAT_USER2_NAME: $history" "$DCHAT_USER1_NAME: $sent" "$DCHAT_USER2_NAME is typing…"
# The loop did not wait for the network: joining only issued the non-blocking calls, and
# frames were drawn while connecting and logging in.
n="$(sed -n 's/^history shown at frame \([0-9]*\)$/\1/p' "$dir/overlay.err")"
[ "${n:-0}" -ge 1 ] && ok || bad "the history was not shown after some frames (frame '${n}')"
join_ms="$(sed -n 's/^joining took \([0-9]*\) ms$/\1/p' "$dir/overlay.err")"
[ -n "$join_ms" ] && [ "$join_ms" -lt 50 ] && ok || bad "joining took '${join_ms}' ms before the first frame"

# Typed by a "user", over wss:// through nginx: once the history is on screen, xdotool
# focuses the window and types.
typed="typed into the overlay $$"
status=0
SDL_VIDEODRIVER=x11 timeout 120 xvfb-run -a -s "-screen 0 1024x768x24" bash -c '
  out="$1" err="$2" typed="$3"; shift 3
  "$@" >"$out" 2>"$err" & app=$!
  for i in $(seq 1 600); do grep -q "^history shown" "$err" && break; kill -0 "$app" 2>/dev/null || break; sleep 0.1; done
  win="$(xdotool search --sync --name "directus-chat overlay" | head -n 1)"
  xdotool windowfocus --sync "$win" && xdotool type --delay 10 "$typed" && xdotool key Return
  wait "$app"
' _ "$dir/typed.out" "$dir/typed.err" "$typed" \
  "$out/chat_overlay" "$PROXY_WSS_URL" "$DCHAT_USER1_EMAIL" "$DCHAT_USER1_PASSWORD" --ca-pem "$PROXY_CA_PEM" \
  --expect "$typed" --screenshot "$dir/typed.bmp" --frames 3600 || status=$?
cat "$dir/typed.err" >&2
check_run chat_overlay_typed "$status" "$dir/typed.out" "$dir/typed.bmp" \
  "$DCHAT_USER2_NAME: $history" "$DCHAT_USER1_NAME: $sent" "$DCHAT_USER1_NAME: $typed"
grep -q '"GET /websocket HTTP/1.1" 101' "$PROXY_ACCESS_LOG" && ok || bad "the typed run did not go through nginx"
echo "sdl_overlay: $pass passed, $fail failed"
[ "$fail" = 0 ]
