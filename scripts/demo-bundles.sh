#!/usr/bin/env bash
# The offline variant of the demo (no server): installs what is missing, builds daiban (release), and shows three offline replicas — the county centre,
# an agent's laptop and a township office — converging through bundle files, with a conflict reviewed and
# resolved at the centre. Replica homes are left in .demo/ to explore afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product daiban
bin="$PWD/.build/release/daiban"
demo="$PWD/.demo/bundles"
rm -rf "$demo"
mkdir -p "$demo"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ daiban %s\n' "$*"; "$bin" "$@"; }

say "Three replicas: centre (县代办中心), agent (代办员 laptop), township (乡镇代办机构)"
run init --home "$demo/centre" --author centre
run init --home "$demo/agent" --author agent
run init --home "$demo/township" --author township

say "The centre registers a township and a project, and hands the bundle to both"
run record put --home "$demo/centre" township T01 name=棠下镇 kind=TOWN
run record put --home "$demo/centre" project P1 name=智能装备生产基地建设项目 township_id=T01 \
    category=INVESTMENT_PROMOTION is_industrial=true total_investment_wan=12000
run export --home "$demo/centre" "$demo/centre-1.bundle"
run import --home "$demo/agent" "$demo/centre-1.bundle"
run import --home "$demo/township" "$demo/centre-1.bundle"

say "Offline, the agent and the township both edit the project's name"
run record put --home "$demo/agent" project P1 name=智能装备扩产项目 approval_type=备案
run record put --home "$demo/township" project P1 name=智能装备生产基地（一期） total_investment_wan=12500

say "Their bundles reach the centre (USB stick); importing twice is harmless"
run export --home "$demo/agent" "$demo/agent-1.bundle" --for centre
run export --home "$demo/township" "$demo/township-1.bundle" --for centre
run import --home "$demo/centre" "$demo/agent-1.bundle"
run import --home "$demo/centre" "$demo/township-1.bundle"
run import --home "$demo/centre" "$demo/township-1.bundle"

say "The centre sees the conflict, with both versions"
run conflicts list --home "$demo/centre"
CONFLICT=$("$bin" conflicts list --home "$demo/centre" --json | sed -E 's/^\[\{"id":"([0-9a-f]+)".*/\1/')
run conflicts show --home "$demo/centre" "$CONFLICT"
run peers --home "$demo/centre"
run conflicts resolve --home "$demo/centre" "$CONFLICT" --value 智能装备生产基地扩产项目

say "The resolution travels back; everyone converges"
run export --home "$demo/centre" "$demo/centre-2a.bundle" --for agent
run export --home "$demo/centre" "$demo/centre-2t.bundle" --for township
run import --home "$demo/agent" "$demo/centre-2a.bundle"
run import --home "$demo/township" "$demo/centre-2t.bundle"
for r in centre agent township; do
  printf '%-9s ' "$r"; "$bin" record get --home "$demo/$r" project P1 --json
done
a=$("$bin" record list --home "$demo/centre" project --json)
b=$("$bin" record list --home "$demo/agent" project --json)
c=$("$bin" record list --home "$demo/township" project --json)
if [ "$a" = "$b" ] && [ "$b" = "$c" ]; then say "All three replicas are equal."; else say "replicas differ"; exit 1; fi
run status --home "$demo/centre"
