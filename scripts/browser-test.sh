#!/usr/bin/env bash
# The dashboard in a real browser (test/browser/): Debian's chromium driven by playwright-core.
# Screenshots land in test-results/. `--update-docs` also refreshes docs/dashboard.png.
# CHROMIUM_PATH overrides /usr/bin/chromium (the .ci/run browser lane installs it).
set -euo pipefail
cd "$(dirname "$0")/.."

chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
  echo "browser-test: no chromium at $chromium; install it with" >&2
  echo "  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium" >&2
  exit 1
fi
if [ "${1:-}" = "--update-docs" ]; then export DASHBOARD_DOCS_SCREENSHOT=1; fi

mkdir -p test-results
start=$(date +%s)
node --import tsx --test --test-concurrency=1 test/browser/*.test.ts
echo "browser-test: $(( $(date +%s) - start )) s; screenshots in test-results/"
