#!/usr/bin/env bash
# End to end: `stargan sample` (grids byte-identical to translate, video frame counts and sizes,
# MP4 and WebP, input errors) and batch translate (a bad file skipped, the rest written, exit 1).
# A 64-pixel spec-v1 model in the AFHQ layout and the fixture photos keep it quick.
# usage: sample_test.sh STARGAN MEDIA_PROBE FIXTURES TMPDIR   (exit 77 = skipped: no fixtures)
set -u
bin=$1 probe=$2 fix=$3 tmp=$4
img="$fix/images/afhq"
if [ ! -d "$img/src" ]; then echo "skipped: fixture photos not found at $img"; exit 77; fi
. "$(dirname "$0")/lib.sh" # ok / bad / expect_ok / finish
rm -rf "$tmp" && mkdir -p "$tmp"
# expect_err NAME PATTERN CMD...: exit 1 (not a crash), PATTERN on stderr
expect_err() {
  local n=$1 pat=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [ $rc -ne 0 ] && [ $rc -lt 128 ] && grep -q -- "$pat" "$tmp/err"; then ok "$n"; else
    bad "$n (rc=$rc)"; cat "$tmp/err"; fi
}
S=64 M=8   # image size; the video's margin beside the reference column (S/8)

m="$tmp/m.safetensors"
expect_ok "make-model" "$bin" make-model --config afhq --img-size $S --max-conv-dim 64 --style-dim 16 \
  --latent-dim 8 --out "$m"

# sources: 2 (cat, dog); references: 3 (cat, dog, wild), one folder per domain
mkdir -p "$tmp/src/cat" "$tmp/src/dog" "$tmp/ref"
cp "$img/src/cat/"*.jpg "$tmp/src/cat/"; cp "$img/src/dog/"*.jpg "$tmp/src/dog/"
cp -r "$img/ref/cat" "$img/ref/dog" "$img/ref/wild" "$tmp/ref/"
srcs=("$tmp/src/cat/"*.jpg "$tmp/src/dog/"*.jpg)
refs=("$tmp/ref/cat/"*.jpg "$tmp/ref/dog/"*.jpg "$tmp/ref/wild/"*.jpg)
refdom=(cat dog wild)
o="$tmp/o"
expect_ok "sample" "$bin" sample --model "$m" --src-dir "$tmp/src" --ref-dir "$tmp/ref" --out-dir "$o" \
  --seeds 2 --seed 5 --frames 3 --fps 10
[ ! -s "$tmp/out" ] && ok "sample is quiet off a terminal" || { bad "sample is quiet off a terminal"; cat "$tmp/out"; }
for f in reference.png latent.png video_ref.mp4 video_latent.mp4; do
  [ -s "$o/$f" ] && ok "wrote $f" || bad "wrote $f"
done
ls "$o" | grep -q part && bad "no .part files left" || ok "no .part files left"
[ "$("$probe" size "$o/reference.png")" = "$((4 * S)) $((3 * S))" ] && ok "reference.png size" || bad "reference.png size"
# latent: the source + 3 domains × 2 seeds, a row per source
[ "$("$probe" size "$o/latent.png")" = "$((7 * S)) $((2 * S))" ] && ok "latent.png size" || bad "latent.png size"

# every reference cell is translate's output, byte for byte; row 0 / column 0 the photos
for i in 0 1; do
  for j in 0 1 2; do
    "$bin" translate --model "$m" --src "${srcs[$i]}" --ref "${refs[$j]}" --domain "${refdom[$j]}" \
      --out "$tmp/cell.png" 2>"$tmp/err" || cat "$tmp/err"
    expect_ok "reference cell ($i, $j) = translate" "$probe" region "$o/reference.png" $(((j + 1) * S)) $(((i + 1) * S)) "$tmp/cell.png"
  done
done
# latent cells: column 1 + domain·seeds + k is seed 5 + k in that domain
for spec in "0 cat 0" "1 dog 1" "0 wild 1"; do
  set -- $spec; i=$1 d=$2 k=$3
  case $d in cat) y=0 ;; dog) y=1 ;; wild) y=2 ;; esac
  "$bin" translate --model "$m" --src "${srcs[$i]}" --seed $((5 + k)) --domain $d --out "$tmp/cell.png"
  expect_ok "latent cell ($i, $d, seed $((5 + k))) = translate" "$probe" region "$o/latent.png" $(((1 + y * 2 + k) * S)) $((i * S)) "$tmp/cell.png"
done

# videos: 3 references → 2 segments of 3 frames, 6 latent codes → 5 segments
"$probe" video "$o/video_ref.mp4" >"$tmp/v" 2>&1
grep -q "^frames 6 size $((S + M + 2 * S))x$((2 * S)) duration_ms 600$" "$tmp/v" && ok "video_ref.mp4 frames and size" || { bad "video_ref.mp4 frames and size"; cat "$tmp/v"; }
"$probe" video "$o/video_latent.mp4" >"$tmp/v" 2>&1
grep -q "^frames 15 size $((2 * S))x$((2 * S)) duration_ms 1500$" "$tmp/v" && ok "video_latent.mp4 frames and size" || { bad "video_latent.mp4 frames and size"; cat "$tmp/v"; }

# WebP: the same timeline (repeated frames merge, the duration stays)
o2="$tmp/o2"
expect_ok "sample --video webp" "$bin" sample --model "$m" --src-dir "$tmp/src" --ref-dir "$tmp/ref" \
  --out-dir "$o2" --outputs video_ref,video_latent --video webp --seeds 1 --frames 3 --fps 10
"$probe" video "$o2/video_ref.webp" >"$tmp/v" 2>&1
grep -q "size $((S + M + 2 * S))x$((2 * S)) duration_ms 600$" "$tmp/v" && ok "video_ref.webp size and duration" || { bad "video_ref.webp size and duration"; cat "$tmp/v"; }
"$probe" video "$o2/video_latent.webp" >"$tmp/v" 2>&1
grep -q "size $((2 * S))x$((2 * S)) duration_ms 600$" "$tmp/v" && ok "video_latent.webp size and duration" || { bad "video_latent.webp size and duration"; cat "$tmp/v"; }
[ ! -e "$o2/reference.png" ] && ok "--outputs picks" || bad "--outputs picks"
# photos directly in --src-dir count as sources; a single reference gives a still video
mkdir -p "$tmp/flat" "$tmp/oneref/dog"; cp "${srcs[0]}" "$tmp/flat/"; cp "${refs[1]}" "$tmp/oneref/dog/"
expect_ok "sample flat sources, one reference" "$bin" sample --model "$m" --src-dir "$tmp/flat" \
  --ref-dir "$tmp/oneref" --out-dir "$tmp/o3" --outputs reference,video_ref --frames 2
"$probe" video "$tmp/o3/video_ref.mp4" | grep -q "^frames 2 size $((2 * S + M))x$((2 * S)) " && ok "one-reference video" || bad "one-reference video"

# on a terminal: a progress bar (script(1) gives the command one)
if command -v script >/dev/null; then
  script -qec "'$bin' sample --model '$m' --src-dir '$tmp/flat' --out-dir '$tmp/otty' --outputs latent --seeds 1" \
    "$tmp/tty.log" >/dev/null 2>&1
  grep -q '\[########################\] 100%  3/3  latent.png' "$tmp/tty.log" && grep -q "written in" "$tmp/tty.log" \
    && ok "progress bar on a terminal" || { bad "progress bar on a terminal"; cat -v "$tmp/tty.log"; }
  "$bin" translate --model "$m" --src-dir "$tmp/flat" --domain cat --seed 1 --out-dir "$tmp/btty" 2>"$tmp/err"
  ! grep -q '%' "$tmp/err" && ok "no progress bar off a terminal" || { bad "no progress bar off a terminal"; cat -v "$tmp/err"; }
else
  echo "skip progress bar on a terminal (no script(1))"
fi
# a non-square photo with an EXIF rotation (tests/data/images), cropped and stretched
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$tmp/nsq"; cp "$here/data/images/jpg_exif_6.jpg" "$tmp/nsq/"
for fit in crop stretch; do
  expect_ok "sample --fit $fit, non-square" "$bin" sample --model "$m" --src-dir "$tmp/nsq" --ref-dir "$tmp/oneref" \
    --out-dir "$tmp/o-$fit" --outputs reference --fit $fit
  "$bin" translate --model "$m" --src "$tmp/nsq/jpg_exif_6.jpg" --ref "${refs[1]}" --domain dog --fit $fit --out "$tmp/cell.png"
  expect_ok "--fit $fit cell = translate" "$probe" region "$tmp/o-$fit/reference.png" $S $S "$tmp/cell.png"
done
cmp -s "$tmp/o-crop/reference.png" "$tmp/o-stretch/reference.png" && bad "crop and stretch differ" || ok "crop and stretch differ"
# --crop (every source's region, as /v1/grid's crop=): the cell is translate --crop's
expect_ok "sample --crop" "$bin" sample --model "$m" --src-dir "$tmp/nsq" --ref-dir "$tmp/oneref" \
  --out-dir "$tmp/o-region" --outputs reference --crop 2,4,10,12
"$bin" translate --model "$m" --src "$tmp/nsq/jpg_exif_6.jpg" --ref "${refs[1]}" --domain dog --crop 2,4,10,12 --out "$tmp/cell.png"
expect_ok "--crop cell = translate --crop" "$probe" region "$tmp/o-region/reference.png" $S $S "$tmp/cell.png"
# --paste: every cell the whole photo with its region put back (translate --crop --paste's pixels),
# cells the largest photo's size (at least S, even), the photo centred
expect_ok "sample --crop --paste" "$bin" sample --model "$m" --src-dir "$tmp/nsq" --ref-dir "$tmp/oneref" \
  --out-dir "$tmp/o-paste" --outputs reference,video_latent --seeds 1 --frames 2 --crop 2,4,10,12 --paste
"$bin" translate --model "$m" --src "$tmp/nsq/jpg_exif_6.jpg" --ref "${refs[1]}" --domain dog --crop 2,4,10,12 --paste --out "$tmp/pcell.png"
read -r pw ph <<<"$("$probe" size "$tmp/pcell.png")"
cw=$((pw > S ? pw : S)) ch=$((ph > S ? ph : S))
cw=$((cw + cw % 2)) ch=$((ch + ch % 2))
expect_ok "--paste cell = translate --crop --paste" "$probe" region "$tmp/o-paste/reference.png" $((cw + (cw - pw) / 2)) $((ch + (ch - ph) / 2)) "$tmp/pcell.png"
"$probe" video "$tmp/o-paste/video_latent.mp4" | grep -q "size ${cw}x$((2 * ch))" && ok "--paste video frames: a cell per source, two cells tall" \
  || bad "--paste video frames: a cell per source, two cells tall"
"$bin" sample --model "$m" --src-dir "$tmp/nsq" --out-dir "$tmp/o-pa" --outputs latent --paste --fit align --mean /dev/null >"$tmp/out" 2>&1
[ $? = 2 ] && grep -q "paste with --fit align needs" "$tmp/out" && ok "--paste --fit align without a region: a usage error" \
  || bad "--paste --fit align without a region: a usage error"
# --face auto (when the detector is there): the face photo's cell is translate --face auto's
det=$here/../models/detector.safetensors
[ -f "$det" ] || det=$here/../models/face-api/model/ssd_mobilenetv1_model-weights_manifest.json
if [ -f "$det" ]; then
  mkdir -p "$tmp/fsq"; cp "$here/data/detect/exif6.jpg" "$tmp/fsq/"
  expect_ok "sample --face auto" "$bin" sample --model "$m" --src-dir "$tmp/fsq" --ref-dir "$tmp/oneref" \
    --out-dir "$tmp/o-face" --outputs reference --face auto --detector "$det"
  "$bin" translate --model "$m" --src "$tmp/fsq/exif6.jpg" --ref "${refs[1]}" --domain dog --face auto --detector "$det" --out "$tmp/cell.png"
  expect_ok "--face auto cell = translate --face auto" "$probe" region "$tmp/o-face/reference.png" $S $S "$tmp/cell.png"
else
  echo "skip sample --face (no detector: scripts/get-detector.sh)"
fi
# grids as JPEG
expect_ok "sample --format jpg" "$bin" sample --model "$m" --src-dir "$tmp/flat" --ref-dir "$tmp/oneref" \
  --out-dir "$tmp/o4" --outputs reference,latent --seeds 1 --format jpg --quality 80
[ "$(head -c 3 "$tmp/o4/reference.jpg" | od -An -tx1 | tr -d ' ')" = ffd8ff ] && [ -s "$tmp/o4/latent.jpg" ] \
  && ok "grids written as JPEG" || bad "grids written as JPEG"
# a model with face masks (the mini configuration: w_hpf = 1, its FAN in the file): the cell is
# still translate's, masks and all
c="$fix/images/celeba_hq"
mkdir -p "$tmp/fsrc" "$tmp/fref/male"; cp "$c/src/female/"*.jpg "$tmp/fsrc/"; cp "$c/ref/male/"*.jpg "$tmp/fref/male/"
expect_ok "make-model mini" "$bin" make-model --config mini --out "$tmp/mini.safetensors"
expect_ok "sample, face masks" "$bin" sample --model "$tmp/mini.safetensors" --src-dir "$tmp/fsrc" \
  --ref-dir "$tmp/fref" --out-dir "$tmp/o5" --outputs reference
"$bin" translate --model "$tmp/mini.safetensors" --src "$tmp/fsrc/"*.jpg --ref "$tmp/fref/male/"*.jpg \
  --domain male --out "$tmp/cell.png"
expect_ok "face-mask cell = translate" "$probe" region "$tmp/o5/reference.png" 64 64 "$tmp/cell.png"
# --fit align: the grid's photos and cells as translate --fit align makes them
lm="$fix/align/lm_mean.npz"
mkdir -p "$tmp/asrc"; cp "$fix/align/src.png" "$tmp/asrc/"
expect_ok "sample --fit align" "$bin" sample --model "$tmp/mini.safetensors" --src-dir "$tmp/asrc" \
  --ref-dir "$tmp/fref" --out-dir "$tmp/o6" --outputs reference --fit align --mean "$lm"
"$bin" translate --model "$tmp/mini.safetensors" --src "$tmp/asrc/src.png" --ref "$tmp/fref/male/"*.jpg \
  --domain male --fit align --mean "$lm" --out "$tmp/cell.png"
expect_ok "aligned cell = translate --fit align" "$probe" region "$tmp/o6/reference.png" 64 64 "$tmp/cell.png"
expect_err "--fit align needs --mean" "needs --mean" "$bin" sample --model "$tmp/mini.safetensors" \
  --src-dir "$tmp/asrc" --ref-dir "$tmp/fref" --out-dir "$tmp/o7" --fit align

# segments too short to reach their target (--frames 2): one more frame rests on the last style
expect_ok "sample --frames 2" "$bin" sample --model "$m" --src-dir "$tmp/flat" --ref-dir "$tmp/ref" \
  --out-dir "$tmp/o8" --outputs video_ref --frames 2 --fps 10
"$probe" video "$tmp/o8/video_ref.mp4" | grep -q "^frames 5 size $((S + M + S))x$((2 * S)) duration_ms 500$" \
  && ok "short segments end on the last style" || bad "short segments end on the last style"

# errors: one line, exit 1 (usage errors 2), before any output is written
mkdir -p "$tmp/badref/horse"; cp "${refs[0]}" "$tmp/badref/horse/"
expect_err "unknown domain folder lists the domains" "unknown domain 'horse' (this model's domains: cat, dog, wild)" \
  "$bin" sample --model "$m" --src-dir "$tmp/src" --ref-dir "$tmp/badref" --out-dir "$tmp/e1"
[ ! -e "$tmp/e1" ] && ok "nothing written on an input error" || bad "nothing written on an input error"
expect_err "references outside domain folders" "folder named by their domain" \
  "$bin" sample --model "$m" --src-dir "$tmp/src" --ref-dir "$tmp/flat" --out-dir "$tmp/e2"
expect_err "no --ref-dir for reference outputs" "need --ref-dir" \
  "$bin" sample --model "$m" --src-dir "$tmp/src" --out-dir "$tmp/e3"
expect_ok "latent outputs without --ref-dir" "$bin" sample --model "$m" --src-dir "$tmp/flat" --out-dir "$tmp/e4" \
  --outputs latent --seeds 1
mkdir -p "$tmp/badsrc/cat"; printf 'not a photo' >"$tmp/badsrc/cat/x.jpg"
expect_err "undecodable source named" "x.jpg" \
  "$bin" sample --model "$m" --src-dir "$tmp/badsrc" --ref-dir "$tmp/ref" --out-dir "$tmp/e5"
[ ! -e "$tmp/e5" ] && ok "nothing written on a bad photo" || bad "nothing written on a bad photo"
expect_err "bad --video" "mp4 or webp" "$bin" sample --model "$m" --src-dir "$tmp/src" --ref-dir "$tmp/ref" --out-dir "$tmp/e6" --video gif
expect_err "bad --outputs" "outputs" "$bin" sample --model "$m" --src-dir "$tmp/src" --ref-dir "$tmp/ref" --out-dir "$tmp/e6" --outputs grid
expect_err "translate: unknown domain lists the domains" "this model's domains: cat, dog, wild" \
  "$bin" translate --model "$m" --src "${srcs[0]}" --domain horse --seed 1 --out "$tmp/e.png"

# batch translate: one bad file among good ones → reported, skipped, others written, exit 1
mkdir -p "$tmp/batch"; cp "${srcs[@]}" "${refs[2]}" "$tmp/batch/"; printf 'junk' >"$tmp/batch/broken.png"
"$bin" translate --model "$m" --src-dir "$tmp/batch" --domain wild --seed 9 --out-dir "$tmp/bo" >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && ok "batch with a bad file exits 1" || { bad "batch with a bad file exits 1 (rc=$rc)"; cat "$tmp/err"; }
grep -q "broken.png.*skipped" "$tmp/err" && ok "bad file reported" || { bad "bad file reported"; cat "$tmp/err"; }
grep -q "3 of 4 photos translated into $tmp/bo" "$tmp/err" && grep -q "1 failed" "$tmp/err" && ok "batch summary" || { bad "batch summary"; cat "$tmp/err"; }
[ "$(ls "$tmp/bo" | wc -l)" = 3 ] && [ ! -e "$tmp/bo/broken.png" ] && ok "the others written" || { bad "the others written"; ls "$tmp/bo"; }
for f in "${srcs[@]}" "${refs[2]}"; do
  b=$(basename "$f" .jpg)
  "$bin" translate --model "$m" --src "$f" --domain wild --seed 9 --out "$tmp/one.png"
  cmp -s "$tmp/one.png" "$tmp/bo/$b.png" && ok "batch output $b = translate" || bad "batch output $b = translate"
done
expect_ok "batch of several --src, jpg, reference-guided" "$bin" translate --model "$m" --src "${srcs[0]}" --src "${srcs[1]}" \
  --ref "${refs[0]}" --domain cat --out-dir "$tmp/bo2" --format jpg
[ "$(ls "$tmp/bo2" | wc -l)" = 2 ] && [ -s "$tmp/bo2/$(basename "${srcs[1]}" .jpg).jpg" ] && ok "several --src written" || bad "several --src written"
cp "${srcs[0]}" "$tmp/clash.jpg"; cp "${srcs[1]}" "$tmp/clash.png" 2>/dev/null
expect_err "batch output clash" "both be written" "$bin" translate --model "$m" --src "$tmp/clash.jpg" \
  --src "$tmp/clash.png" --domain cat --seed 1 --out-dir "$tmp/bo3"
expect_err "several photos need --out-dir" "out-dir" "$bin" translate --model "$m" --src "${srcs[0]}" \
  --src "${srcs[1]}" --domain cat --seed 1 --out "$tmp/x.png"

finish
