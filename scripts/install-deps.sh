#!/usr/bin/env bash
# Installs what the project needs (Debian 12). Run as root.
#   scripts/install-deps.sh          building and running: compiler, cmake, the libraries
#   scripts/install-deps.sh --test   also what the tests need: cmocka, curl, clang (fuzz targets),
#                                    wrk (bench/load.sh), Chromium, node and the browser test's
#                                    npm packages (playwright-core, which downloads no browser)
#   SG_NO_BROWSER=1                  leave out Chromium and the npm packages (as the Dockerfile)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
cd "$(dirname "$0")/.."
test=0
for a in "$@"; do
  case $a in
    --test) test=1 ;;
    *) echo "usage: scripts/install-deps.sh [--test]" >&2; exit 2 ;;
  esac
done
pkgs=(build-essential cmake pkg-config libopenblas-dev libpng-dev libjpeg62-turbo-dev
      libcjson-dev libzip-dev libmicrohttpd-dev)
browser=0
if [ $test = 1 ]; then
  pkgs+=(libcmocka-dev libcurl4-openssl-dev curl clang wrk)
  if [ -z "${SG_NO_BROWSER:-}" ]; then
    browser=1
    pkgs+=(chromium)
    command -v node >/dev/null || pkgs+=(nodejs npm)
  fi
fi
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if [ $browser = 1 ] && [ ! -d tests/web/node_modules/playwright-core ]; then
  (cd tests/web && npm ci --no-audit --no-fund --loglevel=error)
fi
