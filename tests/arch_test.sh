#!/usr/bin/env bash
# The same translations on two architectures (scripts/cross-test.sh: this machine's build and the
# cross build run under qemu): output bytes equal, or at most 1 level apart on at most 1% of the
# values (README "arm64"): net/'s kernels sum in the same order on every path, but the GEMMs go
# to OpenBLAS, whose kernels (and their fused multiply-adds) differ per architecture, and the
# paths with FMA round differently from plain's. Each arm64 kernel path (neon, plain) against the
# native build; mini (64 px, FAN masks) reference- and latent-guided, AFHQ (256 px) latent. And
# the cross build's selftest on the mini fixture (the fixtures' rule) on each path, and in bf16
# when the (emulated) CPU has the BF16 instructions (bf16's bounds; emulated only with
# SG_CROSS_FULL=1), and bf16's one-line refusal on a CPU without them. And the face detector
# (when scripts/get-detector.sh has run): `stargan detect` on an EXIF-rotated photo, the arm64
# boxes and scores within IoU 0.99 and 0.001 of the native ones.
# usage: arch_test.sh NATIVE_STARGAN CROSS_STARGAN MEDIA_PROBE FIXTURES OUT_DIR
nat="$1" xbin="$2" probe="$3" fix="$4" tmp="$5"
[ -x "$nat" ] || { echo "skipped: no native build at $nat"; exit 77; }
ls "$fix"/images/afhq/src/*/*.jpg >/dev/null 2>&1 || { echo "skipped: fixtures not found"; exit 77; }
. "$(dirname "$0")/lib.sh" # ok / bad / finish
mkdir -p "$tmp"
src=$(ls "$fix"/images/afhq/src/*/*.jpg | head -1)
ref=$(ls "$fix"/images/afhq/ref/*/*.jpg | head -1)
"$nat" make-model --config mini --out "$tmp/mini.safetensors" >/dev/null || bad "make-model mini"
"$nat" make-model --config afhq --out "$tmp/afhq.safetensors" >/dev/null || bad "make-model afhq"
# within RULE: equal, or ≤ 1 level apart on ≤ 1% of the values
within() { # NAME A B
  local out; out=$("$probe" diff "$2" "$3") || { bad "$1: $out"; return; }
  set -- "$1" $out # values N differ D max L
  local n=$3 d=$5 m=$7
  if [ "$d" = 0 ]; then ok "$1: equal bytes ($n values)"
  elif [ "$m" -le 1 ] && [ $((d * 100)) -le "$n" ]; then ok "$1: $d of $n values 1 level apart"
  else bad "$1: $d of $n values differ, by up to $m levels"; fi
}
run() { # BIN OUT MODEL ARGS...
  local b=$1 o=$2 m=$3; shift 3
  "$b" translate --model "$tmp/$m.safetensors" --src "$src" --out "$o" "$@" >/dev/null 2>"$o.err" ||
    { bad "translate $*: $(cat "$o.err")"; return 1; }
}
for path in neon plain; do
  if SG_CPU=$path "$xbin" selftest "$fix/mini.io.safetensors" >"$tmp/st.$path" 2>&1 &&
     grep -q "^passed: 0 FAIL" "$tmp/st.$path"; then ok "arm64 $path: selftest mini (the fixtures' rule)"
  else bad "arm64 $path: selftest mini"; cat "$tmp/st.$path"; fi
done
# in bf16 (BFDOT): about 15 min emulated, so only with SG_CROSS_FULL=1 there (test_bf16 checks
# the kernels against bf16 references in every cross run)
if [ "$(uname -m)" != aarch64 ] && [ "${SG_CROSS_FULL:-0}" != 1 ]; then
  echo "skip arm64 bf16 selftest mini under emulation (SG_CROSS_FULL=1 runs it)"
elif "$xbin" selftest "$fix/mini.io.safetensors" --precision bf16 >"$tmp/st.bf16" 2>&1; then
  grep -q "^passed: 0 FAIL" "$tmp/st.bf16" && ok "arm64 bf16 (BFDOT): selftest mini within the bf16 bounds" ||
    { bad "arm64 bf16 selftest mini"; cat "$tmp/st.bf16"; }
elif [ "$(wc -l <"$tmp/st.bf16")" = 1 ] && grep -q "no BF16 instructions" "$tmp/st.bf16"; then
  ok "arm64 bf16 refused in one line: $(cat "$tmp/st.bf16")"
else bad "arm64 bf16 selftest mini"; cat "$tmp/st.bf16"; fi
# a CPU without BF16 (qemu's Neoverse N1 model: Armv8.2): refused, one line
if [ "$(uname -m)" != aarch64 ]; then # emulated: qemu-user reads QEMU_CPU
  QEMU_CPU=neoverse-n1 "$xbin" selftest "$fix/mini.io.safetensors" --precision bf16 >"$tmp/n1" 2>&1
  rc=$?
  [ $rc != 0 ] && [ "$(wc -l <"$tmp/n1")" = 1 ] && grep -q "no BF16 instructions" "$tmp/n1" &&
    ok "arm64 bf16 on a CPU without BF16 (QEMU_CPU=neoverse-n1): refused, one line" ||
    { bad "arm64 bf16 refusal on neoverse-n1 (exit $rc)"; cat "$tmp/n1"; }
fi
cases=("mini-latent mini --domain 1 --seed 5" "mini-ref mini --domain 0 --ref $ref"
       "afhq-latent afhq --domain 1 --seed 7")
for c in "${cases[@]}"; do
  set -- $c
  name=$1; shift
  run "$nat" "$tmp/$name.native.png" "$@" || continue
  for path in neon plain; do
    SG_CPU=$path run "$xbin" "$tmp/$name.$path.png" "$@" &&
      within "$name: arm64 $path vs native" "$tmp/$name.$path.png" "$tmp/$name.native.png"
  done
done
root=$(cd "$(dirname "$0")/.." && pwd)
det=$root/models/detector.safetensors photo=$root/tests/data/detect/exif6.jpg
[ -f "$det" ] || det=$root/models/face-api/model/ssd_mobilenetv1_model-weights_manifest.json
if [ -f "$det" ]; then
  "$nat" detect --src "$photo" --detector "$det" >"$tmp/detect.native.json"
  SG_CPU=neon "$xbin" detect --src "$photo" --detector "$det" >"$tmp/detect.neon.json" 2>&1
  if python3 - "$tmp/detect.native.json" "$tmp/detect.neon.json" <<'PY'; then
import json, sys
a, b = (json.load(open(p))["faces"] for p in sys.argv[1:3])
def iou(p, q):
    ix = max(0, min(p[0] + p[2], q[0] + q[2]) - max(p[0], q[0]))
    iy = max(0, min(p[1] + p[3], q[1] + q[3]) - max(p[1], q[1]))
    return ix * iy / (p[2] * p[3] + q[2] * q[3] - ix * iy)
sys.exit(not (len(a) == len(b) > 0 and all(iou(p["box"], q["box"]) >= 0.99 and
              abs(p["score"] - q["score"]) <= 0.001 for p, q in zip(a, b))))
PY
    ok "detect: arm64 neon vs native, $(grep -o score "$tmp/detect.native.json" | wc -l) faces"
  else bad "detect: arm64 neon vs native"; cat "$tmp/detect.native.json" "$tmp/detect.neon.json"; fi
else
  echo "detect: not checked (no $det: scripts/get-detector.sh)"
fi
finish
