#!/usr/bin/env bash
# Configures and builds the project (Release). The one build step shared by scripts/test.sh (and
# so CI) and docker/Dockerfile, so CI exercises the container's build even without Docker.
#   scripts/build.sh                          everything, into build/
#   SG_BUILD_DIR=out SG_TARGETS="stargan stargan-server" scripts/build.sh
# Extra arguments go to cmake's configure step (e.g. -DSG_FIXTURES=...).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${SG_BUILD_DIR:-build}
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
targets=()
for t in ${SG_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$dir" -j"$(nproc)" "${targets[@]}"
