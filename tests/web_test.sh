#!/usr/bin/env bash
# Browser test of the front end (tests/web/web_test.mjs). Skips (77) when node, the npm
# packages (cd tests/web && npm ci) or Debian's chromium are missing, or fixtures are absent.
# usage: web_test.sh STARGAN_SERVER FIXTURES OUT_DIR
set -u
here=$(cd "$(dirname "$0")" && pwd)
[ -z "${SG_CROSS:-}" ] || { echo "skipped: a cross build ($SG_CROSS under qemu); the front end is the same bytes everywhere and is tested in the native suite"; exit 77; }
[ -f "$2/README.md" ] || { echo "skipped: fixtures not found at $2"; exit 77; }
command -v node >/dev/null || { echo "skipped: node not installed"; exit 77; }
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { echo "skipped: chromium not installed"; exit 77; }
[ -d "$here/web/node_modules/playwright-core" ] || { echo "skipped: run 'npm ci' in tests/web"; exit 77; }
exec node "$here/web/web_test.mjs" "$@"
