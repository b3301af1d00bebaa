#!/usr/bin/env bash
# Issue 14's figures: traces.toml and threads.toml (v2 traces/threads queries) against the
# same exports done with runs queries, on one generated project (TRACES traces over 30 days,
# default 2,600 ≈ 21,000 runs) served by `runlake emulate --rate-limits` (LangSmith Cloud's
# tiers, in real time; the v2 traces and threads routes share v2's 300 requests per 10 s);
# runlake paces at the published limits (source.pacing=published), as on LangSmith Cloud.
#   traces:  query_traces                      vs query_runs (every run) + group_by_trace
#            (first token times) + fetch_roots (the roots carry the rolled-up totals), on v2
#            and on v1;
#   threads: query_threads (turns from one runs query of the roots, or per thread) vs query_runs of the
#            roots with their thread keys, on v2 and v1 (the grouping into threads is then
#            left to SQL: runlake has no group-by-thread stage).
# Prints wall time, requests and 429s as the emulator counted them, and rows written.
# Usage: bench/summaries_bench.sh [TRACES]   (needs .venv from scripts/setup-python.sh;
# PROFILE=debug uses a debug build: the limits, not CPU, decide these times)
set -euo pipefail
TRACES=${1:-2600}
PROFILE=${PROFILE:-release}
cd "$(dirname "$0")/.."
if [ "$PROFILE" = release ]; then cargo build --release --quiet; else cargo build --quiet; fi
BIN=$PWD/target/$PROFILE/runlake
PY=$PWD/.venv/bin/python
TMP=$(mktemp -d)
trap 'kill $(cat "$TMP/emulators" 2>/dev/null) 2>/dev/null || true; rm -rf "$TMP"' EXIT
source bench/emulated.sh
NOW=2026-11-01T00:10:00Z
$BIN -q generate --project my-project --traces "$TRACES" --seed 3 --days 30 --end 2026-11-01T00:00:00Z --out "$TMP/runs.jsonl"
echo "data: $(wc -l < "$TMP/runs.jsonl") runs in $TRACES traces over 30 days"

cat > "$TMP/traces_by_runs.toml" <<'TOML'
name = "traces_by_runs"
[source]
project = "my-project"
[stages.runs]
type = "query_runs"
since = "30d"
[stages.by_trace]
type = "group_by_trace"
inputs = ["runs"]
aggregate.first_token_times = { collect = "first_token_time" }
[stages.roots]
type = "fetch_roots"
inputs = ["by_trace"]
[stages.rows]
type = "flatten"
inputs = ["roots"]
columns = [
  { name = "trace_id", from = "id" }, { name = "name", from = "name" },
  { name = "run_type", from = "run_type" }, { name = "status", from = "status" },
  { name = "start_time", from = "start_time" }, { name = "end_time", from = "end_time" },
  { name = "latency", from = "latency" }, { name = "total_tokens", from = "total_tokens" },
  { name = "total_cost", from = "total_cost" }, { name = "first_token_times", from = "group.first_token_times" },
  { name = "error", from = "error" }, { name = "tags", from = "tags" },
  { name = "metadata", from = "metadata" }, { name = "inputs", from = "inputs" },
  { name = "outputs", from = "outputs" },
]
[sinks.out]
type = "parquet"
inputs = ["rows"]
TOML
cat > "$TMP/threads_by_runs.toml" <<'TOML'
name = "threads_by_runs"
[source]
project = "my-project"
[stages.roots]
type = "query_runs"
is_root = true
since = "30d"
filter = 'in(metadata_key, ["session_id", "conversation_id", "thread_id"])'
[stages.rows]
type = "flatten"
inputs = ["roots"]
columns = [
  { name = "trace_id", from = "id" }, { name = "session_id", from = "metadata.session_id" },
  { name = "conversation_id", from = "metadata.conversation_id" }, { name = "thread_id", from = "metadata.thread_id" },
  { name = "start_time", from = "start_time" }, { name = "total_tokens", from = "total_tokens" },
  { name = "total_cost", from = "total_cost" }, { name = "error", from = "error" },
  { name = "inputs", from = "inputs" }, { name = "outputs", from = "outputs" },
]
[sinks.out]
type = "parquet"
inputs = ["rows"]
TOML

rows() { # pipeline file, extra flags... → rows written
  rm -rf "$TMP/out"
  $BIN -q run "$1" --now "$NOW" --output "$TMP/out" --json --set source.pacing=published "${@:2}" \
    | $PY -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])["rows"])'
}

export LANGSMITH_API_KEY=bench LANGSMITH_PROJECT=my-project LANGSMITH_TRACING=false
URL=$(emulate "$TMP/runs.jsonl" --deployment saas --rate-limits)
export LANGSMITH_ENDPOINT=$URL
side() { # label, pipeline file, extra flags...
  # Each side starts with a fresh rate-limit window.
  sleep 11
  printf '%-44s %s\n' "$1" "$(measure "$URL" rows "${@:2}")"
}
side "traces.toml (v2 traces/query)" pipelines/traces.toml
side "traces by runs + group_by_trace, v2" "$TMP/traces_by_runs.toml"
side "traces by runs + group_by_trace, v1" "$TMP/traces_by_runs.toml" --set source.api=v1
side "threads.toml (turns from a roots query)" pipelines/threads.toml
side "threads.toml (turns per thread)" pipelines/threads.toml --set stages.threads.turns_from=per_thread
side "thread roots by runs (no grouping), v2" "$TMP/threads_by_runs.toml"
side "thread roots by runs (no grouping), v1" "$TMP/threads_by_runs.toml" --set source.api=v1
