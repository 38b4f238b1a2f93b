#!/bin/sh
# stargan vs its peers on the same model, side by side in one run: stargan fp32 and bf16, PyTorch
# fp32 and bf16 autocast, ONNX Runtime fp32, every one with the same thread count. Each peer is
# a process that times RUNS runs (after a warm-up) and reports medians; ROUNDS rounds alternate
# the peers (the order rotates each round) so the load of a shared machine hits all alike. Each
# round's figures are printed as they come; the end is a table of ms (median over rounds, range)
# and of ours/peer ratios taken within each round (bench/compare_table.py).
#
# usage: bench/compare.sh [options] MODEL [ROUNDS=3] [RUNS=3]     (from the repo root)
#   --peers LIST     comma-separated, default stargan,stargan-bf16,pytorch,pytorch-bf16,ort
#   --src IMG --ref IMG   also a whole reference-guided request (stargan and PyTorch peers)
#   --smoke          one round of one run (checks that every peer works; figures mean nothing)
#   --onnx-dir DIR   where the ONNX export of MODEL is kept (default: a folder per model file
#                    under ${TMPDIR:-/tmp}/stargan-peers, reused while the file is unchanged)
#   --log FILE       keep the raw per-round figures there (default: a temporary file)
#   --peer-wait sleep|spin   how the peers' idle threads wait: sleep (default: PyTorch with
#                    OMP_WAIT_POLICY=PASSIVE, ORT with intra-op spinning off; what pays on a
#                    machine shared with other jobs) or spin (their own defaults, for a quiet box)
# environment: STARGAN (default build/stargan, else build-speed/stargan), THREADS (default 2).
# A peer that is missing or refuses (e.g. a stargan built without --precision) shows as n/a.
# Peers: bench/setup-peers.sh installs PyTorch (Debian) and ONNX Runtime (npm, bench/ort/).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
peers=stargan,stargan-bf16,pytorch,pytorch-bf16,ort
src="" ref="" smoke=0 onnx_dir="" log="" wait=sleep
pos=""
while [ $# -gt 0 ]; do
  case $1 in
  --peer-wait) wait=$2; shift 2 ;;
  --peers) peers=$2; shift 2 ;;
  --src) src=$2; shift 2 ;;
  --ref) ref=$2; shift 2 ;;
  --smoke) smoke=1; shift ;;
  --onnx-dir) onnx_dir=$2; shift 2 ;;
  --log) log=$2; shift 2 ;;
  -h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  -*) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
  *) pos="$pos $1"; shift ;;
  esac
done
set -- $pos
[ $# -ge 1 ] || { echo "usage: bench/compare.sh [options] MODEL [ROUNDS] [RUNS] (--help)" >&2; exit 2; }
model=$1; rounds=${2:-3}; runs=${3:-3}
case $wait in
sleep) omp=PASSIVE spin=0 ;;
spin) omp=${OMP_WAIT_POLICY:-} spin=1 ;;
*) echo "compare.sh: --peer-wait sleep|spin" >&2; exit 2 ;;
esac
[ "$smoke" -eq 1 ] && rounds=1 runs=1
[ -r "$model" ] || { echo "compare.sh: cannot read $model" >&2; exit 2; }
threads=${THREADS:-2}
if [ -n "${STARGAN:-}" ]; then bin=$STARGAN
elif [ -x build/stargan ]; then bin=build/stargan
else bin=build-speed/stargan; fi
py=/usr/bin/python3
req=""
[ -n "$src" ] && [ -n "$ref" ] && req=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -n "$log" ] || log=$tmp/log
: >"$log"

# the CPU and the features our paths use: x86-64 (model name, AVX-512 / BF16 / AMX flags) or
# aarch64 (lscpu's model name, else /proc/cpuinfo's implementer and part; asimd, bf16, sve, ...)
if [ "$(uname -m)" = aarch64 ]; then
  cpuname=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
  [ -n "$cpuname" ] || cpuname="implementer $(sed -n 's/^CPU implementer[^:]*: //p' /proc/cpuinfo | head -1) part $(sed -n 's/^CPU part[^:]*: //p' /proc/cpuinfo | head -1)"
  cpuflags=$(grep -m1 '^Features' /proc/cpuinfo | tr ' ' '\n' | grep -x 'asimd\|asimddp\|bf16\|i8mm\|sve\|sve2\|svebf16' | sort -u)
else
  cpuname=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
  cpuflags=$(grep -o 'avx2\|avx512f\|avx512_bf16\|amx_bf16' /proc/cpuinfo | sort -u)
fi
echo "cpu: $cpuname ($(uname -m), $(nproc) CPUs); flags:" $cpuflags "; threads $threads; peers' idle threads: $wait;" \
  "$(date -u '+%Y-%m-%d %H:%M UTC')"
echo "cpu $(uname -m) $cpuname; $(echo $cpuflags)" >>"$log"
echo "model $model rounds $rounds runs $runs threads $threads peer-wait $wait" >>"$log"

# ONNX Runtime needs the model exported once (PyTorch traces it); kept per model file.
case ",$peers," in *,ort,*)
  if [ ! -f "$here/ort/node_modules/onnxruntime-node/package.json" ]; then
    echo "ort: n/a (bench/ort/node_modules missing: run bench/setup-peers.sh)"
    echo "na ort onnxruntime-node not installed" >>"$log"
  else
    if [ -z "$onnx_dir" ]; then
      key=$(basename "$model")-$(stat -c '%s-%Y' "$model")
      onnx_dir=${TMPDIR:-/tmp}/stargan-peers/$key
    fi
    if [ ! -f "$onnx_dir/manifest.json" ]; then
      echo "exporting $model to ONNX in $onnx_dir (once per model file) ..."
      if ! "$py" "$here/pytorch_bench.py" --model "$model" --export-onnx "$onnx_dir" \
           >"$tmp/export" 2>&1; then
        tail -3 "$tmp/export" >&2
        echo "na ort export failed" >>"$log"
        rm -rf "$onnx_dir"
      fi
    fi
  fi ;;
esac

# run_peer ROUND PEER: one process of PEER; its medians go to the log as "ROUND PEER NET MS"
run_peer() {
  r=$1 p=$2 out=$tmp/out err=$tmp/err
  set --
  case $p in
  stargan | stargan-bf16)
    set -- env SG_THREADS="$threads" "$bin" bench --model "$model" --runs "$runs"
    [ "$p" = stargan-bf16 ] && set -- "$@" --precision bf16
    [ -n "$req" ] && set -- "$@" --src "$src" --ref "$ref" ;;
  pytorch | pytorch-bf16)
    set -- env ${omp:+OMP_WAIT_POLICY=$omp} "$py" "$here/pytorch_bench.py" --model "$model" --runs "$runs" --threads "$threads"
    [ "$p" = pytorch-bf16 ] && set -- "$@" --precision bf16
    [ -n "$req" ] && set -- "$@" --src "$src" --ref "$ref" ;;
  ort)
    set -- node "$here/ort/run.js" --dir "$onnx_dir" --runs "$runs" --threads "$threads" --spin "$spin" ;;
  *) echo "compare.sh: unknown peer $p" >&2; exit 2 ;;
  esac
  if "$@" >"$out" 2>"$err"; then
    sed -e 's/^\(pytorch\|ort\) //' -e 's/^request_ms=/request median_ms=/' "$out" |
      sed -n "s/^\([a-z_]*\) median_ms=\([0-9.]*\).*/$r $p \1 \2/p" >>"$log"
    sed -n "s/^sgemm gflops=\([0-9.]*\).*/$r sgemm - \1/p" "$out" >>"$log"
    sed -n "s/^ort \([a-z_]*\) .*max_abs_vs_pytorch=\([^ ]*\) max_ref=\([^ ]*\).*/check \1 \2 \3/p" \
      "$out" >>"$log"
    grep "^$r $p " "$log" | awk '{ printf "  round %s  %-13s %-16s %9.1f ms\n", $1, $2, $3, $4 }'
  else
    rc=$?
    # stargan's complaint is its first line (the usage follows); Python's and node's, the last
    case $p in stargan*) why=$(grep -v '^ *$' "$err" | head -1) ;;
    *) why=$(grep -v '^ *$' "$err" | tail -1) ;; esac
    [ -n "$why" ] || why="exited with status $rc"
    case $p in stargan-bf16) grep -qi 'usage\|unknown\|precision' "$err" &&
      why="this stargan has no --precision bf16 ($why)" ;; esac
    echo "  round $r  $p: n/a: $why"
    echo "na $p $why" >>"$log"
  fi
}

i=0
list=$(echo "$peers" | tr ',' ' ')
n=$(echo "$list" | wc -w)
while [ "$i" -lt "$rounds" ]; do
  # rotate the order by the round number: no peer always runs first (or right after a build)
  k=0 order=""
  for p in $list; do
    pos=$(( (k - i % n + n) % n )); order="$order $pos:$p"; k=$((k + 1))
  done
  order=$(echo "$order" | tr ' ' '\n' | sort -n | sed 's/^[0-9]*://' | tr '\n' ' ')
  echo "round $i:$order"
  for p in $order; do
    grep -q "^na $p " "$log" && continue   # missing or refused in an earlier round
    run_peer "$i" "$p"
  done
  i=$((i + 1))
done
echo
"$py" "$here/compare_table.py" "$log"
