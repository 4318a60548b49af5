#!/usr/bin/env bash
# The project's Directus test bed: a real Directus on 127.0.0.1 with the chat schema.
#
#   scripts/directus.sh start DIR [--version X.Y.Z] [--port N] [--collection NAME]
#                                 [--text-field NAME] [--key-type integer|uuid]
#                                 [--env KEY=VALUE]... [--watch-pid PID] [--remove-dir]
#       Makes a fresh SQLite project in DIR, starts it, prints KEY=VALUE lines (also in
#       DIR/testbed.env): DIRECTUS_URL, DIRECTUS_WS_URL, DIRECTUS_PORT, DIRECTUS_PID,
#       DIRECTUS_VERSION, DIRECTUS_ADMIN_EMAIL/PASSWORD/TOKEN, DCHAT_COLLECTION,
#       DCHAT_TEXT_FIELD, DCHAT_KEY_TYPE, DCHAT_FORBIDDEN_COLLECTION, DCHAT_ROOMS_COLLECTION,
#       DCHAT_PRESENCE_COLLECTION, DCHAT_RECEIPTS_COLLECTION, DCHAT_ROOM, DCHAT_ROLE_ID,
#       DCHAT_POLICY_ID (11+), DCHAT_USER{1,2}_{ID,EMAIL,PASSWORD,NAME,TOKEN}.
#       --version (or DIRECTUS_VERSION in the environment; default 12.4.0) picks the
#       Directus release: 10.13.4 (Node 20), 11.17.4 and 12.4.0 (Node 22) are tested.
#       --bare: only bootstrapped (admin user, no chat schema; for the schema kit's tests);
#       prints the URLs, DIRECTUS_VERSION and DIRECTUS_ADMIN_EMAIL/PASSWORD.
#       --env passes server settings (WEBSOCKETS_HEARTBEAT_PERIOD=2, ACCESS_TOKEN_TTL=5s, ...).
#       --watch-pid stops the server when that process exits (crashed test runs).
#       --remove-dir: DIR is the caller's temporary folder; whoever stops the server
#       (stop, or the --watch-pid watchdog) deletes DIR too, so a test harness whose
#       shared server is never dropped leaves nothing behind.
#   scripts/directus.sh stop DIR      SIGTERM, then SIGKILL after 5 s; fine if not running
#   scripts/directus.sh kill DIR      SIGKILL at once (chaos tests); keeps DIR
#   scripts/directus.sh restart DIR   start again on the same port, version and database
#   scripts/directus.sh status DIR    exit 0 if running
#
# Directus and its Node.js come from npm (scripts/directus-install.sh) into the cache
# (DCHAT_CACHE, default ~/.cache/directus-chat). The schema is applied with the project's
# schema kit (scripts/schema-kit.py) plus the test-only parts (scripts/directus-lib.sh),
# once per (version, collection, text field, key type, seed digest) as a template
# database that later starts copy.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/directus-lib.sh"
# Environment of a server in $1 on port $2; extra KEY=VALUE settings follow in EXTRA_ENV.
EXTRA_ENV=()
server_env() {
  local dir="$1" port="$2"
  mkdir -p "$dir/extensions" "$dir/uploads"
  SERVER_ENV=(
    HOST=127.0.0.1 PORT="$port" PUBLIC_URL="http://127.0.0.1:$port"
    DB_CLIENT=sqlite3 DB_FILENAME="$dir/data.db"
    SECRET="$TESTBED_SECRET"
    ADMIN_EMAIL="$TESTBED_ADMIN_EMAIL" ADMIN_PASSWORD="$TESTBED_ADMIN_PASSWORD"
    WEBSOCKETS_ENABLED=true TELEMETRY=false
    EXTENSIONS_PATH="$dir/extensions" EXTENSIONS_AUTO_RELOAD=false
    STORAGE_LOCATIONS=local STORAGE_LOCAL_ROOT="$dir/uploads"
    # The pressure limiter answers REST calls with 503 while the event loop lags, as it
    # does on a loaded 2-core test machine; tests must not fail on it.
    CACHE_ENABLED=false RATE_LIMITER_ENABLED=false PRESSURE_LIMITER_ENABLED=false
    LOG_LEVEL="${DIRECTUS_LOG_LEVEL:-info}" LOG_STYLE=raw
    "${EXTRA_ENV[@]}"
  )
}

# Starts the server of $1 on port $2 in the background; sets SERVER_PID.
launch() {
  local dir="$1" port="$2"
  server_env "$dir" "$port"
  # setsid: its own process group, detached from the caller's terminal and pipes.
  (cd "$dir" && exec setsid env "${SERVER_ENV[@]}" "$NODE" "$(directus_cli)" start \
      >>"$dir/server.log" 2>&1 </dev/null) &
  SERVER_PID=$!
  echo "$SERVER_PID" >"$dir/server.pid"
  echo "$port" >"$dir/server.port"
}

# Makes (once) the seeded template database for a version, collection, text field and
# key type; prints its folder.
template() {
  local coll="$1" textf="$2" keytype="$3" bare="${4:-}"
  local version; version="$(basename "$PREFIX")"
  local tdir="$CACHE/templates/$version-$coll-$textf-$keytype-$(seed_digest)"
  [ -n "$bare" ] && tdir="$CACHE/templates/$version-bare"
  mkdir -p "$CACHE/templates"
  exec 8>"$tdir.lock"
  flock 8
  if [ ! -f "$tdir/.done" ]; then
    log "seeding template database $tdir (once)"
    rm -rf "$tdir"; mkdir -p "$tdir/project"
    local port; port="$(free_port)"
    EXTRA_ENV=()
    server_env "$tdir/project" "$port"
    (cd "$tdir/project" && env "${SERVER_ENV[@]}" "$NODE" "$(directus_cli)" bootstrap >"$tdir/bootstrap.log" 2>&1 </dev/null) \
      || { tail -n 30 "$tdir/bootstrap.log" >&2; die "bootstrap failed"; }
    launch "$tdir/project" "$port"
    # The seeding server goes even when seeding dies half way.
    trap 'stop_pid "$SERVER_PID"' EXIT
    URL="http://127.0.0.1:$port"
    wait_ready "$URL" "$SERVER_PID" "$tdir/project/server.log" || die "template server failed"
    if [ -n "$bare" ]; then
      printf 'DIRECTUS_VERSION=%s\nDIRECTUS_ADMIN_EMAIL=%s\nDIRECTUS_ADMIN_PASSWORD=%s\n' \
        "$(api GET /server/info "$(api POST /auth/login "" "{\"email\":\"$TESTBED_ADMIN_EMAIL\",\"password\":\"$TESTBED_ADMIN_PASSWORD\"}" | json_get data.access_token)" | json_get data.version)" \
        "$TESTBED_ADMIN_EMAIL" "$TESTBED_ADMIN_PASSWORD" >"$tdir/creds.env"
    else
      seed_testbed "$tdir/creds.env" "$coll" "$textf" "$keytype"
    fi
    stop_pid "$SERVER_PID"
    trap - EXIT
    cp "$tdir/project/data.db" "$tdir/data.db"
    touch "$tdir/.done"
  fi
  flock -u 8
  echo "$tdir"
}

write_env() { # dir port pid
  local dir="$1" port="$2" pid="$3"
  {
    echo "DIRECTUS_URL=http://127.0.0.1:$port"
    echo "DIRECTUS_WS_URL=ws://127.0.0.1:$port/websocket"
    echo "DIRECTUS_PORT=$port"
    echo "DIRECTUS_PID=$pid"
    cat "$dir/creds.env"
  } >"$dir/testbed.env.tmp"
  mv "$dir/testbed.env.tmp" "$dir/testbed.env"
}

start_watchdog() { # dir watched-pid
  local dir="$1" watched="$2"
  # Detached and with no inherited pipes, so a caller reading our stdout never hangs.
  setsid bash -c '
    dir="$1"; watched="$2"
    while kill -0 "$watched" 2>/dev/null; do sleep 1; done
    pid="$(cat "$dir/server.pid" 2>/dev/null || true)"
    if [ -n "$pid" ]; then
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
      for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      if kill -0 "$pid" 2>/dev/null; then
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
        for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      fi
    fi
    [ -f "$dir/remove-on-stop" ] && rm -rf "$dir"
    exit 0
  ' _ "$dir" "$watched" </dev/null >/dev/null 2>&1 &
  echo $! >"$dir/watchdog.pid"
}

cmd_start() {
  local dir="" port="" coll=messages textf=text keytype=integer watch="" remove="" bare="" version="${DIRECTUS_VERSION:-$DEFAULT_DIRECTUS_VERSION}"
  EXTRA_ENV=()
  [ $# -ge 1 ] || die "usage: directus.sh start DIR [options]"
  dir="$1"; shift
  while [ $# -gt 0 ]; do
    case "$1" in
      --port) port="$2"; shift 2 ;;
      --version) version="$2"; shift 2 ;;
      --collection) coll="$2"; shift 2 ;;
      --text-field) textf="$2"; shift 2 ;;
      --key-type) keytype="$2"; shift 2
        case "$keytype" in integer|uuid) ;; *) die "--key-type is integer or uuid" ;; esac ;;
      --env) EXTRA_ENV+=("$2"); shift 2 ;;
      --bare) bare=1; shift ;;
      --watch-pid) watch="$2"; shift 2 ;;
      --remove-dir) remove=1; shift ;;
      *) die "unknown option $1" ;;
    esac
  done
  mkdir -p "$dir"; dir="$(cd "$dir" && pwd)"
  [ -n "$remove" ] && : >"$dir/remove-on-stop"
  if [ -f "$dir/server.pid" ] && kill -0 "$(cat "$dir/server.pid")" 2>/dev/null; then die "a server already runs in $dir"; fi
  setup_paths "$version"
  echo "$version" >"$dir/server.version"
  local extra=("${EXTRA_ENV[@]}")
  local tdir; tdir="$(template "$coll" "$textf" "$keytype" "$bare")"
  EXTRA_ENV=("${extra[@]}")
  : >"$dir/extra.env"
  [ "${#EXTRA_ENV[@]}" -gt 0 ] && printf '%s\n' "${EXTRA_ENV[@]}" >"$dir/extra.env"
  cp "$tdir/data.db" "$dir/data.db"
  cp "$tdir/creds.env" "$dir/creds.env"
  local try
  for try in 1 2 3; do
    local p="${port:-$(free_port)}"
    launch "$dir" "$p"
    [ -n "$watch" ] && [ "$try" = 1 ] && start_watchdog "$dir" "$watch"
    if wait_ready "http://127.0.0.1:$p" "$SERVER_PID" "$dir/server.log"; then
      write_env "$dir" "$p" "$SERVER_PID"
      log "Directus ready at http://127.0.0.1:$p (pid $SERVER_PID, folder $dir)"
      cat "$dir/testbed.env"
      return 0
    fi
    stop_pid "$SERVER_PID"
    # A port taken between choosing and binding is worth another try; anything else is not.
    grep -q EADDRINUSE "$dir/server.log" 2>/dev/null && [ -z "$port" ] || break
  done
  die "Directus did not start (log: $dir/server.log)"
}

cmd_restart() {
  local dir="$1"; dir="$(cd "$dir" && pwd)"
  [ -f "$dir/server.port" ] || die "no server was started in $dir"
  if [ -f "$dir/server.pid" ] && alive "$(cat "$dir/server.pid")"; then die "the server in $dir still runs"; fi
  setup_paths "$(cat "$dir/server.version" 2>/dev/null || echo "$DEFAULT_DIRECTUS_VERSION")"
  EXTRA_ENV=()
  if [ -s "$dir/extra.env" ]; then
    local line
    while IFS= read -r line; do [ -n "$line" ] && EXTRA_ENV+=("$line"); done <"$dir/extra.env"
  fi
  local port; port="$(cat "$dir/server.port")"
  local try
  # The old process may leave the port in TIME_WAIT-free but briefly busy: retry.
  for try in 1 2 3 4 5; do
    launch "$dir" "$port"
    if wait_ready "http://127.0.0.1:$port" "$SERVER_PID" "$dir/server.log"; then
      write_env "$dir" "$port" "$SERVER_PID"
      return 0
    fi
    stop_pid "$SERVER_PID"
    sleep 1
  done
  die "restart failed (log: $dir/server.log)"
}

pid_of() { cat "$1/server.pid" 2>/dev/null || true; }

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop)
    [ $# -ge 2 ] || die "usage: directus.sh stop DIR"
    pid="$(pid_of "$2")"; [ -n "$pid" ] && stop_pid "$pid"
    wd="$(cat "$2/watchdog.pid" 2>/dev/null || true)"; [ -n "$wd" ] && kill "$wd" 2>/dev/null || true
    [ -f "$2/remove-on-stop" ] && rm -rf "$2"
    exit 0 ;;
  kill)
    [ $# -ge 2 ] || die "usage: directus.sh kill DIR"
    pid="$(pid_of "$2")"; [ -n "$pid" ] && stop_pid "$pid" KILL
    for i in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
    exit 0 ;;
  restart) [ $# -ge 2 ] || die "usage: directus.sh restart DIR"; cmd_restart "$2" ;;
  status) pid="$(pid_of "${2:?usage: directus.sh status DIR}")"; [ -n "$pid" ] && alive "$pid" ;;
  *) sed -n '2,31p' "$0" >&2; exit 2 ;;
esac
