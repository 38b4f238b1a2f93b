#!/usr/bin/env bash
# End-to-end tests of the stargan command: selftest on every fixture (and preprocessing of the
# fixture photos), make-model → info → translate round trips, usage errors and error exits.
# usage: cli_test.sh STARGAN FIXTURES TMPDIR
# Exit 77 (skipped) when fixtures are absent and the usage checks before them passed.
set -u
bin=$1 fix=$2 tmp=$3
. "$(dirname "$0")/lib.sh" # ok / bad / expect_ok / finish
rm -rf "$tmp" && mkdir -p "$tmp"

# usage errors (no fixtures needed): exit 2, nothing on stdout, exactly two lines on stderr: what
# is wrong ("stargan CMD: ...", matching PATTERN), then the pointer to --help
expect_usage() {
  local pat=$1; shift
  "$bin" "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [ $rc = 2 ] && [ ! -s "$tmp/out" ] && [ "$(wc -l <"$tmp/err")" = 2 ] &&
     head -1 "$tmp/err" | grep -q -- "^stargan $pat" &&
     sed -n 2p "$tmp/err" | grep -q -- "Run 'stargan .*--help'"; then ok "usage: stargan $*"
  else bad "usage: stargan $* (rc=$rc)"; cat "$tmp/out" "$tmp/err"; fi
}
expect_usage "info: --model is required" info
expect_usage "bench: --model is required" bench --runs 1
expect_usage "bench: --runs must be" bench --config mini --runs 0
expect_usage "info: unknown option '--modle'" info --modle x
expect_usage "info: option --model needs a value" info --model
expect_usage "translate: --model is required" translate
expect_usage "translate: --domain is required" translate --model m --src s --out o.png
expect_usage "translate: give exactly one of --ref" translate --model m --src s --domain 0 --out o.png
expect_usage "translate: --out must end in" translate --model m --src s --domain 0 --seed 1 --out o.gif
expect_usage "selftest: a fixture file" selftest
expect_usage "selftest: unexpected argument 'b'" selftest a b
expect_usage "make-model: --out is required" make-model
expect_usage "make-model: unknown configuration 'foo'" make-model --config foo --out x
expect_usage "make-model: --img-size must be" make-model --img-size -3 --out x
expect_usage "convert: --model, --fan or --detector is required" convert --out x
expect_usage "detect: --src is required" detect
expect_usage "detect: --min-score must be in " detect --src x --min-score 2
expect_usage "convert: --detector makes a file of its own" convert --detector m.json --model x --out y
expect_usage "align: --out is required" align --src a
"$bin" transalte >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc = 2 ] && [ "$(head -1 "$tmp/err")" = "stargan: unknown command 'transalte'" ] &&
  [ "$(wc -l <"$tmp/err")" = 2 ] && ok "usage: unknown command" || bad "usage: unknown command (rc=$rc)"
# --help: the full help on stdout, exit 0
for c in translate info selftest bench make-model convert align; do
  "$bin" $c --help >"$tmp/out" 2>"$tmp/err"; rc=$?
  if [ $rc = 0 ] && [ ! -s "$tmp/err" ] && head -1 "$tmp/out" | grep -q "^usage: stargan $c " &&
     [ "$(grep -c -- '^  --' "$tmp/out")" -ge 2 ]; then ok "$c --help"; else bad "$c --help (rc=$rc)"; fi
done
"$bin" --help >"$tmp/out" 2>&1 && grep -q "^  translate " "$tmp/out" && ok "--help" || bad "--help"

if [ ! -f "$fix/README.md" ]; then
  echo "$pass passed, $fail failed"
  [ $fail -eq 0 ] || exit 1
  echo "skipped: fixtures not found at $fix"; exit 77
fi
# expect_err NAME PATTERN CMD...: non-zero exit, one line on stderr matching PATTERN, no crash
expect_err() {
  local n=$1 pat=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [ $rc -ne 0 ] && [ $rc -lt 128 ] && grep -q -- "$pat" "$tmp/err"; then ok "$n"; else
    bad "$n (rc=$rc)"; cat "$tmp/err"; fi
}

for cfg in mini afhq celeba_hq; do
  "$bin" selftest "$fix/$cfg.io.safetensors" --images "$fix/images" >"$tmp/st" 2>&1; rc=$?
  cat "$tmp/st"
  for out in s_latent s_ref out_latent out_ref; do
    if [ $rc -eq 0 ] && grep -q "^$out .* ok$" "$tmp/st"; then ok "selftest $cfg $out"; else bad "selftest $cfg $out"; fi
  done
  if [ "$(grep -c '^image .* ok$' "$tmp/st")" = 4 ]; then ok "selftest $cfg images"; else bad "selftest $cfg images"; fi
done

# a spec-v1 model file: derived configuration, translate both ways, deterministic seeds
m="$tmp/mini3.safetensors"
expect_ok "make-model" "$bin" make-model --config afhq --img-size 64 --max-conv-dim 64 --style-dim 16 --latent-dim 8 --out "$m"
expect_ok "info" "$bin" info --model "$m"
grep -q "domains      0=cat 1=dog 2=wild" "$tmp/out" && grep -q "img_size     64" "$tmp/out" && ok "info content" || { bad "info content"; cat "$tmp/out"; }
src="$fix/images/afhq/src/cat/flickr_cat_000253.jpg" ref="$fix/images/afhq/ref/dog/pixabay_dog_000121.jpg"
expect_ok "translate ref" "$bin" translate --model "$m" --src "$src" --domain dog --ref "$ref" --out "$tmp/a.png"
expect_ok "translate seed" "$bin" translate --model "$m" --src "$src" --domain 2 --seed 7 --psi 0.7 --out "$tmp/b.png"
expect_ok "translate seed again" "$bin" translate --model "$m" --src "$src" --domain wild --seed 7 --psi 0.7 --out "$tmp/c.png"
cmp -s "$tmp/b.png" "$tmp/c.png" && ok "seed is deterministic" || bad "seed is deterministic"
expect_ok "translate jpeg stretch" "$bin" translate --model "$m" --src "$src" --domain cat --seed 1 --fit stretch --out "$tmp/d.jpg"
[ "$(head -c 3 "$tmp/d.jpg" | od -An -tx1 | tr -d ' ')" = "ffd8ff" ] && ok "jpeg written" || bad "jpeg written"
# the same model through selftest's --model path: a mini-shaped file matches the mini fixture
expect_ok "make-model mini" "$bin" make-model --config mini --out "$tmp/mini.safetensors"
expect_ok "selftest --model" "$bin" selftest "$fix/mini.io.safetensors" --model "$tmp/mini.safetensors"

# errors: one line, non-zero exit, no crash
expect_err "missing model" "no-such" "$bin" info --model "$tmp/no-such.safetensors"
printf 'garbage' >"$tmp/bad.safetensors"
expect_err "garbage model" "bad.safetensors" "$bin" info --model "$tmp/bad.safetensors"
head -c 100000 "$m" >"$tmp/trunc.safetensors"
expect_err "truncated model" "trunc.safetensors" "$bin" info --model "$tmp/trunc.safetensors"
expect_err "unknown domain" "unknown domain" "$bin" translate --model "$m" --src "$src" --domain horse --seed 1 --out "$tmp/e.png"
printf 'not an image' >"$tmp/bad.jpg"
expect_err "bad image" "" "$bin" translate --model "$m" --src "$tmp/bad.jpg" --domain 0 --seed 1 --out "$tmp/e.png"
expect_err "both ref and seed" "exactly one" "$bin" translate --model "$m" --src "$src" --domain 0 --seed 1 --ref "$ref" --out "$tmp/e.png"
expect_err "psi range" "psi" "$bin" translate --model "$m" --src "$src" --domain 0 --seed 1 --psi 2 --out "$tmp/e.png"
expect_err "output format" "out" "$bin" translate --model "$m" --src "$src" --domain 0 --seed 1 --out "$tmp/e.gif"
expect_err "unknown option" "unknown option" "$bin" info --modle "$m"

# landmark JSON: 98 pairs, nothing after them
expect_ok "align --landmarks" "$bin" align --src "$fix/align/src.png" --out "$tmp/al.png" --mean "$fix/align/lm_mean.npz" --landmarks "$fix/align/landmarks.json"
{ cat "$fix/align/landmarks.json"; printf ' xyz'; } >"$tmp/lm_trail.json"
expect_err "landmarks with trailing text" "text after the JSON array" "$bin" align --src "$fix/align/src.png" --out "$tmp/al.png" --mean "$fix/align/lm_mean.npz" --landmarks "$tmp/lm_trail.json"

# every reader refuses what is not a regular file at once, with a one-line reason (a FIFO
# without a writer used to block forever)
mkfifo "$tmp/fifo"
expect_err "info --model FIFO" "is a FIFO, not a regular file" timeout 20 "$bin" info --model "$tmp/fifo"
expect_err "translate --src FIFO" "is a FIFO, not a regular file" timeout 20 "$bin" translate --model "$m" --src "$tmp/fifo" --domain 0 --seed 1 --out "$tmp/e.png"
expect_err "translate --ref FIFO" "is a FIFO, not a regular file" timeout 20 "$bin" translate --model "$m" --src "$src" --domain 0 --ref "$tmp/fifo" --out "$tmp/e.png"
expect_err "align --mean FIFO" "is a FIFO, not a regular file" timeout 20 "$bin" align --src "$src" --out "$tmp/e.png" --mean "$tmp/fifo" --landmarks "$tmp/fifo"
expect_err "info --model directory" "is a directory, not a regular file" timeout 20 "$bin" info --model "$tmp"
rm -f "$tmp/fifo"

# a parser's memory is bounded by its input (issue 12). The baseline is measured: the smallest
# ulimit -v (KiB, to 4 MiB) under which `info` opens the small model (the binary's libraries,
# FFmpeg's among them, take most of it). Then a 20 MB legacy checkpoint of one-byte opcodes is
# refused with the pickle bound's message under the baseline plus 4x the file, and a 4 MB
# safetensors header of 2 M values is parsed (then refused for its rank) under the baseline plus
# the stated 50x its length. (Sanitizer builds reserve huge shadow mappings: there the limit
# cannot be set, and the messages alone are checked.) OpenBLAS threads are off so its shutdown
# does not spin on a failing allocation.
under_vlimit() { # KIB CMD...: CMD under ulimit -v KIB
  local kib=$1
  shift
  bash -c 'ulimit -v "$0" && OPENBLAS_NUM_THREADS=1 exec timeout 60 "$@"' "$kib" "$@"
}
vbase() {
  local lo=16384 hi=4194304 mid
  while [ $((hi - lo)) -gt 4096 ]; do
    mid=$(((lo + hi) / 2))
    if under_vlimit "$mid" "$bin" info --model "$m" >/dev/null 2>&1; then hi=$mid; else lo=$mid; fi
  done
  echo "$hi"
}
{ printf '\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e\x80\x02M\xe9\x03.\x80\x02}.\x80\x02'
  head -c 20000000 /dev/zero | tr '\0' N; printf '.'; } >"$tmp/flood.ckpt"
python3 -c 'import struct, sys
h = ("{\"t\":{\"dtype\":\"F32\",\"shape\":[" + ",".join(["0"] * 2000000) + "],\"data_offsets\":[0,0]}}").encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h)' "$tmp/flood.safetensors"
hlen=$(($(stat -c %s "$tmp/flood.safetensors") - 8))
if [ -n "${SG_SANITIZER:-}" ]; then
  expect_err "pickle flood bounded" "bytes of memory" "$bin" info --model "$tmp/flood.ckpt"
  expect_err "safetensors header flood parsed" "2000000 dims" "$bin" info --model "$tmp/flood.safetensors"
else
  base=$(vbase)
  echo "info baseline: ulimit -v $base KiB"
  expect_err "pickle flood under ulimit -v (baseline + 4x the file)" "bytes of memory" \
    under_vlimit $((base + 4 * 20000000 / 1024)) "$bin" info --model "$tmp/flood.ckpt"
  expect_err "safetensors header flood under ulimit -v (baseline + 50x the header)" "2000000 dims" \
    under_vlimit $((base + 50 * hlen / 1024)) "$bin" info --model "$tmp/flood.safetensors"
fi
rm -f "$tmp/flood.ckpt" "$tmp/flood.safetensors"

finish
