#!/bin/sh
# C vs PyTorch on the same model, alternating K rounds so both see the same machine load; prints
# each round's medians and the C/PyTorch ratio per network (the figure that counts on a noisy box).
# usage: bench/compare.sh MODEL [ROUNDS=3] [RUNS=3]   (run from the repo root, build in build-speed/
# or set STARGAN=path/to/stargan)
set -eu
model=$1; rounds=${2:-3}; runs=${3:-3}
bin=${STARGAN:-build-speed/stargan}
here=$(dirname "$0")
i=0
while [ "$i" -lt "$rounds" ]; do
  c=$("$bin" bench --model "$model" --runs "$runs")
  p=$(/usr/bin/python3 "$here/pytorch_bench.py" --model "$model" --runs "$runs")
  for net in generator style_encoder fan; do
    cm=$(echo "$c" | sed -n "s/^$net median_ms=\([0-9.]*\).*/\1/p")
    pm=$(echo "$p" | sed -n "s/^pytorch $net median_ms=\([0-9.]*\).*/\1/p")
    [ -n "$cm" ] && [ -n "$pm" ] &&
      awk -v n="$net" -v c="$cm" -v p="$pm" -v r="$i" \
        'BEGIN { printf "round %d %-14s C %8.1f ms  PyTorch %8.1f ms  ratio %.2f\n", r, n, c, p, c / p }'
  done
  echo "$c" | grep '^sgemm' | sed "s/^/round $i /"
  i=$((i + 1))
done
