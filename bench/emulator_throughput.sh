#!/usr/bin/env bash
# Emulator throughput: pages of 100 runs per second with the v1 default select, measured by
# wrk (a separate load-generating process) over loopback.
#
# Usage: bench/emulator_throughput.sh [TRACES] [DURATION]
# Needs: wrk (Debian package `wrk`), a release build (built here).
set -euo pipefail
cd "$(dirname "$0")/.."
TRACES=${1:-2000}
DURATION=${2:-15s}
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
cargo build --release --quiet
BIN=target/release/runlake
TMP=$(mktemp -d)
trap 'kill $EMU 2>/dev/null || true; rm -rf "$TMP"' EXIT
$BIN -q generate --project bench --traces "$TRACES" --seed 9 --out "$TMP/bench.jsonl"
RUNS=$(wc -l < "$TMP/bench.jsonl")
$BIN -q emulate --port 0 --data "bench=$TMP/bench.jsonl" > "$TMP/url" &
EMU=$!
for _ in $(seq 50); do [ -s "$TMP/url" ] && break; sleep 0.1; done
URL=$(head -1 "$TMP/url")
PROJECT=$(curl -s -H 'x-api-key: bench' "$URL/api/v1/sessions?name=bench&limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')

# Each wrk request asks for a page of 100 runs; the Lua script walks a fixed set of cursors so
# the load covers the whole project rather than its first page.
python3 - "$URL" "$PROJECT" "$TMP/cursors.lua" <<'PY'
import json, sys, urllib.request
url, project, out = sys.argv[1:]
cursors, body = [None], {"session": [project], "limit": 100}
while True:
    req = urllib.request.Request(url + "/api/v1/runs/query", json.dumps(body).encode(),
                                 {"x-api-key": "bench", "content-type": "application/json"})
    page = json.load(urllib.request.urlopen(req))
    nxt = page["cursors"]["next"]
    if not nxt or len(cursors) >= 200:
        break
    cursors.append(nxt)
    body["cursor"] = nxt
bodies = []
for c in cursors:
    b = {"session": [project], "limit": 100}
    if c:
        b["cursor"] = c
    bodies.append(json.dumps(b))
with open(out, "w") as f:
    f.write("local bodies = {" + ",".join(json.dumps(b) for b in bodies) + "}\n")
    f.write("""local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", "/api/v1/runs/query", {["x-api-key"]="bench", ["content-type"]="application/json"}, bodies[i])
end
""")
PY
echo "project: $RUNS runs; $(grep -o 'limit' "$TMP/cursors.lua" | wc -l) distinct pages in the load"
for CONNS in 1 4 16; do
  echo "== wrk -c$CONNS -d$DURATION (pages of 100 runs, default select)"
  wrk -t$(( CONNS < 2 ? 1 : 2 )) -c"$CONNS" -d"$DURATION" -s "$TMP/cursors.lua" "$URL" | grep -E "Requests/sec|Transfer/sec|Latency|requests in"
done
curl -s "$URL/_stats" | python3 -c 'import json,sys; s=json.load(sys.stdin); print("runs served:", s["runs_served"], "bytes served:", s["bytes_served"])'
