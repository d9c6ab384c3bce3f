#!/usr/bin/env bash
# Runs the whole test suite against real parts: anvil chains, PostgreSQL, the real Aave V3 bytecode.
# Installs and starts what is missing (PostgreSQL and chromium from apt, the npm packages), then `dotnet test` on the solution,
# and closes with one summary line over all test projects: "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
./scripts/ensure-postgres.sh || exit 1
if [ ! -x contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil ]; then
  (cd contracts && npm ci --no-audit --no-fund) || exit 1
fi
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  (cd tests/browser && npm ci --no-audit --no-fund) || exit 1
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "test: installing Debian's chromium for the browser tests"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || exit 1
fi
log=$(mktemp)
dotnet test ChainMargin.sln --nologo -v minimal "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# Per-project lines read "Passed!  - Failed: 0, Passed: 12, Skipped: 0, Total: 12, ..."
summary=$(grep -E '(Passed|Failed)! +- Failed: +[0-9]+, Passed: +[0-9]+, Skipped: +[0-9]+' "$log" |
  sed -E 's/.*Failed: +([0-9]+), Passed: +([0-9]+), Skipped: +([0-9]+).*/\1 \2 \3/' |
  awk '{f+=$1; p+=$2; s+=$3} END {printf "%d passed, %d failed, %d skipped\n", p, f, s}')
rm -f "$log"
echo
echo "tests: $summary"
if [ "$status" -ne 0 ]; then exit "$status"; fi
case "$summary" in
  "0 passed"*) echo "no test ran"; exit 1 ;;
esac
exit 0
