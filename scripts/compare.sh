#!/usr/bin/env bash
# The peer engines (Loro, Yrs, naive sqlite3 upserts) and daiban on the canonical workload, in one sitting, and the
# ratios the speed targets are stated in. Speeds only compare within one sitting on one machine.
#   scripts/compare.sh [--repeat N]          (about 6 minutes with the default 3 repeats)
# Needs the shared bench beside the checkout (DAIBAN_SHARED, default ../shared) and python3 with venv.
# Prints a markdown table on stdout; the raw figures stay in OUT (default a temporary folder).
set -euo pipefail
cd "$(dirname "$0")/.."
repeat=3
[ "${1:-}" = "--repeat" ] && repeat=$2
shared=${DAIBAN_SHARED:-../shared}
[ -f "$shared/bench/gen.py" ] || { echo "compare: no shared bench at $shared (set DAIBAN_SHARED)" >&2; exit 2; }
OUT=${OUT:-$(mktemp -d /tmp/daiban-compare.XXXXXX)}
mkdir -p "$OUT/wl"

echo "# building daiban-bench and daiban-server (release, .build-bench)" >&2
swift build -c release --scratch-path .build-bench --product daiban-bench >&2
swift build -c release --scratch-path .build-bench --product daiban-server >&2
python3 "$shared/bench/gen.py" dump "$OUT/wl" >/dev/null
sums=$(realpath "$shared/bench/workload.sha256")
(cd "$OUT/wl" && sha256sum --quiet -c "$sums")

echo "# peers ($repeat rounds)" >&2
OUT="$OUT/peers" ROUNDS=$repeat bash "$shared/bench/peers/run.sh" >/dev/null
echo "# daiban engine ($repeat repeats)" >&2
.build-bench/release/daiban-bench engine --workload "$OUT/wl" --repeat "$repeat" --json > "$OUT/engine.json"
echo "# daiban sync ($repeat repeats)" >&2
.build-bench/release/daiban-bench sync --workload "$OUT/wl" --repeat "$repeat" --json > "$OUT/sync.json"

python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
peers = {}
for line in open(f"{out}/peers/results.jsonl"):
    r = json.loads(line)
    peers[r["engine"]] = r
e = json.load(open(f"{out}/engine.json"))
s = json.load(open(f"{out}/sync.json"))
def find(prefix):
    for k, r in peers.items():
        if k.lower().startswith(prefix): return r
    return {}
loro, yrs = find("loro"), find("pycrdt") or find("yrs")
naive = [r for k, r in peers.items() if "sqlite" in k.lower()]
naive_import = min((r.get("A_import_s") for r in naive if r.get("A_import_s")), default=None)
naive_apply = max((r.get("C_apply_updates_per_s") for r in naive if r.get("C_apply_updates_per_s")), default=None)
def f(v, d=2): return "—" if v is None else (f"{v:,.0f}" if v >= 1000 else f"{v:.{d}f}")
rows = [
    ("Phase B: 3-replica convergence, 120,000 updates (s)", loro.get("B_converge_s"), yrs.get("B_converge_s"), None,
     e["phase_b_converge_s"], "≤ 1.5× Loro", e["phase_b_converge_s"] / loro["B_converge_s"] if loro else None, "× Loro"),
    ("Phase A: import 10,000 × 12 fields (s)", loro.get("A_import_s"), yrs.get("A_import_s"), naive_import,
     e["phase_a_import_s"], "≤ 1× naive", e["phase_a_import_s"] / naive_import if naive_import else None, "× naive"),
    ("Phase C: apply 100,000 updates (updates/s)", loro.get("C_apply_updates_per_s"), yrs.get("C_apply_updates_per_s"),
     naive_apply, e["phase_c_apply_updates_per_s"], "≥ 1.5× naive",
     e["phase_c_apply_updates_per_s"] / naive_apply if naive_apply else None, "× naive"),
    ("local write, one commit per update (tx/s)", loro.get("B_local_write_ops_per_s"), yrs.get("B_local_write_ops_per_s"),
     e["raw_sqlite_one_upsert_tx_per_s"], e["write_ops_per_s"], "≤ 2× raw cost",
     e["write_tx_cost_vs_raw"], "× raw cost"),
    ("server: push over loopback (changes/s, server side)", None, None, s["raw_sqlite_upserts_per_s"],
     s["server_side_changes_per_s"], "≥ 0.5× raw", s["server_side_apply_vs_raw"], "× raw"),
    ("new replica's bootstrap of 120,000 fields (s)", None, None, None, s["pull_bootstrap_s"], "≤ 1 s", None, ""),
    ("compressed bytes per field change, Phase B", loro.get("B_zlib_bytes_per_update"), yrs.get("B_zlib_bytes_per_update"),
     None, e["wire_bytes_per_change_compressed"], "≤ 25 B", None, ""),
    ("peak RSS (MiB), engine", loro.get("peak_rss_mib"), yrs.get("peak_rss_mib"), None, e["peak_rss_mib"], "≤ 200", None, ""),
]
print(f"medians of {e['repeats']}; daiban durability {e['durability']}, page cache {e['page_cache_kib']} KiB; "
      f"naive = the peers' sqlite3 upserts; raw = daiban-bench's own C-API baseline in the same process")
print()
print("| figure | Loro | Yrs | naive / raw SQLite | daiban | target | ratio |")
print("|---|---:|---:|---:|---:|---|---:|")
for name, lo, y, n, d, target, ratio, unit in rows:
    print(f"| {name} | {f(lo)} | {f(y)} | {f(n)} | {f(d)} | {target} | {f(ratio) + ' ' + unit if ratio else '—'} |")
PY
echo "# figures in $OUT" >&2
