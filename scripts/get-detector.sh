#!/usr/bin/env bash
# Gets the face detector: face-api.js's ssdMobilenetv1 weights from the npm package
# @vladmandic/face-api (MIT licence; `npm pack`, so npm is needed here, node is not needed at run
# time), unpacked to models/face-api/ (its model/ and demo/ photos; the tests use both), then
# converted to models/detector.safetensors with `stargan convert --detector`.
#
# usage: scripts/get-detector.sh [OUT]      (OUT defaults to models/detector.safetensors)
#        scripts/get-detector.sh --fetch-only DIR
#                  only the weights (the TensorFlow.js manifest and its .bin, which stargan and
#                  stargan-server also read directly) and the package's LICENSE, into DIR (the
#                  Dockerfile: no stargan binary to run when it cross-builds)
# STARGAN=path/to/stargan selects the binary (default build/stargan, else the one on PATH).
# Nothing is fetched when models/face-api/ holds the package already.
set -euo pipefail
cd "$(dirname "$0")/.."
version=1.7.15
fetch_only=
if [ "${1:-}" = --fetch-only ]; then fetch_only=${2:?usage: get-detector.sh --fetch-only DIR}; fi
out=${1:-models/detector.safetensors}
pkg=models/face-api
bin=${STARGAN:-}
if [ -z "$bin" ]; then
  if [ -x build/stargan ]; then bin=build/stargan; else bin=$(command -v stargan || true); fi
fi
if [ -z "$fetch_only" ] && { [ -z "$bin" ] || [ ! -x "$bin" ]; }; then
  echo "get-detector: build stargan first (scripts/build.sh)" >&2; exit 2
fi
manifest=$pkg/model/ssd_mobilenetv1_model-weights_manifest.json
if ! grep -qs "\"version\": \"$version\"" "$pkg/package.json"; then
  command -v npm >/dev/null || { echo "get-detector: npm is needed to fetch @vladmandic/face-api" >&2; exit 2; }
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "get-detector: npm pack @vladmandic/face-api@$version" >&2
  (cd "$tmp" && npm pack --silent "@vladmandic/face-api@$version" >/dev/null)
  rm -rf "$pkg" && mkdir -p "$pkg"
  tar -xzf "$tmp"/vladmandic-face-api-$version.tgz -C "$pkg" --strip-components=1 \
    package/package.json package/LICENSE package/model/ssd_mobilenetv1_model-weights_manifest.json \
    package/model/ssd_mobilenetv1_model.bin package/demo
fi
if [ -n "$fetch_only" ]; then
  mkdir -p "$fetch_only"
  cp "$manifest" "$pkg/model/ssd_mobilenetv1_model.bin" "$pkg/LICENSE" "$fetch_only/"
  exit 0
fi
mkdir -p "$(dirname "$out")"
"$bin" convert --detector "$manifest" --out "$out" >&2
