#!/usr/bin/env bash
# The Windows lane: cross-builds the native core and tests with mingw-w64 into build-win/
# and runs every test executable under wine (docs/DESIGN-NOTES.md says what the lane covers and what wine cannot show).
#
#   bash scripts/win-test.sh build   cross-build only (npm run build:win): test .exe files
#                                    and the win32-x64 build-win/gamesrv.node
#   bash scripts/win-test.sh         install what is missing, build, run (npm run test:win)
#
# Environment:
#   GAMESRV_WIN_TESTS        what to run, space or comma separated: test executables by
#                            name (test_world), documented reproductions (repro_*), and
#                            node-win (the addon suites in node.exe). Default: every
#                            build-win/test_*.exe, then node-win.
#   GAMESRV_WIN_TEST_REPEAT  run each of them N times (default 1) and report passes,
#                            failures and hangs per executable: flakiness measured.
#   GAMESRV_WIN_TEST_TIMEOUT seconds per run, overriding scripts/win-test-timeouts.txt
#                            (which sizes each executable's limit to its real run time).
#   GAMESRV_TEST_FILTER / GAMESRV_TEST_SEED (passed through to the tests), GAMESRV_JOBS.
# Each run's output goes to build-win/logs/<name>.out and .err (with repeats, failed runs
# keep theirs as <name>.<run>.out/.err); a failure prints them, and a run that times out
# names the test case that was running.
set -euo pipefail
mode="${1:-test}"
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-win"
logs="$build/logs"
compiler=x86_64-w64-mingw32-g++-posix
winebin=/usr/lib/wine
timeouts_file="$root/scripts/win-test-timeouts.txt"
kill_after=10  # seconds between SIGTERM and SIGKILL when a run times out
repeat="${GAMESRV_WIN_TEST_REPEAT:-1}"

case "$mode" in
  build | test) ;;
  *) echo "usage: $0 [build|test]" >&2; exit 2 ;;
esac
case "$repeat" in
  '' | *[!0-9]* | 0) echo "GAMESRV_WIN_TEST_REPEAT must be a positive integer, got '$repeat'" >&2; exit 2 ;;
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

# SQLite for the cross build: Debian has no mingw SQLite, so the amalgamation comes from
# the better-sqlite3 package (its deps/sqlite3/), at a pinned version checked against the
# registry's integrity hash; fetched once into build-win/sqlite-amalgamation.
sqlite_pkg=better-sqlite3@12.9.0
sqlite_integrity='sha512-wqUv4Gm3toFpHDQmaKD4QhZm3g1DjUBI0yzS4UBl6lElUmXFYdTQmmEDpAFa5o8FiFiymURypEnfVHzILKaxqQ=='
sqlite_dir="$build/sqlite-amalgamation"
fetch_sqlite() {
  [ -f "$sqlite_dir/sqlite3.c" ] && [ -f "$sqlite_dir/.integrity" ] && [ "$(cat "$sqlite_dir/.integrity")" = "$sqlite_integrity" ] && return 0
  local tmp
  tmp="$(mktemp -d)"
  echo "== SQLite amalgamation from $sqlite_pkg =="
  (cd "$tmp" && npm pack --silent "$sqlite_pkg" >/dev/null)
  local tgz
  tgz="$(ls "$tmp"/*.tgz)"
  local got
  got="$(node -e "process.stdout.write('sha512-' + require('crypto').createHash('sha512').update(require('fs').readFileSync(process.argv[1])).digest('base64'))" "$tgz")"
  if [ "$got" != "$sqlite_integrity" ]; then
    echo "$sqlite_pkg: integrity $got, expected $sqlite_integrity" >&2
    rm -rf "$tmp"
    return 1
  fi
  mkdir -p "$sqlite_dir"
  tar xzf "$tgz" -C "$tmp" package/deps/sqlite3/sqlite3.c package/deps/sqlite3/sqlite3.h
  mv "$tmp/package/deps/sqlite3/sqlite3.c" "$tmp/package/deps/sqlite3/sqlite3.h" "$sqlite_dir/"
  echo "$sqlite_integrity" > "$sqlite_dir/.integrity"
  rm -rf "$tmp"
}

cross_build() {
  local gen=()
  fetch_sqlite
  # The generator is fixed when the build directory is first configured.
  if [ ! -f "$build/CMakeCache.txt" ] && command -v ninja >/dev/null 2>&1; then gen=(-G Ninja); fi
  cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/mingw-w64-x86_64.cmake" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGAMESRV_BUILD_TESTS=ON -DGAMESRV_WIN_ADDON=ON \
    -DGAMESRV_SQLITE_AMALGAMATION="$sqlite_dir" >/dev/null
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

# --- what to run, and each run's time limit -------------------------------------------
shopt -s nullglob
if [ -n "${GAMESRV_WIN_TESTS:-}" ]; then
  read -r -a names <<<"${GAMESRV_WIN_TESTS//,/ }"
else
  names=()
  for exe in "$build"/test_*.exe; do names+=("$(basename "$exe" .exe)"); done
  [ "${#names[@]}" -gt 0 ] || { echo "no test executables in $build" >&2; exit 1; }
  names+=(node-win)
fi
# The limit of one run: the table's (a few times its normal run time under wine), or
# GAMESRV_WIN_TEST_TIMEOUT for all. A name missing from the table is an error, so a new
# suite gets a limit sized to it rather than a default.
limit_of() {
  if [ -n "${GAMESRV_WIN_TEST_TIMEOUT:-}" ]; then echo "$GAMESRV_WIN_TEST_TIMEOUT"; return; fi
  awk -v n="$1" '!/^#/ && $1 == n { print $2; found = 1 } END { exit !found }' "$timeouts_file"
}
worst=0
for name in "${names[@]}"; do
  if [ "$name" != node-win ] && [ ! -f "$build/$name.exe" ]; then
    echo "no $build/$name.exe (GAMESRV_WIN_TESTS names test_*, repro_* executables or node-win)" >&2; exit 2
  fi
  limit="$(limit_of "$name")" || { echo "no time limit for $name in $timeouts_file: add one" >&2; exit 2; }
  worst=$((worst + (limit + kill_after) * repeat))
done
echo "== wine lane: ${#names[@]} executables x $repeat run(s); limits from ${timeouts_file#"$root"/}; worst case if every run hangs: ${worst}s =="

# The test case a run was in when it ended: the last "run  <case>" with no ok/FAIL after it.
running_case() {
  awk '/^run  /{c=$2} /^(ok|FAIL) /{if ($2 == c) c=""} END{print c}' "$1"
}

# One run of one executable; prints one line, keeps the logs of a failed run and returns
# 0 passed, 1 failed, 2 hung. Sets run_secs and run_summary.
run_once() {
  local name="$1" run="$2" limit out err rc why
  limit="$(limit_of "$name")"
  out="$logs/$name.out"
  err="$logs/$name.err"
  local start=$SECONDS
  set +e
  if [ "$name" = node-win ]; then
    GAMESRV_WIN_NODE_TIMEOUT="$limit" GAMESRV_WIN_NODE_KILL_AFTER="$kill_after" \
      bash "$root/scripts/win-node-test.sh" >"$out" 2>"$err"
  else
    timeout --kill-after="$kill_after" "$limit" "$winebin/wine64" "$build/$name.exe" </dev/null >"$out" 2>"$err"
  fi
  rc=$?
  set -e
  run_secs=$((SECONDS - start))
  sed -i 's/\r$//' "$out" "$err"  # msvcrt writes CRLF
  if [ "$name" = node-win ]; then
    run_summary="$(grep -E '^node\.exe under wine: ' "$out" | tail -n 1 || true)"
  else
    run_summary="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1 || true)"
  fi
  local label="$name"
  [ "$repeat" -gt 1 ] && label="$name #$run"
  if [ "$rc" -eq 0 ] && [ -n "$run_summary" ]; then
    [ "$repeat" -eq 1 ] && printf 'ok   %-32s %s (%ss)\n' "$label" "$run_summary" "$run_secs"
    return 0
  fi
  local status=1
  why="exit code $rc"
  # timeout exits 124 after SIGTERM, 137 when SIGKILL was needed; node-win reports its own.
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] || grep -q '^timed out after ' "$out"; then
    why="timed out after ${limit}s"
    status=2
    local hung
    hung="$(running_case "$out")"
    [ -n "$hung" ] && why="$why in test case $hung"
  fi
  printf 'FAIL %-32s %s (%s, %ss)\n' "$label" "${run_summary:-no summary line}" "$why" "$run_secs"
  sed 's/^/     | /' "$out" | tail -n 80
  if [ -s "$err" ]; then
    echo "     stderr (last 40 lines of $err):"
    tail -n 40 "$err" | sed 's/^/     | /'
  fi
  if [ "$repeat" -gt 1 ]; then
    cp "$out" "$logs/$name.$run.out"
    cp "$err" "$logs/$name.$run.err"
  fi
  return "$status"
}

echo "== tests under wine ($("$winebin/wine64" --version 2>/dev/null)) =="
passed=0
failed=0
cases_passed=0
cases_failed=0
for name in "${names[@]}"; do
  ok=0 bad=0 hung=0 times=()
  for ((run = 1; run <= repeat; run++)); do
    st=0
    run_once "$name" "$run" || st=$?
    times+=("$run_secs")
    case "$st" in 0) ok=$((ok + 1)) ;; 1) bad=$((bad + 1)) ;; *) hung=$((hung + 1)) ;; esac
    if [[ "$run_summary" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
      cases_passed=$((cases_passed + BASH_REMATCH[1]))
      cases_failed=$((cases_failed + BASH_REMATCH[2]))
    fi
  done
  if [ "$repeat" -gt 1 ]; then
    read -r tmin tmed tmax < <(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END{print a[1], a[int((NR+1)/2)], a[NR]}')
    verdict=ok
    [ $((bad + hung)) -gt 0 ] && verdict=FAIL
    printf '%-4s %-32s %d runs: %d passed, %d failed, %d hung (s min/median/max %s/%s/%s, limit %ss)\n' \
      "$verdict" "$name" "$repeat" "$ok" "$bad" "$hung" "$tmin" "$tmed" "$tmax" "$(limit_of "$name")"
  fi
  if [ $((bad + hung)) -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "test cases (native): $cases_passed passed, $cases_failed failed"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
