#!/usr/bin/env bash
# The game protocol's libFuzzer lane: builds every target in native/fuzz/ with clang-14
# (-fsanitize=fuzzer,address,undefined, no recovery) and runs each over its committed seed
# corpus for FUZZ_RUNS executions (default 1,000,000), time-boxed by FUZZ_MAX_SECONDS per
# target (default 600). Fails on any crash, sanitizer report or a target that did not
# reach FUZZ_RUNS; prints the executions of each target.
#   scripts/fuzz.sh                 build and run every target
#   scripts/fuzz.sh fuzz_chat ...   only these
#   scripts/fuzz.sh --make-corpus   regenerate native/fuzz/corpus/ (then commit it)
# New inputs libFuzzer finds go to build-fuzz/corpus/<target>/, never into the committed corpus.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/build-fuzz"
runs="${FUZZ_RUNS:-1000000}"
max_seconds="${FUZZ_MAX_SECONDS:-600}"
cxx="${FUZZ_CXX:-clang++-14}"
command -v "$cxx" >/dev/null || { echo "fuzz: $cxx not found (apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 2; }

sources=("$root"/native/src/core/game_protocol.cpp "$root"/native/src/core/game_protocol_client.cpp
         "$root"/native/src/core/game_protocol_server.cpp "$root"/native/src/core/utf8.cpp)
flags=(-std=c++20 -g -O1 -fno-omit-frame-pointer -I"$root/native/include"
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all)
payload_targets=(hello move attack chat ping bye)
all_targets=(fuzz_frames fuzz_server_payloads)
for p in "${payload_targets[@]}"; do all_targets+=("fuzz_$p"); done
mkdir -p "$out"

if [ "${1:-}" = "--make-corpus" ]; then
  "$cxx" -std=c++20 -O1 -I"$root/native/include" "${sources[@]}" "$root/native/fuzz/make_corpus.cpp" -o "$out/make_corpus"
  rm -rf "$root/native/fuzz/corpus"
  "$out/make_corpus" "$root/native/fuzz/corpus"
  find "$root/native/fuzz/corpus" -type f | wc -l | xargs printf 'fuzz: %s seed files in native/fuzz/corpus/\n'
  exit 0
fi

targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=("${all_targets[@]}")

# The codec once, then each target's own file.
objs=()
for src in "${sources[@]}"; do
  obj="$out/$(basename "$src" .cpp).o"
  "$cxx" "${flags[@]}" -c "$src" -o "$obj"
  objs+=("$obj")
done

summary=()
failed=0
for t in "${targets[@]}"; do
  case "$t" in
    fuzz_frames|fuzz_server_payloads) src="$root/native/fuzz/$t.cpp"; defs=() ;;
    fuzz_*) src="$root/native/fuzz/fuzz_payload.cpp"; name="${t#fuzz_}"; defs=(-DGS_FUZZ_"${name^^}") ;;
    *) echo "fuzz: unknown target $t" >&2; exit 2 ;;
  esac
  [ -d "$root/native/fuzz/corpus/$t" ] || { echo "fuzz: no seed corpus native/fuzz/corpus/$t" >&2; exit 2; }
  "$cxx" "${flags[@]}" "${defs[@]}" "$src" "${objs[@]}" -o "$out/$t"
  work="$out/corpus/$t"
  mkdir -p "$work"
  log="$out/$t.log"
  echo "== $t: $runs runs (at most ${max_seconds}s) =="
  status=0
  (cd "$out" && ASAN_OPTIONS="detect_leaks=1 ${ASAN_OPTIONS:-}" UBSAN_OPTIONS="print_stacktrace=1 halt_on_error=1 ${UBSAN_OPTIONS:-}" \
    "./$t" -runs="$runs" -max_total_time="$max_seconds" -print_final_stats=1 "$work" "$root/native/fuzz/corpus/$t") \
    >"$log" 2>&1 || status=$?
  done_runs="$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n1)"
  execs="$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n1)"
  secs="$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n1)"
  if [ "$status" -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|libFuzzer)|runtime error:|SUMMARY: ' "$log"; then
    echo "fuzz: $t FAILED (exit $status); log: $log" >&2
    tail -n 40 "$log" >&2
    failed=1
  elif [ -z "$done_runs" ] || [ "$done_runs" -lt "$runs" ]; then
    echo "fuzz: $t ran ${done_runs:-0} of $runs executions within ${max_seconds}s" >&2
    failed=1
  fi
  summary+=("$(printf '%-22s %10s executions in %ss' "$t" "${execs:-${done_runs:-0}}" "${secs:-?}")")
done

echo "== fuzz summary =="
printf '%s\n' "${summary[@]}"
exit "$failed"
