#!/usr/bin/env bash
# Builds and runs the native test suite (CTest) in one lane: plain, tsan or asan.
set -euo pipefail
lane="${1:-plain}"
root="$(cd "$(dirname "$0")/.." && pwd)"
case "$lane" in
  plain) sanitize="" ; type=RelWithDebInfo ;;
  tsan)  sanitize="thread" ; type=RelWithDebInfo ;;
  asan)  sanitize="address" ; type=RelWithDebInfo ;;
  *) echo "unknown lane: $lane (plain|tsan|asan)" >&2; exit 2 ;;
esac
build="$root/build-native/$lane"
gen=()
command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)
cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE="$type" -DGAMESRV_BUILD_TESTS=ON -DGAMESRV_SANITIZE="$sanitize" >/dev/null
cmake --build "$build" --parallel "$(nproc 2>/dev/null || echo 2)"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
export ASAN_OPTIONS="detect_leaks=1 abort_on_error=0 ${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1 halt_on_error=1 ${UBSAN_OPTIONS:-}"
# The storage suites also run on PostgreSQL when GAMESRV_TEST_DATABASE_URL names a server
# (scripts/with-postgres.sh sets it); ctest passes the environment on to every test.
if [ -n "${GAMESRV_TEST_DATABASE_URL:-}" ]; then
  export GAMESRV_TEST_DATABASE_URL
  echo "== storage suites also on PostgreSQL (GAMESRV_TEST_DATABASE_URL is set) =="
else
  echo "== storage suites on SQLite only: GAMESRV_TEST_DATABASE_URL is not set (PostgreSQL NOT TESTED) =="
fi
echo "== native tests ($lane) =="
ctest --test-dir "$build" --output-on-failure -j1
