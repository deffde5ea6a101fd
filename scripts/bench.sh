#!/usr/bin/env bash
# Runs the benchmark suites. stdout gets only the suites' JSON lines (one per suite,
# the row format BENCHMARKS.md describes), so results can be piped; builds and progress go to stderr.
#
#   npm run bench                        every suite
#   npm run bench -- engine              one suite
#   npm run bench -- engine --quick      arguments after the suite go to it
#   npm run bench -- --quick             every suite, each given the arguments
#   GAMESRV_BENCH_WINE=1 npm run bench -- locks   the Win32 build of a native suite under
#                                        wine (BENCHMARKS.md, "under wine")
# (npm prints its own "> gamesrv bench" banner on stdout: use `npm run -s bench | ...`.)
#
# A suite is native/bench/bench_<suite>.cpp (built in Release into build-native/bench)
# or bench/<suite>.bench.ts (run with tsx against build/Release/gamesrv.node), or both
# (their rows merged into the suite's one line).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

native_suites() {
  local f
  for f in native/bench/bench_*.cpp; do
    [ -e "$f" ] || continue
    f="${f##*/bench_}"
    echo "${f%.cpp}"
  done
}

node_suites() {
  local f
  for f in bench/*.bench.ts; do
    [ -e "$f" ] || continue
    f="${f##*/}"
    echo "${f%.bench.ts}"
  done
}

all_suites() { { native_suites; node_suites; } | awk '!seen[$0]++'; }

build="$root/build-native/bench"
configured=0
build_native() { build_native_target "bench_$1"; }

# One target of the Release benchmark build (configured on first use).
build_native_target() {
  if [ "$configured" = 0 ]; then
    local gen=()
    # The generator is fixed when the build directory is first configured.
    if [ ! -f "$build/CMakeCache.txt" ] && command -v ninja >/dev/null 2>&1; then gen=(-G Ninja); fi
    cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DGAMESRV_BUILD_TESTS=ON \
      -DGAMESRV_SANITIZE= >&2 || return 1
    configured=1
  fi
  cmake --build "$build" --target "$1" --parallel "$(nproc 2>/dev/null || echo 2)" >&2 || return 1
}

run_suite() {
  local suite="$1"
  shift
  echo "== suite $suite ==" >&2
  if [ -f "native/bench/bench_$suite.cpp" ] && [ -n "${GAMESRV_BENCH_WINE:-}" ]; then
    # The Win32 backend under wine: the cross-built executable (npm run build:win).
    npm run --silent build:win >&2 || return 1
    WINEPREFIX="$root/build-win/wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" \
      /usr/lib/wine/wine64 "$root/build-win/bench_$suite.exe" "$@" </dev/null | tr -d '\r'
  elif [ -f "native/bench/bench_$suite.cpp" ] && [ -f "bench/$suite.bench.ts" ]; then
    # Rows measured in C++ and rows measured through the TypeScript facade (storage):
    # both run, and their results print as the suite's one line.
    build_native "$suite" || return 1
    local native_line ts_line
    native_line="$("$build/bench_$suite" "$@" | tail -n 1)" || return 1
    ts_line="$(node --import tsx "bench/$suite.bench.ts" "$@" | tail -n 1)" || return 1
    node -e 'const [a, b] = process.argv.slice(1).map((l) => JSON.parse(l));
      process.stdout.write(JSON.stringify({ suite: a.suite, results: [...a.results, ...b.results] }) + "\n");' \
      "$native_line" "$ts_line"
  elif [ -f "native/bench/bench_$suite.cpp" ]; then
    build_native "$suite" || return 1
    "$build/bench_$suite" "$@"
  elif [ -f "bench/$suite.bench.ts" ]; then
    if [ ! -f build/Release/gamesrv.node ]; then
      echo "addon not built: running npm run build:native" >&2
      npm run --silent build:native >&2 || return 1
    fi
    # Suites start the server as npm start does, from dist/: compile what src/ holds now.
    npm run --silent build:ts >&2 || return 1
    # The native baselines the suite starts (native/bench/<suite>_*.cpp, in build-native/bench).
    local helper
    for helper in native/bench/"$suite"_*.cpp; do
      [ -e "$helper" ] || continue
      helper="${helper##*/}"
      build_native_target "${helper%.cpp}" || return 1
    done
    node --import tsx "bench/$suite.bench.ts" "$@"
  else
    return 2
  fi
}

if [ $# -gt 0 ] && [ "$1" != "all" ] && [ "${1#-}" = "$1" ]; then
  suite="$1"
  shift
  if ! all_suites | grep -qx -- "$suite"; then
    echo "unknown suite: $suite (known: $(all_suites | tr '\n' ' '))" >&2
    exit 2
  fi
  run_suite "$suite" "$@"
  exit $?
fi

if [ $# -gt 0 ] && [ "$1" = "all" ]; then shift; fi
failed=()
for suite in $(all_suites); do
  if ! run_suite "$suite" "$@"; then
    echo "suite $suite failed" >&2
    failed+=("$suite")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed suites: ${failed[*]}" >&2
  exit 1
fi
