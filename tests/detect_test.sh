#!/usr/bin/env bash
# The face detector end to end: `stargan detect` and POST /v1/detect answer the same JSON (the
# faces tests/test_detect checks against face-api.js), the field rules, Server-Timing's detect
# stage, /metrics, a server without a detector (501), and --detector given as the TensorFlow.js
# manifest. Skips without the detector (scripts/get-detector.sh).
# usage: detect_test.sh STARGAN-SERVER STARGAN TMPDIR
set -u
srv=$1 cli=$2 tmp=$3
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
rm -rf "$tmp" && mkdir -p "$tmp"
det=${STARGAN_DETECTOR:-$root/models/detector.safetensors}
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
start off --detector none || finish
expect "--detector none: /v1/detect" 501 no_detector -F image=@"$photo" "$U/v1/detect"
stop "$PID"
"$srv" --listen 127.0.0.1:0 --detector "$tmp/nothing.safetensors" >"$tmp/bad.out" 2>"$tmp/bad.log"
rc=$?
check "a detector file that is not there: the server refuses to start, naming it" \
  '[ $rc != 0 ] && grep -q "nothing.safetensors" "$tmp/bad.log"' "$tmp/bad.log"
finish
