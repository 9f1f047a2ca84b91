#!/usr/bin/env bash
# The README's first command. Installs what is missing, builds a release, and runs daiban-server on its
# embedded SQLite store (./daiban-data, 127.0.0.1:8080) with a bootstrap centre user and a ready client home
# (./daiban-client) signed in as that user. Ctrl-C stops the server gracefully.
#
#   scripts/start.sh            serve (DAIBAN_PORT / DAIBAN_DATA / DAIBAN_HOST override the defaults)
#   scripts/start.sh demo       instead: a scripted two-agent conflict demo against a throwaway server
#   scripts/start.sh postgres   instead: two instances (ports 8080 and 8081) on one throwaway PostgreSQL 15,
#                               the scale-out mode; the database and the instances' folders go when it stops
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = demo ]; then exec scripts/demo.sh; fi
scripts/install-deps.sh
if [ "${1:-}" = postgres ]; then exec scripts/with-postgres.sh scripts/start.sh --on-postgres; fi
echo "building (release; the first build takes several minutes)…" >&2
swift build -c release --product daiban-server
swift build -c release --product daiban
bin="$PWD/.build/release"
host="${DAIBAN_HOST:-127.0.0.1}"
port="${DAIBAN_PORT:-8080}"
url="http://$host:$port"
instances=1
if [ "${1:-}" = --on-postgres ]; then
  # Started by `start.sh postgres` under scripts/with-postgres.sh, which set DAIBAN_TEST_POSTGRES.
  export DAIBAN_DATABASE="$DAIBAN_TEST_POSTGRES"
  work=$(mktemp -d /tmp/daiban-scaleout.XXXXXX)
  data="$work/instance-1"
  client="$work/client"
  instances=2
else
  data="${DAIBAN_DATA:-$PWD/daiban-data}"
  client="$PWD/daiban-client"
fi

password=""
if ! "$bin/daiban-server" user list --data "$data" --json | grep -q '"name"'; then
  boot=$(LC_ALL=C LANG=C "$bin/daiban-server" admin bootstrap --data "$data" --url "$url")
  password=$(printf '%s\n' "$boot" | sed -n 's/^password (shown once, keep it safe): //p')
fi

# Instance i serves from its own folder (instance 1: $data) on port + i - 1.
servers=()
for i in $(seq 1 $instances); do
  folder="$data"
  [ "$i" = 1 ] || folder="$(dirname "$data")/instance-$i"
  mkdir -p "$folder"
  "$bin/daiban-server" serve --data "$folder" --host "$host" --port $((port + i - 1)) > "$folder/server.out" \
    2> >(tee -a "$folder/server.log" >&2) &
  servers+=($!)
  for _ in $(seq 1 100); do
    grep -q "listening on" "$folder/server.out" 2>/dev/null && break
    kill -0 "${servers[-1]}" 2>/dev/null || { echo "daiban-server did not start (see $folder/server.log)" >&2; exit 1; }
    sleep 0.1
  done
done
log="$data/server.log"
trap 'kill -TERM "${servers[@]}" 2>/dev/null; wait "${servers[@]}" 2>/dev/null' INT TERM

if [ ! -f "$client/session.json" ] && [ -n "$password" ]; then
  "$bin/daiban" init --home "$client" --server "$url" >/dev/null
  printf '%s\n' "$password" | "$bin/daiban" login --home "$client" --user admin --password-stdin
  # The first roster entry: admin is the county centre's office administrator (import the real roster later).
  roster=$(mktemp)
  cat > "$roster" <<'JSON'
{"offices": [{"id": "CENTRE", "level": "COUNTY_CENTER", "name": "县投资项目代办服务中心"}],
 "people": [{"id": "ADMIN", "name": "管理员", "login": "admin", "office_id": "CENTRE", "roles": ["OFFICE_ADMIN"]}]}
JSON
  "$bin/daiban" roster import --home "$client" "$roster" >/dev/null
  rm -f "$roster"
  "$bin/daiban" sync --home "$client" >/dev/null
fi

if [ "$instances" = 1 ]; then
cat <<MSG

daiban-server is running at $url (data in $data, log in $log).
MSG
else
cat <<MSG

Two daiban-server instances share one PostgreSQL database ($DAIBAN_DATABASE):
  $url and http://$host:$((port + 1)), each with its copy of the replica in $work/instance-N
  A client may use either, and switch at any time: what one accepted, the other serves.
  Try: $bin/daiban init --home $work/other --server http://$host:$((port + 1)) and log in as admin there.
  The database and $work go when this stops.
MSG
fi
if [ -n "$password" ]; then
cat <<MSG
First centre user: admin   password: $password   (shown once: keep it safe)
MSG
fi
cat <<MSG
A client home signed in as admin is ready:
  $bin/daiban status --home $client
  $bin/daiban roster import --home $client Tests/Fixtures/yunling/roster.json     # sample county (fictional 云岭县)
  $bin/daiban catalogue import --home $client Tests/Fixtures/yunling/catalogue.csv
  $bin/daiban calendar import --home $client Tests/Fixtures/yunling/calendar-2025.csv
  $bin/daiban case list --home $client
  $bin/daiban report register --home $client
  $bin/daiban sync --home $client
Another machine or user:
  $bin/daiban-server user add li --role agent --data $data --password-stdin   # then type the password
  $bin/daiban init --home ./li --server $url
  $bin/daiban login --home ./li --user li
Ctrl-C stops the server.
MSG
wait "${servers[@]}"
[ -z "${work:-}" ] || rm -rf "$work"
