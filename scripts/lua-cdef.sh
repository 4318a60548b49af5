#!/usr/bin/env bash
# Writes the C API's declarations for LuaJIT's ffi.cdef (and other FFI parsers) from the
# committed header, so they cannot drift from it:
#   scripts/lua-cdef.sh OUT_FILE
# The header is preprocessed with its system includes left out (LuaJIT knows the
# standard types), and its version macros are appended as constants LuaJIT can read
# (`enum { DCHAT_VERSION_MAJOR = 0 };`). Used by scripts/test-lua.sh, the LÖVE example
# (examples/love) and the C# bindings check.
set -euo pipefail
header="$(cd "$(dirname "$0")/.." && pwd)/include/directus_chat.h"
out="${1:?usage: scripts/lua-cdef.sh OUT_FILE}"
stub="$(mktemp -d)"
trap 'rm -rf "$stub"' EXIT
touch "$stub/stdbool.h" "$stub/stddef.h" "$stub/stdint.h"
gcc -E -P -nostdinc -I"$stub" -x c "$header" >"$out.tmp"
gcc -E -dM -nostdinc -I"$stub" -x c "$header" \
  | awk '$1 == "#define" && $2 ~ /^DCHAT_VERSION_(MAJOR|MINOR|PATCH)$/ { printf "enum { %s = %s };\n", $2, $3 }' >>"$out.tmp"
[ "$(grep -c '^enum { DCHAT_VERSION_' "$out.tmp")" = 3 ] || { echo "[lua-cdef] version macros not found in the header" >&2; rm -f "$out.tmp"; exit 1; }
mv "$out.tmp" "$out"
