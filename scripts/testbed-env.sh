# Sourced by the host tests (test-install.sh, test-lua.sh, test-hosts.sh): uses the
# Directus named by DIRECTUS_WS_URL and the DCHAT_USER* variables when they are set,
# else starts one here; `testbed_stop` (call it from the script's EXIT trap) stops a
# server started here. The watchdog stops it too if the script dies.
testbed_dir=""
testbed_start() {
  [ -n "${DIRECTUS_WS_URL:-}" ] && return 0
  testbed_dir="$(mktemp -d)"
  scripts/directus.sh start "$testbed_dir" --watch-pid $$ >"$testbed_dir/env.txt"
  set -a; . "$testbed_dir/env.txt"; set +a
}
testbed_stop() {
  [ -n "$testbed_dir" ] || return 0
  scripts/directus.sh stop "$testbed_dir" || true
  rm -rf "$testbed_dir"
}
