#!/usr/bin/env bash
# web/openapi.json is valid OpenAPI 3.1 (@seriousme/openapi-schema-validator). Skips (77) without
# node or tests/openapi's packages (cd tests/openapi && npm ci; scripts/install-deps.sh does it).
# tests/server_test.sh checks the server's real answers against the same document.
set -u
here=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null || { echo "skipped: node not installed"; exit 77; }
[ -d "$here/openapi/node_modules/@seriousme/openapi-schema-validator" ] ||
  { echo "skipped: run 'npm ci' in tests/openapi"; exit 77; }
exec node "$here/openapi/check.mjs" "$here/../web/openapi.json"
