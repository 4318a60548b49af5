# Sourced by the host tests (test-install.sh, test-lua.sh, test-hosts.sh, test-sdl.sh,
# test-nginx.sh): uses the Directus named by DIRECTUS_WS_URL and the DCHAT_USER*
# variables when they are set, else starts one here; `testbed_start_tls_proxy` puts
# nginx with a test CA in front of it (PROXY_* variables); `testbed_stop` (call it from
# the script's EXIT trap) stops what was started here. The watchdogs stop them too if
# the script dies.
testbed_dir=""
testbed_proxy_dir=""
testbed_start() {
  [ -n "${DIRECTUS_WS_URL:-}" ] && return 0
  testbed_dir="$(mktemp -d)"
  scripts/directus.sh start "$testbed_dir" --watch-pid $$ >"$testbed_dir/env.txt"
  set -a; . "$testbed_dir/env.txt"; set +a
}
testbed_start_tls_proxy() {
  testbed_proxy_dir="$(mktemp -d)"
  scripts/tls-proxy.sh start "$testbed_proxy_dir" --upstream "$DIRECTUS_PORT" --watch-pid $$ >"$testbed_proxy_dir/env.txt"
  set -a; . "$testbed_proxy_dir/env.txt"; set +a
}
testbed_stop() {
  if [ -n "$testbed_proxy_dir" ]; then
    scripts/tls-proxy.sh stop "$testbed_proxy_dir" || true
    rm -rf "$testbed_proxy_dir"
  fi
  [ -n "$testbed_dir" ] || return 0
  scripts/directus.sh stop "$testbed_dir" || true
  rm -rf "$testbed_dir"
}
