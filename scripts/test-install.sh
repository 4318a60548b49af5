#!/usr/bin/env bash
# Installs the library like a C library (scripts/install.sh) into a temporary prefix and
# builds consumers out of tree against it, with nothing of the source tree in sight:
#   - examples/c/chat.c with pkg-config, against the shared library;
#   - the same with `pkg-config --static`, from a prefix holding only the static library;
#   - a CMake project (tests/install) with find_package(directus_chat): the C example on
#     the shared target, the C++ example on the static target; find_package with a
#     version this release does not satisfy must fail; a moved copy of the tree works.
# Each binary is run against a real Directus like a user: Ada's message must be in the
# history it prints, and the line typed into it must come back as Kevin's message.
#   scripts/test-install.sh [PREFIX]   (PREFIX is kept; default: a temporary one)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/testbed-env.sh
work="$(mktemp -d)"
trap 'testbed_stop; rm -rf "$work"' EXIT
prefix="${1:-$work/prefix}"
case "$prefix" in /*) ;; *) prefix="$PWD/$prefix" ;; esac
for pair in cmake:cmake pkg-config:pkg-config readelf:binutils; do
  command -v "${pair%%:*}" >/dev/null || {
    echo "[test-install] installing ${pair#*:}" >&2
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${pair#*:}" >&2
  }
done

pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "test-install: FAILED: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$1"; fi; }
# (No `cmd | grep -q` below: under pipefail, grep quitting early can fail the pipeline.)
# The dynamic dependency of a binary on the library, as the loader resolves it.
resolved() { ldd "$1" | awk '/libdirectus_chat/ { print $1, $3 }'; }

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
scripts/install.sh --prefix "$prefix"
lib="$prefix/lib"
check '[ -f "$lib/libdirectus_chat.so.$version" ] && [ -L "$lib/libdirectus_chat.so.0.1" ] && [ -L "$lib/libdirectus_chat.so" ]'
check '[ "$(readlink "$lib/libdirectus_chat.so")" = libdirectus_chat.so.0.1 ]'
check 'readelf -d "$lib/libdirectus_chat.so.$version" | grep "SONAME.*\[libdirectus_chat.so.0.1\]" >/dev/null'
check '[ -f "$lib/libdirectus_chat.a" ] && [ -f "$prefix/include/directus_chat.h" ] && [ -f "$prefix/include/directus_chat.hpp" ]'
check 'cmp -s include/directus_chat.h "$prefix/include/directus_chat.h"'
check '[ -f "$lib/cmake/directus_chat/directus_chatConfig.cmake" ] && [ -f "$lib/cmake/directus_chat/directus_chatConfigVersion.cmake" ]'
# Exported symbols: the C API, nothing else.
check 'nm -D --defined-only "$lib/libdirectus_chat.so.$version" | grep " T dchat_set_log_callback$" >/dev/null'
check '[ "$(nm -D --defined-only "$lib/libdirectus_chat.so.$version" | awk "\$2 == \"T\" && \$3 !~ /^dchat_/" | wc -l)" -eq 0 ]'

# A second prefix with only the static library, as for a fully static build.
static_prefix="$work/static-prefix"
scripts/install.sh --prefix "$static_prefix" 2>/dev/null
rm -f "$static_prefix"/lib/libdirectus_chat.so*

src="$work/src"
mkdir -p "$src"
cp examples/c/chat.c examples/cpp/chat.cpp tests/install/CMakeLists.txt "$src/"

pc() { PKG_CONFIG_PATH="$1/lib/pkgconfig" pkg-config "${@:2}"; }
check '[ "$(pc "$prefix" --modversion directus_chat)" = "$version" ]'
check '[[ " $(pc "$prefix" --static --libs directus_chat) " == *" -lpthread "* ]]'
# shellcheck disable=SC2046
gcc -std=c11 -Wall -Wextra -Werror -o "$work/chat_pc" "$src/chat.c" $(pc "$prefix" --cflags --libs directus_chat) \
  -Wl,-rpath,"$(pc "$prefix" --variable=libdir directus_chat)" -lpthread && ok || bad "pkg-config shared build"
# shellcheck disable=SC2046
gcc -std=c11 -Wall -Wextra -Werror -o "$work/chat_pc_static" "$src/chat.c" $(pc "$static_prefix" --static --cflags --libs directus_chat) \
  && ok || bad "pkg-config static build"
check '[ "$(resolved "$work/chat_pc")" = "libdirectus_chat.so.0.1 $lib/libdirectus_chat.so.0.1" ] || { resolved "$work/chat_pc" >&2; false; }'
check '[ -z "$(resolved "$work/chat_pc_static")" ]'

build="$work/build"
cmake -S "$src" -B "$build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >"$work/cmake.log" 2>&1 \
  && cmake --build "$build" -j 2 >>"$work/cmake.log" 2>&1 && ok || { bad "CMake build"; cat "$work/cmake.log" >&2; }
check '[ "$(resolved "$build/chat_c")" = "libdirectus_chat.so.0.1 $lib/libdirectus_chat.so.0.1" ]'
check '[ -z "$(resolved "$build/chat_cpp")" ]'
# The CMake config finds its files relative to itself: a moved tree still works.
moved="$work/moved-prefix"
cp -a "$prefix" "$moved"
cmake -S "$src" -B "$work/build-moved" -DCMAKE_PREFIX_PATH="$moved" >"$work/cmake-moved.log" 2>&1 \
  && cmake --build "$work/build-moved" --target chat_c >>"$work/cmake-moved.log" 2>&1 && ok || { bad "CMake build against a moved prefix"; cat "$work/cmake-moved.log" >&2; }
check '[ "$(resolved "$work/build-moved/chat_c")" = "libdirectus_chat.so.0.1 $moved/lib/libdirectus_chat.so.0.1" ]'
# pkg-config too, with --define-prefix (the .pc file's paths are relative to its prefix).
check '[ "$(pc "$moved" --define-prefix --cflags --libs directus_chat | xargs)" = "-I$moved/include -L$moved/lib -ldirectus_chat" ]'
# The version file: 0.x satisfies 0.x only; without a version anything goes.
for want in 0.2 1.0; do
  if cmake -S "$src" -B "$work/build-$want" -DCMAKE_PREFIX_PATH="$prefix" -DDCHAT_WANT_VERSION="$want" >"$work/cmake-$want.log" 2>&1; then
    bad "find_package(directus_chat $want) accepted version $version"
  else ok; fi
done
check 'cmake -S "$src" -B "$work/build-any" -DCMAKE_PREFIX_PATH="$prefix" -DDCHAT_WANT_VERSION="" >"$work/cmake-any.log" 2>&1'

# Each binary, driven like a user against the real server.
testbed_start
drive() { # label binary [own-mark]: the C example marks one's own lines " (you)"
  local label="$1" bin="$2" mark="${3:-}" history typed out="$work/$1.out"
  history="history for the $label build $$ $RANDOM"
  typed="typed into the $label build $$ $RANDOM"
  curl -fsS -X POST -H "Content-Type: application/json" -H "Authorization: Bearer $DCHAT_USER2_TOKEN" \
    -d "{\"text\":\"$history\"}" "$DIRECTUS_URL/items/messages" >/dev/null
  { printf '%s\n' "$typed"; sleep 2; printf '/quit\n'; } \
    | timeout 60 "$bin" "$DIRECTUS_WS_URL" "$DCHAT_USER1_EMAIL" "$DCHAT_USER1_PASSWORD" >"$out" 2>&1 || true
  if grep -qxF "$DCHAT_USER2_NAME: $history" "$out" && grep -qxF "$DCHAT_USER1_NAME$mark: $typed" "$out"; then ok
  else bad "the $label build did not chat:"; cat "$out" >&2; fi
}
drive pkg-config-shared "$work/chat_pc" " (you)"
drive pkg-config-static "$work/chat_pc_static" " (you)"
drive cmake-c-shared "$build/chat_c" " (you)"
drive cmake-cpp-static "$build/chat_cpp"

echo "chat_test install: $pass passed, $fail failed"
[ "$fail" = 0 ]
