#!/usr/bin/env bash
# A real TLS reverse proxy (nginx) in front of a test-bed Directus, for wss:// tests.
#
#   scripts/tls-proxy.sh start DIR --upstream PORT [--watch-pid PID]
#       Makes a test CA and a server certificate for localhost and 127.0.0.1 signed by
#       it (openssl, in DIR), writes DIR/nginx.conf (TLS on a free 127.0.0.1 port,
#       proxy_pass to http://127.0.0.1:PORT with the WebSocket upgrade headers), starts
#       nginx in the foreground of its own session (no daemon; its pid, logs and temp
#       files all in DIR) and prints KEY=VALUE lines (also in DIR/proxy.env):
#       PROXY_PORT, PROXY_WSS_URL (wss://localhost:port/websocket), PROXY_CA_PEM (file),
#       PROXY_ACCESS_LOG, PROXY_PID.
#       --watch-pid stops nginx when that process exits (crashed test runs).
#   scripts/tls-proxy.sh stop DIR     SIGTERM, then SIGKILL after 5 s; fine if not running
#
# nginx and openssl are Debian packages (scripts/bootstrap.sh installs them).
set -euo pipefail

log() { echo "[tls-proxy] $*" >&2; }
die() { log "$*"; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

nginx_bin() {
  # Debian puts nginx in /usr/sbin, which is not on every user's PATH.
  command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || die "nginx is not installed (apt-get install nginx)"
}

make_certs() { # dir
  local d="$1"
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 2 \
    -subj "/CN=directus-chat test CA" -keyout "$d/ca.key" -out "$d/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -subj "/CN=localhost" -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
  printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$d/server.ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
    -extfile "$d/server.ext" -out "$d/server.pem" 2>/dev/null
}

write_conf() { # dir port upstream
  local d="$1" port="$2" up="$3" user=""
  # A master started as root would switch its workers to `nobody`, who cannot enter a
  # 0700 temp folder; as any other user the directive is not needed (and is ignored).
  [ "$(id -u)" = 0 ] && user="user root;"
  mkdir -p "$d/tmp"
  cat >"$d/nginx.conf" <<EOF
$user
daemon off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log info;
events { worker_connections 256; }
http {
  access_log $d/access.log;
  # Attachments go through the proxy too (nginx refuses bodies over 1 MiB by default).
  client_max_body_size 64m;
  client_body_temp_path $d/tmp/body;
  proxy_temp_path $d/tmp/proxy;
  fastcgi_temp_path $d/tmp/fastcgi;
  uwsgi_temp_path $d/tmp/uwsgi;
  scgi_temp_path $d/tmp/scgi;
  map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
  server {
    listen 127.0.0.1:$port ssl;
    server_name localhost;
    ssl_certificate $d/server.pem;
    ssl_certificate_key $d/server.key;
    location / {
      proxy_pass http://127.0.0.1:$up;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$connection_upgrade;
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$remote_addr;
      proxy_set_header X-Forwarded-Proto https;
      # A quiet chat is not a dead one: the server's heartbeat pings come every 30 s.
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
    }
  }
}
EOF
}

start_watchdog() { # dir watched-pid
  setsid bash -c '
    dir="$1"; watched="$2"
    while kill -0 "$watched" 2>/dev/null; do sleep 1; done
    pid="$(cat "$dir/proxy.pid" 2>/dev/null || true)"
    [ -n "$pid" ] || exit 0
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  ' _ "$1" "$2" </dev/null >/dev/null 2>&1 &
  echo $! >"$1/watchdog.pid"
}

stop_nginx() { # dir
  local d="$1" pid i
  pid="$(cat "$d/proxy.pid" 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$d/proxy.pid"
}

stop_dir() { # dir
  local wd
  stop_nginx "$1"
  wd="$(cat "$1/watchdog.pid" 2>/dev/null || true)"
  [ -n "$wd" ] && kill "$wd" 2>/dev/null || true
  rm -f "$1/watchdog.pid"
}

cmd_start() {
  [ $# -ge 1 ] || die "usage: tls-proxy.sh start DIR --upstream PORT [--watch-pid PID]"
  local dir="$1" up="" watch="" nginx try port pid i
  shift
  while [ $# -gt 0 ]; do
    case "$1" in
      --upstream) up="$2"; shift 2 ;;
      --watch-pid) watch="$2"; shift 2 ;;
      *) die "unknown option $1" ;;
    esac
  done
  [ -n "$up" ] || die "--upstream PORT is required"
  nginx="$(nginx_bin)"
  mkdir -p "$dir"; dir="$(cd "$dir" && pwd)"
  make_certs "$dir"
  for try in 1 2 3; do
    port="$(free_port)"
    write_conf "$dir" "$port" "$up"
    : >"$dir/error.log"
    # -e: the startup error log goes to DIR too, never to /var/log/nginx.
    setsid "$nginx" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" </dev/null >>"$dir/nginx.out" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/proxy.pid"
    [ -n "$watch" ] && [ "$try" = 1 ] && start_watchdog "$dir" "$watch"
    for i in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      # Ready when a TLS handshake with the test CA works and the upstream answers.
      if curl -fsS -m 5 --cacert "$dir/ca.pem" "https://localhost:$port/server/ping" >/dev/null 2>&1; then
        {
          echo "PROXY_PORT=$port"
          echo "PROXY_WSS_URL=wss://localhost:$port/websocket"
          echo "PROXY_CA_PEM=$dir/ca.pem"
          echo "PROXY_ACCESS_LOG=$dir/access.log"
          echo "PROXY_PID=$pid"
        } >"$dir/proxy.env"
        log "nginx ready at https://localhost:$port -> http://127.0.0.1:$up (pid $pid, folder $dir)"
        cat "$dir/proxy.env"
        return 0
      fi
      sleep 0.1
    done
    stop_nginx "$dir"
    # A port taken between choosing and binding is worth another try; anything else is not.
    grep -q "Address already in use" "$dir/error.log" "$dir/nginx.out" 2>/dev/null || break
  done
  stop_dir "$dir"
  log "nginx did not start; its log:"
  cat "$dir/error.log" "$dir/nginx.out" >&2 2>/dev/null || true
  exit 1
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) [ $# -ge 2 ] || die "usage: tls-proxy.sh stop DIR"; stop_dir "$2" ;;
  *) die "usage: tls-proxy.sh start DIR --upstream PORT [--watch-pid PID] | stop DIR" ;;
esac
