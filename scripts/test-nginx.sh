#!/usr/bin/env bash
# wss:// through a real TLS reverse proxy, from C: nginx with a test CA
# (scripts/tls-proxy.sh) in front of a real Directus, both started here and stopped on
# exit, whatever happens. The Rust side of the same setup is tests/nginx_wss.rs, the
# Python side bindings/python/tests/test_wss_nginx.py.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/c
mkdir -p "$out"

cargo build --lib 2>&1 | tail -n 1 >&2
gcc -std=c11 -Wall -Wextra -Werror -g -O1 -Iinclude -o "$out/wss_test" tests/c/wss_test.c \
  -Ltarget/debug -ldirectus_chat -Wl,-rpath,"$PWD/target/debug" -lpthread

. scripts/testbed-env.sh
trap testbed_stop EXIT
testbed_start
testbed_start_tls_proxy

"$out/wss_test"
# The connection that worked went through nginx: one WebSocket upgrade in its log.
n="$(grep -c '"GET /websocket HTTP/1.1" 101' "$PROXY_ACCESS_LOG" || true)"
if [ "$n" = 1 ]; then echo "chat_test nginx: 1 passed, 0 failed"
else echo "chat_test nginx: 0 passed, 1 failed"; echo "expected 1 upgrade in nginx's access log, found $n:" >&2; cat "$PROXY_ACCESS_LOG" >&2; exit 1; fi
