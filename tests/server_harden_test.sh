#!/usr/bin/env bash
# Hardening tests of stargan-server (issue 12), on loopback ports with curl: model files changed
# or truncated under the server, SIGHUP reloads (good and failing), readers refusing FIFOs, API
# key files with long lines and many keys, slow clients (headers, body) against the deadlines
# with the probes still answered, one number grammar and no trailing text in fields, keep-alive
# for GETs, JSON errors. Bounded: every curl has a time limit, every loop a count, every daemon
# is killed on exit.
# usage: server_harden_test.sh STARGAN-SERVER STARGAN TMPDIR
set -u
srv=$1 cli=$2 tmp=$3
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh" # ok / bad / check / finish, start / stop / req / hdr / expect / wait_log
need curl
rm -rf "$tmp" && mkdir -p "$tmp"
src="$here/data/images/jpg_exif_6.jpg"

small() { "$cli" make-model --config afhq --img-size 64 --max-conv-dim 64 --style-dim 16 --latent-dim 8 "$@" >/dev/null; }
small --out "$tmp/a.safetensors" || { echo "0 passed, 1 failed"; exit 1; }
small --domains x,y,z --out "$tmp/b0.safetensors" # other domain names: a reload is visible
# another model's weights: make-model writes spec-v1 values, so scale one tensor by rewriting
# a copy through convert is not possible; a model of another size differs in every output
"$cli" make-model --config afhq --img-size 64 --max-conv-dim 32 --style-dim 16 --latent-dim 8 --out "$tmp/other.safetensors" >/dev/null

# ---- model files under a running server; SIGHUP ------------------------------------------------------
cp "$tmp/a.safetensors" "$tmp/model.safetensors"
start files --model m="$tmp/model.safetensors" --workers 1 || { echo "0 passed, 1 failed"; exit 1; }
fp=$PID F=$U
st=$(req -F image=@"$src" -F domain=dog -F seed=5 "$F/v1/translate"); cp "$tmp/body" "$tmp/before.png"
check "translate before the change" '[ "$st" = 200 ]'
req "$F/v1/models" >/dev/null; cp "$tmp/body" "$tmp/models1.json"
check "/v1/models: file path, size, mtime, loaded_at, generation 1" \
  'grep -q "\"file\":{\"path\":\"$tmp/model.safetensors\",\"size\":$(stat -c %s "$tmp/model.safetensors"),\"mtime\":\"20[0-9-]*T[0-9:.]*Z\"}" "$tmp/body" && grep -q "\"loaded_at\":\"20" "$tmp/body" && grep -q "\"generation\":1" "$tmp/body"'
cp "$tmp/other.safetensors" "$tmp/model.safetensors"   # in place: same inode, new bytes
st=$(req -F image=@"$src" -F domain=dog -F seed=5 "$F/v1/translate")
check "file replaced in place: still the loaded model's answer" '[ "$st" = 200 ] && cmp -s "$tmp/body" "$tmp/before.png"'
truncate -s 1000 "$tmp/model.safetensors"
st=$(req -F image=@"$src" -F domain=dog -F seed=5 "$F/v1/translate")
check "file truncated: no SIGBUS, same answer" '[ "$st" = 200 ] && cmp -s "$tmp/body" "$tmp/before.png" && kill -0 $fp'
kill -HUP $fp
check "SIGHUP with a broken file: logged, old models keep serving" \
  'wait_log files "reload failed, still serving generation 1" && [ "$(req -F image=@"$src" -F domain=dog -F seed=5 "$F/v1/translate")" = 200 ] && cmp -s "$tmp/body" "$tmp/before.png"'
cp "$tmp/b0.safetensors" "$tmp/model.safetensors"
# a request in flight across the reload finishes (on the old models), none is dropped
( for i in 1 2 3 4; do curl -s --max-time 60 -o /dev/null -w '%{http_code}\n' -F image=@"$src" -F domain=1 -F seed=$i "$F/v1/translate"; done >"$tmp/inflight" ) &
ipid=$!
sleep 0.2; kill -HUP $fp
check "SIGHUP: reloaded, logged" 'wait_log files "reloaded in .* generation 2 serves new requests"'
wait $ipid
check "requests across the reload: all 200" '[ "$(grep -c "^200$" "$tmp/inflight")" = 4 ]'
req "$F/v1/models" >/dev/null
check "/v1/models after the reload: generation 2, new domains, new size" \
  'grep -q "\"generation\":2" "$tmp/body" && grep -q "\"domains\":\[\"x\",\"y\",\"z\"\]" "$tmp/body" && grep -q "\"size\":$(stat -c %s "$tmp/b0.safetensors")," "$tmp/body"'
st=$(req -F image=@"$src" -F domain=y -F seed=5 "$F/v1/translate")
check "the reloaded model answers" '[ "$st" = 200 ]'
req "$F/metrics" >/dev/null
check "metrics: reloads by result" 'grep -q "^stargan_model_reloads_total{result=\"ok\"} 1$" "$tmp/body" && grep -q "^stargan_model_reloads_total{result=\"failed\"} 1$" "$tmp/body"'
stop $fp
check "exit after reloads: 0" 'wait $fp 2>/dev/null; true'

# ---- readers refuse what is not a regular file --------------------------------------------------------
mkfifo "$tmp/fifo"
t0=$(date +%s)
timeout 20 "$srv" --listen 127.0.0.1:0 --model m="$tmp/fifo" >/dev/null 2>"$tmp/fifo.log"; rc=$?
check "server --model FIFO: refused at once" '[ $rc = 1 ] && grep -q "is a FIFO, not a regular file" "$tmp/fifo.log" && [ $(( $(date +%s) - t0 )) -lt 10 ]'
timeout 20 "$srv" --listen 127.0.0.1:0 --model m="$tmp/a.safetensors" --api-key-file "$tmp/fifo" >/dev/null 2>"$tmp/fifo.log"; rc=$?
check "server --api-key-file FIFO: refused at once" '[ $rc = 1 ] && grep -q "is a FIFO" "$tmp/fifo.log"'
timeout 20 "$srv" --listen 127.0.0.1:0 --model m="$tmp/tmpdir-none" >/dev/null 2>"$tmp/fifo.log"; rc=$?
check "server --model missing: one line" '[ $rc = 1 ] && [ "$(grep -c level=error "$tmp/fifo.log")" = 1 ] && grep -q "cannot open" "$tmp/fifo.log"'

# ---- one number grammar; no trailing text ----------------------------------------------------------
start fields --model m="$tmp/a.safetensors" --workers 1 || bad "fields daemon"
D=$U
# as query parameters over a raw body (curl -F trims the spaces these cases need); %20 = ' '
raw=(-H 'Content-Type: image/jpeg' --data-binary @"$src")
for v in 0x1 %200.5 0.5%20 %2B0.5 .5 inf nan 1e 0.5x; do
  expect "psi='$v' refused" 400 bad_field "${raw[@]}" "$D/v1/translate?domain=1&seed=1&psi=$v"
done
for v in %201 1.0 1e3 -1 0x10 01; do
  expect "seed='$v' refused" 400 bad_field "${raw[@]}" "$D/v1/translate?domain=1&seed=$v"
done
expect "quality=' 80' refused" 400 bad_field "${raw[@]}" "$D/v1/translate?domain=1&seed=1&format=jpeg&quality=%2080"
check "psi=0.5, psi=5e-1, psi=1, psi=0 accepted" 'for v in 0.5 5e-1 1 0; do [ "$(req -F image=@"$src" -F domain=1 -F seed=1 -F psi=$v $D/v1/translate)" = 200 ] || exit 1; done'
req -F domain=1 -F seed=3 "$D/v1/style" >/dev/null
style=$(sed 's/.*"style":\(\[[^]]*\]\).*/\1/' "$tmp/body")
check "style array accepted (trailing spaces too)" '[ "$(req -F image=@"$src" -F domain=1 -F "style=$style  " $D/v1/translate)" = 200 ]'
expect "style array with trailing text refused" 400 bad_field -F image=@"$src" -F domain=1 -F "style=$style xyz" "$D/v1/translate"
expect "two style arrays refused" 400 bad_field -F image=@"$src" -F domain=1 -F "style=$style$style" "$D/v1/translate"
curl -sv --max-time 10 "$D/healthz" "$D/metrics" "$D/readyz" -o /dev/null -o /dev/null -o /dev/null 2>"$tmp/ka" >/dev/null
check "GETs keep the connection alive (probes, scrapes)" '[ "$(grep -c "Re-using existing connection" "$tmp/ka")" = 2 ] && ! grep -qi "^< connection: close" "$tmp/ka"'
stop $PID

# ---- API key files: a long key is one key; every key counts --------------------------------------------
long=$(head -c 1500 /dev/zero | tr '\0' k)
{ echo "# keys"; echo "$long"; for i in $(seq 300); do echo "key-$i"; done; } >"$tmp/keys"
start keys --model m="$tmp/a.safetensors" --api-key-file "$tmp/keys" || bad "keys daemon"
K=$U
check "a 1500-byte key is accepted" '[ "$(req -H "Authorization: Bearer $long" $K/v1/models)" = 200 ]'
check "its tail is not a key" '[ "$(req -H "Authorization: Bearer ${long:1023}" $K/v1/models)" = 401 ]'
check "the 300th key is kept" '[ "$(req -H "Authorization: Bearer key-300" $K/v1/models)" = 200 ]'
check "log: 301 keys" 'grep -q "(301 loaded)" "$tmp/keys.log"'
stop $PID

# ---- slow clients: deadlines, and the probes answered while every upload slot is held -----------------
# slow NAME MODE: a client on $PORT sending one byte a second for at most 40 s (MODE headers: an
# unfinished header line; body: complete headers, then the body); writes its lifetime in s to
# $tmp/slow.NAME when the server drops it (or 99 when it never does)
slow() {
  ( trap '' PIPE
    exec 3<>"/dev/tcp/127.0.0.1/$PORT" || exit 1
    if [ "$2" = body ]; then
      printf 'POST /v1/translate?domain=1 HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n' >&3
    else
      printf 'GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ' >&3
    fi
    t0=$SECONDS life=99
    for _ in $(seq 40); do
      printf 'a' >&3 2>/dev/null || { life=$((SECONDS - t0)); break; }
      sleep 1
    done
    echo $life >"$tmp/slow.$1" ) &
  slowpids+=($!)
}
# the issue's case, with the default deadlines (but a longer --body-grace, so the slots are
# surely held while the probes are tried): 8 one-byte-a-second senders (4 stuck in their
# headers, 4 in their bodies) against --max-connections 4 --client-timeout 5
start slowd --model m="$tmp/a.safetensors" --workers 1 --max-connections 4 --client-timeout 5 --body-grace 12 || bad "slow daemon"
S=$U slowpids=()
for i in 1 2 3 4; do slow h$i headers; slow b$i body; done
sleep 3
check "uploads hold their slots" '[ "$(req $S/metrics)" = 200 ] && grep -q "^stargan_uploads 4$" "$tmp/body"'
check "healthz answers while every upload slot is held" '[ "$(curl -s -o /dev/null -w "%{http_code}" --max-time 2 $S/healthz)" = 200 ]'
check "readyz too" '[ "$(curl -s -o /dev/null -w "%{http_code}" --max-time 2 $S/readyz)" = 200 ]'
expect "a fifth upload: 503 busy, at once" 503 busy --max-time 5 -H 'Expect: 100-continue' -F image=@"$src" -F domain=1 "$S/v1/translate"
wait "${slowpids[@]}"
check "slow headers dropped within 20 s (default --header-timeout 10)" 'for i in 1 2 3 4; do [ "$(cat $tmp/slow.h$i)" -lt 20 ] || exit 1; done'
check "slow bodies dropped within 20 s (--body-min-rate 1K after 12 s)" 'for i in 1 2 3 4; do [ "$(cat $tmp/slow.b$i)" -lt 20 ] || exit 1; done'
req "$S/metrics" >/dev/null
check "metrics: drops by phase, refused upload" 'grep -q "^stargan_slow_clients_dropped_total{phase=\"headers\"} 4$" "$tmp/body" && grep -q "^stargan_slow_clients_dropped_total{phase=\"body\"} 4$" "$tmp/body" && grep -q "^stargan_uploads_refused_total 1$" "$tmp/body" && grep -q "^stargan_uploads 0$" "$tmp/body"'
check "a normal upload after them: 200" '[ "$(req -F image=@"$src" -F domain=1 -F seed=1 $S/v1/translate)" = 200 ]'
stop $PID

# ---- stargan_rejected_total counts 503s answered, not clients that hung up ---------------------------
# One worker, no queue, a 512-px model (slow enough to hold the worker): while it runs, a client
# sends headers and part of a body, then hangs up (the 503 would only be sent once the body is
# in), and another asks with Expect: 100-continue (answered 503 at once). Counted: the second.
"$cli" make-model --config afhq --img-size 512 --max-conv-dim 64 --style-dim 16 --latent-dim 8 --out "$tmp/big.safetensors" >/dev/null
start rej --model m="$tmp/big.safetensors" --workers 1 --queue 0 || bad "rejected daemon"
R=$U got=
for attempt in 1 2 3 4 5; do
  curl -s --max-time 30 -o /dev/null -F image=@"$src" -F domain=1 -F seed=1 "$R/v1/translate" & busy=$!
  sleep 0.05
  ( exec 3<>"/dev/tcp/127.0.0.1/$PORT"
    printf 'POST /v1/translate?domain=1 HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\nContent-Length: 5000\r\n\r\nabc' >&3
    sleep 0.05 )
  st=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' -H 'Expect: 100-continue' -F image=@"$src" -F domain=1 "$R/v1/translate")
  wait $busy
  [ "$st" = 503 ] && got=$attempt && break
done
req "$R/metrics" >/dev/null
check "rejected_total counts the 503 answered, not the hang-up (attempt ${got:-none})" \
  '[ -n "$got" ] && grep -q "^stargan_rejected_total 1$" "$tmp/body" && grep -q "status=499" "$tmp/rej.out"'
stop $PID

finish
