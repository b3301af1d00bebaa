#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, then every test (Rust unit and
# integration tests, and the Python checks against independent tools).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-python.sh
scripts/setup-node.sh
# The terminal test drives a real terminal through tmux.
if ! command -v tmux >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq tmux >/dev/null || { apt-get update -qq && apt-get install -y -qq tmux >/dev/null; }
  else sudo apt-get install -y -qq tmux >/dev/null; fi
fi
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --locked --no-fail-fast
else
  cargo test --locked --no-fail-fast
fi
# The README's main command, exactly as a new user runs it on a fresh clone.
cargo run --locked -- quickstart
