#!/usr/bin/env bash
# Builds and runs the C ABI tests (callback and poll mode, misuse and stress, shutdown
# and dlclose) and the C chat example against a real Directus started here and stopped
# on exit, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/c
mkdir -p "$out"

cargo build --lib 2>&1 | tail -n 1 >&2
CFLAGS=(-std=c11 -Wall -Wextra -Werror -g -O1 -Iinclude)
LIBS=(-Ltarget/debug -ldirectus_chat -Wl,-rpath,"$PWD/target/debug" -lpthread)
gcc "${CFLAGS[@]}" -o "$out/chat_test" tests/c/chat_test.c "${LIBS[@]}"
gcc "${CFLAGS[@]}" -o "$out/chat" examples/c/chat.c "${LIBS[@]}"
gcc "${CFLAGS[@]}" -o "$out/ffi_stress" tests/c/ffi_stress.c "${LIBS[@]}"
gcc "${CFLAGS[@]}" -o "$out/resource_test" tests/c/resource_test.c "${LIBS[@]}"
gcc "${CFLAGS[@]}" -fsanitize=address -fno-omit-frame-pointer -o "$out/outbox_test_asan" tests/c/outbox_test.c "${LIBS[@]}"
gcc "${CFLAGS[@]}" -fsanitize=address -fno-omit-frame-pointer -o "$out/ffi_stress_asan" tests/c/ffi_stress.c "${LIBS[@]}"
gcc "${CFLAGS[@]}" -fsanitize=address -fno-omit-frame-pointer -o "$out/chat_test_asan" tests/c/chat_test.c "${LIBS[@]}"
# Never block the host (issue 11): the 60 fps loop through a slow and an unreachable
# server, and the event fd in an epoll loop.
gcc "${CFLAGS[@]}" -o "$out/nowait_test" tests/c/nowait_test.c "${LIBS[@]}"
gcc "${CFLAGS[@]}" -o "$out/epoll_test" tests/c/epoll_test.c "${LIBS[@]}"
# dlopen/dlclose: not linked with the library, which it loads by path.
gcc "${CFLAGS[@]}" -o "$out/dlclose_test" tests/c/dlclose_test.c -ldl -lpthread
gcc "${CFLAGS[@]}" -fsanitize=address -fno-omit-frame-pointer -o "$out/dlclose_test_asan" tests/c/dlclose_test.c -ldl -lpthread
# A sanitizer run that silently lost its sanitizer would prove nothing. (grep reads all
# of ldd's output: `grep -q` would quit at the first match, and ldd's SIGPIPE fail the
# pipe under pipefail.)
for t in ffi_stress_asan dlclose_test_asan; do
  ldd "$out/$t" | grep libasan >/dev/null || { echo "AddressSanitizer is not linked into $t" >&2; exit 1; }
done
# The header is C++-compatible too.
g++ -std=c++17 -Wall -Wextra -Werror -Iinclude -x c++ -fsyntax-only - <<<'#include "directus_chat.h"
int main() { return dchat_version_number() == 0; }'

dir="$(mktemp -d)"
trap 'scripts/directus.sh stop "$dir"; rm -rf "$dir"' EXIT
scripts/directus.sh start "$dir" --watch-pid $$ >"$dir/env.txt"
set -a; . "$dir/env.txt"; set +a

"$out/chat_test" callback
"$out/chat_test" poll
# A refused thread is DCHAT_ERR_RESOURCE (plain only: it limits the address space).
timeout 60 "$out/resource_test"
# The outbox (issue 14): local echo and reconcile, the lock, cancel/edit/resume, a
# foreign file; under AddressSanitizer with its leak check.
ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 "$out/outbox_test_asan"
"$out/epoll_test"
DCHAT_DELAY_PROXY="$PWD/tests/support/delay_proxy.py" timeout 300 "$out/nowait_test"

# Misuse and stress (NULLs, double close, use after close, 8 threads sending, 1,000
# connect/free cycles) under AddressSanitizer (with LeakSanitizer) and under valgrind;
# the chat flow under both too.
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1
"$out/ffi_stress_asan"
"$out/chat_test_asan" callback
VG=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99)
"${VG[@]}" "$out/ffi_stress"
"${VG[@]}" "$out/chat_test" poll

# dchat_shutdown, dlclose, dlopen again, twice: plain, under AddressSanitizer (leaks
# checked inside, while the library is loaded: see the test) and under valgrind (which
# keeps the debug info of the unloaded library to name what it allocated).
lib="$PWD/target/debug/libdirectus_chat.so"
timeout 120 "$out/dlclose_test" "$lib" dlclose
ASAN_OPTIONS=detect_leaks=1:leak_check_at_exit=0:halt_on_error=1 timeout 300 "$out/dlclose_test_asan" "$lib" dlcloseasan
timeout 600 "${VG[@]}" --keep-debuginfo=yes --suppressions=tests/c/dlclose.supp "$out/dlclose_test" "$lib" dlclosevalgrind

# The example, driven like a user: a message from Ada is in the history, Kevin types a line.
history="history line $$ $RANDOM"
curl -fsS -X POST -H "Content-Type: application/json" -H "Authorization: Bearer $DCHAT_USER2_TOKEN" \
  -d "{\"text\":\"$history\"}" "$DIRECTUS_URL/items/messages" >/dev/null
typed="typed in the C example $$"
{ printf '%s\n' "$typed"; sleep 2; printf '/quit\n'; } | timeout 60 "$out/chat" "$DIRECTUS_WS_URL" "$DCHAT_USER1_EMAIL" "$DCHAT_USER1_PASSWORD" >"$dir/chat.out"
pass=0; fail=0
check() { if grep -qxF "$1" "$dir/chat.out"; then pass=$((pass+1)); else fail=$((fail+1)); echo "chat example: missing line '$1' in:" >&2; cat "$dir/chat.out" >&2; fi; }
check "$DCHAT_USER2_NAME: $history"
check "$DCHAT_USER1_NAME: $typed"
echo "chat_test example: $pass passed, $fail failed"
[ "$fail" = 0 ]
