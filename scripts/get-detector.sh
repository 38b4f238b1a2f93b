#!/usr/bin/env bash
# Gets the face detector: face-api.js's ssdMobilenetv1 weights from the npm package
# @vladmandic/face-api 1.7.15 (MIT licence): `npm pack` when npm is installed, else the same
# tarball from the npm registry with curl (or wget); either way checked against the registry's
# published sha512 integrity, pinned below. Nothing runs node. Unpacked to models/face-api/ (its
# model/ and demo/ photos; the tests use both), then converted to models/detector.safetensors
# with `stargan convert --detector`.
#
# usage: scripts/get-detector.sh [OUT]      (OUT defaults to models/detector.safetensors)
#        scripts/get-detector.sh --package
#                  only the package, unpacked to models/face-api/ (no stargan needed: the tests read
#                  its TensorFlow.js manifest when models/detector.safetensors is absent; CI runs
#                  this first, before anything is built)
#        scripts/get-detector.sh --fetch-only DIR
#                  only the weights (the TensorFlow.js manifest and its .bin, which stargan and
#                  stargan-server also read directly) and the package's LICENSE, into DIR (the
#                  Dockerfile: no stargan binary to run when it cross-builds)
# STARGAN=path/to/stargan selects the binary (default build/stargan, else the one on PATH).
# Nothing is fetched when models/face-api/ holds the package already.
set -euo pipefail
cd "$(dirname "$0")/.."
version=1.7.15
url=https://registry.npmjs.org/@vladmandic/face-api/-/face-api-$version.tgz
# the registry's dist.integrity (sha512-WDMmK3CfNLo8jylWqMoQgf4nIst3M0fzx1dnac96wv/dvMTN4DxC/Pq1DGtduDk1lktCamQ3MIDXFnvrdHTXDw==) in hex
sha512=5833262b709f34ba3c8f2956a8ca1081fe2722cb773347f3c7576769cf7ac2ffddbcc4cde03c42fcfab50c6b5db83935964b426a64373080d7167beb7474d70f
fetch_only= package_only=
if [ "${1:-}" = --fetch-only ]; then fetch_only=${2:?usage: get-detector.sh --fetch-only DIR}; fi
if [ "${1:-}" = --package ]; then package_only=1; fi
out=${1:-models/detector.safetensors}
pkg=models/face-api
bin=${STARGAN:-}
if [ -z "$bin" ]; then
  if [ -x build/stargan ]; then bin=build/stargan; else bin=$(command -v stargan || true); fi
fi
if [ -z "$fetch_only$package_only" ] && { [ -z "$bin" ] || [ ! -x "$bin" ]; }; then
  echo "get-detector: build stargan first (scripts/build.sh)" >&2; exit 2
fi
manifest=$pkg/model/ssd_mobilenetv1_model-weights_manifest.json
if ! grep -qs "\"version\": \"$version\"" "$pkg/package.json"; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  tgz=$tmp/vladmandic-face-api-$version.tgz
  if command -v npm >/dev/null; then
    echo "get-detector: npm pack @vladmandic/face-api@$version" >&2
    (cd "$tmp" && npm pack --silent "@vladmandic/face-api@$version" >/dev/null)
  elif command -v curl >/dev/null; then
    echo "get-detector: $url" >&2
    curl -fsSL --retry 3 -o "$tgz" "$url"
  elif command -v wget >/dev/null; then
    wget -q -O "$tgz" "$url"
  else
    echo "get-detector: npm, curl or wget is needed to fetch @vladmandic/face-api" >&2; exit 2
  fi
  got=$(sha512sum "$tgz" | cut -d' ' -f1)
  [ "$got" = "$sha512" ] || { echo "get-detector: $tgz: sha512 $got, not the registry's $sha512" >&2; exit 1; }
  rm -rf "$pkg" && mkdir -p "$pkg"
  tar -xzf "$tgz" -C "$pkg" --strip-components=1 \
    package/package.json package/LICENSE package/model/ssd_mobilenetv1_model-weights_manifest.json \
    package/model/ssd_mobilenetv1_model.bin package/demo
fi
[ -z "$package_only" ] || exit 0
if [ -n "$fetch_only" ]; then
  mkdir -p "$fetch_only"
  cp "$manifest" "$pkg/model/ssd_mobilenetv1_model.bin" "$pkg/LICENSE" "$fetch_only/"
  exit 0
fi
mkdir -p "$(dirname "$out")"
"$bin" convert --detector "$manifest" --out "$out" >&2
