#!/usr/bin/env bash
# Chaos test of stargan-server (issue 12), loopback only, bounded (about 30 s, at most 60):
# concurrent good, bad, slow and disconnecting clients against one worker and a short --timeout
# (so requests expire while others complete), a SIGHUP reload in the middle and a SIGTERM at the
# end. Checks: every answer has a documented status, the /metrics counters of /v1/translate
# equal what its clients saw, the reload happened, and the daemon exits 0. (Good and bad clients
# use /v1/translate; slow and disconnecting ones /v1/style, whose answers nobody sees whole.)
# usage: chaos_test.sh STARGAN-SERVER STARGAN TMPDIR
set -u
srv=$1 cli=$2 tmp=$3
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh" # ok / bad / check / finish / start, daemons killed on exit
need curl
rm -rf "$tmp" && mkdir -p "$tmp/st"
src="$here/data/images/jpg_exif_6.jpg"
"$cli" make-model --config afhq --img-size 64 --max-conv-dim 64 --style-dim 16 --latent-dim 8 --out "$tmp/m.safetensors" >/dev/null \
  || { echo "0 passed, 1 failed"; exit 1; }
printf 'not an image' >"$tmp/bad.jpg"

# the daemon's log: $tmp/daemon.log (access log: $tmp/daemon.out). The good clients post one
# photo: without the cost cache (--cache-bytes 0) each costs a whole translation, so the queue
# still expires requests (the cache's own tests are server_integration's)
start daemon --model m="$tmp/m.safetensors" --workers 1 --queue 6 --timeout 0.3 --cache-bytes 0 \
  --max-connections 12 --header-timeout 3 --body-grace 2 --grace 10 || { echo "0 passed, 1 failed"; exit 1; }
pid=$PID

# client KIND N: one request; its status (000: no answer) and error code go to $tmp/st/KIND.N
client() {
  local kind=$1 n=$2 args=()
  case $kind in
    good) args=(-F image=@"$src" -F domain=$((n % 3)) -F seed=$n "$U/v1/translate") ;;
    badfield) args=(-F image=@"$src" -F domain=1 -F psi=2 "$U/v1/translate") ;;
    badimage) args=(-F image=@"$tmp/bad.jpg" -F domain=1 "$U/v1/translate") ;;
    baddomain) args=(-F image=@"$src" -F domain=horse "$U/v1/translate") ;;
    nomodel) args=(-F image=@"$src" -F domain=1 -F model=none "$U/v1/translate") ;;
    hangup) args=(--max-time 0.$((RANDOM % 3 + 1)) -F reference=@"$src" -F domain=1 "$U/v1/style") ;;
  esac
  curl -s --max-time 30 -o "$tmp/st/$kind.$n.body" -w '%{http_code}' "${args[@]}" >"$tmp/st/$kind.$n" 2>/dev/null
  sed -n 's/^{"error":{"code":"\([a-z_]*\)".*/\1/p' "$tmp/st/$kind.$n.body" >"$tmp/st/$kind.$n.code" 2>/dev/null
  rm -f "$tmp/st/$kind.$n.body"
}
# slow MODE N: one byte a second for at most 15 s on an unfinished request
slow() {
  ( trap '' PIPE
    exec 3<>"/dev/tcp/127.0.0.1/$PORT" || exit 0
    [ "$1" = body ] && printf 'POST /v1/style?domain=1 HTTP/1.1\r\nHost: c\r\nContent-Type: image/png\r\nContent-Length: 50000\r\n\r\n' >&3
    [ "$1" = headers ] && printf 'GET /healthz HTTP/1.1\r\nHost: c\r\nX-Slow: ' >&3
    for _ in $(seq 15); do printf 'a' >&3 2>/dev/null || break; sleep 1; done ) &
}

echo "daemon ready after $SECONDS s"
t0=$SECONDS
cpids=()
for i in 1 2; do slow headers $i; cpids+=($!); slow body $i; cpids+=($!); done
for round in 1 2 3; do
  for i in $(seq 10); do client good "$round$i" & cpids+=($!); done
  for k in badfield badimage baddomain nomodel; do client $k $round & cpids+=($!); done
  for i in 1 2 3; do client hangup "$round$i" & cpids+=($!); done
  [ $round = 2 ] && kill -HUP $pid
  sleep 2
done
wait "${cpids[@]}"
echo "clients done after $((SECONDS - t0)) s"
check "bounded: clients done within 45 s" '[ $((SECONDS - t0)) -lt 45 ]'
# the reload may still be loading (sanitizer builds load ~10x slower): wait for it, bounded
for _ in $(seq 120); do grep -q "reloaded in .* generation 2\|reload failed" "$tmp/daemon.log" && break; sleep 0.5; done
check "the reload happened" 'grep -q "reloaded in .* generation 2" "$tmp/daemon.log"'
curl -s --max-time 10 "$U/metrics" >"$tmp/metrics"
kill -TERM $pid
wait $pid; rc=$?
echo "daemon stopped after $SECONDS s"
check "SIGTERM at the end: exit 0" '[ $rc = 0 ]'

# every status a client saw is documented for its kind
st() { (cd "$tmp/st" && awk 1 $(ls | grep -E "^$1\.[0-9]+$")); }
check "good: only 200, or 503 (overloaded / timeout)" '! st good | grep -qvE "^(200|503)$"'
check "good: some 200" 'st good | grep -q "^200$"'
check "good 503s say overloaded or timeout" '! cat "$tmp"/st/good.*.code | grep -qvE "^(overloaded|timeout)$"'
check "queue expiry happened (503 timeout)" 'cat "$tmp"/st/good.*.code | grep -q "^timeout$"'
# (a full queue is answered 503 before the body is read, so bad requests may see it too)
check "bad field: 400 (or 503)" '! st badfield | grep -qvE "^(400|503)$"'
check "bad image: 415 (or 503)" '! st badimage | grep -qvE "^(415|503)$"'
check "bad domain: 400 (or 503)" '! st baddomain | grep -qvE "^(400|503)$"'
check "unknown model: 404 (or 503)" '! st nomodel | grep -qvE "^(404|503)$"'
check "hang-ups: no answer, or a documented one" '! st hangup | grep -qvE "^(000|200|503)$"'
# /metrics agrees with the clients of /v1/translate, status by status
for k in good badfield badimage baddomain nomodel; do st $k; done >"$tmp/translate.seen"
for code in 200 400 404 415 503; do
  seen=$(grep -c "^$code$" "$tmp/translate.seen")
  counted=$(sed -n "s/^stargan_http_requests_total{route=\"translate\",status=\"$code\"} //p" "$tmp/metrics")
  check "metrics: translate $code = what clients saw ($seen)" '[ "${counted:-0}" = "$seen" ]'
done
timeouts=$(cat "$tmp"/st/good.*.code | grep -c "^timeout$")
expired=$(sed -n 's/^stargan_expired_total //p' "$tmp/metrics")
check "metrics: expired >= translate timeouts seen ($timeouts; style hang-ups may add)" '[ "${expired:-0}" -ge "$timeouts" ] && [ "${expired:-0}" -le $((timeouts + 9)) ]'
check "slow clients dropped by the watchdog" 'grep -q "^stargan_slow_clients_dropped_total{phase=\"headers\"} 2$" "$tmp/metrics" && grep -q "^stargan_slow_clients_dropped_total{phase=\"body\"} 2$" "$tmp/metrics"'
check "no error in the daemon log" '! grep -q "level=error" "$tmp/daemon.log"'
finish
