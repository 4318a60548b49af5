#!/usr/bin/env bash
# Installs what the tests and the demo need on a fresh machine: Debian packages (only
# the missing ones), then Node 22 + Directus 12.4.0 into the cache (scripts/directus-install.sh;
# scripts/test.sh adds the older releases in the background).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pair in curl:curl gcc:gcc g++:g++ valgrind:valgrind pkg-config:pkg-config flock:util-linux setsid:util-linux python3:python3 openssl:openssl nginx:nginx; do
  cmd="${pair%%:*}"; pkg="${pair#*:}"
  # nginx lives in /usr/sbin, which is not on every user's PATH.
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || need+=("$pkg")
done
# The cluster tests (scripts/cluster.sh): PostgreSQL and Redis, started per test, never as services.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ "${#need[@]}" -gt 0 ]; then
  echo "[bootstrap] installing Debian packages: ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >&2
fi
command -v cargo >/dev/null || { echo "[bootstrap] cargo (Rust) is required" >&2; exit 1; }
scripts/directus-install.sh >/dev/null
