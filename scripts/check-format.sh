#!/usr/bin/env bash
# Checks that every tracked C file is formatted by .clang-format (Debian's clang-format 14);
# prints the offending places and exits non-zero otherwise. `clang-format -i FILE` fixes one.
set -euo pipefail
cd "$(dirname "$0")/.."
cf=${CLANG_FORMAT:-clang-format}
command -v "$cf" >/dev/null || { echo "check-format: $cf not found" >&2; exit 2; }
mapfile -t files < <(git ls-files '*.c' '*.h')
"$cf" --dry-run -Werror "${files[@]}"
echo "check-format: ${#files[@]} files formatted"
