#!/usr/bin/env bash
# Fuzzing the inputs a hostile peer or a clerk's file can reach: the change-set decoder (push bodies, pulled
# chunks, bundle files), the JSON bodies of the HTTP contract (both directions) and the catalogue, calendar and
# roster importers (CSV in UTF-8 or GB18030, JSON, Excel).
#
#   scripts/fuzz.sh [--runs N] [--jobs J] [TARGET...]
#       builds daiban-fuzz with libFuzzer and AddressSanitizer into .build-fuzz (a separate, slow first build),
#       then runs each target (default: all) for N executions (default 1,000,000). The corpus starts from
#       protocol/vectors and Tests/Fixtures/fuzz and grows in .build-fuzz/corpus/TARGET. A crash stops the run
#       with its input in .build-fuzz/crashes/TARGET; copy it to Tests/Fixtures/fuzz/TARGET/ (the regression
#       inputs), fix the bug, and add a test.
#   scripts/fuzz.sh --short [--build-path P]
#       no fuzzing build: replays the seeds and the regression inputs through every target, plus 30,000 seeded
#       mutations each, in the release build (the test command runs this).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=1000000 jobs=1 short=0 build_path=.build targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --short) short=1; shift ;;
    --build-path) build_path=$2; shift 2 ;;
    changeset|http|importer) targets+=("$1"); shift ;;
    *) echo "usage: scripts/fuzz.sh [--short] [--runs N] [--jobs J] [changeset|http|importer]..." >&2; exit 2 ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(changeset http importer)

# Seeds: the bundles of the encoding vectors, and the committed inputs of Tests/Fixtures/fuzz.
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
for t in "${targets[@]}"; do
  mkdir -p "$seeds/$t"
  [ -d "Tests/Fixtures/fuzz/$t" ] && cp Tests/Fixtures/fuzz/"$t"/* "$seeds/$t/" 2>/dev/null || true
done
python3 - "$seeds" <<'EOF'
import json, os, sys
out = sys.argv[1] + "/changeset"
if os.path.isdir(out):
    for f in sorted(os.listdir("protocol/vectors/encoding")):
        d = json.load(open("protocol/vectors/encoding/" + f))
        # The first byte chooses: 0, a whole bundle; 1, a payload the harness wraps (daiban-fuzz Targets.swift).
        open(out + "/" + f.replace(".json", ".bundle"), "wb").write(b"\x00" + bytes.fromhex(d["bundle_hex"]))
        open(out + "/" + f.replace(".json", ".payload"), "wb").write(b"\x01" + bytes.fromhex(d["payload_hex"]))
EOF

if [ $short = 1 ]; then
  bin="$build_path/release/daiban-fuzz"
  [ -x "$bin" ] || swift build -c release --build-path "$build_path" --product daiban-fuzz
  for t in "${targets[@]}"; do
    "$bin" replay "$t" --mutations 30000 --seed 1 "$seeds/$t" 2>/dev/null
  done
  exit 0
fi

scripts/install-deps.sh
echo "# building daiban-fuzz with -sanitize=fuzzer,address into .build-fuzz (the first build takes a while)" >&2
swift build -c release --build-path .build-fuzz --product daiban-fuzz \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -use-ld=lld
bin=.build-fuzz/release/daiban-fuzz
status=0
for t in "${targets[@]}"; do
  corpus=.build-fuzz/corpus/$t crashes=.build-fuzz/crashes/$t
  mkdir -p "$corpus" "$crashes"
  echo "# $t: $runs executions" >&2
  start=$(date +%s)
  parallel=()
  [ "$jobs" -gt 1 ] && parallel=(-jobs="$jobs" -workers="$jobs")
  if ! DAIBAN_FUZZ_TARGET=$t ASAN_OPTIONS=detect_leaks=0 "$bin" -runs="$runs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
      "${parallel[@]}" -artifact_prefix="$crashes/" -print_final_stats=1 "$corpus" "$seeds/$t" 2> ".build-fuzz/$t.log"; then
    echo "# $t: CRASH — see .build-fuzz/$t.log and $crashes" >&2
    status=1
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb|cov:" ".build-fuzz/$t.log" | tail -3 >&2 || true
  echo "# $t: $(( $(date +%s) - start )) s, corpus $(ls "$corpus" | wc -l) inputs" >&2
done
exit $status
