#!/usr/bin/env bash
# Benchmarks for the pipelines issue, on a generated project of TRACES traces (~5 runs each):
#  1. tool_usage end to end against the emulator without rate limits: runlake (on v1, the seed's
#     API, and on v2, its default) vs the seed's Python script (official SDK), wall and CPU time,
#     peak memory;
#  2. JSONL → flattened Parquet: `runlake convert` vs DuckDB read_json → COPY TO parquet (zstd),
#     same file, 2 threads for DuckDB.
# Usage: bench/pipeline_bench.sh [TRACES]   (needs .venv from scripts/setup-python.sh)
set -euo pipefail
TRACES=${1:-20000}
source "$(dirname "$0")/lib.sh"
PY=$PWD/.venv/bin/python

# Runs a command REPEAT times (default 5, removing $CLEAN before each) and prints the run with
# the median CPU time, so a cold page cache or a noisy neighbour does not decide the figure.
measure() { # label, command...
  local label=$1; shift
  : > "$TMP/times"
  for _ in $(seq "${REPEAT:-5}"); do
    rm -rf "${CLEAN:-$TMP/none}"
    /usr/bin/time -f "%e %U %S %M" -o "$TMP/time" "$@" > /dev/null 2> "$TMP/err" || { cat "$TMP/err"; exit 1; }
    read -r wall user sys rss < "$TMP/time"
    echo "$(echo "$user + $sys" | bc) $wall $rss" >> "$TMP/times"
  done
  read -r cpu wall rss < <(sort -n "$TMP/times" | sed -n "$(( (${REPEAT:-5} + 1) / 2 ))p")
  printf '%-36s wall %6.2fs  cpu %6.2fs  peak RSS %5d MB  (median of %d)\n' "$label" "$wall" "$cpu" "$((rss / 1024))" "${REPEAT:-5}"
}

echo "== tool_usage, 30-day window, emulator without rate limits"
CLEAN=$TMP/out measure "runlake run tool_usage (v1)" $BIN -q "${TOOL_USAGE[@]}" --output "$TMP/out"
# The same pipeline as runlake runs it by default (`api = auto`: v2, SmithDB).
CLEAN=$TMP/out measure "runlake run tool_usage (auto: v2)" $BIN -q run pipelines/tool_usage.toml \
  --now 2026-11-01T00:10:00Z --set source.split_windows=false --output "$TMP/out"
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
CLEAN=$TMP/conv measure "runlake convert (2 builder threads)" $BIN -q convert "$TMP/runs.jsonl" --output "$TMP/conv"
cat > "$TMP/duck.py" <<PY
import duckdb
con = duckdb.connect()
con.execute("SET threads = 2")
con.execute("COPY (SELECT * FROM read_json_auto('$TMP/runs.jsonl', maximum_object_size=100000000)) TO '$TMP/duck.parquet' (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 3)")
PY
measure "duckdb read_json_auto -> COPY (2 thr)" $PY "$TMP/duck.py"
MB=$(du -m "$TMP/runs.jsonl" | cut -f1)
echo "input: $MB MB; runlake parquet $(du -m "$TMP/conv" | tail -1 | cut -f1) MB; duckdb parquet $(du -m "$TMP/duck.parquet" | cut -f1) MB"
