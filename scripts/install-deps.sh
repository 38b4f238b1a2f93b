#!/usr/bin/env bash
# Installs what building and testing the project needs (Debian 12). Run as root.
#   SG_NO_BROWSER=1  skip Chromium, node, the test npm packages (browser test, OpenAPI validator,
#                    Kubernetes schemas) and the deployment-test tools (haproxy, kubectl):
#                    build and unit tests only
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
cd "$(dirname "$0")/.."
pkgs=(build-essential cmake pkg-config libopenblas-dev libpng-dev libjpeg62-turbo-dev
      libcjson-dev libcmocka-dev libzip-dev libmicrohttpd-dev libcurl4-openssl-dev curl clang
      clang-format wrk libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libwebp-dev)
if [ -z "${SG_NO_BROWSER:-}" ]; then
  pkgs+=(chromium)
  command -v node >/dev/null || pkgs+=(nodejs npm)
  # deployment tests: HAProxy for the rolling restart, kubectl (Debian's kubernetes-client, when
  # no kubectl is installed) for the Kubernetes manifests
  pkgs+=(haproxy)
  command -v kubectl >/dev/null || pkgs+=(kubernetes-client)
fi
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# the OpenAPI validator (tests/openapi: openapi_document, and server_integration's check of answers)
if [ -z "${SG_NO_BROWSER:-}" ] && [ -f tests/openapi/package.json ] &&
   [ ! -d tests/openapi/node_modules/@seriousme/openapi-schema-validator ]; then
  (cd tests/openapi && npm ci --no-audit --no-fund --loglevel=error)
fi
# playwright-core for the browser test (uses the system chromium; downloads no browser)
if [ -z "${SG_NO_BROWSER:-}" ] && [ ! -d tests/web/node_modules/playwright-core ]; then
  (cd tests/web && npm ci --no-audit --no-fund --loglevel=error)
fi
# the Kubernetes API schemas (kubernetes-models) for the manifest validation
if [ -z "${SG_NO_BROWSER:-}" ] && [ ! -d tests/k8s/node_modules/kubernetes-models ]; then
  (cd tests/k8s && npm ci --no-audit --no-fund --loglevel=error)
fi
