# Shared set-up for the bench scripts (sourced): a release build, a generated project of
# $TRACES traces (~8 runs each, 20 days ending 2026-11-01) served by `runlake emulate`
# without rate limits, and the LangSmith variables pointing at it. Leaves BIN, TMP, URL.
cd "$(dirname "$0")/.."
cargo build --release --quiet
BIN=$PWD/target/release/runlake
TMP=$(mktemp -d)
trap 'kill $EMU 2>/dev/null || true; rm -rf "$TMP"' EXIT
$BIN -q generate --project my-project --traces "$TRACES" --seed 3 --days 20 --end 2026-11-01T00:00:00Z --out "$TMP/runs.jsonl"
echo "data: $(wc -l < "$TMP/runs.jsonl") runs, $(du -m "$TMP/runs.jsonl" | cut -f1) MB of JSONL"
$BIN -q emulate --port 0 --data "my-project=$TMP/runs.jsonl" > "$TMP/url" &
EMU=$!
for _ in $(seq 600); do [ -s "$TMP/url" ] && break; sleep 0.1; done
URL=$(head -1 "$TMP/url")
export LANGSMITH_ENDPOINT=$URL LANGSMITH_API_KEY=bench LANGSMITH_PROJECT=my-project LANGSMITH_TRACING=false
# tool_usage over the whole project in one request stream, as the seed script does it (v1,
# whose pages are the seed's; the emulator is not LangSmith Cloud, so nothing is paced).
TOOL_USAGE=(run pipelines/tool_usage.toml --now 2026-11-01T00:10:00Z --set source.api=v1
  --set source.split_windows=false)
