#!/usr/bin/env bash
# Every host of the C ABI, against one real Directus started here (stopped on exit):
#   - install like a C library and build consumers out of tree (scripts/test-install.sh);
#   - the C log callback (tests/c/log_test.c, also under AddressSanitizer),
#     the C++ wrapper's chat test (tests/cpp/chat_test.cpp, -Wall -Wextra -Werror, then
#     under AddressSanitizer) and LuaJIT (scripts/test-lua.sh), all built against that
#     installed library;
#   - the API reference: `cargo doc --no-deps` with warnings as errors.
# Each part prints a `chat_test NAME: N passed, M failed` line; the script fails if any
# part failed, after running them all.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/testbed-env.sh
work="$(mktemp -d)"
trap 'testbed_stop; rm -rf "$work"' EXIT
testbed_start

status=0
prefix="$work/prefix"
echo "== install like a C library, consumers out of tree" >&2
scripts/test-install.sh "$prefix" || status=1

pc=(env PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config)
libdir="$("${pc[@]}" --variable=libdir directus_chat)"
read -r -a flags <<<"$("${pc[@]}" --cflags --libs directus_chat) -Wl,-rpath,$libdir -lpthread"
out="$work/bin"
mkdir -p "$out"

echo "== C log callback" >&2
if gcc -std=c11 -Wall -Wextra -Werror -g -o "$out/log_test" tests/c/log_test.c "${flags[@]}" \
   && gcc -std=c11 -Wall -Wextra -Werror -g -fsanitize=address -fno-omit-frame-pointer -o "$out/log_test_asan" tests/c/log_test.c "${flags[@]}"; then
  timeout 120 "$out/log_test" log || status=1
  ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 timeout 120 "$out/log_test_asan" logasan || status=1
else echo "chat_test log: 0 passed, 1 failed"; status=1; fi

echo "== C++ wrapper" >&2
# The nowait part of the C++ test talks through a proxy that delays every chunk by 1 s
# (it ends with this script through --watch-pid).
upstream="${DIRECTUS_WS_URL#*://}"; upstream="${upstream%%/*}"
python3 tests/support/delay_proxy.py --listen 0 --upstream "$upstream" --delay 1 --watch-pid $$ >"$work/slow.out" &
for _ in $(seq 1 100); do grep -q '^listening' "$work/slow.out" && break; sleep 0.1; done
export DCHAT_SLOW_WS_URL="ws://127.0.0.1:$(awk '/^listening/ { print $2 }' "$work/slow.out")/websocket"
CXXFLAGS=(-std=c++17 -Wall -Wextra -Werror -pedantic -g -O1)
if g++ "${CXXFLAGS[@]}" -o "$out/cpp_test" tests/cpp/chat_test.cpp "${flags[@]}" \
   && g++ "${CXXFLAGS[@]}" -o "$out/cpp_chat" examples/cpp/chat.cpp "${flags[@]}" \
   && g++ "${CXXFLAGS[@]}" -fsanitize=address -fno-omit-frame-pointer -o "$out/cpp_test_asan" tests/cpp/chat_test.cpp "${flags[@]}"; then
  timeout 180 "$out/cpp_test" cpp || status=1
  # A sanitizer run that silently lost its sanitizer would prove nothing.
  if ldd "$out/cpp_test_asan" | grep libasan >/dev/null; then
    ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 timeout 180 "$out/cpp_test_asan" asan || status=1
  else echo "chat_test asan: 0 passed, 1 failed"; status=1; fi
else echo "chat_test cpp: 0 passed, 1 failed"; status=1; fi

echo "== LuaJIT through the C ABI" >&2
scripts/test-lua.sh "$libdir/libdirectus_chat.so" || status=1

echo "== API reference (cargo doc, warnings are errors)" >&2
if RUSTDOCFLAGS="-D warnings" cargo doc --no-deps 2>"$work/doc.log"; then echo "chat_test docs: 1 passed, 0 failed"
else cat "$work/doc.log" >&2; echo "chat_test docs: 0 passed, 1 failed"; status=1; fi

exit "$status"
