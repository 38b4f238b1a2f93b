#!/usr/bin/env bash
# Re-makes the face detector's fixtures tests/data/detect/*.json with face-api.js (ref.mjs):
#   tests/tools/detect_ref/make-fixtures.sh [BUILD_DIR]      (default build/; needs node, npm,
#                                                             python3, jpegtran/cjpeg from
#                                                             libjpeg-turbo-progs)
# The photos: sample1..6.jpg from the npm package @vladmandic/face-api@1.7.15 (npm pack, not
# committed; the fixtures name each one with its sha256), and the committed exif6.jpg (sample5
# downscaled to 640x464, rotated losslessly by 270 degrees and tagged EXIF Orientation 6, so it
# shows upright) and noface.jpg (a lossless 384x768 crop of sample1 without a face). Those two are
# made only when absent, so re-running never changes committed pictures. Each photo goes through
# build/image_ppm (the project's decoder, EXIF applied) and ref.mjs --min-score 0.3; sample1 and
# noface also with --raw. Checks: exif6's faces agree with its upright version's (IoU >= 0.95,
# |score difference| <= 0.01), and a second run of ref.mjs gives identical bytes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=${1:-$root/build}
out=$root/tests/data/detect
version=1.7.15
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"

if [ ! -x "$build/image_ppm" ]; then
  [ -f "$build/CMakeCache.txt" ] || cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j2 --target image_ppm >/dev/null
fi
ppm=$build/image_ppm
[ -d "$here/node_modules/@vladmandic/face-api" ] ||
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
(cd "$tmp" && npm pack --silent "@vladmandic/face-api@$version" >/dev/null &&
  tar xzf "vladmandic-face-api-$version.tgz")
pkg=$tmp/package
model=$pkg/model

if [ ! -f "$out/exif6.jpg" ]; then
  "$ppm" --resize 640x464 "$pkg/demo/sample5.jpg" "$tmp/s5small.ppm"
  cjpeg -quality 85 -optimize "$tmp/s5small.ppm" >"$tmp/s5small.jpg"
  jpegtran -perfect -copy none -rotate 270 "$tmp/s5small.jpg" >"$tmp/rot.jpg"
  python3 "$here/exif_orient.py" "$tmp/rot.jpg" "$out/exif6.jpg" 6
fi
if [ ! -f "$out/noface.jpg" ]; then
  jpegtran -perfect -copy none -crop 384x768+0+0 "$pkg/demo/sample1.jpg" >"$out/noface.jpg"
fi

ref() { # NAME PHOTO SOURCE_NAME OUT.json [ref.mjs options]
  local name=$1 photo=$2 source_name=$3 json=$4
  shift 4
  "$ppm" "$photo" "$tmp/$name.ppm"
  node "$here/ref.mjs" "$model" "$tmp/$name.ppm" --min-score 0.3 --source "$photo" \
    --source-name "$source_name" "$@" \
    2>/dev/null >"$json"
  node -e 'const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(`${process.argv[2]}: ${j.width}x${j.height}, ${j.faces.length} faces, scores ${
      j.faces.map((f) => f.score).join(" ") || "-"}${j.raw ? " (raw)" : ""}`)' "$json" "$name"
}
for i in 1 2 3 4 5 6; do
  raw=
  [ $i = 1 ] && raw=--raw
  ref "sample$i" "$pkg/demo/sample$i.jpg" "@vladmandic/face-api@$version/demo/sample$i.jpg" \
    "$out/sample$i.json" $raw
done
ref exif6 "$out/exif6.jpg" tests/data/detect/exif6.jpg "$out/exif6.json"
ref noface "$out/noface.jpg" tests/data/detect/noface.jpg "$out/noface.json" --raw

# exif6 in displayed pixels against the same picture stored upright (jpegtran back, lossless in
# the DCT domain; the decoded pixels still differ by a few levels: libjpeg's IDCT and chroma
# upsampling are not symmetric under rotation)
jpegtran -perfect -copy none -rotate 90 "$out/exif6.jpg" >"$tmp/upright.jpg"
ref upright "$tmp/upright.jpg" upright.jpg "$tmp/upright.json"
node "$here/compare.mjs" "$out/exif6.json" "$tmp/upright.json" | sed 's/^/  exif6 vs upright: /'
# deterministic: the same bytes again
node "$here/ref.mjs" "$model" "$tmp/sample1.ppm" --min-score 0.3 --source "$pkg/demo/sample1.jpg" \
  --source-name "@vladmandic/face-api@$version/demo/sample1.jpg" --raw 2>/dev/null | cmp - "$out/sample1.json"
echo "deterministic: sample1 (raw) made twice, identical"
