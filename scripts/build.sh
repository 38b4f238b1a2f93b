#!/usr/bin/env bash
# Configures and builds the project. The one build step shared by scripts/test.sh (and so CI)
# and docker/Dockerfile, so CI exercises the container's build even without Docker.
#   scripts/build.sh                          everything, into build/ (Release)
#   SG_BUILD_DIR=out SG_TARGETS="stargan stargan-server" scripts/build.sh
#   SG_BUILD_TYPE=Debug SG_BUILD_DIR=build-debug scripts/build.sh   (-Og -g, SG_ASSERT checks on)
# Extra arguments go to cmake's configure step (e.g. -DSG_FIXTURES=...).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${SG_BUILD_DIR:-build}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="${SG_BUILD_TYPE:-Release}" "$@" >"$log" 2>&1; then
  cat "$log" >&2
  echo "build.sh: cmake could not configure (a missing package? scripts/install-deps.sh installs them)" >&2
  exit 1
fi
targets=()
for t in ${SG_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$dir" -j"$(nproc)" "${targets[@]}"
