#!/usr/bin/env bash
# A scripted demo over a real server: two agents edit the same project offline, sync, the conflict appears at
# the county centre with who wrote what from which device, the centre resolves it, and every replica ends
# equal. Runs a throwaway daiban-server on a free port; homes and logs stay in .demo/ to explore.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product daiban-server
swift build -c release --product daiban
bin="$PWD/.build/release"
demo="$PWD/.demo/sync"
rm -rf "$demo"
mkdir -p "$demo"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { local who=$1; shift; printf '[%s] $ daiban %s\n' "$who" "$*"; "$bin/daiban" "$@" --home "$demo/$who"; }

say "A county server with three accounts: the centre (县代办中心) and two agents (代办员)"
export DAIBAN_BCRYPT_COST=10
for u in centre:center li:agent wang:agent; do
  printf 'pw-%s-secret\n' "${u%%:*}" | "$bin/daiban-server" user add "${u%%:*}" --role "${u##*:}" --data "$demo/server" --password-stdin
done
"$bin/daiban-server" serve --data "$demo/server" --port 0 > "$demo/server.out" 2> "$demo/server.log" &
server=$!
trap 'kill -TERM $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q "listening on" "$demo/server.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$demo/server.out")
echo "server: $url"
for who in centre li wang; do
  run "$who" init --server "$url" >/dev/null
  printf 'pw-%s-secret\n' "$who" | run "$who" login --user "$who" --password-stdin --device-name "$who-laptop"
done

say "The centre registers a township and a project; everyone syncs"
run centre record put township T01 name=棠下镇 kind=TOWN
run centre record put project P1 name=智能装备生产基地建设项目 township_id=T01 total_investment_wan=12000
for who in centre li wang; do run "$who" sync; done

say "Offline at two enterprise sites, both agents edit the project's name"
run li record put project P1 name=智能装备扩产项目 approval_type=备案
run wang record put project P1 name=智能装备生产基地（一期） total_investment_wan=12500

say "Back on the network: both sync, then the centre"
for who in li wang centre; do run "$who" sync; done

say "The centre sees the conflict: both values, which agent, which device, when"
run centre conflicts list
id=$("$bin/daiban" conflicts list --home "$demo/centre" --json | sed -E 's/^\[\{"id":"([0-9a-f]+)".*/\1/')
run centre conflicts show "$id"
run centre conflicts resolve "$id" --value 智能装备生产基地扩产项目

say "The resolution reaches everyone"
for who in centre li wang; do run "$who" sync; done
ref=$("$bin/daiban" record list project --json --home "$demo/centre")
for who in li wang; do
  [ "$("$bin/daiban" record list project --json --home "$demo/$who")" = "$ref" ] || { say "replicas differ"; exit 1; }
done
run li record get project P1
say "All three replicas are equal; no open conflicts. Homes and the server log are in $demo."
