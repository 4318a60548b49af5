#!/usr/bin/env bash
# The C# bindings (bindings/csharp) on Debian's Mono, the way Unity and Godot-Mono load a
# native plugin ([DllImport("directus_chat")]), against a real Directus:
#   - the P/Invoke declarations match the committed header (names, argument and return
#     types, version; scripts/check-csharp-bindings.py);
#   - the wrapper compiles as a library with warnings as errors and full XML docs;
#   - the game-loop example (examples/csharp/ChatLoop.cs) joins the chat, shows the
#     history, sends and sees its own message;
#   - bindings/csharp/tests/ChatTest.cs: logins, history, send, errors with their Directus
#     codes, Poll bounds, Dispose and the finalizer, no leaks;
#   - each Mono process exits by itself (Mono 6.8 waits at exit for native threads that
#     ever entered managed code; the wrapper never lets one).
#   scripts/test-csharp.sh [LIBRARY]   (default: target/debug/libdirectus_chat.so, built here)
# Prints `csharp: N passed, M failed`; keeps the built assemblies in target/csharp/.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/testbed-env.sh
work="$(mktemp -d)"
trap 'testbed_stop; rm -rf "$work"' EXIT

if ! command -v mcs >/dev/null || ! command -v mono >/dev/null; then
  echo "[test-csharp] installing mono-mcs mono-runtime" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq mono-mcs mono-runtime >&2
fi
lib="${1:-}"
if [ -z "$lib" ]; then
  cargo build --lib 2>&1 | tail -n 1 >&2
  lib="$PWD/target/debug/libdirectus_chat.so"
fi
# DllImport("directus_chat") looks for libdirectus_chat.so on the library path.
libdir="$work/lib"
mkdir -p "$libdir"
ln -s "$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")" "$libdir/libdirectus_chat.so"

pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "csharp: $1" >&2; }

cdef="$work/directus_chat.cdef"
scripts/lua-cdef.sh "$cdef"
if python3 scripts/check-csharp-bindings.py "$cdef" bindings/csharp/DirectusChat/NativeMethods.cs >&2; then ok; else bad "the P/Invoke declarations do not match the header"; fi
header_version="$(awk '/^enum \{ DCHAT_VERSION_MAJOR/ { M = $5 } /^enum \{ DCHAT_VERSION_MINOR/ { m = $5 } /^enum \{ DCHAT_VERSION_PATCH/ { p = $5 }
  END { print M * 65536 + m * 256 + p }' "$cdef")"

out=target/csharp
mkdir -p "$out"
if mcs -target:library -warnaserror -doc:"$out/DirectusChat.xml" -out:"$out/DirectusChat.dll" bindings/csharp/DirectusChat/*.cs >&2 \
   && mcs -warnaserror -r:"$out/DirectusChat.dll" -out:"$out/DirectusChatTests.exe" bindings/csharp/tests/ChatTest.cs >&2 \
   && mcs -warnaserror -r:"$out/DirectusChat.dll" -out:"$out/ChatLoop.exe" examples/csharp/ChatLoop.cs >&2; then ok
else
  bad "compiling failed"
  echo "csharp: $pass passed, $((fail+1)) failed"; exit 1
fi

testbed_start
# The nowait part of the test talks through a proxy that delays every chunk by 1 s (it
# ends with this script through --watch-pid).
upstream="${DIRECTUS_WS_URL#*://}"; upstream="${upstream%%/*}"
python3 tests/support/delay_proxy.py --listen 0 --upstream "$upstream" --delay 1 --watch-pid $$ >"$work/slow.out" &
for _ in $(seq 1 100); do grep -q '^listening' "$work/slow.out" && break; sleep 0.1; done
export DCHAT_SLOW_WS_URL="ws://127.0.0.1:$(awk '/^listening/ { print $2 }' "$work/slow.out")/websocket"
export CSHARP_TEST_HISTORY="history for C# $$ $RANDOM"
curl -fsS -X POST -H "Content-Type: application/json" -H "Authorization: Bearer $DCHAT_USER2_TOKEN" \
  -d "{\"text\":\"$CSHARP_TEST_HISTORY\"}" "$DIRECTUS_URL/items/messages" >/dev/null
export CSHARP_HEADER_VERSION="$header_version"

# Runs mono with a deadline (status 124 when it had to be killed).
run_mono() { # stdout stderr args...
  local stdout="$1" stderr="$2"; shift 2
  local st=0
  LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" timeout -k 5 120 mono --debug "$@" >"$stdout" 2>"$stderr" </dev/null || st=$?
  cat "$stderr" >&2
  return "$st"
}

echo "== the game-loop example" >&2
sent="sent from the C# game loop $$ ✓"
st=0; run_mono "$work/loop.out" "$work/loop.err" "$out/ChatLoop.exe" "$DIRECTUS_WS_URL" "$DCHAT_USER1_EMAIL" "$DCHAT_USER1_PASSWORD" \
  --send "$sent" --frames 3600 || st=$?
[ "$st" = 0 ] && ok || bad "ChatLoop exit status $st"
for line in "$DCHAT_USER2_NAME: $CSHARP_TEST_HISTORY" "$DCHAT_USER1_NAME: $sent"; do
  grep -qxF "$line" "$work/loop.out" && ok || { bad "ChatLoop did not print '$line':"; cat "$work/loop.out" >&2; }
done

echo "== the wrapper's test" >&2
st=0; run_mono "$work/test.out" "$work/test.err" "$out/DirectusChatTests.exe" || st=$?
cat "$work/test.out"
read -r tp tf < <(sed -n 's/^chat test: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$work/test.out") || true
if [ -n "${tp:-}" ]; then pass=$((pass+tp)); fail=$((fail+tf)); else bad "ChatTest printed no summary"; fi
if [ "$st" = 0 ]; then ok
elif [ "$st" = 124 ] && [ -n "${tp:-}" ]; then bad "ChatTest finished but Mono did not exit (a thread it waits for at exit?)"
else bad "ChatTest exit status $st"; fi

echo "csharp: $pass passed, $fail failed"
[ "$fail" = 0 ]
