#!/usr/bin/env bash
# The CPU floor of tool_usage and retriever_io (issue 17), and runlake's multiple of it, on a
# generated project of TRACES traces (~8 runs each):
#  1. an emulator started with `--capture` records the exact API answers of one `runlake run`
#     (v2, `api = auto`, no rate limits), whose Parquet output is kept;
#  2. runlake's CPU (user + sys, bench/cputime.py) over REPEAT runs (default 3, best) against an
#     emulator without capture, the same answers;
#  3. examples/floor.rs on those bytes: the fastest parse of the captured bodies reading only
#     what the pipeline uses, plus zstd at the sink's level over the output's column pages;
#     and, beside that floor, the two costs no pipeline on HTTP and the parquet crate avoids:
#     receiving the bodies over loopback TCP, and the parquet crate's writer (zstd included)
#     writing the output's rows with the sink's properties.
# Usage: bench/floor_bench.sh [TRACES]
set -euo pipefail
TRACES=${1:-20000}
source "$(dirname "$0")/lib.sh"
source bench/emulated.sh
trap 'kill $EMU $(cat "$TMP/emulators" 2>/dev/null) 2>/dev/null || true; rm -rf "$TMP"' EXIT
cargo build --release --quiet --example floor

# Best CPU seconds (user + sys) of REPEAT runs of a command, output removed before each.
cpu() { # output dir, command...
  local out=$1 best=
  shift
  for _ in $(seq "${REPEAT:-3}"); do
    rm -rf "$out"
    bench/cputime.py "$TMP/time" "$@" --output "$out" > /dev/null 2> "$TMP/err" || { cat "$TMP/err"; exit 1; }
    read -r _ user sys _ < "$TMP/time"
    t=$(echo "$user + $sys" | bc)
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc)" = 1 ]; then best=$t; fi
  done
  echo "$best"
}

bench() { # name, expand, pipeline args...
  local name=$1 expand=$2
  shift 2
  local cap=$TMP/capture-$name
  local url
  url=$(emulate "$TMP/runs.jsonl" --capture "$cap")
  LANGSMITH_ENDPOINT=$url $BIN -q run "$@" --now 2026-11-01T00:10:00Z --output "$TMP/kept-$name" > /dev/null 2> "$TMP/err" \
    || { cat "$TMP/err"; exit 1; }
  local runlake
  runlake=$(cpu "$TMP/out-$name" $BIN -q run "$@" --now 2026-11-01T00:10:00Z)
  cargo run --release --quiet --example floor -- --capture "$cap" --output "$TMP/kept-$name" \
    --expand "$expand" --repeat "${REPEAT:-3}" > "$TMP/floor-$name"
  sed 's/^/    /' "$TMP/floor-$name"
  # One figure of floor.rs's `name seconds` lines.
  figure() { awk -v key="$1" '$1 == key { print $2 }' "$TMP/floor-$name"; }
  local parse zstd floor transport write with
  parse=$(figure floor_parse) zstd=$(figure floor_zstd) floor=$(figure floor)
  transport=$(figure transport) write=$(figure parquet_write) with=$(figure floor_with_writer)
  printf '%-13s runlake cpu %6.3fs  floor %6.3fs (parse %6.3fs + zstd %6.3fs)  runlake = %5.1fx floor\n' \
    "$name" "$runlake" "$floor" "$parse" "$zstd" "$(echo "$runlake / $floor" | bc -l)"
  printf '%-13s with transport and the Parquet writer: %6.3fs (parse %6.3fs + transport %6.3fs + parquet_write %6.3fs)  runlake = %5.1fx\n' \
    "" "$with" "$parse" "$transport" "$write" "$(echo "$runlake / $with" | bc -l)"
}

echo "== CPU floor (best of ${REPEAT:-3}); floor.rs lines are seconds"
bench tool_usage "" pipelines/tool_usage.toml
bench retriever_io inputs,outputs,feedback_stats pipelines/retriever_io.toml \
  --set stages.retriever_runs.since=30d
