#!/usr/bin/env bash
# Builds every libFuzzer target (tests/fuzz/fuzz_*.c; CMake option SG_FUZZ: clang with
# -fsanitize=fuzzer,address,undefined) in build-fuzz and runs each for a bounded time over a
# scratch copy of its seed corpus tests/fuzz/corpus_<name>/ (the committed seeds stay as they
# are). Exits non-zero when a target crashes, leaks or trips a sanitizer; the reproducer is kept
# in build-fuzz/artifacts/<name>/.
#   FUZZ_SECONDS   seconds per target (default 60)
#   FUZZ_TARGETS   space-separated subset to run (default: all)
#   FUZZ_JOBS      build parallelism (default: nproc)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${FUZZ_SECONDS:-60}"
jobs="${FUZZ_JOBS:-$(nproc)}"
fix="${SG_FIXTURES:-$(cd .. && pwd)/shared/fixtures}"
if ! command -v clang >/dev/null; then echo "fuzz.sh: clang not found" >&2; exit 2; fi

targets="${FUZZ_TARGETS:-}"
if [ -z "$targets" ]; then
  for src in tests/fuzz/fuzz_*.c; do targets="$targets $(basename "$src" .c)"; done
fi

# every library, not just the target files, is instrumented: coverage guides the fuzzer into
# the parsers, and ASan/UBSan watch them
san="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -g"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSG_FUZZ=ON \
  -DCMAKE_C_FLAGS="$san" -DSG_FIXTURES="$fix" >/dev/null
# shellcheck disable=SC2086
cmake --build build-fuzz -j"$jobs" --target $targets

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=0
for t in $targets; do
  seeds="tests/fuzz/corpus_$t"
  work="build-fuzz/corpus/$t" art="build-fuzz/artifacts/$t"
  rm -rf "$work" && mkdir -p "$work" "$art"
  if [ -d "$seeds" ]; then cp -r "$seeds"/. "$work"/; fi
  echo "== $t: ${secs}s over $(find "$work" -type f | wc -l) seeds"
  if build-fuzz/"$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
       -print_final_stats=1 -artifact_prefix="$art/" "$work" >"build-fuzz/$t.log" 2>&1; then
    grep -E "^stat::number_of_executed_units|^Done" "build-fuzz/$t.log" | tail -2 || true
    echo "ok   $t"
  else
    failed=1
    tail -40 "build-fuzz/$t.log"
    echo "FAIL $t (log build-fuzz/$t.log, reproducer in $art/)"
  fi
done
exit $failed
