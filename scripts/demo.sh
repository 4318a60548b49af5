#!/usr/bin/env bash
# The chat demo: sets up a local Directus (Node 22 + Directus 12.4.0 from npm, cached in
# ~/.cache/directus-chat) with the chat guides' schema, and opens the C terminal chat
# as Kevin. Type lines to send them; /quit leaves and stops the server.
# Chat as Ada from a second terminal with the command it prints.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
cargo build --lib --quiet
mkdir -p target/c
gcc -std=c11 -Wall -Wextra -O1 -Iinclude -o target/c/chat examples/c/chat.c \
  -Ltarget/debug -ldirectus_chat -Wl,-rpath,"$PWD/target/debug" -lpthread

dir="${DCHAT_CACHE:-$HOME/.cache/directus-chat}/demo"
scripts/directus.sh stop "$dir" 2>/dev/null || true
rm -rf "$dir"
trap 'scripts/directus.sh stop "$dir"' EXIT
scripts/directus.sh start "$dir" --watch-pid $$ >/dev/null
set -a; . "$dir/testbed.env"; set +a

cat >&2 <<MSG

  Directus is running at $DIRECTUS_URL (admin: $DIRECTUS_ADMIN_EMAIL / $DIRECTUS_ADMIN_PASSWORD).
  You are $DCHAT_USER1_NAME. Chat as $DCHAT_USER2_NAME from another terminal:
    $PWD/target/c/chat $DIRECTUS_WS_URL $DCHAT_USER2_EMAIL $DCHAT_USER2_PASSWORD
  or in Python (after pip install ./bindings/python):
    python3 examples/python/chat.py $DIRECTUS_WS_URL $DCHAT_USER2_EMAIL $DCHAT_USER2_PASSWORD
  Type a line and Enter to send it; /quit to leave (the server stops with the demo).

MSG
target/c/chat "$DIRECTUS_WS_URL" "$DCHAT_USER1_EMAIL" "$DCHAT_USER1_PASSWORD"
