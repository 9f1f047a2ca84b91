#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL 15 on loopback: a new cluster in a temporary folder, on a free port,
# trusted for the user `postgres`, stopped and removed when the command ends (whatever its result). The command
# finds the server in DAIBAN_TEST_POSTGRES (a postgres:// URL of the `postgres` database). Installs
# postgresql-15 when it is missing.
#   scripts/with-postgres.sh swift test --filter AccountStoreTests
set -euo pipefail
cd "$(dirname "$0")/.."
bin=/usr/lib/postgresql/15/bin
[ -x "$bin/initdb" ] || scripts/install-deps.sh postgresql-15
dir=$(mktemp -d /tmp/daiban-pg.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chown postgres "$dir"
  as_pg=(runuser -u postgres --)
fi
stop() {
  "${as_pg[@]}" "$bin/pg_ctl" stop -D "$dir/data" -m immediate >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
"${as_pg[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
"${as_pg[@]}" "$bin/pg_ctl" start -w -D "$dir/data" -l "$dir/server.log" \
  -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c max_connections=400" >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }
echo "PostgreSQL 15 on 127.0.0.1:$port (stopped when the command ends)" >&2
export DAIBAN_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
"$@"
