#!/usr/bin/env bash
# Installs what the project needs (Debian 12). Run as root.
#   scripts/install-deps.sh          building and running: compiler, cmake, the libraries, and curl
#                                    (scripts/get-detector.sh fetches the face detector's npm
#                                    package: `npm pack` when npm is there, else curl from the
#                                    registry; nothing runs node at run time)
#   scripts/install-deps.sh --test   also what the tests need: cmocka, curl, FFmpeg's -dev libraries
#                                    (the tests decode the MP4s back), clang (fuzz targets),
#                                    clang-format (CI's style check), wrk (bench/load.sh), HAProxy
#                                    and kubectl (deployment tests), Chromium, node and the tests'
#                                    npm packages (playwright-core, which downloads no browser; the
#                                    OpenAPI validator; the Kubernetes API schemas; face-api.js
#                                    on tfjs-wasm, the face detector's reference)
#   SG_NO_BROWSER=1                  leave out Chromium, node and the npm packages (as the Dockerfile)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
cd "$(dirname "$0")/.."
test=0 cross=
while [ $# -gt 0 ]; do
  case $1 in
    --test) test=1 ;;
    --cross) cross=${2:-}; shift ;;
    *) echo "usage: scripts/install-deps.sh [--test] [--cross amd64|arm64]" >&2; exit 2 ;;
  esac
  shift
done
libs=(libopenblas-dev libpng-dev libjpeg62-turbo-dev libcjson-dev libzip-dev libmicrohttpd-dev
      libx264-dev libwebp-dev)
pkgs=(build-essential cmake pkg-config "${libs[@]}")
pkgs+=(curl ca-certificates) # the face detector's package (scripts/get-detector.sh)
# --cross ARCH (another architecture than this machine's): Debian's cross compiler and the
# libraries for ARCH through multiarch (scripts/toolchain-ARCH.cmake builds with them; the
# Dockerfile's build stage for another platform, scripts/cross-test.sh)
if [ -n "$cross" ] && [ "$cross" != "$(dpkg --print-architecture)" ]; then
  case $cross in
    arm64) pkgs+=(gcc-aarch64-linux-gnu) ;;
    amd64) pkgs+=(gcc-x86-64-linux-gnu) ;;
    *) echo "install-deps.sh: --cross amd64 or arm64, not '$cross'" >&2; exit 2 ;;
  esac
  for l in "${libs[@]}"; do pkgs+=("$l:$cross"); done
  dpkg --print-foreign-architectures | grep -qx "$cross" || dpkg --add-architecture "$cross"
fi
browser=0
if [ $test = 1 ]; then
  # FFmpeg's libraries read the videos back in the tests (the build itself uses libx264)
  pkgs+=(libcmocka-dev libcurl4-openssl-dev curl clang clang-format wrk haproxy
         libavcodec-dev libavformat-dev libavutil-dev libswscale-dev)
  # kubectl: Debian's kubernetes-client, unless one is installed already
  command -v kubectl >/dev/null || pkgs+=(kubernetes-client)
  if [ -z "${SG_NO_BROWSER:-}" ]; then
    browser=1
    pkgs+=(chromium)
    command -v node >/dev/null || pkgs+=(nodejs)
    command -v npm >/dev/null || pkgs+=(npm)
  fi
fi
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
npm_ci() { # DIR MARKER: npm ci in DIR unless DIR/node_modules/MARKER exists
  [ -d "$1/node_modules/$2" ] || (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
}
if [ $browser = 1 ]; then
  npm_ci tests/web playwright-core                        # the browser test
  npm_ci tests/openapi @seriousme/openapi-schema-validator # the OpenAPI document and answers
  npm_ci tests/k8s kubernetes-models                       # the Kubernetes manifests
  npm_ci tests/tools/detect_ref @vladmandic/face-api       # the face detector's reference (face-api.js)
fi
