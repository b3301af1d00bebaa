#!/usr/bin/env bash
# Issue 12's benchmark: the seed page's scripts (official SDK) against runlake with its default
# `api = auto`, on one generated project (TRACES traces over 30 days, default 2,000), served by
# `runlake emulate` as three deployments:
#   saas      v1 + v2 with LangSmith Cloud's published rate-limit tiers, in real time;
#   v1-only   v1 alone (a self-hosted LangSmith before 0.16), same tiers;
#   unlimited v1 + v2 without limits (self-hosted behind no rate limiter).
# Against the tiered deployments runlake is told it talks to LangSmith Cloud
# (source.pacing=published): it paces at the published limits, as it does on
# *.smith.langchain.com. Reports wall time, requests and 429s of each side, and the rows.
# Usage: bench/api_bench.sh [TRACES] [PIPELINES...]   (needs .venv from scripts/setup-python.sh)
set -euo pipefail
TRACES=${1:-2000}
shift || true
PIPELINES=("${@:-tool_usage retriever_io}")
read -r -a PIPELINES <<< "${PIPELINES[*]}"
cd "$(dirname "$0")/.."
cargo build --release --quiet
BIN=$PWD/target/release/runlake
PY=$PWD/.venv/bin/python
TMP=$(mktemp -d)
trap 'kill $(cat "$TMP/emulators" 2>/dev/null) 2>/dev/null || true; rm -rf "$TMP"' EXIT
NOW=2026-11-01T00:10:00Z
$BIN -q generate --project my-project --traces "$TRACES" --seed 3 --days 30 --end 2026-11-01T00:00:00Z --out "$TMP/runs.jsonl"
echo "data: $(wc -l < "$TMP/runs.jsonl") runs in $TRACES traces over 30 days"

source bench/emulated.sh

# The seed script as published, datetime.now() pinned; retriever_io over 30 days like the
# pipeline run beside it (the page's script says num_days = 1).
seed_script() { # name
  sed 's/^num_days = 1$/num_days = 30/' "tests/python/seed/$1.py" > "$TMP/$1_seed.py"
  cat > "$TMP/run_seed.py" <<PY
import datetime as dt, runpy, sys, warnings
import pandas, tqdm.auto  # C extensions first, then pin datetime.now()
warnings.filterwarnings("ignore")
class Pinned(dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return dt.datetime(2026, 11, 1, 0, 10)
dt.datetime = Pinned
ns = runpy.run_path(sys.argv[1])
print(len(ns["data"]))
PY
}

runlake_rows() { # pipeline, extra --set flags...
  local p=$1; shift
  rm -rf "$TMP/out"
  $BIN -q run "pipelines/$p.toml" --now "$NOW" --output "$TMP/out" --json \
    --set "stages.$( [ "$p" = retriever_io ] && echo retriever_runs || echo tool_runs ).since=30d" "$@" \
    | $PY -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])["rows"])'
}

export LANGSMITH_API_KEY=bench LANGSMITH_PROJECT=my-project LANGSMITH_TRACING=false
for deployment in saas v1-only unlimited; do
  case $deployment in
    unlimited) URL=$(emulate "$TMP/runs.jsonl" --deployment saas); PACING=() ;;
    *) URL=$(emulate "$TMP/runs.jsonl" --deployment "$deployment" --rate-limits); PACING=(--set source.pacing=published) ;;
  esac
  export LANGSMITH_ENDPOINT=$URL
  for p in "${PIPELINES[@]}"; do
    seed_script "$p"
    # Each side starts with a fresh rate-limit window.
    [ "$deployment" = unlimited ] || sleep 11
    seed=$(measure "$URL" "$PY" -W ignore "$TMP/run_seed.py" "$TMP/${p}_seed.py")
    [ "$deployment" = unlimited ] || sleep 11
    mine=$(measure "$URL" runlake_rows "$p" "${PACING[@]}")
    printf '%-10s %-13s seed script: %s\n' "$deployment" "$p" "$seed"
    printf '%-10s %-13s runlake:     %s\n' "$deployment" "$p" "$mine"
  done
done
