#!/bin/sh
# Installs the peers bench/compare.sh measures against (developer tools; the service, its tests
# and CI never need them, so they stay out of scripts/install-deps.sh):
#   PyTorch 1.13 (Debian python3-torch) and Pillow for bench/pytorch_bench.py and
#   bench/pytorch_bf16_fidelity.py;
#   ONNX Runtime (npm onnxruntime-node, the version pinned in bench/ort/package-lock.json) into
#   bench/ort/node_modules. --ignore-scripts: its install script fetches GPU libraries from a
#   host outside the package registry; the CPU library it needs ships inside the package.
# usage: bench/setup-peers.sh   (as root, or with sudo for the apt-get part)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
if ! /usr/bin/python3 -c 'import torch, PIL' 2>/dev/null; then
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y python3-torch python3-pil
fi
command -v npm >/dev/null || {
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y nodejs npm
}
(cd "$here/ort" && npm ci --ignore-scripts --no-audit --no-fund)
/usr/bin/python3 -c 'import torch; print("pytorch", torch.__version__)'
(cd "$here/ort" && node -e 'console.log("onnxruntime-node", require("onnxruntime-node").env.versions.node)')
