#!/usr/bin/env bash
# Installs the Node tools the test suite runs (scripts/node: Azurite, the Azure Blob Storage
# emulator) from the lock file. Idempotent: does nothing when they are already installed.
set -euo pipefail
cd "$(dirname "$0")/node"
if [ ! -x node_modules/.bin/azurite-blob ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "node test tools ready: azurite $(node -p 'require("azurite/package.json").version')"
