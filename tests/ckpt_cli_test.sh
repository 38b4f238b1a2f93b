#!/usr/bin/env bash
# End-to-end tests of release checkpoints through the stargan command: selftest on the fixture
# checkpoints (legacy with cuda tags, zip; with the wing file as --fan), convert → selftest on
# the converted file, convert of the face network alone, info on a checkpoint, and one-line
# errors for broken or hostile checkpoints.
# usage: ckpt_cli_test.sh STARGAN FIXTURES TMPDIR   (exit 77 = skipped when fixtures are absent)
set -u
bin=$1 fix=$2 tmp=$3
data="$(cd "$(dirname "$0")" && pwd)/data/ckpt"
if [ ! -f "$fix/README.md" ] || [ ! -d "$fix/ckpt" ]; then
  echo "skipped: fixtures not found at $fix"; exit 77
fi
. "$(dirname "$0")/lib.sh" # ok / bad / expect_ok / finish
rm -rf "$tmp" && mkdir -p "$tmp"
# expect_err NAME PATTERN CMD...: non-zero exit without a crash, exactly one line on stderr,
# matching PATTERN
expect_err() {
  local n=$1 pat=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [ $rc -ne 0 ] && [ $rc -lt 128 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
     grep -q -- "$pat" "$tmp/err"; then ok "$n"; else bad "$n (rc=$rc)"; cat "$tmp/err"; fi
}
# holds NAME CMD...: ok when CMD succeeds, else FAIL and the last output
holds() { local n=$1; shift; if "$@"; then ok "$n"; else bad "$n"; cat "$tmp/out"; fi; }
has() { grep -q -- "$1" "$tmp/out"; } # has PATTERN: the last output holds it
# selftest_ok NAME ARGS...: selftest passes with every network output ok
selftest_ok() {
  local n=$1; shift
  "$bin" selftest "$fix/mini.io.safetensors" "$@" >"$tmp/st" 2>&1; local rc=$?
  local good=0
  for out in s_latent s_ref out_latent out_ref; do grep -q "^$out .* ok$" "$tmp/st" && good=$((good + 1)); done
  if [ $rc -eq 0 ] && [ $good -eq 4 ]; then ok "$n"; else bad "$n"; cat "$tmp/st"; fi
}

legacy="$fix/ckpt/mini_nets_ema.legacy.ckpt" zipck="$fix/ckpt/mini_nets_ema.zip.ckpt"
wing="$fix/ckpt/wing_mini.legacy.ckpt"

selftest_ok "selftest legacy ckpt" --model "$legacy"
selftest_ok "selftest zip ckpt" --model "$zipck"
selftest_ok "selftest ckpt + wing" --model "$legacy" --fan "$wing"

expect_ok "info legacy ckpt" "$bin" info --model "$legacy"
holds "info ckpt content" eval 'has "domains      0=female 1=male" && has "img_size     64"'
expect_ok "info zip ckpt" "$bin" info --model "$zipck"

m="$tmp/mini.safetensors"
expect_ok "convert" "$bin" convert --model "$legacy" --fan "$wing" --out "$m"
holds "convert counts" has "wrote .*: 417 tensors (281 of the face network)"
selftest_ok "selftest converted" --model "$m"
expect_ok "info converted" "$bin" info --model "$m"
holds "converted keeps fan and domains" eval 'has "face network present" && has "0=female 1=male"'
expect_ok "convert zip, domains" "$bin" convert --model "$zipck" --domains woman,man --out "$tmp/d.safetensors"
expect_ok "info domains" "$bin" info --model "$tmp/d.safetensors"
holds "domains metadata" has "0=woman 1=man"
expect_ok "convert fan only" "$bin" convert --fan "$wing" --out "$tmp/fan.safetensors"
holds "fan only counts" has "281 tensors (281 of the face network)"
selftest_ok "selftest with converted fan" --model "$legacy" --fan "$tmp/fan.safetensors"

# errors: one line, non-zero exit, no crash, no output file left behind
head -c 30000 "$legacy" >"$tmp/trunc.ckpt"
expect_err "truncated legacy" "trunc.ckpt" "$bin" info --model "$tmp/trunc.ckpt"
head -c 300000 "$zipck" >"$tmp/trunc_zip.ckpt"
expect_err "truncated zip" "not a readable zip archive" "$bin" info --model "$tmp/trunc_zip.ckpt"
expect_err "evil global" "unsupported pickle content: global posix.system" \
  "$bin" info --model "$data/evil_global.legacy.ckpt"
expect_err "evil global zip" "unsupported pickle content: global posix.system" \
  "$bin" selftest "$fix/mini.io.safetensors" --model "$data/evil_global.zip.ckpt"
expect_err "wing as a model" "mapping_network" "$bin" info --model "$wing"
expect_err "model as a fan" "no face network" "$bin" convert --fan "$legacy" --out "$tmp/x.safetensors"
expect_err "convert bad domains" "domain names" "$bin" convert --model "$legacy" --domains a,b,c --out "$tmp/x.safetensors"
# shellcheck disable=SC2016 # expanded by eval
holds "no partial output" eval '[ ! -e "$tmp/x.safetensors" ] && [ ! -e "$tmp/x.safetensors.tmp" ]'
printf '\x80\x02garbage' >"$tmp/garbage.bin"
expect_err "garbage pickle" "garbage.bin" "$bin" info --model "$tmp/garbage.bin"
"$bin" convert --out "$tmp/x.safetensors" >"$tmp/out" 2>&1
rc=$?
# shellcheck disable=SC2016
holds "convert usage" eval '[ $rc -eq 2 ] && [ "$(head -1 "$tmp/out")" = "stargan convert: --model, --fan or --detector is required" ]'

finish
