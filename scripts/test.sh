#!/usr/bin/env bash
# Builds the project and runs every test (ctest). Fixtures are read from ../shared/fixtures
# (override with SG_FIXTURES=...); tests that need them report "skipped" when they are absent.
set -euo pipefail
cd "$(dirname "$0")/.."
fix="${SG_FIXTURES:-$(cd .. && pwd)/shared/fixtures}"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSG_FIXTURES="$fix" >/dev/null
cmake --build build -j"$(nproc)"
cd build && ctest --output-on-failure "$@"
