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
gcc "${CFLAGS[@]}" -o "$out/chat_api_test" tests/c/chat_api_test.c "${LIBS[@]}"
gcc "${CFLAGS[@]}" -fsanitize=address -fno-omit-frame-pointer -o "$out/chat_api_test_asan" tests/c/chat_api_test.c "${LIBS[@]}"
gcc "${CFLAGS[@]}" -fsanitize=address -fno-omit-frame-pointer -o "$out/presence_test_asan" tests/c/presence_test.c "${LIBS[@]}"
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

# The chat API read entirely through the accessors. It links no JSON library: every
# library it loads is the C runtime's or ours.
if awk '{print $1}' <<<"$(ldd "$out/chat_api_test")" | grep -Ev '^(linux-vdso\.so\.1|libdirectus_chat\.so|libc\.so\.6|libm\.so\.6|libgcc_s\.so\.1|libpthread\.so\.0|libdl\.so\.2|/lib64/ld-linux-x86-64\.so\.2|/lib/ld-linux-aarch64\.so\.1)$' >/dev/null; then
  echo "chat_api_test links a library besides the C runtime and directus_chat:" >&2; ldd "$out/chat_api_test" >&2; exit 1
fi
if grep -Eiq '#include *[<"][^>"]*json' tests/c/chat_api_test.c; then echo "chat_api_test.c includes a JSON header" >&2; exit 1; fi
"$out/chat_api_test"
# Presence, typing and read receipts (issue 13), under AddressSanitizer with its leak check.
ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 timeout 120 "$out/presence_test_asan"

# Misuse and stress (NULLs, double close, use after close, 8 threads sending, 1,000
# connect/free cycles) under AddressSanitizer (with LeakSanitizer) and under valgrind;
# the chat flow under both too.
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1
"$out/ffi_stress_asan"
"$out/chat_test_asan" callback
"$out/chat_api_test_asan" | sed 's/^chat_test api:/chat_test apiasan:/'
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

# The example, driven like a user: a message from Ada is in the lobby's history, Kevin
# types a line; then /join a room with three of Ada's messages (the example shows the
# newest two, DCHAT_HISTORY=2), /older shows the third, Kevin writes, /edit, /delete.
history="history line $$ $RANDOM"
post() { # room text
  local room=null; [ -n "$1" ] && room="\"$1\""
  curl -fsS -X POST -H "Content-Type: application/json" -H "Authorization: Bearer $DCHAT_USER2_TOKEN" \
    -d "{\"text\":\"$2\",\"room\":$room}" "$DIRECTUS_URL/items/messages" >/dev/null
}
post "" "$history"
own_history="Kevin's own line in the history $$"
curl -fsS -X POST -H "Content-Type: application/json" -H "Authorization: Bearer $DCHAT_USER1_TOKEN" \
  -d "{\"text\":\"$own_history\"}" "$DIRECTUS_URL/items/messages" >/dev/null
tag="$$ $RANDOM"
for i in 1 2 3; do post "$DCHAT_ROOM" "in the room $i $tag"; done
typed="typed in the C example $$"
{ printf '%s\n' "$typed"; sleep 2; printf '/join %s\n' "$DCHAT_ROOM"; sleep 2; printf '/who\n'; sleep 1; printf '/older\n'; sleep 1
  printf 'mine %s\n' "$tag"; sleep 2; printf '/edit mine again %s\n' "$tag"; sleep 2; printf '/delete\n'; sleep 2; printf '/quit\n'
} | DCHAT_HISTORY=2 timeout 60 "$out/chat" "$DIRECTUS_WS_URL" "$DCHAT_USER1_EMAIL" "$DCHAT_USER1_PASSWORD" >"$dir/chat.out"
pass=0; fail=0
check() { if grep -qxF -- "$1" "$dir/chat.out"; then pass=$((pass+1)); else fail=$((fail+1)); echo "chat example: missing line '$1' in:" >&2; cat "$dir/chat.out" >&2; fi; }
check "$DCHAT_USER2_NAME: $history"
check "$DCHAT_USER1_NAME (you): $typed"
check "$DCHAT_USER1_NAME (you): $own_history"
check "[$DCHAT_ROOM] $DCHAT_USER2_NAME: in the room 2 $tag"
check "[$DCHAT_ROOM] $DCHAT_USER2_NAME: in the room 3 $tag"
check "-- 1 older message(s)"
check "[$DCHAT_ROOM] $DCHAT_USER2_NAME: in the room 1 $tag"
check "[$DCHAT_ROOM] $DCHAT_USER1_NAME (you): mine $tag"
check "[$DCHAT_ROOM] $DCHAT_USER1_NAME (you): mine again $tag (edited)"
# Joining the room entered its presence: Kevin sees himself come online, /who lists him.
check "* [$DCHAT_ROOM] $DCHAT_USER1_NAME is online"
if grep -Eqx "\* \[$DCHAT_ROOM\] [0-9]+ online:.* $DCHAT_USER1_NAME( .*)?" "$dir/chat.out"; then pass=$((pass+1)); else fail=$((fail+1)); echo "chat example: no /who line" >&2; cat "$dir/chat.out" >&2; fi
if grep -Eqx "\[$DCHAT_ROOM\] \(message [0-9]+ deleted\)" "$dir/chat.out"; then pass=$((pass+1)); else fail=$((fail+1)); echo "chat example: no deletion line" >&2; cat "$dir/chat.out" >&2; fi
# The room's messages are not in the lobby, the older one came after the history.
if [ "$(grep -c "in the room" "$dir/chat.out")" = 3 ] && [ "$(grep -n 'in the room 1' "$dir/chat.out" | cut -d: -f1)" -gt "$(grep -n 'in the room 3' "$dir/chat.out" | cut -d: -f1)" ]; then
  pass=$((pass+1)); else fail=$((fail+1)); echo "chat example: room messages shown wrongly" >&2; cat "$dir/chat.out" >&2; fi
echo "chat_test example: $pass passed, $fail failed"
[ "$fail" = 0 ]
