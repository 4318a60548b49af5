#!/usr/bin/env bash
# The game-loop example (examples/sdl/chat_overlay.c) in a real X server (Xvfb) against
# a real Directus: Ada's message is in the history, the overlay sends one of Kevin's,
# waits until its own create event is drawn, saves that frame and prints its chat lines.
# Checks the lines and the screenshot (size, not blank, text drawn); the screenshot is
# kept as target/sdl/chat_overlay.{bmp,png} for a human to look at.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/sdl
mkdir -p "$out"

need=()
for pkg in libsdl2-dev libsdl2-ttf-dev xvfb xauth fonts-dejavu-core; do
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

dir="$(mktemp -d)"
trap 'scripts/directus.sh stop "$dir"; rm -rf "$dir"' EXIT
scripts/directus.sh start "$dir" --watch-pid $$ >"$dir/env.txt"
set -a; . "$dir/env.txt"; set +a

history="history for the overlay $$ $RANDOM"
curl -fsS -X POST -H "Content-Type: application/json" -H "Authorization: Bearer $DCHAT_USER2_TOKEN" \
  -d "{\"text\":\"$history\"}" "$DIRECTUS_URL/items/messages" >/dev/null
sent="sent from the game loop $$"
shot="$dir/overlay.bmp"
rm -f "$out/chat_overlay.bmp" "$out/chat_overlay.png"

# A real X server (Xvfb) with a window: the x11 video driver, not SDL's offscreen one.
status=0
SDL_VIDEODRIVER=x11 timeout 120 xvfb-run -a -s "-screen 0 1024x768x24" \
  "$out/chat_overlay" "$DIRECTUS_WS_URL" "$DCHAT_USER1_EMAIL" "$DCHAT_USER1_PASSWORD" \
  --send "$sent" --screenshot "$shot" --frames 3600 >"$dir/overlay.out" 2>"$dir/overlay.err" || status=$?
cat "$dir/overlay.err" >&2

pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "sdl overlay: $1" >&2; }
[ "$status" = 0 ] && ok || bad "exit status $status"
for line in "$DCHAT_USER2_NAME: $history" "$DCHAT_USER1_NAME: $sent"; do
  grep -qxF "$line" "$dir/overlay.out" && ok || { bad "missing drawn line '$line' in:"; cat "$dir/overlay.out" >&2; }
done
if [ -f "$shot" ]; then
  cp "$shot" "$out/chat_overlay.bmp"
  # Size, not blank, text drawn; also writes a PNG copy.
  if python3 scripts/check-screenshot.py "$shot" 800 600 "$out/chat_overlay.png"; then ok; else bad "screenshot check failed"; fi
else
  bad "no screenshot at $shot"
fi
echo "sdl_overlay: $pass passed, $fail failed"
[ "$fail" = 0 ]
