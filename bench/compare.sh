#!/usr/bin/env bash
# auditlens and DuckDB side by side on the same generated audit events, in the same run:
# file import into Parquet (events/s), Parquet bytes per event, and the forensics queries of
# bench/queries/ (cold and warm medians). Not part of CI.
#
#   cargo build --release
#   python3 -m pip install duckdb
#   bench/compare.sh                 # 1,000,000 events; EVENTS=200000 for a quick run
#
# Settings (environment): EVENTS, RUNS (per query, 5), WORK (/tmp/auditlens-compare),
# BIN (target/release/auditlens), THREADS (DuckDB's, 2).
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS="${EVENTS:-1000000}"
RUNS="${RUNS:-5}"
WORK="${WORK:-/tmp/auditlens-compare}"
BIN="${BIN:-target/release/auditlens}"
THREADS="${THREADS:-2}"

[ -x "$BIN" ] || { echo "no $BIN: run cargo build --release first" >&2; exit 1; }
python3 -c 'import duckdb' 2>/dev/null || { echo "DuckDB's Python package is missing: python3 -m pip install duckdb" >&2; exit 1; }

mkdir -p "$WORK"
JSONL="$WORK/events-$EVENTS.jsonl"
if [ ! -s "$JSONL" ]; then
  "$BIN" bench generate --events "$EVENTS" --start 2026-11-30T00:00:00Z --out "$JSONL"
fi
echo "data: $EVENTS events, $(stat -c %s "$JSONL") bytes of JSON Lines ($JSONL)" >&2

rm -rf "$WORK/data"
start=$(date +%s.%N)
"$BIN" import --data-dir "$WORK/data" --cluster bench "$JSONL" > /dev/null
end=$(date +%s.%N)
import_s=$(python3 -c "print($end - $start)")

ours=$("$BIN" bench queries --data-dir "$WORK/data" --queries bench/queries --runs "$RUNS" --json)
audit_id=$(python3 -c 'import json,sys; print([p.split("=",1)[1] for p in json.loads(sys.argv[1])["params"] if p.startswith("audit_id=")][0])' "$ours")
theirs=$(python3 bench/duckdb_side.py --jsonl "$JSONL" --parquet "$WORK/duckdb.parquet" \
  --queries bench/queries --audit-id "$audit_id" --runs "$RUNS" --threads "$THREADS")

python3 - "$ours" "$theirs" "$import_s" <<'PY'
import json, sys
ours, theirs, import_s = json.loads(sys.argv[1]), json.loads(sys.argv[2]), float(sys.argv[3])
m = ours["machine"]
print(f"machine: {m['cpu_model']}, {m['cores']} cores; DuckDB {theirs['duckdb']} with {theirs['threads']} threads")
n = ours["events"]
duck_total = theirs["load_s"] + theirs["write_parquet_s"]
print(f"events: {n} (DuckDB loaded {theirs['events']})")
print(f"import into Parquet: auditlens {import_s:.1f} s ({n/import_s:,.0f} events/s); "
      f"DuckDB load {theirs['load_s']:.1f} s + Parquet {theirs['write_parquet_s']:.1f} s "
      f"({theirs['events']/duck_total:,.0f} events/s); ratio {(n/import_s)/(theirs['events']/duck_total):.2f}x")
print(f"Parquet: auditlens {ours['parquet_bytes']:,} bytes ({ours['parquet_bytes_per_event']:.1f}/event); "
      f"DuckDB {theirs['parquet_bytes']:,} bytes ({theirs['parquet_bytes']/theirs['events']:.1f}/event); "
      f"ratio {ours['parquet_bytes']/theirs['parquet_bytes']:.2f}")
print(f"{'query':<24}{'rows':>8}{'ours cold':>11}{'duck cold':>11}{'ratio':>7}{'ours warm':>11}{'duck warm':>11}{'ratio':>7}")
for q in ours["queries"]:
    d = theirs["queries"].get(q["name"])
    if d is None:
        continue
    oc, dc = q["cold_ms"]["median"], d["cold_ms"]["median"]
    ow, dw = q["warm_ms"]["median"], d["warm_ms"]["median"]
    rows = q["rows"] if q["rows"] == d["rows"] else f"{q['rows']}/{d['rows']}"
    print(f"{q['name']:<24}{rows:>8}{oc:>9.1f}ms{dc:>9.1f}ms{oc/dc:>6.2f}x{ow:>9.1f}ms{dw:>9.1f}ms{ow/dw:>6.2f}x")
PY
