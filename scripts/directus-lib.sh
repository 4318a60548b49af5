# Sourced by scripts/directus.sh and scripts/cluster.sh: what both need to install, run,
# wait for and seed a Directus server. Expects HERE (the scripts folder) to be set.
CACHE="${DCHAT_CACHE:-$HOME/.cache/directus-chat}"
DEFAULT_DIRECTUS_VERSION=12.4.0
TESTBED_SECRET="directus-chat-test-bed-secret-0123456789abcdef"
TESTBED_ADMIN_EMAIL="admin@example.com"
TESTBED_ADMIN_PASSWORD="admin-password-1"

log() { echo "[${LOG_TAG:-directus}] $*" >&2; }
die() { log "$*"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json_get() { python3 -c 'import json,sys; d=json.load(sys.stdin); 
for k in sys.argv[1].split("."): d=d[int(k)] if isinstance(d,list) else d[k]
print(d)' "$1"; }
rand_hex() { python3 -c 'import secrets,sys; print(secrets.token_hex(int(sys.argv[1])))' "$1"; }

# Installs (once) Directus $1 and sets PREFIX and NODE (the Node.js that runs it).
PREFIX=""; NODE=""
setup_paths() {
  local version="${1:-$DEFAULT_DIRECTUS_VERSION}"
  PREFIX="$(DIRECTUS_VERSION="$version" "$HERE/directus-install.sh")"
  NODE="$(cat "$PREFIX/.node-path")"
  [ -x "$NODE" ] || die "node missing at $NODE"
}

directus_cli() { echo "$PREFIX/node_modules/directus/cli.js"; }

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

# Alive and not a zombie: a server whose starter has exited is reaped by init, which may
# take a while; a zombie no longer holds its port.
alive() { local st; st="$(ps -o stat= -p "$1" 2>/dev/null)" || return 1; case "$st" in Z*|"") return 1 ;; esac; }

stop_pid() { # pid [KILL]: SIGTERM to its process group, SIGKILL after 5 s (or at once)
  local pid="$1" i
  alive "$pid" || return 0
  if [ "${2:-}" = KILL ]; then kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; return 0; fi
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do alive "$pid" || return 0; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
}

api() { # method path token [body]; against $URL
  local m="$1" p="$2" t="$3" body="${4:-}"
  local args=(-fsS -m 30 -X "$m" -H "Content-Type: application/json")
  [ -n "$t" ] && args+=(-H "Authorization: Bearer $t")
  [ -n "$body" ] && args+=(-d "$body")
  curl "${args[@]}" "$URL$p" || die "REST $m $p failed"
}

# A short digest of what decides a seeded database's content, so templates made by an
# older seed (or by another branch sharing the cache) are never reused.
seed_digest() { cat "$HERE/schema-kit.py" "$HERE/directus-lib.sh" | sha256sum | cut -c1-10; }

# Seeds the running server at $URL: the chat schema through the schema kit (so the kit
# runs on every test bed), then the test-only parts: a collection chat users may not
# read, users Kevin and Ada with passwords and static tokens, an admin static token.
# Writes the KEY=VALUE credentials to $1.
seed_testbed() {
  local creds="$1" coll="$2" textf="$3" keytype="$4"
  local admin_token kit_env
  admin_token="$(api POST /auth/login "" "{\"email\":\"$TESTBED_ADMIN_EMAIL\",\"password\":\"$TESTBED_ADMIN_PASSWORD\"}" | json_get data.access_token)"
  kit_env="$(mktemp)"
  DIRECTUS_TOKEN="$admin_token" python3 "$HERE/schema-kit.py" apply --url "$URL" --key-type "$keytype" \
      --collection "$coll" --text-field "$textf" --role-name Users --env-out "$kit_env" --quiet >&2 \
    || { rm -f "$kit_env"; die "the schema kit failed"; }
  local role version
  role="$(sed -n 's/^DCHAT_ROLE_ID=//p' "$kit_env")"
  version="$(sed -n 's/^DIRECTUS_VERSION=//p' "$kit_env")"
  [ -n "$role" ] || die "the schema kit named no role"

  api POST /collections "$admin_token" '{"collection":"secrets","meta":{},"schema":{},"fields":[
    {"field":"id","type":"integer","meta":{"hidden":true},"schema":{"is_primary_key":true,"has_auto_increment":true}},
    {"field":"value","type":"string","meta":{},"schema":{}}]}' >/dev/null
  api POST /items/secrets "$admin_token" '{"value":"classified"}' >/dev/null
  local t1 t2 ta p1 p2 u1 u2
  t1="kevin-static-$(rand_hex 12)"; t2="ada-static-$(rand_hex 12)"; ta="admin-static-$(rand_hex 12)"
  p1="kevin-pw-$(rand_hex 6)"; p2="ada-pw-$(rand_hex 6)"
  u1="$(api POST /users "$admin_token" "{\"email\":\"kevin@example.com\",\"password\":\"$p1\",\"first_name\":\"Kevin\",\"role\":\"$role\",\"token\":\"$t1\"}" | json_get data.id)"
  u2="$(api POST /users "$admin_token" "{\"email\":\"ada@example.com\",\"password\":\"$p2\",\"first_name\":\"Ada\",\"role\":\"$role\",\"token\":\"$t2\"}" | json_get data.id)"
  api PATCH /users/me "$admin_token" "{\"token\":\"$ta\"}" >/dev/null
  {
    echo "DIRECTUS_VERSION=$version"
    echo "DIRECTUS_ADMIN_EMAIL=$TESTBED_ADMIN_EMAIL"
    echo "DIRECTUS_ADMIN_PASSWORD=$TESTBED_ADMIN_PASSWORD"
    echo "DIRECTUS_ADMIN_TOKEN=$ta"
    grep -E '^DCHAT_(COLLECTION|TEXT_FIELD|KEY_TYPE|ROOMS_COLLECTION|PRESENCE_COLLECTION|RECEIPTS_COLLECTION|ROOM|ROLE_ID|POLICY_ID|PERMISSIONS_ON|OWNERSHIP)=' "$kit_env"
    echo "DCHAT_FORBIDDEN_COLLECTION=secrets"
    echo "DCHAT_USER1_ID=$u1"
    echo "DCHAT_USER1_EMAIL=kevin@example.com"
    echo "DCHAT_USER1_PASSWORD=$p1"
    echo "DCHAT_USER1_NAME=Kevin"
    echo "DCHAT_USER1_TOKEN=$t1"
    echo "DCHAT_USER2_ID=$u2"
    echo "DCHAT_USER2_EMAIL=ada@example.com"
    echo "DCHAT_USER2_PASSWORD=$p2"
    echo "DCHAT_USER2_NAME=Ada"
    echo "DCHAT_USER2_TOKEN=$t2"
  } >"$creds"
  rm -f "$kit_env"
}
