#!/usr/bin/env bash
# deploy/k8s: renders the base and every overlay with `kubectl kustomize` and validates them
# offline (tests/k8s/validate.mjs: API schemas, no unknown fields, probe paths, ports and setting
# names against the server's own, and the server run with the base's settings).
# usage: k8s_test.sh STARGAN-SERVER TMPDIR [STARGAN FIXTURES]   (KUBECTL=... picks the kubectl)
# With the CLI and the fixtures, the initContainers' fetch and convert scripts run on stand-ins.
# Skips (77) without kubectl, node or tests/k8s/node_modules (scripts/install-deps.sh installs them).
set -u
srv=$1 tmp=$2 cli=${3:-} fix=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
kubectl=${KUBECTL:-$(command -v kubectl)}
[ -n "$kubectl" ] || { echo "skipped: kubectl not installed (apt-get install kubernetes-client)"; exit 77; }
command -v node >/dev/null || { echo "skipped: node not installed"; exit 77; }
[ -d "$here/k8s/node_modules/kubernetes-models" ] && [ -d "$here/k8s/node_modules/@kubernetes-models/keda" ] ||
  { echo "skipped: run (cd tests/k8s && npm ci) for the schema packages"; exit 77; }
rm -rf "$tmp" && mkdir -p "$tmp"
echo "kubectl: $("$kubectl" version --client 2>/dev/null | head -1)"
exec timeout 120 node "$here/k8s/validate.mjs" "$kubectl" "$(cd "$here/.." && pwd)" "$srv" "$tmp" $cli $fix
