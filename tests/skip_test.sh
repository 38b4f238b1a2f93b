#!/usr/bin/env bash
# Skips reach ctest: a cmocka binary that skipped a test exits 77 (ctest: "Skipped"), one with a
# failure exits 1 (never 0 or 77; ctest runs the binary itself for the exit 0 case); and every
# tests/test_*.c ends with TU_RUN_TESTS (a bare cmocka_run_group_tests would exit 0 after skips).
# usage: skip_test.sh TEST_STYLES-BINARY TMPDIR
set -u
bin=$1 tmp=$2 here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$tmp" && mkdir -p "$tmp"
pass=0 fail=0
ok()  { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }

SG_FIXTURES=/nonexistent "$bin" >"$tmp/none.out" 2>&1; rc=$?
if [ $rc = 77 ] && grep -q "SKIPPED" "$tmp/none.out"; then ok "no fixtures: exit 77"; else
  bad "no fixtures: exit $rc, want 77"; cat "$tmp/none.out"; fi
# a fixtures folder that exists but holds nothing: the fixture tests fail instead of skipping
mkdir -p "$tmp/empty" && echo "empty" >"$tmp/empty/README.md"
SG_FIXTURES="$tmp/empty" "$bin" >"$tmp/empty.out" 2>&1; rc=$?
if [ $rc = 1 ]; then ok "failures: exit 1"; else bad "failures: exit $rc, want 1"; cat "$tmp/empty.out"; fi
for f in "$here"/test_*.c; do
  if grep -q "cmocka_run_group_tests" "$f" || ! grep -q "return TU_RUN_TESTS(" "$f"; then
    bad "$(basename "$f") does not end with TU_RUN_TESTS"
  fi
done
[ $fail = 0 ] && ok "every test file ends with TU_RUN_TESTS"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
