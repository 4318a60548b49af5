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

# The header's declarations for ffi.cdef (scripts/lua-cdef.sh: preprocessed from the
# committed header, plus its version macros as constants).
cdef="$work/directus_chat.cdef"
scripts/lua-cdef.sh "$cdef"

testbed_start
export LUA_TEST_HISTORY="history for LuaJIT $$ $RANDOM"
curl -fsS -X POST -H "Content-Type: application/json" -H "Authorization: Bearer $DCHAT_USER2_TOKEN" \
  -d "{\"text\":\"$LUA_TEST_HISTORY\"}" "$DIRECTUS_URL/items/messages" >/dev/null
timeout 120 luajit tests/lua/chat_test.lua "$cdef" "$lib"
