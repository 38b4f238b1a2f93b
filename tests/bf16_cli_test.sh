#!/usr/bin/env bash
# bf16 end to end (stargan selftest/translate/bench --precision, stargan-server --precision):
# every fixture passes selftest in bf16 under the bf16 bounds, --precision fp32 gives the
# default's bytes, bf16 gives a different but valid image. Exit 77 (ctest: Skipped) when the CPU
# has no AVX512-BF16 (x86-64) or BF16 (aarch64), or the fixtures are absent.
bin="$1" server="$2" fix="$3" tmp="$4"
[ -f "$fix/mini.io.safetensors" ] || { echo "skipped: fixtures not found"; exit 77; }
. "$(dirname "$0")/lib.sh" # ok / bad / start / stop / finish
mkdir -p "$tmp"

if ! "$bin" bench --config mini --runs 1 --precision bf16 >"$tmp/bench" 2>&1; then
  if grep -q "no AVX512-BF16\|no BF16 instructions" "$tmp/bench"; then
    echo "skipped: $(cat "$tmp/bench")"; exit 77
  fi
  bad "bench --precision bf16"; cat "$tmp/bench"
fi
grep -Eq '^precision=bf16 path=(avx512|neon)_bf16$' "$tmp/bench" && grep -q '^generator median_ms=' "$tmp/bench" \
  && ok "bench --precision bf16" || bad "bench --precision bf16 output"

for cfg in mini afhq celeba_hq; do
  "$bin" selftest "$fix/$cfg.io.safetensors" --precision bf16 >"$tmp/st_$cfg" 2>&1; rc=$?
  for out in out_latent_8bit out_ref_8bit s_latent s_ref; do
    if [ $rc -eq 0 ] && grep -q "^$out .* ok$" "$tmp/st_$cfg"; then ok "bf16 selftest $cfg $out"
    else bad "bf16 selftest $cfg $out"; cat "$tmp/st_$cfg"; fi
  done
  if [ "$cfg" != afhq ]; then
    grep -q "^fan_heatmaps .* ok$" "$tmp/st_$cfg" && ok "bf16 selftest $cfg fan" || bad "bf16 selftest $cfg fan"
  fi
done

src=$(ls "$fix"/images/afhq/src/*/*.jpg | head -1)
"$bin" make-model --config mini --out "$tmp/mini.safetensors" >/dev/null 2>&1 || bad "make-model"
t() { "$bin" translate --model "$tmp/mini.safetensors" --src "$src" --domain 1 --seed 5 --out "$@"; }
t "$tmp/def.png" && t "$tmp/fp32.png" --precision fp32 && t "$tmp/bf16.png" --precision bf16 \
  || bad "translate --precision"
cmp -s "$tmp/def.png" "$tmp/fp32.png" && ok "translate --precision fp32 = default bytes" \
  || bad "translate --precision fp32 differs from the default"
[ -s "$tmp/bf16.png" ] && ! cmp -s "$tmp/def.png" "$tmp/bf16.png" && ok "translate bf16 image" \
  || bad "translate --precision bf16"
if t "$tmp/x.png" --precision fp16 2>"$tmp/err"; then bad "translate --precision fp16 accepted"
else grep -q "precision must be fp32 or bf16" "$tmp/err" && ok "translate --precision fp16 refused" \
  || bad "translate --precision fp16 message"; fi

if [ -x "$server" ]; then
  if "$server" --precision fp16 >"$tmp/srv" 2>&1; then bad "server --precision fp16 accepted"
  else grep -q "precision must be fp32 or bf16" "$tmp/srv" && ok "server --precision fp16 refused" \
    || bad "server --precision fp16 message"; fi
  if STARGAN_PRECISION=half "$server" >"$tmp/srv" 2>&1; then bad "STARGAN_PRECISION=half accepted"
  else grep -q "precision must be fp32 or bf16" "$tmp/srv" && ok "STARGAN_PRECISION=half refused" \
    || bad "STARGAN_PRECISION message"; fi
fi
# a bf16 server (the mini model): precision in /v1/models and in the model-info metric, and a
# translation equal to the CLI's bf16 bytes
if ! command -v curl >/dev/null; then echo "skip the bf16 server checks: curl not installed"
else
  srv=$server
  export STARGAN_PRECISION=bf16 # the environment's spelling of --precision
  if start srv --model mini="$tmp/mini.safetensors" --access-log off; then
    curl -s "$U/v1/models" | grep -q '"precision":"bf16"' && ok "server /v1/models precision" \
      || bad "server /v1/models precision"
    curl -s "$U/metrics" | grep -q 'stargan_model_info{.*precision="bf16"' && ok "server metric precision" \
      || bad "server metric precision"
    curl -s -F image=@"$src" -F domain=1 -F seed=5 "$U/v1/translate" -o "$tmp/srv.png"
    cmp -s "$tmp/srv.png" "$tmp/bf16.png" && ok "server bf16 = CLI bf16 bytes" \
      || bad "server bf16 image differs from the CLI's"
    stop "$PID"
  else bad "bf16 server start"; fi
  unset STARGAN_PRECISION
fi
finish
