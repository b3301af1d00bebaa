#!/usr/bin/env bash
# Issue 15's figures: what an incremental run's re-sync costs. One generated project
# (TRACES traces over 30 days, default 2,000) served by `runlake emulate` with LangSmith
# Cloud's rate-limit tiers in real time (runlake paces at the published limits, as on
# *.smith.langchain.com). For each pipeline: a first incremental load at NOW1, then the
# next incremental run six hours later, once with the default `[load] resync = "1d"` and
# once with `resync = "0s"`. Reports that second run's requests, wall time, windows and rows.
# Usage: bench/resync_bench.sh [TRACES] [API]   (API: auto (v2 here) or v1; needs curl)
set -euo pipefail
TRACES=${1:-2000}
API=${2:-auto}
cd "$(dirname "$0")/.."
cargo build --release --quiet
BIN=$PWD/target/release/runlake
TMP=$(mktemp -d)
trap 'kill $EMU 2>/dev/null || true; rm -rf "$TMP"' EXIT
NOW1=2026-10-31T00:10:00Z
NOW2=2026-10-31T06:10:00Z
$BIN -q generate --project my-project --traces "$TRACES" --seed 3 --days 30 --end 2026-11-01T00:00:00Z --out "$TMP/runs.jsonl"
echo "data: $(wc -l < "$TMP/runs.jsonl") runs in $TRACES traces over 30 days; api = $API"
$BIN -q emulate --port 0 --rate-limits --data "my-project=$TMP/runs.jsonl" > "$TMP/url" &
EMU=$!
for _ in $(seq 600); do [ -s "$TMP/url" ] && break; sleep 0.1; done
export LANGSMITH_ENDPOINT=$(head -1 "$TMP/url") LANGSMITH_API_KEY=bench LANGSMITH_PROJECT=my-project
COMMON=(--set source.pacing=published --set "source.api=$API" --json)

run() { # pipeline out now extra... → prints "requests wall windows rows" of the run
  local pipeline=$1 out=$2 now=$3
  shift 3
  $BIN -q run "pipelines/$pipeline" --now "$now" --output "$out" "${COMMON[@]}" "$@" |
    tail -1 | python3 -c 'import json,sys; s=json.load(sys.stdin)
print(s["requests"]["requests"], "%.2f" % s["wall_seconds"], len(s["windows"]), s["rows"])'
}

printf '%-14s %-10s %9s %8s %8s %8s\n' pipeline resync requests wall_s windows rows
for pipeline in tool_usage retriever_io feedback; do
  extra=()
  [ "$pipeline" = retriever_io ] && extra=(--set stages.retriever_runs.since=30d)
  for resync in 1d 0s; do
    out="$TMP/$pipeline-$resync"
    run "$pipeline.toml" "$out" $NOW1 --set "load.resync=$resync" "${extra[@]}" > /dev/null
    read -r requests wall windows rows < <(run "$pipeline.toml" "$out" $NOW2 --set "load.resync=$resync" "${extra[@]}")
    printf '%-14s %-10s %9s %8s %8s %8s\n' "$pipeline" "$resync" "$requests" "$wall" "$windows" "$rows"
  done
done
