#!/usr/bin/env bash
# The README's first command. Installs what is missing, builds a release, and runs daiban-server on its
# embedded SQLite store (./daiban-data, 127.0.0.1:8080) with a bootstrap centre user and a ready client home
# (./daiban-client) signed in as that user. Ctrl-C stops the server gracefully.
#
#   scripts/start.sh            serve (DAIBAN_PORT / DAIBAN_DATA / DAIBAN_HOST override the defaults)
#   scripts/start.sh demo       instead: a scripted two-agent conflict demo against a throwaway server
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = demo ]; then exec scripts/demo.sh; fi
scripts/install-deps.sh
echo "building (release; the first build takes several minutes)…" >&2
swift build -c release --product daiban-server
swift build -c release --product daiban
bin="$PWD/.build/release"
data="${DAIBAN_DATA:-$PWD/daiban-data}"
host="${DAIBAN_HOST:-127.0.0.1}"
port="${DAIBAN_PORT:-8080}"
client="$PWD/daiban-client"
url="http://$host:$port"

password=""
if ! "$bin/daiban-server" user list --data "$data" --json | grep -q '"name"'; then
  boot=$(LC_ALL=C LANG=C "$bin/daiban-server" admin bootstrap --data "$data" --url "$url")
  password=$(printf '%s\n' "$boot" | sed -n 's/^password (shown once, keep it safe): //p')
fi

log="$data/server.log"
mkdir -p "$data"
"$bin/daiban-server" serve --data "$data" --host "$host" --port "$port" > "$data/server.out" 2> >(tee -a "$log" >&2) &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null' INT TERM
for _ in $(seq 1 100); do
  grep -q "listening on" "$data/server.out" 2>/dev/null && break
  kill -0 $server 2>/dev/null || { echo "daiban-server did not start (see $log)" >&2; exit 1; }
  sleep 0.1
done

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

cat <<MSG

daiban-server is running at $url (data in $data, log in $log).
MSG
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
wait $server
