#!/usr/bin/env bash
# The test suite under sanitizers; any report fails the run.
#   scripts/sanitize.sh asan   every ctest test, AddressSanitizer + UndefinedBehaviorSanitizer,
#                              leak detection on; build in build-asan/
#   scripts/sanitize.sh tsan   the server's unit (incl. the cache), integration, hardening, jobs and chaos tests
#                              (overload, expiry, disconnects, reload, SIGTERM) under
#                              ThreadSanitizer; build in build-tsan/
# Extra arguments go to ctest (e.g. -R server). Fixtures as for scripts/test.sh.
# Reports are written to <build>/sanitizer-reports/ (a daemon's report must not be lost because a
# test script killed it or ignored its exit code): the run fails when any is there.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-}
[ "$kind" = asan ] || [ "$kind" = tsan ] || { echo "usage: scripts/sanitize.sh asan|tsan [ctest args]" >&2; exit 2; }
shift
fix="${SG_FIXTURES:-$(cd .. && pwd)/shared/fixtures}"
dir=build-$kind
reports="$PWD/$dir/sanitizer-reports"
supp="$PWD/scripts/sanitize.supp"
if [ "$kind" = asan ]; then
  flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g"
  select=()
else
  flags="-fsanitize=thread -g"
  select=(-R '^(test_server|test_cache|server_integration|server_harden|server_jobs|server_chaos)$')
fi
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DSG_FIXTURES="$fix" \
  -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="${flags%% -g}" >/dev/null
cmake --build "$dir" -j"$(nproc)"
rm -rf "$reports" && mkdir -p "$reports"
export SG_SANITIZER=$kind   # tests that cannot run under a sanitizer (ulimit -v) adapt
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:exitcode=66:log_path=$reports/asan:suppressions=$supp.asan"
export LSAN_OPTIONS="suppressions=$supp.lsan:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=66:log_path=$reports/ubsan"
export TSAN_OPTIONS="halt_on_error=1:exitcode=66:second_deadlock_stack=1:log_path=$reports/tsan:suppressions=$supp.tsan"
rc=0
(cd "$dir" && ctest --output-on-failure "${select[@]}" "$@") || rc=$?
if [ -n "$(ls -A "$reports")" ]; then
  echo "sanitizer reports in $reports:" >&2
  for f in "$reports"/*; do echo "== $f" >&2; head -60 "$f" >&2; done
  exit 1
fi
exit $rc
