#!/usr/bin/env bash
# The face detector end to end: `stargan detect` and POST /v1/detect answer the same JSON (the
# faces tests/test_detect checks against face-api.js), the field rules, Server-Timing's detect
# stage, /metrics, a server without a detector (501), and --detector given as the TensorFlow.js
# manifest. Skips without the detector (scripts/get-detector.sh).
# Then regions on the demo model: crop=, face=, paste= and the reference's ref_crop=/ref_face=:
# pixels outside the region are the decoded photo's, inside the feather band a crop of img_size
# is its translation exactly, a crop equals uploading the cropped photo, and the errors.
# usage: detect_test.sh STARGAN-SERVER STARGAN IMAGE_PPM TMPDIR [FIXTURES]
set -u
srv=$1 cli=$2 ppm=$3 tmp=$4 fix=${5:-}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
rm -rf "$tmp" && mkdir -p "$tmp"
det=${STARGAN_DETECTOR:-$root/models/detector.safetensors}
[ -f "$det" ] || det=$root/models/face-api/model/ssd_mobilenetv1_model-weights_manifest.json # the package alone (get-detector.sh --package)
[ -f "$det" ] || { echo "skipped: no detector at $det (scripts/get-detector.sh)"; exit 77; }
need curl
photo=$root/tests/data/detect/exif6.jpg noface=$root/tests/data/detect/noface.jpg

# ---- the CLI ----------------------------------------------------------------------------------
expect_ok "stargan detect" "$cli" detect --src "$photo" --detector "$det"
cp "$tmp/out" "$tmp/cli.json"
check "five faces, by descending score, in the displayed photo's pixels" \
  'grep -q "^{\"width\":640,\"height\":464,\"faces\":\[{\"box\":\[263.6,36.7,50.2,69.8\],\"score\":0.9923}," "$tmp/cli.json" && [ "$(grep -o score "$tmp/cli.json" | wc -l)" = 5 ]' "$tmp/cli.json"
"$cli" detect --src "$photo" --detector "$det" --min-score 0.96 >"$tmp/hi.json"
check "--min-score 0.96 keeps the two above it" '[ "$(grep -o score "$tmp/hi.json" | wc -l)" = 2 ]' "$tmp/hi.json"
"$cli" detect --src "$noface" --detector "$det" >"$tmp/none.json"
check "a face-free photo: no faces" 'grep -qx "{\"width\":384,\"height\":768,\"faces\":\[\]}" "$tmp/none.json"' "$tmp/none.json"
"$cli" detect --src "$photo" --detector "$det" --min-score 1.5 >"$tmp/o" 2>&1
rc=$?
check "--min-score 1.5: a usage error (2) naming it" '[ $rc = 2 ] && grep -q "min-score" "$tmp/o"' "$tmp/o"
"$cli" detect --src "$photo" --detector "$tmp/nothing.safetensors" >"$tmp/o" 2>&1
rc=$?
check "a missing detector file: exit 1 naming it" '[ $rc = 1 ] && grep -q "nothing.safetensors" "$tmp/o"' "$tmp/o"
STARGAN_DETECTOR=none "$cli" detect --src "$photo" >"$tmp/o" 2>&1
check "STARGAN_DETECTOR=none: no detector, said so" 'grep -q "no face detector" "$tmp/o"' "$tmp/o"

# ---- the server -------------------------------------------------------------------------------
start det --detector "$det" || finish
st=$(req -F image=@"$photo" "$U/v1/detect")
check "POST /v1/detect (form): 200, the CLI's JSON byte for byte" \
  '[ "$st" = 200 ] && [ "$(hdr content-type)" = application/json ] && [ "$(cat "$tmp/body")" = "$(cat "$tmp/cli.json")" ]' "$tmp/body"
check "Server-Timing has a detect stage" 'hdr server-timing | grep -q "detect;dur=[0-9.]*"'
st=$(req --data-binary @"$photo" -H 'Content-Type: image/jpeg' "$U/v1/detect?min_score=0.96")
check "raw body, min_score=0.96 as a query parameter" '[ "$st" = 200 ] && cmp -s "$tmp/body" <(tr -d "\n" <"$tmp/hi.json")' "$tmp/body"
expect "min_score=2" 400 bad_field -F image=@"$photo" -F min_score=2 "$U/v1/detect"
expect "min_score=abc" 400 bad_field -F image=@"$photo" -F min_score=abc "$U/v1/detect"
expect "a field detect does not read (domain)" 400 unknown_field -F image=@"$photo" -F domain=cat "$U/v1/detect"
expect "no image" 400 missing_field -F min_score=0.5 "$U/v1/detect"
head -c 2000 "$photo" >"$tmp/cut.jpg"
st=$(req -F image=@"$tmp/cut.jpg" "$U/v1/detect")
check "a truncated JPEG: a 4xx JSON error, the server lives" '[ "${st:0:1}" = 4 ] && grep -q "\"error\"" "$tmp/body" && [ "$(req "$U/healthz")" = 200 ]' "$tmp/body"
curl -s "$U/metrics" >"$tmp/metrics"
check "/metrics counts the route and the stage" 'grep -q "stargan_http_requests_total{route=\"detect\",status=\"200\"} 2" "$tmp/metrics" && grep -q "stage=\"detect\"" "$tmp/metrics"' "$tmp/metrics"
stop "$PID"

manifest=$root/models/face-api/model/ssd_mobilenetv1_model-weights_manifest.json
if [ -f "$manifest" ]; then
  start man --detector "$manifest" || finish
  st=$(req -F image=@"$photo" "$U/v1/detect")
  check "--detector the TensorFlow.js manifest: the same answer" '[ "$st" = 200 ] && [ "$(cat "$tmp/body")" = "$(cat "$tmp/cli.json")" ]' "$tmp/body"
  stop "$PID"
fi
# ---- regions (the demo model: AFHQ layout, 256 px, deterministic weights) ---------------------
start reg --detector "$det" || finish
big=$root/models/face-api/demo/sample1.jpg
[ -f "$big" ] || big=$photo
"$ppm" "$big" "$tmp/photo.ppm"
# px.py A.ppm B.ppm X Y W H BAND: "outside-equal inside-equal" between the two images over the
# region (outside: every pixel outside it; inside: from BAND pixels in), or crop/png helpers
cat >"$tmp/px.py" <<'PY'
import sys, zlib, struct
def ppm(p):
    d = open(p, 'rb').read()
    parts = d.split(maxsplit=4)
    w, h = int(parts[1]), int(parts[2])
    return w, h, parts[4][-w * h * 3:]
def png(path, w, h, rgb):
    raw = b''.join(b'\0' + rgb[y * w * 3:(y + 1) * w * 3] for y in range(h))
    def chunk(t, b): return struct.pack('>I', len(b)) + t + b + struct.pack('>I', zlib.crc32(t + b))
    open(path, 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
cmd = sys.argv[1]
if cmd == 'crop':   # crop IN.ppm X Y W H OUT.png
    w, h, p = ppm(sys.argv[2]); x, y, cw, ch = map(int, sys.argv[3:7])
    png(sys.argv[7], cw, ch, b''.join(p[((y + j) * w + x) * 3:((y + j) * w + x + cw) * 3] for j in range(ch)))
elif cmd == 'sub':    # sub A.ppm X Y B.ppm: "equal" when B is A's region at (X, Y)
    wa, ha, a = ppm(sys.argv[2]); x, y = int(sys.argv[3]), int(sys.argv[4]); wb, hb, b = ppm(sys.argv[5])
    ok = x + wb <= wa and y + hb <= ha and all(a[((y + j) * wa + x) * 3:((y + j) * wa + x + wb) * 3] == b[j * wb * 3:(j + 1) * wb * 3] for j in range(hb))
    print('equal' if ok else 'differs')
elif cmd == 'mp4dims':  # the first track's tkhd width x height (version 0 box)
    d = open(sys.argv[2], 'rb').read(); i = d.find(b'tkhd')
    print(f"{struct.unpack('>I', d[i + 80:i + 84])[0] >> 16}x{struct.unpack('>I', d[i + 84:i + 88])[0] >> 16}")
elif cmd == 'webpdims':  # an animated WebP's canvas (VP8X chunk)
    d = open(sys.argv[2], 'rb').read(); i = d.find(b'VP8X')
    print(f"{int.from_bytes(d[i + 12:i + 15], 'little') + 1}x{int.from_bytes(d[i + 15:i + 18], 'little') + 1}")
elif cmd == 'dims':
    w, h, _ = ppm(sys.argv[2]); print(f'{w}x{h}')
else:               # cmp A.ppm B.ppm X Y W H BAND [C.ppm]: outside A==B; inside (band in) B==C
    wa, ha, a = ppm(sys.argv[2]); wb, hb, b = ppm(sys.argv[3])
    x, y, rw, rh, band = map(int, sys.argv[4:9])
    c = ppm(sys.argv[9]) if len(sys.argv) > 9 else None
    out_eq = in_eq = True
    for j in range(hb):
        for i in range(wb):
            k = (j * wb + i) * 3
            inside = x <= i < x + rw and y <= j < y + rh
            if not inside: out_eq &= a[k:k + 3] == b[k:k + 3]
            elif c and x + band <= i < x + rw - band and y + band <= j < y + rh - band:
                kc = ((j - y) * c[0] + (i - x)) * 3
                in_eq &= b[k:k + 3] == c[2][kc:kc + 3]
    print(('outside-equal' if out_eq else 'outside-differs') + ' ' + ('inside-equal' if in_eq else 'inside-differs'))
PY
dims=$(python3 "$tmp/px.py" dims "$tmp/photo.ppm")
st=$(req -F image=@"$big" -F domain=dog -F seed=3 -F crop=100,60,256,256 -F paste=true "$U/v1/translate")
cp "$tmp/body" "$tmp/paste.png"
check "crop=...,256,256 paste=true: 200, the photo's size, X-Faces the square" \
  '[ "$st" = 200 ] && "$ppm" "$tmp/paste.png" "$tmp/paste.ppm" && [ "$(python3 "$tmp/px.py" dims "$tmp/paste.ppm")" = "$dims" ] && [ "$(hdr x-faces)" = "[[100,60,256,256]]" ]' "$tmp/hdr"
"$cli" make-model --config afhq --out "$tmp/afhq.safetensors" >/dev/null
"$cli" translate --model "$tmp/afhq.safetensors" --src "$big" --domain dog --seed 3 \
  --crop 100,60,256,256 --paste --out "$tmp/cli_paste.png" >/dev/null 2>&1
check "stargan translate --crop --paste: the server's bytes" 'cmp -s "$tmp/cli_paste.png" "$tmp/paste.png"'
st=$(req -F image=@"$big" -F domain=dog -F seed=3 -F crop=100,60,256,256 "$U/v1/translate")
cp "$tmp/body" "$tmp/crop.png" && "$ppm" "$tmp/crop.png" "$tmp/crop.ppm"
check "pasted: outside the region the decoded photo, from the band (32 px) in the crop's translation exactly" \
  '[ "$(python3 "$tmp/px.py" cmp "$tmp/photo.ppm" "$tmp/paste.ppm" 100 60 256 256 32 "$tmp/crop.ppm")" = "outside-equal inside-equal" ]'
python3 "$tmp/px.py" crop "$tmp/photo.ppm" 100 60 256 256 "$tmp/cut.png"
st=$(req -F image=@"$tmp/cut.png" -F domain=dog -F seed=3 "$U/v1/translate")
check "crop= is uploading the cropped photo: the same bytes" '[ "$st" = 200 ] && cmp -s "$tmp/body" "$tmp/crop.png"'
st=$(req -F image=@"$big" -F domain=dog -F seed=3 -F crop=50,40,300,120 -F paste=true "$U/v1/translate")
cp "$tmp/body" "$tmp/p2.png"
check "a wide crop: made square around it (300 px, centred), pasted, nothing outside it changed" \
  '[ "$st" = 200 ] && [ "$(hdr x-faces)" = "[[50,0,300,300]]" ] && "$ppm" "$tmp/p2.png" "$tmp/p2.ppm" && [ "$(python3 "$tmp/px.py" cmp "$tmp/photo.ppm" "$tmp/p2.ppm" 50 0 300 300 37 | cut -d" " -f1)" = outside-equal ]' "$tmp/hdr"
st=$(req -F image=@"$big" -F domain=dog -F seed=3 -F face=auto -F paste=true "$U/v1/translate")
xf=$(hdr x-faces)
cp "$tmp/body" "$tmp/f.png"
read -r fx fy fw fh <<<"$(echo "$xf" | tr -d '[]' | tr ',' ' ')"
check "face=auto paste=true: the best face's square in X-Faces, detect and paste in Server-Timing, nothing outside it changed" \
  '[ "$st" = 200 ] && [ -n "$fw" ] && hdr server-timing | grep -q "detect;dur=.*paste;dur=" && "$ppm" "$tmp/f.png" "$tmp/f.ppm" && [ "$(python3 "$tmp/px.py" cmp "$tmp/photo.ppm" "$tmp/f.ppm" "$fx" "$fy" "$fw" "$fh" 1 | cut -d" " -f1)" = outside-equal ]' "$tmp/hdr"
if [ "$big" != "$photo" ]; then
  st=$(req -F image=@"$big" -F domain=dog -F seed=3 -F face=all -F paste=true "$U/v1/translate")
  check "face=all paste=true: every face (3) translated into one answer" '[ "$st" = 200 ] && [ "$(hdr x-faces | grep -o "\]," | wc -l)" = 2 ]' "$tmp/hdr"
fi
"$cli" translate --model "$tmp/afhq.safetensors" --src "$big" --domain dog --seed 3 --face auto \
  --paste --detector "$det" --out "$tmp/cli_face.png" >/dev/null 2>&1
check "stargan translate --face auto --paste: the server's bytes" 'cmp -s "$tmp/cli_face.png" "$tmp/f.png"'
"$cli" translate --model "$tmp/afhq.safetensors" --src "$big" --domain dog --seed 3 --face all \
  --detector "$det" --out "$tmp/x.png" >"$tmp/o" 2>&1
rc=$?
check "stargan translate --face all without --paste: a usage error" '[ $rc = 2 ] && grep -q "paste" "$tmp/o"' "$tmp/o"
"$cli" translate --model "$tmp/afhq.safetensors" --src "$big" --domain dog --seed 3 --crop 1,2,3 \
  --out "$tmp/x.png" >"$tmp/o" 2>&1
rc=$?
check "stargan translate --crop 1,2,3: a usage error" '[ $rc = 2 ] && grep -q "crop" "$tmp/o"' "$tmp/o"
"$cli" translate --model "$tmp/afhq.safetensors" --src "$noface" --domain dog --seed 3 --face auto \
  --detector "$det" --out "$tmp/x.png" >"$tmp/o" 2>&1
rc=$?
check "stargan translate --face auto, no face: exit 1, suggests --crop" '[ $rc = 1 ] && grep -q "no face" "$tmp/o"' "$tmp/o"
st=$(req -F image=@"$big" -F domain=dog -F seed=3 -F face=0 "$U/v1/translate")
check "face=0 without paste: the face's translation (256x256)" '[ "$st" = 200 ] && "$ppm" "$tmp/body" "$tmp/f0.ppm" && [ "$(python3 "$tmp/px.py" dims "$tmp/f0.ppm")" = 256x256 ]'
st=$(req -F image=@"$big" -F domain=dog -F reference=@"$big" -F ref_face=auto "$U/v1/translate")
check "ref_face=auto: the reference's face gives the style" '[ "$st" = 200 ] && hdr server-timing | grep -q "detect;dur="'
st=$(req -F image=@"$big" -F header=false -F seed=1 -F face=1 "$U/v1/grid")
check "/v1/grid face=1: the face as the source" '[ "$st" = 200 ] && [ -n "$(hdr x-faces)" ]' "$tmp/hdr"
st=$(req -F image=@"$big" -F domain=cat -F seed=1 -F seed=2 -F frames=2 -F crop=0,0,300,300 "$U/v1/interpolate")
check "/v1/interpolate crop=: the crop as the source" '[ "$st" = 200 ] && [ "$(hdr x-faces)" = "[[0,0,300,300]]" ]' "$tmp/hdr"
# paste= on grids and videos: every cell (frame) the whole photo with its region translated and
# put back, cell for cell the bytes of /v1/translate with paste=true
st=$(req -F image=@"$big" -F domain=dog -F seed=3 -F seed=4 -F crop=100,60,256,256 -F paste=true "$U/v1/grid")
cp "$tmp/body" "$tmp/gp.png"
pw=${dims%x*} ph=${dims#*x}
check "/v1/grid paste=true: (header + 2 seeds) whole photos, the header the photo, cell 0 the translate answer's pixels" \
  '[ "$st" = 200 ] && "$ppm" "$tmp/gp.png" "$tmp/gp.ppm" && [ "$(python3 "$tmp/px.py" dims "$tmp/gp.ppm")" = "$((3 * pw))x$ph" ] && [ "$(python3 "$tmp/px.py" sub "$tmp/gp.ppm" 0 0 "$tmp/photo.ppm")" = equal ] && [ "$(python3 "$tmp/px.py" sub "$tmp/gp.ppm" "$pw" 0 "$tmp/paste.ppm")" = equal ] && [ "$(python3 "$tmp/px.py" sub "$tmp/gp.ppm" "$((2 * pw))" 0 "$tmp/paste.ppm")" = differs ] && [ "$(hdr x-faces)" = "[[100,60,256,256]]" ] && hdr server-timing | grep -q "paste;dur="' "$tmp/hdr"
st=$(req -F image=@"$big" -F domain=dog -F seed=3 -F face=auto -F paste=true -F header=false "$U/v1/grid")
check "/v1/grid face=auto paste=true header=false: the one cell is translate face=auto paste=true, its face's encoding from the cost cache" \
  '[ "$st" = 200 ] && "$ppm" "$tmp/body" "$tmp/gf.ppm" && "$ppm" "$tmp/f.png" "$tmp/f.ppm" && cmp -s "$tmp/gf.ppm" "$tmp/f.ppm" && hdr server-timing | grep -q "cache-encoded;desc=\"hit=1 miss=0\""' "$tmp/hdr"
st=$(req -F image=@"$big" -F domain=dog -F seed=3 -F seed=4 -F frames=2 -F crop=100,60,256,256 -F paste=true "$U/v1/interpolate")
check "/v1/interpolate paste=true: MP4 frames at the photo's size" \
  '[ "$st" = 200 ] && [ "$(hdr content-type)" = video/mp4 ] && [ "$(python3 "$tmp/px.py" mp4dims "$tmp/body")" = "$dims" ] && hdr server-timing | grep -q "paste;dur="' "$tmp/hdr"
python3 "$tmp/px.py" crop "$tmp/photo.ppm" 0 0 301 201 "$tmp/odd.png"
st=$(req -F image=@"$tmp/odd.png" -F domain=dog -F seed=3 -F seed=4 -F frames=2 -F paste=true "$U/v1/interpolate")
check "  ... a 301x201 photo: its last column and row repeated to MP4's even 302x202" \
  '[ "$st" = 200 ] && [ "$(python3 "$tmp/px.py" mp4dims "$tmp/body")" = 302x202 ]' "$tmp/hdr"
st=$(req -F image=@"$tmp/odd.png" -F domain=dog -F seed=3 -F seed=4 -F frames=2 -F paste=true -F format=webp "$U/v1/interpolate")
check "  ... and as WebP, 301x201 as it is" '[ "$st" = 200 ] && [ "$(hdr content-type)" = image/webp ] && [ "$(python3 "$tmp/px.py" webpdims "$tmp/body")" = 301x201 ]' "$tmp/hdr"
expect "face=all on /v1/grid" 400 bad_field -F image=@"$big" -F seed=1 -F face=all -F paste=true "$U/v1/grid"
expect "face=all on /v1/interpolate" 400 bad_field -F image=@"$big" -F domain=dog -F seed=1 -F seed=2 -F face=all -F paste=true "$U/v1/interpolate"
stop "$PID"
start small --detector "$det" --max-pixels 6M || finish
expect "a pasted grid over --max-pixels (4 whole photos > 6M): refused before any work" 413 too_large -F image=@"$big" -F domain=dog -F seed=1 -F seed=2 -F seed=3 -F paste=true "$U/v1/grid"
check "  ... saying why" 'grep -q "paste=true makes every cell the whole photo" "$tmp/body"'
stop "$PID"
start reg2 --detector "$det" || finish
expect "face=auto on a photo without a face" 422 no_face -F image=@"$noface" -F domain=dog -F face=auto "$U/v1/translate"
check "  ... and it suggests crop=" 'grep -q "crop=" "$tmp/body"'
expect "face=N past the list" 422 no_face -F image=@"$photo" -F domain=dog -F face=9 "$U/v1/translate"
expect "crop outside the photo" 400 bad_field -F image=@"$photo" -F domain=dog -F crop=600,0,100,100 "$U/v1/translate"
check "  ... naming crop and the photo's size" 'grep -q "crop=600,0,100,100 lies outside the 640x464 photo" "$tmp/body"'
for bad in "1,2,3" "1,2,0,4" "-1,0,5,5" "a,b,c,d" "1,2,3,4,5" "1.5,0,4,4"; do
  expect "crop=$bad" 400 bad_field -F image=@"$photo" -F domain=dog -F "crop=$bad" "$U/v1/translate"
done
expect "face=banana" 400 bad_field -F image=@"$photo" -F domain=dog -F face=banana "$U/v1/translate"
expect "face=all without paste" 400 bad_request -F image=@"$photo" -F domain=dog -F face=all "$U/v1/translate"
expect "crop and face together" 400 bad_request -F image=@"$photo" -F domain=dog -F face=0 -F crop=0,0,9,9 "$U/v1/translate"
expect "ref_face without a reference" 400 bad_request -F image=@"$photo" -F domain=dog -F ref_face=0 "$U/v1/translate"
expect "paste on /v1/style" 400 unknown_field -F domain=dog -F paste=true "$U/v1/style"
expect "paste=maybe" 400 bad_field -F image=@"$photo" -F domain=dog -F paste=maybe "$U/v1/translate"
stop "$PID"

# a face model (CelebA-HQ layout, spec-v1 weights with its FAN): the face grown 3x, aligned,
# translated with its masks and warped back; still nothing outside the square changes
"$cli" make-model --config celeba_hq --out "$tmp/celeba.safetensors" >/dev/null
mean=${fix:-$(dirname "$root")/shared/fixtures}/align/lm_mean.npz
if [ -f "$mean" ]; then
  start face --model celeba="$tmp/celeba.safetensors" --mean "$mean" --detector "$det" || finish
  st=$(req -F image=@"$big" -F domain=0 -F seed=3 -F face=auto -F paste=true "$U/v1/translate")
  xf=$(hdr x-faces)
  cp "$tmp/body" "$tmp/cf.png"
  read -r fx fy fw fh <<<"$(echo "$xf" | tr -d '[]' | tr ',' ' ')"
  check "face model, face=auto paste=true: the face's square grown 3x, aligned, warped back; nothing outside it changed" \
    '[ "$st" = 200 ] && [ -n "$fw" ] && [ "$fw" -gt 600 ] && "$ppm" "$tmp/cf.png" "$tmp/cf.ppm" && [ "$(python3 "$tmp/px.py" cmp "$tmp/photo.ppm" "$tmp/cf.ppm" "$fx" "$fy" "$fw" "$fh" 1 | cut -d" " -f1)" = outside-equal ] && ! cmp -s "$tmp/cf.ppm" "$tmp/photo.ppm"' "$tmp/hdr"
  check "  ... the face's landmarks a cache miss" \
    'grep -qi "^server-timing:.*cache-landmarks;desc=\"hit=0 miss=1\"" "$tmp/hdr"'
  # the landmarks of the detected face are kept too: the same photo again skips the FAN
  st=$(req -F image=@"$big" -F domain=0 -F seed=6 -F face=auto -F paste=true "$U/v1/translate")
  "$cli" translate --model "$tmp/celeba.safetensors" --src "$big" --domain 0 --seed 6 --face auto --paste --mean "$mean" --detector "$det" --out "$tmp/cf6.png" >/dev/null
  check "face model, face=auto again, a new seed: the face's landmarks and encoding from the cache, the CLI's bytes" \
    '[ "$st" = 200 ] && grep -qi "^server-timing:.*cache-encoded;desc=\"hit=1 miss=0\".*cache-landmarks;desc=\"hit=1 miss=0\"" "$tmp/hdr" && cmp -s "$tmp/body" "$tmp/cf6.png"'
  # the cost cache keeps the FAN's landmarks of an aligned photo: a new seed skips the FAN
  st=$(req -F image=@"$big" -F domain=0 -F seed=4 -F fit=align "$U/v1/translate")
  check "face model, fit=align: its landmarks a cache miss (Server-Timing)" \
    '[ "$st" = 200 ] && grep -qi "^server-timing:.*cache-landmarks;desc=\"hit=0 miss=1\"" "$tmp/hdr"'
  st=$(req -F image=@"$big" -F domain=0 -F seed=5 -F fit=align "$U/v1/translate")
  "$cli" translate --model "$tmp/celeba.safetensors" --src "$big" --domain 0 --seed 5 --fit align --mean "$mean" --out "$tmp/al5.png" >/dev/null
  check "face model, fit=align again, a new seed: landmarks and encoding from the cache, the CLI's bytes" \
    '[ "$st" = 200 ] && grep -qi "^server-timing:.*cache-encoded;desc=\"hit=1 miss=0\".*cache-landmarks;desc=\"hit=1 miss=0\"" "$tmp/hdr" && cmp -s "$tmp/body" "$tmp/al5.png"'
  stop "$PID"
  start face2 --model celeba="$tmp/celeba.safetensors" --detector "$det" || finish
  expect "face model without --mean: face= cannot align" 422 no_mean_landmarks -F image=@"$big" -F domain=0 -F face=auto "$U/v1/translate"
  stop "$PID"
else
  echo "face model: not checked (no fixtures' align/lm_mean.npz)"
fi

start off --detector none || finish
expect "--detector none: /v1/detect" 501 no_detector -F image=@"$photo" "$U/v1/detect"
expect "--detector none: face=auto" 501 no_detector -F image=@"$photo" -F domain=dog -F face=auto "$U/v1/translate"
st=$(req -F image=@"$photo" -F domain=dog -F crop=0,0,64,64 "$U/v1/translate")
check "--detector none: crop= still works" '[ "$st" = 200 ]'
stop "$PID"
"$srv" --listen 127.0.0.1:0 --detector "$tmp/nothing.safetensors" >"$tmp/bad.out" 2>"$tmp/bad.log"
rc=$?
check "a detector file that is not there: the server refuses to start, naming it" \
  '[ $rc != 0 ] && grep -q "nothing.safetensors" "$tmp/bad.log"' "$tmp/bad.log"
finish
