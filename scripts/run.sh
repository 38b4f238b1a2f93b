#!/usr/bin/env bash
# Sets up (dependencies, build) and runs stargan on a model file.
#   scripts/run.sh                       describe the model (stargan info)
#   scripts/run.sh translate --src a.jpg --domain dog --seed 3 --out b.png
# The model is $SG_MODEL, else models/model.safetensors; when neither exists, a demo model with
# deterministic spec-v1 weights (AFHQ shapes; its images are not meaningful) is made in build/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then scripts/install-deps.sh; fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target stargan >/dev/null
model="${SG_MODEL:-models/model.safetensors}"
if [ ! -f "$model" ]; then
  model=build/demo-afhq.safetensors
  [ -f "$model" ] || build/stargan make-model --config afhq --out "$model"
  echo "note: no model at \$SG_MODEL or models/model.safetensors; using the spec-v1 demo $model" >&2
fi
if [ $# -eq 0 ]; then exec build/stargan info --model "$model"; fi
cmd=$1; shift
exec build/stargan "$cmd" --model "$model" "$@"
