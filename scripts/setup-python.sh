#!/usr/bin/env bash
# Creates .venv with the Python packages the test suite uses to check runlake against
# independent tools: the official LangSmith SDK (emulator conformance and seed-script parity).
# Idempotent: re-running only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
.venv/bin/python -c 'import langsmith; print("python test env ready: langsmith", langsmith.__version__)'
