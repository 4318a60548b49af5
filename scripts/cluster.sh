#!/usr/bin/env bash
# A Directus cluster on 127.0.0.1: PostgreSQL, Redis, two Directus instances sharing both,
# and nginx balancing REST and /websocket across them.
#
#   scripts/cluster.sh start DIR [--version X.Y.Z] [--key-type integer|uuid]
#                                [--env KEY=VALUE]... [--watch-pid PID]
#       Starts a throwaway PostgreSQL (on a free port, as the `postgres` user when run as
#       root) holding a copy of the seeded template database (below), a Redis of its own,
#       instances a and b (same SECRET, same database, REDIS=redis://127.0.0.1:P, shared
#       uploads), nginx in front, and prints KEY=VALUE lines (also in DIR/cluster.env):
#         DIRECTUS_URL, DIRECTUS_WS_URL, DIRECTUS_PORT    through nginx
#         DIRECTUS_A_URL, DIRECTUS_A_WS_URL, DIRECTUS_A_PORT, DIRECTUS_A_PID  (and _B_)
#         DIRECTUS_VERSION, DCHAT_PG_PORT, DCHAT_REDIS_PORT, DCHAT_NGINX_PID,
#         DCHAT_NGINX_ACCESS_LOG, and the credentials of scripts/directus.sh (admin,
#         DCHAT_USER{1,2}_*, collections).
#       The template: once per Directus release, key type (--key-type, default integer)
#       and seed digest, a PostgreSQL data directory with the database bootstrapped and
#       the chat schema applied by the schema kit plus the test-bed users (as
#       scripts/directus.sh does), kept in the cache (DCHAT_CACHE/templates/cluster-*).
#       nginx: `max_fails=1 fail_timeout=10s`, `proxy_next_upstream error timeout
#       http_502 http_503`, `proxy_connect_timeout 2s`, WebSocket upgrade headers, and
#       an `X-Upstream` header naming the instance that answered (also on the 101). Its
#       access log has one line per request or WebSocket connection, written when it
#       ends: `msec request_time status upstream_addr request_uri` (the start is msec -
#       request_time; upstream_addr lists every instance tried, the last one served).
#       --env passes settings to both instances; --watch-pid stops the whole cluster when
#       that process exits.
#   scripts/cluster.sh kill DIR a|b      SIGKILL one instance
#   scripts/cluster.sh restart DIR a|b   start it again on its port
#   scripts/cluster.sh stop DIR          stop everything (instances, nginx, Redis, PostgreSQL)
#   scripts/cluster.sh status DIR        exit 0 if every part runs
#
# PostgreSQL, Redis and nginx are Debian packages (postgresql, redis-server, nginx),
# installed with apt-get when missing; Directus as for scripts/directus.sh.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
LOG_TAG=cluster
. "$HERE/directus-lib.sh"

# ------------------------------------------------------------------ packages

ensure_packages() {
  local need=()
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
  command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
  command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
  [ "${#need[@]}" -eq 0 ] && return 0
  log "installing Debian packages: ${need[*]}"
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >&2
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1; }
nginx_bin() { command -v nginx 2>/dev/null || echo /usr/sbin/nginx; }

# Runs a PostgreSQL tool as `postgres` when we are root (initdb refuses root).
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# ------------------------------------------------------------------ parts

# Starts a throwaway PostgreSQL for the cluster in $1, with a database `directus`: a copy
# of the seeded template's data directory $2 when given, else a fresh initdb.
start_postgres() { # dir [template-data]
  local dir="$1" template="${2:-}" bin port pgdir try
  bin="$(pg_bin)"
  # Outside DIR, so the postgres user never needs to enter the caller's private folder.
  pgdir="$(mktemp -d /tmp/dchat-pg.XXXXXX)"
  echo "$pgdir" >"$dir/pg.dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$pgdir"
  if [ -n "$template" ]; then
    # cp -a keeps the owner (postgres) and the 0700 mode PostgreSQL insists on.
    cp -a "$template" "$pgdir/data" || die "copying the template database failed"
  else
    # 1 MiB WAL segments instead of 16: the template's copy is a third smaller.
    as_pg "$bin/initdb" -D "$pgdir/data" -U postgres --auth=trust -E UTF8 --no-sync --wal-segsize=1 >"$dir/pg-initdb.log" 2>&1 \
      || { cat "$dir/pg-initdb.log" >&2; die "initdb failed"; }
  fi
  for try in 1 2 3; do
    port="$(free_port)"
    if as_pg "$bin/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w -t 60 \
        -o "-p $port -k $pgdir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null 2>&1; then
      echo "$port" >"$dir/pg.port"
      [ -n "$template" ] || "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qc "CREATE DATABASE directus" >/dev/null
      return 0
    fi
    grep -q "already in use" "$pgdir/server.log" 2>/dev/null || break
  done
  cat "$pgdir/server.log" >&2 2>/dev/null || true
  die "PostgreSQL did not start"
}

stop_postgres() { # dir
  local dir="$1" pgdir pid i
  pgdir="$(cat "$dir/pg.dir" 2>/dev/null || true)"
  [ -n "$pgdir" ] && [ -d "$pgdir" ] || return 0
  pid="$(head -n 1 "$pgdir/data/postmaster.pid" 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    # SIGINT: PostgreSQL's "fast" shutdown; SIGQUIT if it lingers.
    kill -INT "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
    kill -QUIT "$pid" 2>/dev/null || true
    for i in $(seq 1 30); do alive "$pid" || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -rf "$pgdir"
  rm -f "$dir/pg.dir"
}

start_redis() { # dir
  local dir="$1" port pid try i
  mkdir -p "$dir/redis"
  for try in 1 2 3; do
    port="$(free_port)"
    (cd "$dir/redis" && exec setsid redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$dir/redis" --logfile "$dir/redis/redis.log" </dev/null >/dev/null 2>&1) &
    pid=$!
    echo "$pid" >"$dir/redis.pid"
    for i in $(seq 1 50); do
      if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]; then echo "$port" >"$dir/redis.port"; return 0; fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    stop_pid "$pid" KILL
    grep -q "Address already in use" "$dir/redis/redis.log" 2>/dev/null || break
  done
  die "Redis did not start (log: $dir/redis/redis.log)"
}

# The environment of instance $2 (a or b) of the cluster in $1.
EXTRA_ENV=()
instance_env() {
  local dir="$1" name="$2" port
  port="$(cat "$dir/$name/server.port")"
  mkdir -p "$dir/$name/extensions" "$dir/uploads"
  SERVER_ENV=(
    HOST=127.0.0.1 PORT="$port" PUBLIC_URL="http://127.0.0.1:$(cat "$dir/lb.port")"
    DB_CLIENT=pg DB_HOST=127.0.0.1 DB_PORT="$(cat "$dir/pg.port")" DB_DATABASE=directus
    DB_USER=postgres DB_PASSWORD=unused
    SECRET="$TESTBED_SECRET"
    ADMIN_EMAIL="$TESTBED_ADMIN_EMAIL" ADMIN_PASSWORD="$TESTBED_ADMIN_PASSWORD"
    WEBSOCKETS_ENABLED=true TELEMETRY=false
    EXTENSIONS_PATH="$dir/$name/extensions" EXTENSIONS_AUTO_RELOAD=false
    STORAGE_LOCATIONS=local STORAGE_LOCAL_ROOT="$dir/uploads"
    # As in scripts/directus.sh: the pressure limiter answers REST with 503 while the
    # event loop lags, as it does on a loaded 2-core test machine.
    CACHE_ENABLED=false RATE_LIMITER_ENABLED=false PRESSURE_LIMITER_ENABLED=false
    LOG_LEVEL="${DIRECTUS_LOG_LEVEL:-info}" LOG_STYLE=raw
    "${EXTRA_ENV[@]}"
  )
  [ -f "$dir/redis.port" ] && SERVER_ENV+=(REDIS="redis://127.0.0.1:$(cat "$dir/redis.port")")
  return 0
}

load_extra_env() { # dir
  EXTRA_ENV=()
  local line
  if [ -s "$1/extra.env" ]; then
    while IFS= read -r line; do [ -n "$line" ] && EXTRA_ENV+=("$line"); done <"$1/extra.env"
  fi
  return 0
}

launch_instance() { # dir name; sets SERVER_PID
  local dir="$1" name="$2"
  instance_env "$dir" "$name"
  (cd "$dir/$name" && exec setsid env "${SERVER_ENV[@]}" "$NODE" "$(directus_cli)" start \
      >>"$dir/$name/server.log" 2>&1 </dev/null) &
  SERVER_PID=$!
  echo "$SERVER_PID" >"$dir/$name/server.pid"
}

write_nginx_conf() { # dir
  local d="$1/nginx" user=""
  [ "$(id -u)" = 0 ] && user="user root;"
  mkdir -p "$d/tmp"
  cat >"$d/nginx.conf" <<EOF
$user
daemon off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log info;
events { worker_connections 1024; }
http {
  log_format dchat '\$msec \$request_time \$status "\$upstream_addr" \$request_uri';
  access_log $d/access.log dchat;
  client_body_temp_path $d/tmp/body;
  proxy_temp_path $d/tmp/proxy;
  fastcgi_temp_path $d/tmp/fastcgi;
  uwsgi_temp_path $d/tmp/uwsgi;
  scgi_temp_path $d/tmp/scgi;
  client_max_body_size 100m;
  map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
  upstream directus {
    server 127.0.0.1:$(cat "$1/a/server.port") max_fails=1 fail_timeout=10s;
    server 127.0.0.1:$(cat "$1/b/server.port") max_fails=1 fail_timeout=10s;
  }
  server {
    listen 127.0.0.1:$(cat "$1/lb.port");
    location / {
      proxy_pass http://directus;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$connection_upgrade;
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$remote_addr;
      proxy_next_upstream error timeout http_502 http_503;
      proxy_connect_timeout 2s;
      # A quiet chat is not a dead one: the server's heartbeat pings come every 30 s.
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
      add_header X-Upstream \$upstream_addr always;
    }
  }
}
EOF
}

start_nginx() { # dir
  local dir="$1" pid i
  write_nginx_conf "$dir"
  : >"$dir/nginx/error.log"
  setsid "$(nginx_bin)" -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -e "$dir/nginx/error.log" </dev/null >>"$dir/nginx/nginx.out" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/nginx.pid"
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    if curl -fsS -m 5 "http://127.0.0.1:$(cat "$dir/lb.port")/server/ping" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  cat "$dir/nginx/error.log" "$dir/nginx/nginx.out" >&2 2>/dev/null || true
  die "nginx did not start"
}

start_watchdog() { # dir watched-pid
  # Detached and with no inherited pipes, so a caller reading our stdout never hangs.
  setsid bash -c '
    here="$1"; dir="$2"; watched="$3"
    while kill -0 "$watched" 2>/dev/null; do sleep 1; done
    "$here/cluster.sh" stop "$dir"
  ' _ "$HERE" "$1" "$2" </dev/null >/dev/null 2>&1 &
  echo $! >"$1/watchdog.pid"
}

# Makes (once) the seeded database of a cluster for Directus $PREFIX and key type $1 and
# prints its folder: `data` (a cleanly stopped PostgreSQL data directory holding the
# database `directus`, bootstrapped, with the chat schema and the test-bed users) and
# `creds.env`. A start copies the data directory instead of running initdb, `directus
# bootstrap` and the seeding, which took most of a cold start. Keyed by the Directus
# release, key type, a digest of the seed and of the functions that make and open the
# template, and the PostgreSQL major version (a data directory only opens with the major
# version that wrote it).
pg_template() { # keytype
  local keytype="$1" major digest tdir scratch port
  major="$(basename "$(dirname "$(pg_bin)")")"
  # The seed, and how this script makes and opens the data directory.
  digest="$( (seed_digest; declare -f pg_template start_postgres instance_env) | sha256sum | cut -c1-10)"
  tdir="$CACHE/templates/cluster-$(basename "$PREFIX")-messages-text-$keytype-$digest-pg$major"
  mkdir -p "$CACHE/templates"
  exec 8>"$tdir.lock"
  flock 8
  if [ ! -f "$tdir/.done" ]; then
    log "seeding template database $tdir (once)"
    rm -rf "$tdir"; mkdir -p "$tdir"
    scratch="$(mktemp -d /tmp/dchat-cluster-seed.XXXXXX)"
    # The seeding PostgreSQL and server go even when seeding dies half way.
    SERVER_PID=""
    trap 'stop_pid "$SERVER_PID"; cmd_stop "$scratch" >/dev/null 2>&1; rm -rf "$scratch"' EXIT
    start_postgres "$scratch"
    mkdir -p "$scratch/seed"
    port="$(free_port)"; echo "$port" >"$scratch/seed/server.port"; echo "$port" >"$scratch/lb.port"
    EXTRA_ENV=()
    instance_env "$scratch" seed
    (cd "$scratch/seed" && env "${SERVER_ENV[@]}" "$NODE" "$(directus_cli)" bootstrap >"$scratch/bootstrap.log" 2>&1 </dev/null) \
      || { tail -n 30 "$scratch/bootstrap.log" >&2; die "bootstrap failed"; }
    launch_instance "$scratch" seed
    wait_ready "http://127.0.0.1:$port" "$SERVER_PID" "$scratch/seed/server.log" || die "the seeding server did not start"
    URL="http://127.0.0.1:$port"
    seed_testbed "$tdir/creds.env" messages text "$keytype"
    stop_pid "$SERVER_PID"
    # A clean ("fast") shutdown ends with a checkpoint: the copy opens without recovery.
    as_pg "$(pg_bin)/pg_ctl" -D "$(cat "$scratch/pg.dir")/data" -m fast -w -t 60 stop >/dev/null \
      || die "PostgreSQL did not stop cleanly"
    cp -a "$(cat "$scratch/pg.dir")/data" "$tdir/data"
    cmd_stop "$scratch" >/dev/null 2>&1
    rm -rf "$scratch"
    trap - EXIT
    touch "$tdir/.done"
  fi
  flock -u 8
  exec 8>&-
  echo "$tdir"
}

write_env() { # dir
  local dir="$1" lb a b
  lb="$(cat "$dir/lb.port")"; a="$(cat "$dir/a/server.port")"; b="$(cat "$dir/b/server.port")"
  {
    echo "DIRECTUS_URL=http://127.0.0.1:$lb"
    echo "DIRECTUS_WS_URL=ws://127.0.0.1:$lb/websocket"
    echo "DIRECTUS_PORT=$lb"
    echo "DIRECTUS_A_URL=http://127.0.0.1:$a"
    echo "DIRECTUS_A_WS_URL=ws://127.0.0.1:$a/websocket"
    echo "DIRECTUS_A_PORT=$a"
    echo "DIRECTUS_A_PID=$(cat "$dir/a/server.pid")"
    echo "DIRECTUS_B_URL=http://127.0.0.1:$b"
    echo "DIRECTUS_B_WS_URL=ws://127.0.0.1:$b/websocket"
    echo "DIRECTUS_B_PORT=$b"
    echo "DIRECTUS_B_PID=$(cat "$dir/b/server.pid")"
    echo "DCHAT_PG_PORT=$(cat "$dir/pg.port")"
    echo "DCHAT_REDIS_PORT=$(cat "$dir/redis.port")"
    echo "DCHAT_NGINX_PID=$(cat "$dir/nginx.pid")"
    echo "DCHAT_NGINX_ACCESS_LOG=$dir/nginx/access.log"
    cat "$dir/creds.env"
  } >"$dir/cluster.env.tmp"
  mv "$dir/cluster.env.tmp" "$dir/cluster.env"
}

# ------------------------------------------------------------------ commands

# Logs how long the step since the last call took (where a cluster's start goes).
PHASE_AT=""
phase() {
  local now; now="$(date +%s.%N)"
  log "$1: $(python3 -c "print(round($now - $PHASE_AT, 1))") s"
  PHASE_AT="$now"
}

cmd_start() {
  [ $# -ge 1 ] || die "usage: cluster.sh start DIR [--version X.Y.Z] [--key-type integer|uuid] [--env K=V]... [--watch-pid PID]"
  local dir="$1" version="${DIRECTUS_VERSION:-$DEFAULT_DIRECTUS_VERSION}" watch="" started keytype=integer
  shift
  EXTRA_ENV=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --version) version="$2"; shift 2 ;;
      --key-type) keytype="$2"; shift 2
        case "$keytype" in integer|uuid) ;; *) die "--key-type is integer or uuid" ;; esac ;;
      --env) EXTRA_ENV+=("$2"); shift 2 ;;
      --watch-pid) watch="$2"; shift 2 ;;
      *) die "unknown option $1" ;;
    esac
  done
  mkdir -p "$dir"; dir="$(cd "$dir" && pwd)"
  [ -f "$dir/cluster.version" ] && die "a cluster was already started in $dir (stop it and use a fresh folder)"
  started="$(date +%s.%N)"
  PHASE_AT="$started"
  ensure_packages
  setup_paths "$version"
  local tdir
  tdir="$(pg_template "$keytype")"
  phase "template"
  echo "$version" >"$dir/cluster.version"
  : >"$dir/extra.env"
  [ "${#EXTRA_ENV[@]}" -gt 0 ] && printf '%s\n' "${EXTRA_ENV[@]}" >"$dir/extra.env"
  mkdir -p "$dir/a" "$dir/b" "$dir/nginx"
  # From here on a failure takes down whatever was started.
  trap 'log "start failed; stopping what was started"; cmd_stop "$dir" >/dev/null 2>&1 || true' EXIT
  [ -n "$watch" ] && start_watchdog "$dir" "$watch"

  start_postgres "$dir" "$tdir/data" &
  local pg_job=$!
  start_redis "$dir"
  wait "$pg_job" || die "PostgreSQL did not start"
  cp "$tdir/creds.env" "$dir/creds.env"
  phase "PostgreSQL (from the template) and Redis"
  free_port >"$dir/a/server.port"; free_port >"$dir/b/server.port"; free_port >"$dir/lb.port"
  local pid_a pid_b
  launch_instance "$dir" a; pid_a=$SERVER_PID
  launch_instance "$dir" b; pid_b=$SERVER_PID
  wait_ready "http://127.0.0.1:$(cat "$dir/a/server.port")" "$pid_a" "$dir/a/server.log" || die "instance a did not start"
  wait_ready "http://127.0.0.1:$(cat "$dir/b/server.port")" "$pid_b" "$dir/b/server.log" || die "instance b did not start"
  phase "instances a and b"
  start_nginx "$dir"
  phase "nginx"
  write_env "$dir"
  trap - EXIT
  log "cluster ready in $(python3 -c "import time; print(round(time.time() - $started, 1))") s: http://127.0.0.1:$(cat "$dir/lb.port") (folder $dir)"
  cat "$dir/cluster.env"
}

instance_arg() { case "${1:-}" in a|b) ;; *) die "name an instance: a or b" ;; esac; }

cmd_kill() { # dir name
  local dir="$1" name="$2" pid i
  pid="$(cat "$dir/$name/server.pid" 2>/dev/null || true)"
  [ -n "$pid" ] || return 0
  stop_pid "$pid" KILL
  for i in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
}

cmd_restart() { # dir name
  local dir="$1" name="$2" pid try port
  dir="$(cd "$dir" && pwd)"
  pid="$(cat "$dir/$name/server.pid" 2>/dev/null || true)"
  [ -n "$pid" ] && alive "$pid" && die "instance $name still runs"
  setup_paths "$(cat "$dir/cluster.version")"
  load_extra_env "$dir"
  port="$(cat "$dir/$name/server.port")"
  for try in 1 2 3 4 5; do
    launch_instance "$dir" "$name"
    if wait_ready "http://127.0.0.1:$port" "$SERVER_PID" "$dir/$name/server.log"; then
      write_env "$dir"
      grep "^DIRECTUS_$(echo "$name" | tr ab AB)_" "$dir/cluster.env"
      return 0
    fi
    stop_pid "$SERVER_PID"
    sleep 1
  done
  die "restart of $name failed (log: $dir/$name/server.log)"
}

cmd_stop() { # dir
  local dir="$1" name pid wd
  [ -d "$dir" ] || return 0
  for name in a b; do
    pid="$(cat "$dir/$name/server.pid" 2>/dev/null || true)"
    [ -n "$pid" ] && stop_pid "$pid"
  done
  pid="$(cat "$dir/nginx.pid" 2>/dev/null || true)"
  [ -n "$pid" ] && stop_pid "$pid"
  pid="$(cat "$dir/redis.pid" 2>/dev/null || true)"
  [ -n "$pid" ] && stop_pid "$pid"
  stop_postgres "$dir"
  # Last: the watchdog may be the one running this stop.
  wd="$(cat "$dir/watchdog.pid" 2>/dev/null || true)"
  if [ -n "$wd" ] && [ "$wd" != "$PPID" ]; then kill "$wd" 2>/dev/null || true; fi
  rm -f "$dir/watchdog.pid"
  return 0
}

cmd_status() { # dir
  local dir="$1" f pid pgdir
  for f in a/server.pid b/server.pid nginx.pid redis.pid; do
    pid="$(cat "$dir/$f" 2>/dev/null || true)"
    [ -n "$pid" ] && alive "$pid" || return 1
  done
  pgdir="$(cat "$dir/pg.dir" 2>/dev/null || true)"
  pid="$(head -n 1 "$pgdir/data/postmaster.pid" 2>/dev/null || true)"
  [ -n "$pid" ] && alive "$pid"
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  kill) [ $# -ge 3 ] || die "usage: cluster.sh kill DIR a|b"; instance_arg "$3"; cmd_kill "$2" "$3" ;;
  restart) [ $# -ge 3 ] || die "usage: cluster.sh restart DIR a|b"; instance_arg "$3"; cmd_restart "$2" "$3" ;;
  stop) [ $# -ge 2 ] || die "usage: cluster.sh stop DIR"; cmd_stop "$2" ;;
  status) [ $# -ge 2 ] || die "usage: cluster.sh status DIR"; cmd_status "$2" ;;
  *) sed -n '2,33p' "$0" >&2; exit 2 ;;
esac
