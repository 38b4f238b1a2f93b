#!/usr/bin/env bash
# Builds and runs the HTTP service, stargan-server (after scripts/install-deps.sh). Arguments go
# to stargan-server (--listen HOST:PORT or STARGAN_LISTEN, default 127.0.0.1:8080); it logs the
# address it is listening on ("listening on http://..."): open that for the web page.
# The model: --model/STARGAN_MODEL when given, else models/model.safetensors when present, else
# the built-in demo model (spec-v1 weights: its pictures are noise until real weights are named).
# The face detector: models/detector.safetensors, made by scripts/get-detector.sh (npm pack) on the
# first run.
set -euo pipefail
cd "$(dirname "$0")/.."
SG_TARGETS="stargan stargan-server" scripts/build.sh >&2 # stdout stays the access log
args=("$@")
# the face detector (/v1/detect, face=): fetched and converted once, unless one is named or off
if [ -z "${STARGAN_DETECTOR:-}" ] && [[ " $* " != *" --detector "* ]] && [ ! -f models/detector.safetensors ]; then
  scripts/get-detector.sh || echo "run.sh: no face detector (scripts/get-detector.sh failed): /v1/detect and face= answer 501" >&2
fi
if [ -z "${STARGAN_MODEL:-}" ] && [[ " $* " != *" --model "* ]] && [ -f models/model.safetensors ]; then
  args=(--model "model=models/model.safetensors" "${args[@]}")
fi
echo "stargan-server: starting (Ctrl-C stops it); open the address it logs as \"listening on\"" >&2
exec build/stargan-server "${args[@]}"
