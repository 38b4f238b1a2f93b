#!/usr/bin/env bash
# Integration tests of stargan-server: the real daemon on loopback ports, spoken to with curl.
# Both translate modes and the style round trip (byte-identical to `stargan translate`), every
# error status, overload and deadlines, API keys, CORS, configuration from the environment,
# metrics and the access log, the container health probe, SIGTERM during a request, and the
# built-in demo model.
# usage: server_test.sh STARGAN-SERVER STARGAN FIXTURES TMPDIR
# Photos come from FIXTURES/images when present, else from tests/data/images. Bounded: every
# curl has a time limit, every daemon is killed on exit. Last line: "N passed, N failed".
set -u
# SIGTERM here means "stop now": the drain delay (tested by tests/rolling_test.sh) would only slow
# every stop below by its default
export STARGAN_DRAIN_DELAY=0
srv=$1 cli=$2 fix=$3 tmp=$4
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh" # ok / bad / check / finish, start / stop / hdr / expect, daemons killed on exit
need curl
rm -rf "$tmp" && mkdir -p "$tmp"

if [ -f "$fix/images/afhq/src/cat/flickr_cat_000253.jpg" ]; then
  src="$fix/images/afhq/src/cat/flickr_cat_000253.jpg" ref="$fix/images/afhq/ref/dog/pixabay_dog_000121.jpg"
else
  src="$here/data/images/jpg_exif_6.jpg" ref="$here/data/images/png_rgb8_adam7.png"
fi
m="$tmp/m.safetensors"
"$cli" make-model --config afhq --img-size 64 --max-conv-dim 64 --style-dim 16 --latent-dim 8 --out "$m" >/dev/null \
  || { echo "cannot make the test model"; echo "0 passed, 1 failed"; exit 1; }

# req [curl args...] (lib.sh's, extended): the status code; body in $tmp/body, headers in
# $tmp/hdr. Every answer is also recorded in $tmp/answers.tsv (method, URL, status, content type, a copy of a JSON body)
# for the OpenAPI check at the end.
mkdir -p "$tmp/answers"
req() {
  local out code copy=
  out=$(curl -s --max-time 60 -o "$tmp/body" -D "$tmp/hdr" -w '%{http_code}\t%{method}\t%{url_effective}\t%{content_type}' "$@")
  code=${out%%$'\t'*}
  case "$out" in *application/json*) copy=$(mktemp "$tmp/answers/XXXXXX"); cp "$tmp/body" "$copy";; esac
  IFS=$'\t' read -r _ method url ctype <<<"$out"
  printf '%s\t%s\t%s\t%s\t%s\n' "$method" "$url" "$code" "$ctype" "$copy" >>"$tmp/answers.tsv"
  printf '%s' "$code"
}
# node for the pixel and OpenAPI checks (skipped, and said so, without node or tests/openapi's packages)
have_node=; command -v node >/dev/null && have_node=1
have_validator=; [ -n "$have_node" ] && [ -d "$here/openapi/node_modules/@seriousme/openapi-schema-validator" ] && have_validator=1

# ---- main daemon: the small model ----------------------------------------------------------------
start main --model small="$m" --max-body 1M --max-pixels 2M --workers 1 --queue 4 --max-cells 8 --max-frames 12 || { echo "0 passed, 1 failed"; exit 1; }
main_pid=$PID M=$U
# the log names the address bound (port 0: the port picked); a busy port is named with the reason
check "log: the bound address" 'grep -q "listening on http://127.0.0.1:${M##*:}/\"" "$tmp/main.log" && [ "${M##*:}" -gt 0 ]'
"$srv" --listen "127.0.0.1:${M##*:}" >/dev/null 2>"$tmp/busy.log"; rc=$?
check "busy port: exit 1 naming the port and the reason" '[ "$rc" = 1 ] && grep -q "cannot listen on 127.0.0.1:${M##*:}: Address already in use" "$tmp/busy.log" && ! grep -q "port 0" "$tmp/busy.log"'
check "healthz" '[ "$(req $M/healthz)" = 200 ] && grep -q "\"ok\"" "$tmp/body"'
check "readyz" '[ "$(req $M/readyz)" = 200 ]'
req "$M/v1/models" >/dev/null
check "models" 'grep -q "\"name\":\"small\"" "$tmp/body" && grep -q "\"img_size\":64" "$tmp/body" && grep -q "\"domains\":\[\"cat\",\"dog\",\"wild\"\]" "$tmp/body" && grep -q "\"style_dim\":16" "$tmp/body" && grep -q "\"latent_dim\":8" "$tmp/body" && grep -q "\"face_masks\":false" "$tmp/body" && grep -q "\"face_network\":false" "$tmp/body" && grep -q "\"demo\":false" "$tmp/body"'

# latent-guided: same bytes as the CLI, deterministic, headers
"$cli" translate --model "$m" --src "$src" --domain dog --seed 5 --out "$tmp/cli_seed.png" >/dev/null
"$cli" translate --model "$m" --src "$src" --domain wild --seed 7 --psi 0.5 --out "$tmp/cli_psi.png" >/dev/null
"$cli" translate --model "$m" --src "$src" --domain dog --ref "$ref" --out "$tmp/cli_ref.png" >/dev/null
"$cli" translate --model "$m" --src "$src" --domain cat --seed 3 --quality 80 --fit stretch --out "$tmp/cli_q.jpg" >/dev/null
st=$(req -F image=@"$src" -F domain=dog -F seed=5 "$M/v1/translate"); cp "$tmp/body" "$tmp/s1.png"
check "translate seed: 200 image/png" '[ "$st" = 200 ] && [ "$(hdr content-type)" = image/png ]'
check "translate seed: same bytes as the CLI" 'cmp -s "$tmp/s1.png" "$tmp/cli_seed.png"'
check "translate seed: X-Seed, X-Request-Id" '[ "$(hdr x-seed)" = 5 ] && [ -n "$(hdr x-request-id)" ]'
check "Server-Timing stages" 'hdr server-timing | grep -q "decode;dur=.*faces;dur=.*style;dur=.*generator;dur=.*encode;dur="'
req -F image=@"$src" -F domain=1 -F seed=5 "$M/v1/translate" >/dev/null
check "same inputs and seed: identical (domain by index)" 'cmp -s "$tmp/body" "$tmp/s1.png"'
req -F image=@"$src" -F domain=wild -F seed=7 -F psi=0.5 "$M/v1/translate" >/dev/null
check "psi: same bytes as the CLI" 'cmp -s "$tmp/body" "$tmp/cli_psi.png"'
# reference-guided
st=$(req -F image=@"$src" -F domain=dog -F reference=@"$ref" "$M/v1/translate")
check "translate reference: same bytes as the CLI" '[ "$st" = 200 ] && cmp -s "$tmp/body" "$tmp/cli_ref.png" && [ -z "$(hdr x-seed)" ]'
# a raw image body with query parameters
st=$(req -H "Content-Type: image/jpeg" --data-binary @"$src" "$M/v1/translate?domain=dog&seed=5")
check "raw body + query: same bytes" '[ "$st" = 200 ] && cmp -s "$tmp/body" "$tmp/s1.png"'
# JPEG by field and by Accept
st=$(req -F image=@"$src" -F domain=cat -F seed=3 -F format=jpeg -F quality=80 -F fit=stretch "$M/v1/translate")
check "format=jpeg: same bytes as the CLI" '[ "$st" = 200 ] && [ "$(hdr content-type)" = image/jpeg ] && cmp -s "$tmp/body" "$tmp/cli_q.jpg"'
st=$(req -H "Accept: image/jpeg" -F image=@"$src" -F domain=cat -F seed=3 "$M/v1/translate")
check "Accept: image/jpeg" '[ "$st" = 200 ] && [ "$(hdr content-type)" = image/jpeg ] && [ "$(head -c 3 "$tmp/body" | od -An -tx1 | tr -d " ")" = ffd8ff ]'
# random seed: returned, and replayable
st=$(req -F image=@"$src" -F domain=dog "$M/v1/translate"); seed=$(hdr x-seed); cp "$tmp/body" "$tmp/r1.png"
req -F image=@"$src" -F domain=dog -F seed="$seed" "$M/v1/translate" >/dev/null
check "random seed in X-Seed replays" '[ "$st" = 200 ] && [ -n "$seed" ] && cmp -s "$tmp/body" "$tmp/r1.png"'
# style round trip: /v1/style → translate with style = translate with seed
st=$(req -F domain=wild -F seed=7 -F psi=0.5 "$M/v1/style"); cp "$tmp/body" "$tmp/style.json"
style=$(sed -n 's/.*"style":\(\[[^]]*\]\).*/\1/p' "$tmp/style.json")
check "style: JSON with style_dim numbers" '[ "$st" = 200 ] && grep -q "^{\"model\":\"small\",\"domain\":\"wild\",\"style\":\[" "$tmp/style.json" && [ "$(echo "$style" | tr -cd , | wc -c)" = 15 ]'
req -F image=@"$src" -F domain=wild -F "style=$style" "$M/v1/translate" >/dev/null
check "style round trip: same bytes as seed (and the CLI)" 'cmp -s "$tmp/body" "$tmp/cli_psi.png"'
st=$(req -F domain=dog -F reference=@"$ref" "$M/v1/style"); rstyle=$(sed -n 's/.*"style":\(\[[^]]*\]\).*/\1/p' "$tmp/body")
req -F image=@"$src" -F domain=dog -F "style=$rstyle" "$M/v1/translate" >/dev/null
check "style from a reference round trips" '[ "$st" = 200 ] && cmp -s "$tmp/body" "$tmp/cli_ref.png"'
st=$(req -H "Content-Type: image/png" --data-binary @"$ref" "$M/v1/style?domain=dog")
check "style: raw reference body" '[ "$st" = 200 ] && [ "$(sed -n "s/.*\"style\":\(\[[^]]*\]\).*/\1/p" "$tmp/body")" = "$rstyle" ]'

printf 'not an image at all' >"$tmp/text.txt"
head -c 300 "$src" >"$tmp/trunc.img"
# ---- strict fields (issue 15) ----------------------------------------------------------------------
expect "typo'd field" 400 unknown_field -F image=@"$src" -F domain=dog -F sed=2 "$M/v1/translate"
check "typo: named, with its near match" 'grep -q "unknown field .sed. for /v1/translate (did you mean .seed.?" "$tmp/body"'
expect "repeated field" 400 repeated_field -F image=@"$src" -F domain=dog -F seed=1 -F seed=2 "$M/v1/translate"
check "repeated: named" 'grep -q "field .seed. is given more than once" "$tmp/body"'
expect "field in both form and query" 400 repeated_field -F image=@"$src" -F domain=dog "$M/v1/translate?domain=cat"
expect "unknown query parameter (raw body)" 400 unknown_field -H "Content-Type: image/jpeg" --data-binary @"$src" "$M/v1/translate?domain=dog&sede=1"
expect "unknown field on /v1/style" 400 unknown_field -F domain=dog -F seed=1 -F format=png "$M/v1/style"

# ---- /v1/grid ------------------------------------------------------------------------------------
st=$(req -F image=@"$src" -F domain=dog -F seed=5 -F header=false "$M/v1/grid")
check "grid 1x1, no header: the bytes of /v1/translate and the CLI" '[ "$st" = 200 ] && [ "$(hdr content-type)" = image/png ] && cmp -s "$tmp/body" "$tmp/cli_seed.png" && [ "$(hdr x-grid)" = "rows=1 cols=1 cell=64 x0=0 y0=0" ]'
st=$(req -F image=@"$src" -F domain=dog -F reference=@"$ref" -F header=0 "$M/v1/grid")
check "grid 1x1 reference: the bytes of the CLI" '[ "$st" = 200 ] && cmp -s "$tmp/body" "$tmp/cli_ref.png" && [ -z "$(hdr x-seed)" ]'
"$cli" translate --model "$m" --src "$ref" --domain wild --seed 7 --out "$tmp/cli_ref_wild7.png" >/dev/null
"$cli" translate --model "$m" --src "$src" --domain wild --seed 7 --out "$tmp/cli_src_wild7.png" >/dev/null
"$cli" translate --model "$m" --src "$ref" --domain dog --seed 5 --out "$tmp/cli_ref_dog5.png" >/dev/null
st=$(req -F image=@"$src" -F image=@"$ref" -F domain=dog -F domain=wild -F seed=5 -F seed=7 "$M/v1/grid"); cp "$tmp/body" "$tmp/grid.png"
check "grid 2 photos x 2 domains x 2 seeds: geometry headers" '[ "$st" = 200 ] && [ "$(hdr x-grid)" = "rows=2 cols=4 cell=64 x0=64 y0=0" ] && [ "$(hdr x-grid-columns)" = "dog;seed=5, dog;seed=7, wild;seed=5, wild;seed=7" ] && [ "$(hdr x-seed)" = 5,7 ]'
check "grid: 320 x 128 (a header column + 4 cells, 2 rows)" '[ "$(od -An -tu1 -j16 -N8 "$tmp/grid.png" | tr -s " ")" = " 0 0 1 64 0 0 0 128" ]'
if [ -n "$have_node" ]; then
  check "grid cells: pixel for pixel what the CLI answers" 'node "$here/png_cells.mjs" "$tmp/grid.png" 64 0 "$tmp/cli_seed.png" 256 0 "$tmp/cli_src_wild7.png" 64 64 "$tmp/cli_ref_dog5.png" 256 64 "$tmp/cli_ref_wild7.png"'
  check "grid cells: a wrong cell is told apart" '! node "$here/png_cells.mjs" "$tmp/grid.png" 128 0 "$tmp/cli_seed.png" >/dev/null'
else echo "skip grid pixel check: node not installed"; fi
st=$(req -F image=@"$src" -F seed=1 -F format=jpeg -F quality=70 "$M/v1/grid")
check "grid: every domain by default, JPEG" '[ "$st" = 200 ] && [ "$(hdr content-type)" = image/jpeg ] && [ "$(head -c 3 "$tmp/body" | od -An -tx1 | tr -d " ")" = ffd8ff ] && [ "$(hdr x-grid-columns)" = "cat;seed=1, dog;seed=1, wild;seed=1" ]'
st=$(req -F image=@"$src" -F domain=cat "$M/v1/grid")
check "grid: a random seed, reported" '[ "$st" = 200 ] && hdr x-seed | grep -qx "[0-9][0-9]*"'
st=$(req -F image=@"$src" -F reference=@"$ref" -F reference=@"$src" -F domain=dog -F domain=cat "$M/v1/grid")
check "grid: references with a domain each, header row" '[ "$st" = 200 ] && [ "$(hdr x-grid)" = "rows=1 cols=2 cell=64 x0=64 y0=64" ] && [ "$(hdr x-grid-columns)" = "dog;reference=0, cat;reference=1" ]'
expect "grid over --max-cells" 413 too_many_cells -F image=@"$src" -F image=@"$ref" -F seed=1 -F seed=2 "$M/v1/grid"
expect "grid: references and seeds" 400 bad_request -F image=@"$src" -F reference=@"$ref" -F seed=1 -F domain=dog "$M/v1/grid"
expect "grid: references without a domain" 400 missing_field -F image=@"$src" -F reference=@"$ref" "$M/v1/grid"
expect "grid: unknown field" 400 unknown_field -F image=@"$src" -F domian=dog "$M/v1/grid"
expect "grid: unknown domain lists the domains" 400 unknown_domain -F image=@"$src" -F domain=horse "$M/v1/grid"
check "grid: ... cat, dog, wild" 'grep -q "its domains: cat, dog, wild" "$tmp/body"'
expect "grid: no image" 400 missing_field -F domain=dog "$M/v1/grid"
expect "grid: wrong method" 405 method_not_allowed "$M/v1/grid"

# ---- /v1/interpolate ----------------------------------------------------------------------------
st=$(req -F image=@"$src" -F domain=dog -F seed=5 -F reference=@"$ref" -F seed=7 -F frames=5 -F fps=10 "$M/v1/interpolate")
check "interpolate: video/mp4 (ftyp), frames, fps, seeds" '[ "$st" = 200 ] && [ "$(hdr content-type)" = video/mp4 ] && [ "$(head -c 8 "$tmp/body" | tail -c 4)" = ftyp ] && [ "$(hdr x-frames)" = 5 ] && [ "$(hdr x-fps)" = 10 ] && [ "$(hdr x-seed)" = 5,7 ]'
st=$(req -F image=@"$src" -F domain=wild -F seed=1 -F "style=$style" -F frames=3 -F format=webp "$M/v1/interpolate")
check "interpolate: animated WebP (seed to a given style)" '[ "$st" = 200 ] && [ "$(hdr content-type)" = image/webp ] && [ "$(head -c 4 "$tmp/body")" = RIFF ] && [ "$(head -c 12 "$tmp/body" | tail -c 4)" = WEBP ] && grep -q ANIM "$tmp/body"'
st=$(req -H "Accept: image/webp" -F image=@"$src" -F domain=wild -F seed=1 -F seed=2 -F frames=2 "$M/v1/interpolate")
check "interpolate: Accept: image/webp" '[ "$st" = 200 ] && [ "$(hdr content-type)" = image/webp ]'
st=$(req -H "Content-Type: image/jpeg" --data-binary @"$src" "$M/v1/interpolate?domain=dog&seed=1&seed=2&frames=2&format=webp")
check "interpolate: raw photo, waypoints as repeated query parameters" '[ "$st" = 200 ] && [ "$(hdr content-type)" = image/webp ] && [ "$(hdr x-seed)" = 1,2 ]'
st=$(req -H "Content-Type: image/jpeg" --data-binary @"$src" "$M/v1/grid?domain=dog&seed=5&header=false")
check "grid: raw photo and query fields, the bytes of /v1/translate" '[ "$st" = 200 ] && cmp -s "$tmp/body" "$tmp/cli_seed.png"'
expect "interpolate over --max-frames" 413 too_many_frames -F image=@"$src" -F domain=dog -F seed=1 -F seed=2 -F frames=13 "$M/v1/interpolate"
expect "interpolate: one waypoint" 400 missing_field -F image=@"$src" -F domain=dog -F seed=1 "$M/v1/interpolate"
expect "interpolate: fewer frames than waypoints" 400 bad_field -F image=@"$src" -F domain=dog -F seed=1 -F seed=2 -F seed=3 -F frames=2 "$M/v1/interpolate"
expect "interpolate: trailing text after a style" 400 bad_field -F image=@"$src" -F domain=dog -F seed=1 -F "style=$style x" "$M/v1/interpolate"
expect "interpolate: bad format" 400 bad_field -F image=@"$src" -F domain=dog -F seed=1 -F seed=2 -F format=gif "$M/v1/interpolate"
expect "interpolate: repeated frames" 400 repeated_field -F image=@"$src" -F domain=dog -F seed=1 -F seed=2 -F frames=3 -F frames=4 "$M/v1/interpolate"
expect "interpolate: reference not an image" 415 unsupported_media_type -F image=@"$src" -F domain=dog -F seed=1 -F reference=@"$tmp/text.txt" "$M/v1/interpolate"
expect "interpolate: undecodable photo" 422 undecodable_image -F image=@"$tmp/trunc.img" -F domain=dog -F seed=1 -F seed=2 -F frames=2 "$M/v1/interpolate"

# errors: status and JSON body
printf 'not an image at all' >"$tmp/text.txt"
head -c 300 "$src" >"$tmp/trunc.img"
head -c 1500000 /dev/zero >"$tmp/big.bin"
expect "missing image" 400 missing_field -F domain=dog -F seed=1 "$M/v1/translate"
expect "missing domain" 400 missing_field -F image=@"$src" "$M/v1/translate"
expect "unknown domain" 400 unknown_domain -F image=@"$src" -F domain=horse "$M/v1/translate"
check "unknown domain: the message lists the domains" 'grep -q "has no domain .horse. (its domains: cat, dog, wild" "$tmp/body"' 
expect "seed and reference" 400 bad_request -F image=@"$src" -F domain=dog -F seed=1 -F reference=@"$ref" "$M/v1/translate"
expect "psi with reference" 400 bad_request -F image=@"$src" -F domain=dog -F psi=0.5 -F reference=@"$ref" "$M/v1/translate"
expect "bad seed" 400 bad_field -F image=@"$src" -F domain=dog -F seed=-3 "$M/v1/translate"
expect "bad psi" 400 bad_field -F image=@"$src" -F domain=dog -F psi=1.5 "$M/v1/translate"
expect "bad quality" 400 bad_field -F image=@"$src" -F domain=dog -F quality=101 "$M/v1/translate"
expect "bad format" 400 bad_field -F image=@"$src" -F domain=dog -F format=gif "$M/v1/translate"
expect "bad fit" 400 bad_field -F image=@"$src" -F domain=dog -F fit=zoom "$M/v1/translate"
expect "style wrong length" 400 bad_field -F image=@"$src" -F domain=dog -F 'style=[1,2,3]' "$M/v1/translate"
expect "style not JSON" 400 bad_field -F image=@"$src" -F domain=dog -F 'style=hello' "$M/v1/translate"
expect "bad multipart" 400 bad_multipart -H "Content-Type: multipart/form-data; boundary=zz" --data-binary 'garbage' "$M/v1/translate"
expect "unknown model" 404 unknown_model -F image=@"$src" -F domain=dog -F model=nope "$M/v1/translate"
expect "unknown route" 404 not_found "$M/v2/nothing"
expect "wrong method (GET translate)" 405 method_not_allowed "$M/v1/translate"
check "405 says Allow" '[ "$(hdr allow)" = "POST, OPTIONS" ]'
expect "wrong method (DELETE models)" 405 method_not_allowed -X DELETE "$M/v1/models"
expect "body over --max-body" 413 too_large -F image=@"$tmp/big.bin" -F domain=dog "$M/v1/translate"
expect "body over --max-body, no Expect" 413 too_large -H "Expect:" -F image=@"$tmp/big.bin" -F domain=dog "$M/v1/translate"
expect "chunked body over --max-body" 413 too_large -H "Content-Type: image/png" -H "Transfer-Encoding: chunked" --data-binary @"$tmp/big.bin" "$M/v1/translate?domain=dog"
expect "not PNG/JPEG (file)" 415 unsupported_media_type -F image=@"$tmp/text.txt" -F domain=dog "$M/v1/translate"
expect "not PNG/JPEG (content type)" 415 unsupported_media_type -H "Content-Type: text/plain" --data-binary @"$tmp/text.txt" "$M/v1/translate?domain=dog"
expect "reference not PNG/JPEG" 415 unsupported_media_type -F image=@"$src" -F domain=dog -F reference=@"$tmp/text.txt" "$M/v1/translate"
expect "undecodable image" 422 undecodable_image -F image=@"$tmp/trunc.img" -F domain=dog -F seed=1 "$M/v1/translate"
expect "fit=align without a face network" 422 no_face_network -F image=@"$src" -F domain=dog -F fit=align "$M/v1/translate"
check "server healthy after the errors" '[ "$(req $M/healthz)" = 200 ] && [ "$(req -F image=@"$src" -F domain=dog -F seed=5 $M/v1/translate)" = 200 ]'

# metrics and access log
req "$M/metrics" >/dev/null
check "metrics: requests by route and status" 'grep -q "^stargan_http_requests_total{route=\"translate\",status=\"200\"} [0-9]" "$tmp/body" && grep -q "^stargan_http_requests_total{route=\"translate\",status=\"413\"} [0-9]" "$tmp/body"'
check "metrics: stage histograms, gauges, model info" 'grep -q "^stargan_stage_duration_seconds_bucket{stage=\"generator\",le=\"+Inf\"} [1-9]" "$tmp/body" && grep -q "^stargan_queue_depth 0" "$tmp/body" && grep -q "^stargan_in_flight 0" "$tmp/body" && grep -q "^stargan_rejected_total" "$tmp/body" && grep -q "^stargan_model_info{model=\"small\".*} 1" "$tmp/body"'
check "metrics content type" 'hdr content-type | grep -q "^text/plain; version=0.0.4"'
check "access log: one line per request" 'grep -q "^time=[0-9T:.-]*Z id=[0-9a-f]* method=POST path=/v1/translate status=200 bytes=[0-9]* ms=[0-9.]* model=small domain=dog$" "$tmp/main.out" && [ "$(grep -c " status=413 " "$tmp/main.out")" -ge 3 ]'
check "access log: videos and grids" 'grep -q "path=/v1/interpolate status=200 .* model=small domain=dog$" "$tmp/main.out" && grep -q "path=/v1/grid status=200 .* model=small domain=-$" "$tmp/main.out"'
req -H "X-Request-Id: client-id-42" "$M/healthz" >/dev/null
check "client X-Request-Id kept" '[ "$(hdr x-request-id)" = client-id-42 ] && sleep 0.2 && grep -q " id=client-id-42 " "$tmp/main.out"'
check "--healthcheck probe: healthy" '"$srv" --healthcheck "$M/healthz" 2>/dev/null'
check "--healthcheck probe: default URL from STARGAN_LISTEN (as in the container)" 'STARGAN_LISTEN="0.0.0.0:${M##*:}" "$srv" --healthcheck 2>/dev/null'
check "--healthcheck probe: dead port fails" '! "$srv" --healthcheck http://127.0.0.1:1/healthz 2>/dev/null'

# SIGTERM during a request: one running, one queued; both complete, the daemon exits 0, and
# nothing new is accepted
cpids=()
for i in 1 2; do
  curl -s --max-time 60 -o "$tmp/term$i.png" -w '%{http_code}' -F image=@"$src" -F domain=dog -F seed=5 "$M/v1/translate" >"$tmp/term$i.code" &
  cpids+=($!)
done
# until the daemon holds both (a connection not yet accepted when SIGTERM arrives is rightly
# refused), or both are already answered; at most 5 s
for _ in $(seq 250); do
  curl -s --max-time 2 "$M/metrics" | grep -q '^stargan_admitted 2$' && break
  kill -0 "${cpids[0]}" 2>/dev/null || kill -0 "${cpids[1]}" 2>/dev/null || break
  sleep 0.02
done
kill -TERM "$main_pid"
wait "${cpids[@]}"
wait "$main_pid"; rc=$?
check "SIGTERM: the requests in flight and queued complete" '[ "$(cat "$tmp/term1.code")" = 200 ] && [ "$(cat "$tmp/term2.code")" = 200 ] && cmp -s "$tmp/term1.png" "$tmp/s1.png" && cmp -s "$tmp/term2.png" "$tmp/s1.png"'
check "SIGTERM: exit 0" '[ "$rc" = 0 ]'
check "SIGTERM: no longer listening" '[ "$(curl -s -o /dev/null -w "%{http_code}" --max-time 2 "$M/healthz")" = 000 ]'

# ---- overload and deadlines: 1 worker, 1 queued ---------------------------------------------------
start busy --model small="$m" --workers 1 --queue 1 || bad "busy daemon"
cpids=()
for i in $(seq 8); do
  curl -s --max-time 60 -o /dev/null -D "$tmp/ov$i.hdr" -w '%{http_code}\n' -F image=@"$src" -F domain=dog -F seed=$i "$U/v1/translate" >"$tmp/ov$i.code" &
  cpids+=($!)
done
wait "${cpids[@]}"
codes=$(cat "$tmp"/ov*.code | sort | uniq -c | tr -s ' ' | tr '\n' ';')
n503=$(grep -l '^503$' "$tmp"/ov*.code | wc -l); n200=$(grep -l '^200$' "$tmp"/ov*.code | wc -l)
retry=$(grep -il '^retry-after: ' "$tmp"/ov*.hdr | wc -l)
check "overload: only 200 and 503 ($codes)" '[ $((n503 + n200)) = 8 ] && [ "$n200" -ge 1 ]'
check "overload: 503 with Retry-After" '[ "$n503" -ge 1 ] && [ "$retry" -ge "$n503" ]'
check "overload: healthy afterwards" '[ "$(req $U/readyz)" = 200 ] && [ "$(req -F image=@"$src" -F domain=dog -F seed=5 $U/v1/translate)" = 200 ] && cmp -s "$tmp/body" "$tmp/s1.png"'
req "$U/metrics" >/dev/null
check "overload: counted in metrics" 'grep -q "^stargan_rejected_total [1-9]" "$tmp/body"'
stop "$PID"

# a request that waits past --timeout is answered 503 (its work dropped)
start slow --model small="$m" --workers 1 --queue 8 --timeout 0.05 || bad "slow daemon"
cpids=()
for i in $(seq 6); do
  curl -s --max-time 60 -o "$tmp/to$i.body" -w '%{http_code}\n' -F image=@"$src" -F domain=dog -F seed=$i "$U/v1/translate" >"$tmp/to$i.code" &
  cpids+=($!)
done
wait "${cpids[@]}"
check "timeout: 503 timeout for requests that waited too long" 'grep -l "\"code\":\"timeout\"" "$tmp"/to*.body | grep -q . && [ "$(cat "$tmp"/to*.code | grep -cv "^200$\|^503$")" = 0 ]'
req "$U/metrics" >/dev/null
check "timeout: counted in metrics" 'grep -q "^stargan_expired_total [1-9]" "$tmp/body"'
stop "$PID"

# ---- API keys, CORS, configured through the environment --------------------------------------------
printf '# keys\nkey-one\n\n  key-two  \n' >"$tmp/keys"
STARGAN_MODEL="small=$m" STARGAN_API_KEY_FILE="$tmp/keys" STARGAN_CORS_ORIGIN="https://a.example, https://b.example" \
  start keys || bad "keys daemon"
expect "no API key" 401 unauthorized "$U/v1/models"
check "401 says WWW-Authenticate" 'hdr www-authenticate | grep -q "^Bearer"'
expect "wrong API key" 401 unauthorized -H "Authorization: Bearer key-three" -F image=@"$src" -F domain=dog "$U/v1/translate"
expect "no API key on metrics" 401 unauthorized "$U/metrics"
check "API key accepted" '[ "$(req -H "Authorization: Bearer key-two" $U/v1/models)" = 200 ] && [ "$(req -H "Authorization: bearer key-one" -F image=@"$src" -F domain=dog -F seed=5 $U/v1/translate)" = 200 ] && cmp -s "$tmp/body" "$tmp/s1.png"'
expect "no API key on /v1/grid" 401 unauthorized -F image=@"$src" -F domain=dog "$U/v1/grid"
expect "no API key on /v1/interpolate" 401 unauthorized -F image=@"$src" -F domain=dog "$U/v1/interpolate"
check "the page and /openapi.json need no key" '[ "$(req $U/)" = 200 ] && [ "$(req $U/openapi.json)" = 200 ]'
check "health needs no key" '[ "$(req $U/healthz)" = 200 ] && [ "$(req $U/readyz)" = 200 ]'
st=$(req -X OPTIONS -H "Origin: https://b.example" -H "Access-Control-Request-Method: POST" -H "Access-Control-Request-Headers: authorization" "$U/v1/translate")
check "CORS preflight" '[ "$st" = 204 ] && [ "$(hdr access-control-allow-origin)" = https://b.example ] && hdr access-control-allow-methods | grep -q POST && hdr access-control-allow-headers | grep -qi authorization'
req -X OPTIONS -H "Origin: https://evil.example" -H "Access-Control-Request-Method: POST" "$U/v1/translate" >/dev/null
check "CORS: other origins get no grant" '[ -z "$(hdr access-control-allow-origin)" ]'
req -H "Origin: https://a.example" -H "Authorization: Bearer key-one" "$U/v1/models" >/dev/null
check "CORS on answers, headers exposed" '[ "$(hdr access-control-allow-origin)" = https://a.example ] && hdr access-control-expose-headers | grep -q X-Seed'
stop "$PID"
STARGAN_MODEL="small=$m" STARGAN_MAX_PIXELS=50 STARGAN_CLIENT_TIMEOUT=1 start tiny || bad "tiny daemon"
expect "image over --max-pixels (from its header)" 413 too_large -F image=@"$src" -F domain=dog -F seed=1 "$U/v1/translate"
expect "reference over --max-pixels" 413 too_large -F domain=dog -F reference=@"$ref" "$U/v1/style"
# a client that stalls mid-upload is disconnected after --client-timeout, holding no worker
t0=$(date +%s)
( exec 3<>"/dev/tcp/127.0.0.1/${U##*:}"
  printf 'POST /v1/translate?domain=dog HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 5000\r\n\r\n\x89PNG' >&3
  timeout 10 cat <&3 >/dev/null ) &
stall=$!
sleep 0.3
check "stalled upload: others are served meanwhile" '[ "$(req $U/readyz)" = 200 ]'
wait "$stall"; t1=$(date +%s)
check "stalled upload: closed by --client-timeout" '[ $((t1 - t0)) -le 6 ] && sleep 0.2 && grep -q "status=499" "$tmp/tiny.out"'
stop "$PID"
STARGAN_WORKERS=zero "$srv" >/dev/null 2>"$tmp/badenv.log"; rc=$?
check "bad environment value: exit 2 naming the variable" '[ "$rc" = 2 ] && grep -q STARGAN_WORKERS "$tmp/badenv.log"'
"$srv" --model "x=$tmp/missing.safetensors" --listen 127.0.0.1:0 >/dev/null 2>"$tmp/badmodel.log"; rc=$?
check "missing model file: exit 1 with a message" '[ "$rc" = 1 ] && grep -q "missing.safetensors" "$tmp/badmodel.log"'

# ---- the cost cache: a photo's encoding and a reference's style reused, never an answer ---------
metric() { curl -s --max-time 5 "$U/metrics" | sed -n "s/^$1 //p"; }
timing_has() { hdr server-timing | grep -q "$1"; }
start cache --model small="$m" --workers 1 || bad "cache daemon"
st=$(req -F image=@"$src" -F domain=dog -F seed=5 "$U/v1/translate"); cp "$tmp/body" "$tmp/c5.png"
check "cache: a new photo is a miss (Server-Timing)" '[ "$st" = 200 ] && timing_has "cache-encoded;desc=\"hit=0 miss=1\""'
st=$(req -F image=@"$src" -F domain=dog -F seed=6 "$U/v1/translate"); cp "$tmp/body" "$tmp/c6.png"
"$cli" translate --model "$m" --src "$src" --domain dog --seed 6 --out "$tmp/cli6.png" >/dev/null
check "cache: the same photo with a new seed: a hit, a new translation, the CLI's bytes" \
  '[ "$st" = 200 ] && timing_has "cache-encoded;desc=\"hit=1 miss=0\"" && ! cmp -s "$tmp/c5.png" "$tmp/c6.png" && cmp -s "$tmp/c6.png" "$tmp/cli6.png"'
st=$(req -F image=@"$src" -F domain=dog -F seed=5 "$U/v1/translate")
check "cache: seed 5 again from the cached encoding: the first answer's bytes" '[ "$st" = 200 ] && cmp -s "$tmp/body" "$tmp/c5.png"'
st=$(req -F image=@"$src" -F domain=dog -F reference=@"$ref" "$U/v1/translate"); cp "$tmp/body" "$tmp/r1.png"
check "cache: a new reference's style is a miss" 'timing_has "cache-style;desc=\"hit=0 miss=1\""'
st=$(req -F image=@"$src" -F domain=dog -F reference=@"$ref" "$U/v1/translate")
"$cli" translate --model "$m" --src "$src" --domain dog --ref "$ref" --out "$tmp/clir.png" >/dev/null
check "cache: the same reference again: its style a hit, the same bytes (the CLI's)" \
  '[ "$st" = 200 ] && timing_has "cache-style;desc=\"hit=1 miss=0\"" && cmp -s "$tmp/body" "$tmp/r1.png" && cmp -s "$tmp/body" "$tmp/clir.png"'
st=$(req -F image=@"$src" -F domain=dog -F seed=5 -F seed=6 -F header=false "$U/v1/grid")
check "cache: a grid of the photo: encoded once (a hit), its cells the translations" \
  '[ "$st" = 200 ] && timing_has "cache-encoded;desc=\"hit=1 miss=0\""'
# encoded: seed 6, seed 5, the two reference translations and the grid hit; the first missed
check "cache: /metrics counts hits and misses by kind" \
  '[ "$(metric "stargan_cache_hits_total{kind=\"encoded\"}")" = 5 ] && [ "$(metric "stargan_cache_misses_total{kind=\"encoded\"}")" = 1 ] && [ "$(metric "stargan_cache_hits_total{kind=\"style\"}")" = 1 ] && [ "$(metric stargan_cache_capacity_bytes)" = 268435456 ]'
enc=$(metric 'stargan_cache_kind_bytes{kind="encoded"}')
stop "$PID"
start bound --model small="$m" --workers 1 --cache-bytes $((enc + enc / 2)) || bad "bound daemon"
req -F image=@"$src" -F domain=dog -F seed=1 "$U/v1/translate" >/dev/null
req -F image=@"$ref" -F domain=dog -F seed=1 "$U/v1/translate" >/dev/null
st=$(req -F image=@"$src" -F domain=dog -F seed=1 "$U/v1/translate")
check "cache: --cache-bytes holding one encoding: A, B, A evicts (A a miss again), bytes within the bound" \
  'timing_has "cache-encoded;desc=\"hit=0 miss=1\"" && [ "$(metric "stargan_cache_evictions_total{kind=\"encoded\"}")" = 2 ] && [ "$(metric stargan_cache_bytes)" -le $((enc + enc / 2)) ]'
stop "$PID"
start off --model small="$m" --workers 1 --cache-bytes 0 || bad "no-cache daemon"
req -F image=@"$src" -F domain=dog -F seed=5 "$U/v1/translate" >/dev/null
st=$(req -F image=@"$src" -F domain=dog -F seed=5 "$U/v1/translate")
check "cache: --cache-bytes 0: off (no cache stage), the same bytes" '[ "$st" = 200 ] && ! timing_has "cache-" && cmp -s "$tmp/body" "$tmp/c5.png" && [ "$(metric "stargan_cache_hits_total{kind=\"encoded\"}")" = 0 ]'
stop "$PID"

# ---- batches: plain translations of one model run together (--max-batch), the same bytes --------
# one at a time first (--max-batch 1, the default: no batch metric), then four sent at once to a
# worker that waits up to 2 s for its batch to fill: one of them undecodable (its own 422, the
# others unharmed), one styled by a reference
b_args=(); for i in 1 2 3 4; do b_args+=("-F image=@$src -F domain=dog -F seed=$((20 + i))"); done
b_args[1]="-F image=@$ref -F domain=cat -F seed=22"
b_args[2]="-F image=@$tmp/trunc.img -F domain=dog -F seed=23"
b_args[3]="-F image=@$src -F domain=wild -F reference=@$ref"
start single --model small="$m" --workers 1 || bad "single daemon"
for i in 0 1 2 3; do
  # shellcheck disable=SC2086 # the fields are words
  curl -s -o "$tmp/one$i.out" -w '%{http_code}' ${b_args[$i]} "$U/v1/translate" >"$tmp/one$i.code"
done
check "batch: --max-batch 1 runs none (the histogram empty)" '[ "$(metric stargan_batch_size_count)" = 0 ]'
stop "$PID"
start batch --model small="$m" --workers 1 --max-batch 4 --batch-wait 1000 || bad "batch daemon"
cpids=()
for i in 0 1 2 3; do
  # shellcheck disable=SC2086
  curl -s -o "$tmp/many$i.out" -w '%{http_code}' ${b_args[$i]} "$U/v1/translate" >"$tmp/many$i.code" &
  cpids+=($!)
done
wait "${cpids[@]}" # the clients (not the daemon)
same=1
for i in 0 1 2 3; do cmp -s "$tmp/one$i.out" "$tmp/many$i.out" && cmp -s "$tmp/one$i.code" "$tmp/many$i.code" || same=; done
check "batch: four translations in one batch (/metrics), each answer the bytes of it alone, the undecodable one its 422" \
  '[ -n "$same" ] && [ "$(cat "$tmp/many2.code")" = 422 ] && grep -q undecodable_image "$tmp/many2.out" && [ "$(cat "$tmp/many0.code")" = 200 ] && [ "$(metric "stargan_batch_size_bucket{le=\"4\"}")" = 1 ] && [ "$(metric "stargan_batch_size_bucket{le=\"3\"}")" = 0 ] && [ "$(metric stargan_batch_size_sum)" = 4 ]'
st=$(req -F image=@"$src" -F domain=dog -F seed=21 "$U/v1/translate")
check "batch: one alone waits out --batch-wait, then runs as a batch of 1, the same bytes" \
  '[ "$st" = 200 ] && cmp -s "$tmp/body" "$tmp/one0.out" && [ "$(metric "stargan_batch_size_bucket{le=\"1\"}")" = 1 ]'
stop "$PID"

# ---- the built-in demo model (no --model) --------------------------------------------------------
# one worker and --max-work 2M (30 frames of 256^2): long work admitted by size, yielding to
# translations
# Sanitizer builds (SG_SANITIZER, scripts/sanitize.sh) run a 256² frame some 20x slower: there
# the long video is shorter and every wait on a video longer, so the checks still mean the same.
if [ -n "${SG_SANITIZER:-}" ]; then lf=4 tf=2 slow=20; else lf=24 tf=6 slow=1; fi
start demo --workers 1 --max-work 2M --grace $((30 * slow)) || bad "demo daemon"
st=$(req "$U/openapi.json")
check "GET /openapi.json" '[ "$st" = 200 ] && [ "$(hdr content-type)" = application/json ] && grep -q "\"openapi\": \"3.1.0\"" "$tmp/body"'
expect "work over --max-work alone" 413 too_much_work -F image=@"$src" -F domain=dog -F seed=1 -F seed=2 -F frames=31 "$U/v1/interpolate"
curl -s --max-time $((120 * slow)) -o "$tmp/long.mp4" -w '%{http_code}' -F image=@"$src" -F domain=dog -F seed=1 -F seed=2 -F frames=$lf "$U/v1/interpolate" >"$tmp/long.code" &
long=$!
for _ in $(seq 250); do curl -s --max-time 2 "$U/metrics" | grep -q '^stargan_admitted 1$' && break; sleep 0.02; done
# work: frames x 256^2 and 1/128 of the photo's pixels (decoding counts too)
check "metrics: the work admitted and --max-work" 'curl -s --max-time 5 "$U/metrics" | grep -q "^stargan_work_admitted_pixels $((lf * 65536 + $(img_pixels "$src") / 128))$" && curl -s --max-time 5 "$U/metrics" | grep -q "^stargan_work_capacity_pixels 2000000$"'
expect "long work past --max-work while another runs" 503 overloaded -F image=@"$src" -F domain=dog -F seed=3 -F seed=4 -F frames=30 "$U/v1/interpolate"
check "503 for work says Retry-After" '[ -n "$(hdr retry-after)" ]'
t0=$(date +%s%N)
st=$(req -F image=@"$src" -F domain=wild -F seed=1 "$U/v1/translate")
t1=$(date +%s%N)
check "a translation during a $lf-frame video on 1 worker is answered first" '[ "$st" = 200 ] && kill -0 "$long" 2>/dev/null'
echo "     (translation took $(( (t1 - t0) / 1000000 )) ms while the video ran)"
wait "$long"
check "the video completes, its work returned" '[ "$(cat "$tmp/long.code")" = 200 ] && [ "$(head -c 8 "$tmp/long.mp4" | tail -c 4)" = ftyp ] && sleep 0.2 && curl -s --max-time 5 "$U/metrics" | grep -q "^stargan_work_admitted_pixels 0$"' 
req "$U/v1/models" >/dev/null
check "demo: /v1/models says demo" 'grep -q "\"name\":\"demo\"" "$tmp/body" && grep -q "\"demo\":true" "$tmp/body" && grep -q "\"img_size\":256" "$tmp/body" && grep -q "\"domains\":\[\"cat\",\"dog\",\"wild\"\]" "$tmp/body"'
check "demo: the log says so loudly" 'grep -q "level=warn.*DEMO" "$tmp/demo.log"'
st=$(req -F image=@"$src" -F domain=wild -F seed=1 "$U/v1/translate")
check "demo: translate 256x256" '[ "$st" = 200 ] && [ "$(od -An -tu1 -j16 -N8 "$tmp/body" | tr -s " ")" = " 0 0 1 0 0 0 1 0" ]'
# the demo model is `stargan make-model --config afhq` (README): the CLI gives the same bytes
cp "$tmp/body" "$tmp/demo_srv.png"
"$cli" make-model --config afhq --out "$tmp/afhq.safetensors" >/dev/null &&
  "$cli" translate --model "$tmp/afhq.safetensors" --src "$src" --domain wild --seed 1 --out "$tmp/demo_cli.png"
check "demo: the same bytes as stargan translate on make-model --config afhq" 'cmp -s "$tmp/demo_srv.png" "$tmp/demo_cli.png"'
rm -f "$tmp/afhq.safetensors"
# SIGTERM during a video: it runs to its end within --grace, then the daemon exits 0
curl -s --max-time $((60 * slow)) -o "$tmp/term.mp4" -w '%{http_code}' -F image=@"$src" -F domain=dog -F seed=1 -F seed=2 -F frames=$tf "$U/v1/interpolate" >"$tmp/termv.code" &
v=$!
for _ in $(seq 250); do curl -s --max-time 2 "$U/metrics" | grep -q '^stargan_admitted 1$' && break; sleep 0.02; done
stop "$PID"; rc=$?
wait "$v"
check "SIGTERM during a video: the video completes" '[ "$(cat "$tmp/termv.code")" = 200 ] && [ "$(head -c 8 "$tmp/term.mp4" | tail -c 4)" = ftyp ]'
check "demo: SIGTERM exit 0" '[ "$rc" = 0 ]'
# ... and past --grace, a video still running is answered 503 stopping, and the daemon exits 0
start grace --workers 1 --grace 1 || bad "grace daemon"
curl -s --max-time $((60 * slow)) -o "$tmp/grace.body" -w '%{http_code}' -F image=@"$src" -F domain=dog -F seed=1 -F seed=2 -F frames=60 "$U/v1/interpolate" >"$tmp/grace.code" &
v=$!
for _ in $(seq 250); do curl -s --max-time 2 "$U/metrics" | grep -q '^stargan_admitted 1$' && break; sleep 0.02; done
t0=$(date +%s); stop "$PID"; rc=$?; t1=$(date +%s)
wait "$v"
check "past --grace: the video is answered 503 stopping, exit 0 within seconds" '[ "$(cat "$tmp/grace.code")" = 503 ] && grep -q "\"code\":\"stopping\"" "$tmp/grace.body" && [ "$rc" = 0 ] && [ $((t1 - t0)) -le $((10 * slow)) ]'

# ---- every answer recorded above against the OpenAPI document -------------------------------------
if [ -n "$have_validator" ]; then
  check "OpenAPI: the document is valid and every recorded answer ($(wc -l <"$tmp/answers.tsv")) matches it" \
    'node "$here/openapi/check.mjs" "$here/../web/openapi.json" "$tmp/answers.tsv" >"$tmp/openapi.log" 2>&1 || { cat "$tmp/openapi.log"; false; }'
else echo "skip OpenAPI check of the answers: run 'npm ci' in tests/openapi (scripts/install-deps.sh does)"; fi

finish
