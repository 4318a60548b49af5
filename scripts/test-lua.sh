#!/usr/bin/env bash
# LuaJIT through the C ABI alone: declares the API to LuaJIT's FFI from the committed
# header (preprocessed, so the declarations cannot drift from it) and runs
# tests/lua/chat_test.lua against a real Directus.
#   scripts/test-lua.sh [LIBRARY]   (default: target/debug/libdirectus_chat.so, built here)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/testbed-env.sh
work="$(mktemp -d)"
trap 'testbed_stop; rm -rf "$work"' EXIT
command -v luajit >/dev/null || {
  echo "[test-lua] installing luajit" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq luajit >&2
}
lib="${1:-}"
if [ -z "$lib" ]; then
  cargo build --lib 2>&1 | tail -n 1 >&2
  lib="$PWD/target/debug/libdirectus_chat.so"
fi

# The header's declarations with its system includes left out (LuaJIT knows the
# standard types), plus its version macros as constants LuaJIT can read.
mkdir -p "$work/stub"
touch "$work/stub/stdbool.h" "$work/stub/stddef.h" "$work/stub/stdint.h"
cdef="$work/directus_chat.cdef"
gcc -E -P -nostdinc -I"$work/stub" -x c include/directus_chat.h >"$cdef"
gcc -E -dM -nostdinc -I"$work/stub" -x c include/directus_chat.h \
  | awk '$1 == "#define" && $2 ~ /^DCHAT_VERSION_(MAJOR|MINOR|PATCH)$/ { printf "enum { %s = %s };\n", $2, $3 }' >>"$cdef"
[ "$(grep -c '^enum { DCHAT_VERSION_' "$cdef")" = 3 ] || { echo "[test-lua] version macros not found in the header" >&2; exit 1; }

testbed_start
export LUA_TEST_HISTORY="history for LuaJIT $$ $RANDOM"
curl -fsS -X POST -H "Content-Type: application/json" -H "Authorization: Bearer $DCHAT_USER2_TOKEN" \
  -d "{\"text\":\"$LUA_TEST_HISTORY\"}" "$DIRECTUS_URL/items/messages" >/dev/null
timeout 120 luajit tests/lua/chat_test.lua "$cdef" "$lib"
