#!/usr/bin/env bash
# Long work of stargan-server (issues 21, 22): jobs (Prefer: respond-async) end to end, a client
# that leaves a synchronous video or grid (its remaining steps stop, logged 499), and signals
# that arrive during a reload (HUP then HUP, HUP then TERM) under load, which must never end the
# process by a default action. Loopback only; every curl has a time limit, every loop a count,
# every daemon is killed on exit.
# usage: server_jobs_test.sh STARGAN-SERVER STARGAN FIXTURES TMPDIR
set -u
export STARGAN_DRAIN_DELAY=0
srv=$1 cli=$2 fix=$3 tmp=$4
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
need curl
rm -rf "$tmp" && mkdir -p "$tmp"
if [ -f "$fix/images/afhq/src/cat/flickr_cat_000253.jpg" ]; then
  src="$fix/images/afhq/src/cat/flickr_cat_000253.jpg"
else
  src="$here/data/images/jpg_exif_6.jpg"
fi
m="$tmp/m.safetensors"
"$cli" make-model --config afhq --img-size 64 --max-conv-dim 64 --style-dim 16 --latent-dim 8 --out "$m" >/dev/null \
  || { echo "0 passed, 1 failed"; exit 1; }
video=(-F image=@"$src" -F domain=dog -F seed=1 -F seed=2)
# sanitizer builds (scripts/sanitize.sh) run a step some 20x slower: bounds in time scale with it
# and the demo model (256², a real step, a reload that takes a while) becomes the small one, whose
# steps and reloads are slow enough there
if [ -n "${SG_SANITIZER:-}" ]; then slow=20 big=(--model m="$m"); else slow=1 big=(); fi
AUTH=() # the key metric() sends, where keys are required
metric() { curl -s --max-time 5 "${AUTH[@]}" "$1/metrics" | sed -n "s/^$2 //p"; }

# ---- jobs ------------------------------------------------------------------------------------------
printf 'key-one\nkey-two\n' >"$tmp/keys"
ttl=$((2 * slow))
start jobs --model m="$m" --workers 1 --max-jobs 4 --job-ttl $ttl --api-key-file "$tmp/keys" || { echo "0 passed, 1 failed"; exit 1; }
J=$U K1=(-H 'Authorization: Bearer key-one') K2=(-H 'Authorization: Bearer key-two')
AUTH=("${K1[@]}")
st=$(req "${K1[@]}" -o "$tmp/sync.mp4" "${video[@]}" -F frames=12 "$J/v1/interpolate")
cp "$tmp/body" "$tmp/sync.mp4"
check "synchronous video: 200 (no Prefer: unchanged)" '[ "$st" = 200 ] && [ "$(hdr content-type)" = video/mp4 ]'
hdr x-seed >"$tmp/sync.seed"
st=$(req "${K1[@]}" -H 'Prefer: respond-async' "${video[@]}" -F frames=12 "$J/v1/interpolate")
id=$(sed -n 's/.*"id":"\([0-9a-f]\{32\}\)".*/\1/p' "$tmp/body")
check "Prefer: respond-async: 202, Location, Preference-Applied, the state document" \
  '[ "$st" = 202 ] && [ -n "$id" ] && [ "$(hdr location)" = "/v1/jobs/$id" ] && [ "$(hdr preference-applied)" = respond-async ] && grep -q "\"state\":\"queued\",\"progress\":{\"done\":0,\"total\":15}" "$tmp/body"'
# progress moves; a finished job's result is the synchronous answer, bytes and headers
for _ in $(seq $((300 * slow))); do
  req "${K1[@]}" "$J/v1/jobs/$id" >/dev/null
  grep -q '"state":"done"' "$tmp/body" && break
  sleep 0.05
done
check "GET /v1/jobs/ID: done, progress 15 of 15" 'grep -q "\"state\":\"done\",\"progress\":{\"done\":15,\"total\":15}" "$tmp/body"'
st=$(req "${K1[@]}" "$J/v1/jobs/$id/result")
check "GET /v1/jobs/ID/result: the synchronous bytes and headers" \
  '[ "$st" = 200 ] && cmp -s "$tmp/body" "$tmp/sync.mp4" && [ "$(hdr content-type)" = video/mp4 ] && [ "$(hdr x-seed)" = "$(cat "$tmp/sync.seed")" ] && [ "$(hdr x-frames)" = 12 ] && [ -n "$(hdr server-timing)" ]'
expect "another key's job does not exist" 404 no_such_job "${K2[@]}" "$J/v1/jobs/$id"
expect "another key cannot read the result" 404 no_such_job "${K2[@]}" "$J/v1/jobs/$id/result"
expect "jobs need a key" 401 unauthorized "$J/v1/jobs/$id"
expect "an id that was never made" 404 no_such_job "${K1[@]}" "$J/v1/jobs/0123456789abcdef0123456789abcdef"
# a translation as a job: the same bytes as the synchronous answer
req "${K1[@]}" -F image=@"$src" -F domain=cat -F seed=4 "$J/v1/translate" >/dev/null; cp "$tmp/body" "$tmp/t.png"
req "${K1[@]}" -H 'Prefer: wait=10, respond-async' -F image=@"$src" -F domain=cat -F seed=4 "$J/v1/translate" >/dev/null
tid=$(sed -n 's/.*"id":"\([0-9a-f]\{32\}\)".*/\1/p' "$tmp/body")
for _ in $(seq $((100 * slow))); do [ "$(req "${K1[@]}" "$J/v1/jobs/$tid/result")" = 200 ] && break; sleep 0.05; done
check "a translation as a job: the same bytes" 'cmp -s "$tmp/body" "$tmp/t.png" && [ "$(hdr x-seed)" = 4 ]'
# a failing request as a job: failed, with the synchronous error as its result
printf 'not an image at all' >"$tmp/bad.png"
printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x02\0\0\0garbage' >"$tmp/trunc.png"
req "${K1[@]}" -H 'Prefer: respond-async' -F image=@"$tmp/trunc.png" -F domain=cat -F seed=4 "$J/v1/translate" >/dev/null
fid=$(sed -n 's/.*"id":"\([0-9a-f]\{32\}\)".*/\1/p' "$tmp/body")
for _ in $(seq $((100 * slow))); do req "${K1[@]}" "$J/v1/jobs/$fid" >/dev/null; grep -q '"state":"failed"' "$tmp/body" && break; sleep 0.05; done
check "a job that fails: failed, with its error" 'grep -q "\"state\":\"failed\".*\"error\":{\"code\":\"undecodable_image\"" "$tmp/body"'
expect "its result: the synchronous error" 422 undecodable_image "${K1[@]}" "$J/v1/jobs/$fid/result"
expect "a bad request is refused at once, no job made" 415 unsupported_media_type "${K1[@]}" -H 'Prefer: respond-async' -F image=@"$tmp/bad.png" -F domain=cat "$J/v1/translate"
# cancel: a long job stops within a step and says cancelled
req "${K1[@]}" -H 'Prefer: respond-async' "${video[@]}" -F frames=100 "$J/v1/interpolate" >/dev/null
cid=$(sed -n 's/.*"id":"\([0-9a-f]\{32\}\)".*/\1/p' "$tmp/body")
for _ in $(seq 100); do req "${K1[@]}" "$J/v1/jobs/$cid" >/dev/null; grep -q '"state":"running"' "$tmp/body" && break; sleep 0.02; done
st=$(req "${K1[@]}" -X DELETE "$J/v1/jobs/$cid")
check "DELETE a running job: 202 cancelled" '[ "$st" = 202 ] && grep -q "\"state\":\"cancelled\"" "$tmp/body"'
sleep "$(awk -v s=$slow "BEGIN { print 0.5 * s }")"
req "${K1[@]}" "$J/v1/jobs/$cid" >/dev/null
d1=$(sed -n 's/.*"done":\([0-9]*\).*/\1/p' "$tmp/body"); sleep "$(awk -v s=$slow "BEGIN { print 0.5 * s }")"
req "${K1[@]}" "$J/v1/jobs/$cid" >/dev/null
d2=$(sed -n 's/.*"done":\([0-9]*\).*/\1/p' "$tmp/body")
check "a cancelled job does no more steps ($d1 of 103)" '[ -n "$d1" ] && [ "$d1" = "$d2" ] && [ "$d1" -lt 103 ] && [ "$(metric "$J" stargan_in_flight)" = 0 ] && [ "$(metric "$J" stargan_work_admitted_pixels)" = 0 ]'
expect "the result of a cancelled job" 409 cancelled "${K1[@]}" "$J/v1/jobs/$cid/result"
# --max-jobs 4: a fifth is refused while four are held
st=$(req "${K1[@]}" -H 'Prefer: respond-async' -F image=@"$src" -F domain=cat "$J/v1/translate")
check "over --max-jobs: 503 with Retry-After" '[ "$st" = 503 ] && grep -q too_many_jobs "$tmp/body" && [ "$(hdr retry-after)" = 1 ]'
st=$(req "${K1[@]}" -X DELETE "$J/v1/jobs/$fid")
check "DELETE a finished job: 204, then gone" '[ "$st" = 204 ] && [ "$(req "${K1[@]}" "$J/v1/jobs/$fid")" = 404 ]'
req "${K1[@]}" "$J/metrics" >/dev/null
check "metrics: jobs by state, finished, refused, store bytes" \
  'grep -q "^stargan_jobs{state=\"done\"} 2$" "$tmp/body" && grep -q "^stargan_jobs_finished_total{state=\"cancelled\"} 1$" "$tmp/body" && grep -q "^stargan_jobs_refused_total 1$" "$tmp/body" && grep -q "^stargan_job_store_bytes [1-9]" "$tmp/body"'
sleep "$ttl.2" # --job-ttl
check "finished jobs expire after --job-ttl" '[ "$(req "${K1[@]}" "$J/v1/jobs/$id")" = 404 ] && [ "$(metric "$J" stargan_jobs_created_total)" = 4 ] && [ "$(req "${K1[@]}" "$J/metrics" >/dev/null; sed -n "s/^stargan_job_store_bytes //p" "$tmp/body")" = 0 ]'
# SIGTERM with a job running: it finishes within --grace (or is cancelled past it)
req "${K1[@]}" -H 'Prefer: respond-async' "${video[@]}" -F frames=12 "$J/v1/interpolate" >/dev/null
sleep 0.2
kill -TERM "$PID"; wait "$PID"; rc=$?
check "SIGTERM with a job running: it finishes within --grace, exit 0" '[ $rc = 0 ] && grep -q "finishing in-flight and queued work and jobs" "$tmp/jobs.log" && grep -q "stopped after" "$tmp/jobs.log"'

AUTH=()
# ---- a client that leaves ---------------------------------------------------------------------------
start gone --workers 1 "${big[@]}" || bad "demo daemon" # the demo model: 256², a frame is a real step
G=$U
timeout 3 curl -s -o /dev/null "${video[@]}" -F frames=60 "$G/v1/interpolate"
t0=$(date +%s%N)
for _ in $(seq $((100 * slow))); do [ "$(metric "$G" stargan_in_flight)" = 0 ] && [ "$(metric "$G" stargan_work_admitted_pixels)" = 0 ] && break; sleep 0.05; done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "client gone: its video stops within a step (${ms} ms), the budget is back" '[ "$(metric "$G" stargan_in_flight)" = 0 ] && [ "$(metric "$G" stargan_work_admitted_pixels)" = 0 ] && [ "$ms" -lt $((3000 * slow)) ]'
check "client gone: logged 499, counted" 'wait_log_out() { for _ in $(seq 50); do grep -q "path=/v1/interpolate status=499 bytes=0" "$tmp/gone.out" && return 0; sleep 0.1; done; return 1; }; wait_log_out && [ "$(metric "$G" stargan_client_gone_total)" = 1 ]'
# 2 photos x 10 seeds x 3 domains: 60 cells, under --max-cells. Each photo is encoded once (the
# second from the cost cache), so a cell is a decode only: 60 of them outlast the 3 s in every build
grid=(-F image=@"$src" -F image=@"$src"); for i in $(seq 10); do grid+=(-F seed=$i); done
timeout 3 curl -s -o /dev/null "${grid[@]}" "$G/v1/grid"
for _ in $(seq $((100 * slow))); do [ "$(metric "$G" stargan_in_flight)" = 0 ] && break; sleep 0.05; done
check "client gone from a grid: stopped too" '[ "$(metric "$G" stargan_in_flight)" = 0 ] && [ "$(metric "$G" stargan_client_gone_total)" = 2 ]'
stop "$PID"

# ---- a client that never reads a large answer: dropped at --client-timeout, logged with the bytes
# written to its socket, not the answer's size (a 256² model with few channels: a 32-column grid
# of noise is a PNG of some 4.8 MB, more than the socket buffers hold)
if [ -n "${SG_SANITIZER:-}" ]; then
  echo "skip a client that never reads (under $SG_SANITIZER the 4.8 MB grid takes minutes; the Release run checks it)"
else
"$cli" make-model --config afhq --img-size 256 --max-conv-dim 16 --style-dim 16 --latent-dim 8 --out "$tmp/wide.safetensors" >/dev/null
start noread --model m="$tmp/wide.safetensors" --workers 2 --client-timeout 2 || bad "noread daemon"
python3 - 127.0.0.1 "$PORT" "$src" <<'PY' &
import socket, sys, time
host, port, src = sys.argv[1], int(sys.argv[2]), sys.argv[3]
b = b'xxBOUNDARYxx'
parts = [(b'image', open(src, 'rb').read(), True)] + [(b'seed', str(i).encode(), False) for i in range(1, 33)] + [(b'domain', b'1', False)]
body = b''.join(b'--' + b + b'\r\nContent-Disposition: form-data; name="' + n + b'"' + (b'; filename="x.jpg"' if f else b'') + b'\r\n\r\n' + d + b'\r\n' for n, d, f in parts) + b'--' + b + b'--\r\n'
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect((host, port))
s.sendall(b'POST /v1/grid HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary=' + b + b'\r\nContent-Length: ' + str(len(body)).encode() + b'\r\n\r\n' + body)
time.sleep(600)  # never reads; killed once the server has logged the request
PY
nr=$!
pids+=("$nr")
# the server drops it at --client-timeout once its buffers are full, and logs it
for _ in $(seq $((1200 * slow))); do grep -q 'path=/v1/grid status=' "$tmp/noread.out" && break; sleep 0.1; done
kill "$nr" 2>/dev/null
req -F image=@"$src" $(for i in $(seq 32); do printf -- '-F seed=%d ' "$i"; done) -F domain=1 "$U/v1/grid" >/dev/null
full=$(stat -c %s "$tmp/body")
sent=$(sed -n 's/.*path=\/v1\/grid status=200 bytes=\([0-9]*\) .*/\1/p' "$tmp/noread.out" | head -1)
check "a client that never reads: logged with the bytes written ($sent of $full)" '[ -n "$sent" ] && [ "$sent" -lt "$full" ] && [ "$sent" -gt 0 ]'
stop "$PID"
fi

# ---- signals during a reload, under load -------------------------------------------------------------
# The demo model's reload takes a while (its weights are generated and packed again): a second
# signal lands during it.
sig_load() { for i in $(seq "$1"); do curl -s --max-time 60 -o /dev/null -w '%{http_code}\n' -F image=@"$src" -F domain=dog -F seed=$i "$U/v1/translate"; done >"$tmp/load.$2"; }
start sig1 --workers 2 "${big[@]}" || bad "demo daemon"
p=$PID
grep SigBlk /proc/$p/task/*/status >"$tmp/sigblk"
sig_load 12 a & lp=$!
sleep 0.3; kill -HUP $p; sleep 0.3; kill -HUP $p
wait $lp
check "HUP during a reload: the process lives, requests answered" 'kill -0 $p && [ "$(grep -c "^200$" "$tmp/load.a")" = 12 ]'
check "HUP during a reload: one more reload after it (generation 3)" 'wait_log sig1 "generation 3 serves new requests"'
kill -TERM $p; wait $p; rc=$?
check "then SIGTERM: exit 0" '[ $rc = 0 ]'
start sig2 --workers 2 "${big[@]}" || bad "demo daemon"
p=$PID
sig_load 6 b & lp=$!
sleep 0.3; kill -HUP $p; sleep 0.3; kill -TERM $p
wait $p; rc=$?
wait $lp
check "TERM during a reload: exit 0 after the reload, drained" '[ $rc = 0 ] && grep -q "reloaded in" "$tmp/sig2.log" && grep -q "received SIGTERM" "$tmp/sig2.log" && [ "$(grep -n "reloaded in" "$tmp/sig2.log" | cut -d: -f1)" -lt "$(grep -n "received SIGTERM" "$tmp/sig2.log" | cut -d: -f1)" ] && grep -q "stopped after" "$tmp/sig2.log"'
check "TERM during a reload: requests before it answered" '[ "$(grep -c "^200$" "$tmp/load.b")" -ge 1 ]'
finish
