#!/usr/bin/env bash
# A scripted demo over a real server: two agents of one case edit its project offline, sync, the conflict
# appears at the county centre with who wrote what from which device, the centre resolves it, and every replica
# ends equal; a change an agent may not make is refused, kept on its laptop and reverted. Runs a throwaway
# daiban-server on a free port; homes and logs stay in .demo/ to explore.
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

say "The centre registers a township, its two agents and a case with its project; everyone syncs"
run centre record put township T01 name=棠下镇 kind=TOWN
run centre record put person P-LI name=李明 login=li roles=AGENT
run centre record put person P-WANG name=王芳 login=wang roles=AGENT
run centre record put project P1 name=智能装备生产基地建设项目 township_id=T01 total_investment_wan=12000
run centre record put case C1 project_id=P1 township_id=T01 agent_id=P-LI team=P-WANG status=EXECUTING
for who in centre li wang; do run "$who" sync; done

say "Offline at two enterprise sites, both agents edit the project's name; wang also tries to take over the case"
run li record put project P1 name=智能装备扩产项目 approval_type=备案
run wang record put project P1 name=智能装备生产基地（一期） total_investment_wan=12500
run wang record put case C1 agent_id=P-WANG

say "Back on the network: both sync, then the centre"
for who in li wang centre; do run "$who" sync; done

say "The server refused the reassignment (the office's to make); wang's laptop keeps it, listed, until wang reverts it"
run wang rejected list
run wang rejected revert --all
run wang record get case C1

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
say "All three replicas are equal; no open conflicts."

say "Part 2: a 代办 case (fixture C3 of the fictional 云岭县): a paper registration at 石门乡, handover recorded offline"
fx="$PWD/Tests/Fixtures/yunling"
printf 'pw-admin-secret\n' | "$bin/daiban-server" user add admin --role center --data "$demo/server" --password-stdin
printf 'pw-sm-admin-secret\n' | "$bin/daiban-server" user add sm-admin --role township --township OFF-SM --data "$demo/server" --password-stdin
printf 'pw-a04-secret\n' | "$bin/daiban-server" user add a04 --role agent --data "$demo/server" --password-stdin
for who in admin sm-admin a04; do
  run "$who" init --server "$url" >/dev/null
  printf 'pw-%s-secret\n' "$who" | run "$who" login --user "$who" --password-stdin --device-name "$who-device" >/dev/null
done
run admin roster import "$fx/roster.json"
run admin catalogue import "$fx/catalogue.csv"
run admin calendar import "$fx/calendar-2025.csv"
for who in admin a04 sm-admin; do run "$who" sync >/dev/null; done
say "The agent enters the paper 代办登记表 (received 2025-10-09)"
case_id=$("$bin/daiban" case register --home "$demo/a04" --uscc 92330999TEST00003X --enterprise 云岭石门山居文旅有限公司 \
  --project 石门村闲置农房民宿改造项目 --township OFF-SM --channel WINDOW --form paper --investment 600 --on 2025-10-09 \
  --project-code 2025-330999-61-03-000033 --json \
  | sed -E 's/.*"case":"([^"]+)".*/\1/')
echo "case: $case_id"
run a04 sync >/dev/null
say "The township office reviews, signs the free agreement and assigns the agent"
run sm-admin sync >/dev/null
run sm-admin case review "$case_id" --eligible --case-no C3 --on 2025-10-10
run sm-admin case agree "$case_id" --code XY-2025-0058 --scope FULL --on 2025-10-13
run sm-admin case assign "$case_id" --agent A04
run sm-admin sync >/dev/null
say "The agent plans and carries the item (低压新装供电接入, 5 WD committed) to completion"
run a04 sync >/dev/null
run a04 plan add "$case_id" --item GD-02
run a04 plan confirm "$case_id" --on 2025-10-13
run a04 item dispatch "$case_id.1" --on 2025-10-20
run a04 item submit "$case_id.1" --on 2025-10-27
run a04 item accept "$case_id.1" --on 2025-10-27
run a04 item decide "$case_id.1" --result APPROVED --on 2025-11-05
run a04 case complete "$case_id" --form-no BJ-2025-0021 --on 2025-11-06
run a04 sync >/dev/null
say "The township receives the 办结单 at 16:20 on the due day, with no link; it syncs two days later"
run sm-admin sync >/dev/null
run sm-admin case handover "$case_id" --received-at 2025-11-10T16:20
run admin sync >/dev/null
run admin report handover --as-of 2025-11-11
run sm-admin sync >/dev/null
run admin sync >/dev/null
say "At the centre the handover counts as on time: judged by when it happened, not when it synced"
run admin report handover --as-of 2025-11-24
run admin report overdue --as-of 2025-11-24
LANG=zh_CN.UTF-8 run admin case show "$case_id" --as-of 2025-11-24
say "Done. Homes and the server log are in $demo."
