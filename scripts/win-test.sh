#!/usr/bin/env bash
# The Windows lane: cross-builds the native core and tests with mingw-w64 into build-win/
# and runs every test executable under wine (DESIGN.md §3 "Build and test decisions").
#
#   bash scripts/win-test.sh build   cross-build only (npm run build:win): test .exe files
#                                    and the win32-x64 build-win/gamesrv.node
#   bash scripts/win-test.sh         install what is missing, build, run (npm run test:win)
#
# Environment: GAMESRV_WIN_TEST_TIMEOUT (seconds per test executable, default 600),
# GAMESRV_TEST_FILTER / GAMESRV_TEST_SEED (passed through to the tests), GAMESRV_JOBS.
# Each test's output goes to build-win/logs/<test>.out and .err; a failure prints both.
set -euo pipefail
mode="${1:-test}"
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-win"
logs="$build/logs"
compiler=x86_64-w64-mingw32-g++-posix
winebin=/usr/lib/wine
per_test_timeout="${GAMESRV_WIN_TEST_TIMEOUT:-600}"

case "$mode" in
  build | test) ;;
  *) echo "usage: $0 [build|test]" >&2; exit 2 ;;
esac

install_missing() {
  local pkgs=()
  command -v "$compiler" >/dev/null 2>&1 || pkgs+=(g++-mingw-w64-x86-64-posix)
  if [ "$mode" = test ] && [ ! -x "$winebin/wine64" ]; then pkgs+=(wine64); fi
  [ "${#pkgs[@]}" -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "missing ${pkgs[*]}: install them, or run as root" >&2; return 1; }
    sudo=(sudo)
  fi
  echo "== apt-get install ${pkgs[*]} =="
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
}

cross_build() {
  local gen=()
  # The generator is fixed when the build directory is first configured.
  if [ ! -f "$build/CMakeCache.txt" ] && command -v ninja >/dev/null 2>&1; then gen=(-G Ninja); fi
  cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/mingw-w64-x86_64.cmake" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGAMESRV_BUILD_TESTS=ON -DGAMESRV_WIN_ADDON=ON >/dev/null
  cmake --build "$build" --parallel "${GAMESRV_JOBS:-$(nproc 2>/dev/null || echo 2)}"
}

install_missing
echo "== cross-build (mingw-w64) into build-win/ =="
cross_build
[ "$mode" = build ] && exit 0

# --- run under wine ----------------------------------------------------------------
mkdir -p "$logs"
export WINEPREFIX="$build/wineprefix"
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml="  # no Mono / Gecko install prompts
export WINEARCH=win64
# Wine output always goes to files: a wineserver started from a command would inherit
# its pipes and hold them open after the test has exited.
if [ ! -f "$WINEPREFIX/.gamesrv-win10" ]; then
  echo "== wine prefix (first run takes a few seconds) =="
  "$winebin/wine64" winecfg -v win10 >"$logs/winecfg.out" 2>"$logs/winecfg.err"
  touch "$WINEPREFIX/.gamesrv-win10"
fi
# One server for the whole run, ended at exit; every test then starts in ~0.1 s.
"$winebin/wineserver" -p >"$logs/wineserver.out" 2>&1 </dev/null || true  # one may run already
trap '"$winebin/wineserver" -k >/dev/null 2>&1 || true' EXIT

echo "== native tests under wine ($("$winebin/wine64" --version 2>/dev/null)) =="
passed=0
failed=0
cases_passed=0
cases_failed=0
shopt -s nullglob
tests=("$build"/test_*.exe)
[ "${#tests[@]}" -gt 0 ] || { echo "no test executables in $build" >&2; exit 1; }
for exe in "${tests[@]}"; do
  name="$(basename "$exe" .exe)"
  start=$(date +%s)
  set +e
  timeout --kill-after=10 "$per_test_timeout" "$winebin/wine64" "$exe" </dev/null >"$logs/$name.out" 2>"$logs/$name.err"
  rc=$?
  set -e
  secs=$(($(date +%s) - start))
  sed -i 's/\r$//' "$logs/$name.out" "$logs/$name.err"  # msvcrt writes CRLF
  summary="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$logs/$name.out" | tail -n 1 || true)"
  if [ -n "$summary" ]; then
    read -r p _ f _ <<<"$summary"
    cases_passed=$((cases_passed + p))
    cases_failed=$((cases_failed + f))
  fi
  if [ "$rc" -eq 0 ] && [ -n "$summary" ]; then
    printf 'ok   %-32s %s (%ss)\n' "$name" "$summary" "$secs"
    passed=$((passed + 1))
  else
    why="exit code $rc"
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then why="timed out after ${per_test_timeout}s"; fi
    printf 'FAIL %-32s %s (%s, %ss)\n' "$name" "${summary:-no summary line}" "$why" "$secs"
    sed 's/^/     | /' "$logs/$name.out"
    if [ -s "$logs/$name.err" ]; then
      echo "     stderr (last 40 lines of $logs/$name.err):"
      tail -n 40 "$logs/$name.err" | sed 's/^/     | /'
    fi
    failed=$((failed + 1))
  fi
done
echo "test cases: $cases_passed passed, $cases_failed failed"

# The addon in the Windows node.exe, after the native tests (same wine prefix and server).
set +e
bash "$root/scripts/win-node-test.sh"
node_rc=$?
set -e
if [ "$node_rc" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
