#!/usr/bin/env bash
# Builds the project (scripts/build.sh, the same step as the Dockerfile's) and runs every test
# (ctest). Fixtures are read from ../shared/fixtures (override with SG_FIXTURES=...); tests that
# need them, or a browser (tests/web), report "skipped" when those are absent.
set -euo pipefail
cd "$(dirname "$0")/.."
fix="${SG_FIXTURES:-$(cd .. && pwd)/shared/fixtures}"
SG_BUILD_DIR=build scripts/build.sh -DSG_FIXTURES="$fix"
cd build && ctest --output-on-failure "$@"
