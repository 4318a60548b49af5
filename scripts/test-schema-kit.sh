#!/usr/bin/env bash
# The schema kit (scripts/schema-kit.py) on fresh servers of every supported Directus
# version (SCHEMA_KIT_VERSIONS, default: 10.13.4 11.17.4 12.4.0): apply, apply again
# (nothing to do), check, dry run; then a working chat proven with raw REST and a raw
# WebSocket client (scripts/schema-kit-smoke.py): login over the socket, who am I, a
# room's subscription, create and its event, exactly-once by client_key, FORBIDDEN on
# another user's message, presence and read receipts upserts. Also: on 10.13.4 a
# messages collection made the guides' way before the kit (the upgrade path), and on the
# others a second chat collection with a uuid key and a `content` text field.
# Prints `schema_kit: N passed, M failed`.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${DCHAT_CACHE:-$HOME/.cache/directus-chat}"
read -r -a versions <<<"${SCHEMA_KIT_VERSIONS:-10.13.4 11.17.4 12.4.0}"
log() { echo "[test-schema-kit] $*" >&2; }

# Python with `websockets` for the raw client, in a venv of its own in the cache.
venv="$CACHE/venv-ws"
mkdir -p "$CACHE"
(
  flock 9
  if [ ! -f "$venv/.done" ]; then
    log "making $venv (websockets from PyPI)"
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "websockets==13.1" >&2
    touch "$venv/.done"
  fi
) 9>"$CACHE/.venv-ws.lock"
py="$venv/bin/python"

pass=0; fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
bad() { echo "not ok - $*"; fail=$((fail + 1)); }

dirs=()
cleanup() { local d; for d in "${dirs[@]}"; do scripts/directus.sh stop "$d" >/dev/null 2>&1 || true; rm -rf "$d"; done; }
trap cleanup EXIT

rest() { # method path token [body]
  local args=(-sS -g -m 30 -X "$1" -H "Content-Type: application/json" -H "Authorization: Bearer $3")
  [ -n "${4:-}" ] && args+=(-d "$4")
  curl "${args[@]}" "$DIRECTUS_URL$2"
}
jget() { python3 -c 'import json,sys; d=json.load(sys.stdin)
for k in sys.argv[1].split("."): d=d[int(k)] if isinstance(d,list) else d[k]
print(d)' "$1"; }

# kit VERSION LABEL ARGS...: apply twice, check, dry run; leaves the results in $dir/kit.env.
kit() {
  local v="$1" label="$2"; shift 2
  local t0 t1 out
  t0="$(date +%s.%N)"
  if out="$(DIRECTUS_TOKEN="$token" python3 scripts/schema-kit.py apply --url "$DIRECTUS_URL" --env-out "$dir/kit.env" "$@" 2>&1)" \
     && grep -Eq '^schema kit: [1-9][0-9]* changes applied, 0 problems$' <<<"$out"; then
    t1="$(date +%s.%N)"
    ok "$v $label: apply ($(grep -c '^doing:' <<<"$out") changes, $(python3 -c "print(round($t1 - $t0, 1))") s)"
  else
    bad "$v $label: apply"; echo "$out" >&2; return 1
  fi
  out="$(DIRECTUS_TOKEN="$token" python3 scripts/schema-kit.py apply --url "$DIRECTUS_URL" "$@" 2>&1)" || true
  if grep -qx 'schema kit: 0 changes applied, 0 problems' <<<"$out"; then ok "$v $label: a second apply changes nothing"
  else bad "$v $label: a second apply changes nothing"; echo "$out" >&2; fi
  if out="$(DIRECTUS_TOKEN="$token" python3 scripts/schema-kit.py check --url "$DIRECTUS_URL" "$@" 2>&1)"; then ok "$v $label: check passes"
  else bad "$v $label: check passes"; echo "$out" >&2; fi
  out="$(DIRECTUS_TOKEN="$token" python3 scripts/schema-kit.py apply --dry-run --url "$DIRECTUS_URL" "$@" 2>&1)" || true
  if grep -q '^schema kit: 0 changes planned (dry run)' <<<"$out"; then ok "$v $label: dry run plans nothing"
  else bad "$v $label: dry run plans nothing"; echo "$out" >&2; fi
}

# smoke VERSION LABEL ARGS...: the raw chat checks, counted one by one.
smoke() {
  local v="$1" label="$2"; shift 2
  local out line
  out="$("$py" scripts/schema-kit-smoke.py --url "$DIRECTUS_URL" --admin-token "$token" \
        --user1 "kevin@example.com:$p1" --user2 "ada@example.com:$p2" --label "$v $label" "$@" 2>&1)" || true
  while IFS= read -r line; do
    case "$line" in
      "ok "*) echo "$line"; pass=$((pass + 1)) ;;
      "not ok "*) echo "$line"; fail=$((fail + 1)) ;;
      *) echo "  $line" >&2 ;;
    esac
  done <<<"$out"
  grep -q '^ok ' <<<"$out" || bad "$v $label: the smoke test printed no result"
}

for v in "${versions[@]}"; do
  started="$(date +%s)"
  dir="$(mktemp -d)"; dirs+=("$dir")
  if ! scripts/directus.sh start "$dir" --bare --version "$v" --watch-pid $$ >"$dir/server.env" 2>"$dir/start.log"; then
    bad "$v: a fresh server starts"; cat "$dir/start.log" >&2; continue
  fi
  set -a; . "$dir/server.env"; set +a
  [ "$DIRECTUS_VERSION" = "$v" ] && ok "$v: a fresh server starts (reports $DIRECTUS_VERSION)" || bad "$v: the server reports $DIRECTUS_VERSION"
  token="$(rest POST /auth/login "" "{\"email\":\"$DIRECTUS_ADMIN_EMAIL\",\"password\":\"$DIRECTUS_ADMIN_PASSWORD\"}" | jget data.access_token)"

  if [ "$v" = 10.13.4 ]; then
    # The upgrade path: a messages collection made as the Directus chat guides make it.
    rest POST /collections "$token" '{"collection":"messages","meta":{},"schema":{},"fields":[
      {"field":"id","type":"integer","meta":{"hidden":true},"schema":{"is_primary_key":true,"has_auto_increment":true}},
      {"field":"text","type":"text","meta":{},"schema":{}},
      {"field":"user_created","type":"uuid","meta":{"special":["user-created"]},"schema":{}},
      {"field":"date_created","type":"timestamp","meta":{"special":["date-created"]},"schema":{}}]}' >/dev/null
    rest POST /relations "$token" '{"collection":"messages","field":"user_created","related_collection":"directus_users"}' >/dev/null
    rest POST /items/messages "$token" '{"text":"written before the kit"}' >/dev/null
  fi
  kit "$v" messages || { scripts/directus.sh stop "$dir" >/dev/null 2>&1; continue; }
  role="$(sed -n 's/^DCHAT_ROLE_ID=//p' "$dir/kit.env")"
  p1="kevin-pw-$RANDOM$RANDOM"; p2="ada-pw-$RANDOM$RANDOM"
  rest POST /users "$token" "{\"email\":\"kevin@example.com\",\"password\":\"$p1\",\"first_name\":\"Kevin\",\"role\":\"$role\"}" >/dev/null
  rest POST /users "$token" "{\"email\":\"ada@example.com\",\"password\":\"$p2\",\"first_name\":\"Ada\",\"role\":\"$role\"}" >/dev/null
  smoke "$v" messages
  if [ "$v" = 10.13.4 ]; then
    n="$(rest GET "/items/messages?filter[text][_eq]=written%20before%20the%20kit&fields=id" "$token" | jget data | grep -c id || true)"
    [ "$n" = 1 ] && ok "$v: the message written before the kit is still there" || bad "$v: the message written before the kit is gone"
  else
    kit "$v" "uuid chat/content" --collection chat --text-field content --key-type uuid \
      && smoke "$v" "uuid chat/content" --collection chat --text-field content
  fi
  scripts/directus.sh stop "$dir" >/dev/null 2>&1 || true
  log "$v done in $(( $(date +%s) - started )) s"
done

echo "schema_kit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
