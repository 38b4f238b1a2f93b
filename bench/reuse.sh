#!/usr/bin/env bash
# Many styles of one photo: this build's stargan-server against a baseline's, side by side on the
# same machine, alternating builds every round (bench/reuse.py: a 24-frame /v1/interpolate, a
# one-photo x 8-seed /v1/grid, 8 concurrent clients posting distinct photos, 8 posting one photo,
# one client posting one at a time (low load),
# all with random seeds; the demo model, AFHQ 256², fp32, 2 workers). Prints each figure per
# round and the medians' ratios (this build / baseline), and the servers' peak RSS.
#
#   bench/reuse.sh [ROUNDS] [BASE_REF]     default 3 rounds, baseline 0c1f69a (before the reuse)
#   BASE_SERVER=path/to/stargan-server bench/reuse.sh   a baseline binary built elsewhere
#   NEW_ARGS='--max-batch 4' BASE_ARGS=... bench/reuse.sh  more flags for either server (after
#   --workers 2, so they may replace it); BASE_SERVER=build/stargan-server with NEW_ARGS sets
#   this build against itself with other flags
#
# The baseline is built once from git (a detached worktree in build-base/<ref>, Release).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3} ref=${2:-0c1f69a}
new=build/stargan-server
[ -x "$new" ] || { echo "reuse.sh: build this tree first (scripts/test.sh or cmake --build build)" >&2; exit 2; }
base=${BASE_SERVER:-}
if [ -z "$base" ]; then
  hash=$(git rev-parse --short "$ref")
  dir=build-base/$hash
  if [ ! -x "$dir/build/stargan-server" ]; then
    [ -d "$dir" ] || git worktree add --detach "$dir" "$hash" >/dev/null
    cmake -S "$dir" -B "$dir/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$dir/build" -j"$(nproc)" --target stargan-server >/dev/null
  fi
  base=$dir/build/stargan-server
fi
photo=../shared/fixtures/images/afhq/src/cat/flickr_cat_000253.jpg
[ -f "$photo" ] || photo=tests/data/detect/exif6.jpg
[ -x build/image_ppm ] || cmake --build build --target image_ppm >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
build/image_ppm "$photo" "$tmp/photo.ppm"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); flags: $(grep -o 'avx2\|avx512[a-z_0-9]*\|amx[a-z_0-9]*' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); baseline: $base; this build: $new"
echo "baseline flags: ${BASE_ARGS:-none}; this build's flags: ${NEW_ARGS:-none}"
exec python3 bench/reuse.py --rounds "$rounds" --photo "$tmp/photo.ppm" --base "$base" --new "$new" \
  --base-args="${BASE_ARGS:-}" --new-args="${NEW_ARGS:-}"
