#!/usr/bin/env bash
# Where tool_usage spends its CPU: samples one end-to-end run against the emulator with
# `perf record` (DWARF call graphs) and sums them into cost centres (bench/cpu_categories.py).
# Usage: bench/cpu_profile.sh [TRACES]   (needs perf: Debian package linux-perf)
set -euo pipefail
TRACES=${1:-20000}
command -v perf >/dev/null || { echo "perf not found: apt-get install linux-perf" >&2; exit 1; }
source "$(dirname "$0")/lib.sh"
$BIN -q "${TOOL_USAGE[@]}" --output "$TMP/warm" > /dev/null 2>&1 # page cache, emulator caches
echo "tool_usage, 10 runs without the profiler:"
perf stat -r 10 -o "$TMP/stat" -e task-clock,page-faults,context-switches \
  sh -c "rm -rf '$TMP/out'; exec $BIN -q ${TOOL_USAGE[*]} --output '$TMP/out' > /dev/null 2>&1"
grep -E "task-clock|page-faults|context-switches|user|sys" "$TMP/stat" | sed 's/^ */  /'
rm -rf "$TMP/out"
perf record -q -F 5000 --call-graph dwarf,32768 -o "$TMP/perf.data" \
  $BIN -q "${TOOL_USAGE[@]}" --output "$TMP/out" > /dev/null 2>&1
echo "cost centres (share of sampled CPU time):"
perf script -i "$TMP/perf.data" -F ip,sym 2>/dev/null | python3 bench/cpu_categories.py
