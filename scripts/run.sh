#!/usr/bin/env bash
# Sets up (dependencies when run as root, build) and runs the HTTP service, stargan-server, on
# http://127.0.0.1:8080 (STARGAN_LISTEN or --listen to change). Arguments go to stargan-server.
# The model: --model/STARGAN_MODEL when given, else models/model.safetensors when present, else
# the built-in demo model (spec-v1 weights: its pictures are noise until real weights are named).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then SG_NO_BROWSER=1 scripts/install-deps.sh; fi
SG_TARGETS="stargan stargan-server" scripts/build.sh >/dev/null
args=("$@")
if [ -z "${STARGAN_MODEL:-}" ] && [[ " $* " != *" --model "* ]] && [ -f models/model.safetensors ]; then
  args=(--model "model=models/model.safetensors" "${args[@]}")
fi
echo "stargan-server: open http://${STARGAN_LISTEN:-127.0.0.1:8080}/ (Ctrl-C stops it)" >&2
exec build/stargan-server "${args[@]}"
