#!/usr/bin/env bash
# Benchmarks for the pipelines issue, on a generated project of TRACES traces (~5 runs each):
#  1. tool_usage end to end against the emulator without rate limits: runlake vs the seed's
#     Python script (official SDK), wall and CPU time, peak memory;
#  2. JSONL → flattened Parquet: `runlake convert` vs DuckDB read_json → COPY TO parquet (zstd),
#     same file, 2 threads for DuckDB.
# Usage: bench/pipeline_bench.sh [TRACES]   (needs .venv from scripts/setup-python.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
TRACES=${1:-20000}
cargo build --release --quiet
BIN=$PWD/target/release/runlake
PY=$PWD/.venv/bin/python
TMP=$(mktemp -d)
trap 'kill $EMU 2>/dev/null || true; rm -rf "$TMP"' EXIT
$BIN -q generate --project my-project --traces "$TRACES" --seed 3 --days 20 --end 2026-11-01T00:00:00Z --out "$TMP/runs.jsonl"
echo "data: $(wc -l < "$TMP/runs.jsonl") runs, $(du -m "$TMP/runs.jsonl" | cut -f1) MB of JSONL"
$BIN -q emulate --port 0 --data "my-project=$TMP/runs.jsonl" > "$TMP/url" &
EMU=$!
for _ in $(seq 600); do [ -s "$TMP/url" ] && break; sleep 0.1; done
URL=$(head -1 "$TMP/url")
export LANGSMITH_ENDPOINT=$URL LANGSMITH_API_KEY=bench LANGSMITH_PROJECT=my-project LANGSMITH_TRACING=false

measure() { # label, command...
  local label=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$TMP/time" "$@" > /dev/null 2> "$TMP/err" || { cat "$TMP/err"; exit 1; }
  read -r wall user sys rss < "$TMP/time"
  printf '%-34s wall %6.2fs  cpu %6.2fs  peak RSS %5d MB\n' "$label" "$wall" "$(echo "$user + $sys" | bc)" "$((rss / 1024))"
}

echo "== tool_usage, 30-day window, emulator without rate limits"
measure "runlake run tool_usage" $BIN -q run pipelines/tool_usage.toml --now 2026-11-01T00:10:00Z \
  --output "$TMP/out" --set source.api=v1 --set source.split_windows=false \
  --set source.v1_requests_per_10s=1000000 --set source.v1_long_requests_per_10s=1000000
cat > "$TMP/seed.py" <<PY
import datetime as dt, runpy, warnings
import pandas, tqdm.auto  # C extensions first, then pin datetime.now()
warnings.filterwarnings("ignore")
class Pinned(dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return dt.datetime(2026, 11, 1, 0, 10)
dt.datetime = Pinned
ns = runpy.run_path("$PWD/tests/python/seed/tool_usage.py")
print(len(ns["data"]))
PY
measure "seed script (langsmith SDK)" $PY -W ignore "$TMP/seed.py"

echo "== JSONL -> flattened Parquet (zstd)"
measure "runlake convert (2 builder threads)" $BIN -q convert "$TMP/runs.jsonl" --output "$TMP/conv"
cat > "$TMP/duck.py" <<PY
import duckdb
con = duckdb.connect()
con.execute("SET threads = 2")
con.execute("COPY (SELECT * FROM read_json_auto('$TMP/runs.jsonl', maximum_object_size=100000000)) TO '$TMP/duck.parquet' (FORMAT parquet, COMPRESSION zstd)")
PY
measure "duckdb read_json_auto -> COPY (2 thr)" $PY "$TMP/duck.py"
MB=$(du -m "$TMP/runs.jsonl" | cut -f1)
echo "input: $MB MB; runlake parquet $(du -m "$TMP/conv" | tail -1 | cut -f1) MB; duckdb parquet $(du -m "$TMP/duck.parquet" | cut -f1) MB"
