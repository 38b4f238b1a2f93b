#!/usr/bin/env bash
# Builds the project (scripts/build.sh, the same step as the Dockerfile's) and runs every test
# (ctest). As root it first adds what only the tests need (scripts/install-deps.sh --test:
# cmocka, curl, Chromium, ...; SG_NO_BROWSER=1 leaves the browser out). Fixtures are read from
# ../shared/fixtures (override with SG_FIXTURES=...); tests that need them, or a browser
# (tests/web), report "Skipped" when those are absent (ctest's summary lists them). The face
# detector and its test photos come from scripts/get-detector.sh (npm pack), run here once.
#   scripts/test.sh [ctest args]                                   Release, in build/
#   SG_BUILD_TYPE=Debug SG_BUILD_DIR=build-debug scripts/test.sh   Debug: -Og -g, SG_ASSERT on
set -euo pipefail
cd "$(dirname "$0")/.."
fix="${SG_FIXTURES:-$(cd .. && pwd)/shared/fixtures}"
dir=${SG_BUILD_DIR:-build}
if [ "$(id -u)" = 0 ]; then scripts/install-deps.sh --test; fi
if ! pkg-config --exists cmocka; then
  echo "test.sh: the unit tests need cmocka: run scripts/install-deps.sh --test (as root)" >&2
  exit 1
fi
SG_BUILD_DIR="$dir" scripts/build.sh -DSG_FIXTURES="$fix"
# the face detector and the photos its tests use (npm pack, once); without them those tests skip
if [ ! -f models/detector.safetensors ] || [ ! -d models/face-api/demo ]; then
  STARGAN="$dir/stargan" scripts/get-detector.sh ||
    echo "test.sh: no face detector (scripts/get-detector.sh failed): its tests will skip" >&2
fi
cd "$dir" && ctest --output-on-failure "$@"
