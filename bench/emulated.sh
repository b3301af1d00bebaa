# Shared by the benches that run against emulated deployments (sourced; needs BIN, PY, TMP):
# start an emulator (its pid goes to $TMP/emulators, which the caller's trap kills: `emulate`
# runs in a command substitution, a subshell), count what it answered, time one side.

emulate() { # runs-file, emulate flags... → prints the URL
  local data=$1 out
  shift
  out=$(mktemp -p "$TMP")
  $BIN -q emulate --port 0 --data "my-project=$data" "$@" > "$out" &
  echo $! >> "$TMP/emulators"
  for _ in $(seq 600); do [ -s "$out" ] && break; sleep 0.1; done
  head -1 "$out"
}

# Requests and 429s the emulator has answered so far.
counts() {
  curl -s "$1/_stats" | $PY -c 'import json,sys; s=json.load(sys.stdin)["requests"]
print(sum(sum(v.values()) for v in s.values()), sum(v.get("429", 0) for v in s.values()))'
}

# Runs one side and prints: wall seconds, requests, 429s, rows (the command's last line).
measure() { # url, command...
  local url=$1; shift
  read -r req0 thr0 < <(counts "$url")
  local start end rows
  start=$(date +%s.%N)
  rows=$("$@" 2> "$TMP/err" | tail -1) || { cat "$TMP/err" >&2; exit 1; }
  end=$(date +%s.%N)
  read -r req1 thr1 < <(counts "$url")
  printf '%7.2f s  %4d requests  %3d x 429  %5s rows' "$(echo "$end - $start" | bc)" $((req1 - req0)) $((thr1 - thr0)) "$rows"
}
