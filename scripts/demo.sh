#!/usr/bin/env bash
# The main job on the embedded default (SQLite + Hangfire in memory): restores, builds, installs the npm packages,
# starts the devnet (three anvil chains), indexes them, computes margin, prints the demo accounts' cross-chain health
# and serves the API on http://127.0.0.1:5080 until Ctrl+C. Pass --once to exit after printing.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil ]; then
  (cd contracts && npm ci --no-audit --no-fund)
fi
dotnet build src/ChainMargin.Host -nologo -v quiet
exec dotnet src/ChainMargin.Host/bin/Debug/net10.0/chainmargin.dll demo "$@"
