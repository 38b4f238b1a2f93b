#!/usr/bin/env bash
# Load / soak test of stargan-server with wrk (apt-get install wrk): sustained POSTs of one photo
# to /v1/translate, printing throughput, latency percentiles, answers by status, and the
# server's resident memory over time. Runs only when asked (--run), never as part of ctest.
#
#   bench/load.sh --run                                  demo model, 2 workers, 60 s, 2 connections
#   bench/load.sh --run --workers 2 --connections 4 --duration 600     a 10-minute soak
#   bench/load.sh --run --model m.safetensors --image a.jpg --domain 1
#   bench/load.sh --run --precision bf16                the same load on bf16 products (AVX512-BF16)
#   bench/load.sh --run --url http://127.0.0.1:8080      an already running server (no RSS)
#
# Options: --server BIN (default build/stargan-server), --model PATH (default: built-in demo),
# --precision fp32|bf16 (fp32), --workers N (2, the server default), --queue N (8),
# --connections C (2), --duration S (60), --sample S (10), --image IMG (a fixture photo, else
# tests/data), --domain D (1), --url URL.
set -euo pipefail
cd "$(dirname "$0")/.."
run=0 server=build/stargan-server model="" precision=fp32 workers=2 queue=8 conns=2 duration=60 sample=10
image="" domain=1 url=""
while [ $# -gt 0 ]; do
  case $1 in
    --run) run=1 ;;
    --server) server=$2; shift ;;
    --model) model=$2; shift ;;
    --precision) precision=$2; shift ;;
    --workers) workers=$2; shift ;;
    --queue) queue=$2; shift ;;
    --connections) conns=$2; shift ;;
    --duration) duration=$2; shift ;;
    --sample) sample=$2; shift ;;
    --image) image=$2; shift ;;
    --domain) domain=$2; shift ;;
    --url) url=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ $run = 0 ]; then sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0; fi
command -v wrk >/dev/null || { echo "load.sh: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
if [ -z "$image" ]; then
  image=../shared/fixtures/images/afhq/src/cat/flickr_cat_000253.jpg
  [ -f "$image" ] || image=tests/data/images/jpg_444.jpg
fi
case $image in *.png) type=image/png ;; *) type=image/jpeg ;; esac
tmp=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

if [ -z "$url" ]; then
  args=(--listen 127.0.0.1:0 --precision "$precision" --workers "$workers" --queue "$queue" --access-log off)
  [ -n "$model" ] && args+=(--model "$model")
  "$server" "${args[@]}" 2>"$tmp/server.log" &
  pid=$!
  for _ in $(seq 600); do
    port=$(sed -n 's/.*listening on http:\/\/[0-9.]*:\([0-9]*\).*/\1/p' "$tmp/server.log" | head -1)
    if [ -n "$port" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ]; then
      url="http://127.0.0.1:$port"; break
    fi
    sleep 0.1
  done
  [ -n "$url" ] || { cat "$tmp/server.log"; echo "load.sh: the server did not become ready" >&2; exit 1; }
fi
rss() { [ -n "$pid" ] && awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status" || echo "-"; }
count200() { curl -s "$url/metrics" | awk '/^stargan_http_requests_total\{route="translate",status="200"\}/ {print $2}' | head -1; }

cat >"$tmp/post.lua" <<'EOF'
wrk.method = "POST"
local f = assert(io.open(os.getenv("SG_LOAD_IMAGE"), "rb"))
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = os.getenv("SG_LOAD_TYPE")
EOF
# one request first, so the numbers do not include the first request's warm-up
curl -s -o /dev/null -H "Content-Type: $type" --data-binary @"$image" "$url/v1/translate?domain=$domain&seed=1"
echo "load: $url  precision=$precision workers=$workers queue=$queue connections=$conns duration=${duration}s image=$image"
echo "rss t=0s: $(rss) MB"
before=$(count200); before=${before:-0}
SG_LOAD_IMAGE=$image SG_LOAD_TYPE=$type wrk -t1 -c"$conns" -d"${duration}s" --timeout 120s --latency \
  -s "$tmp/post.lua" "$url/v1/translate?domain=$domain&seed=1" >"$tmp/wrk.out" &
wpid=$!
t=0 first="" max=0
while kill -0 "$wpid" 2>/dev/null; do
  sleep "$sample"; t=$((t + sample))
  r=$(rss); echo "rss t=${t}s: $r MB"
  [ -z "$first" ] && first=$r
  [ "$r" != "-" ] && max=$(awk -v a="$max" -v b="$r" 'BEGIN {print (b > a) ? b : a}')
done
wait "$wpid" || true
after=$(count200); after=${after:-0}
echo "---- wrk"
cat "$tmp/wrk.out"
echo "---- summary"
awk '/Requests\/sec/ {print "throughput (all answers): " $2 " req/s"}' "$tmp/wrk.out"
awk -v n=$((after - before)) -v d="$duration" 'BEGIN {printf "throughput (200 answers): %.3f req/s (%d in %ss)\n", n / d, n, d}'
awk '/Latency Distribution/ {f = 1; next} f && /%/ {printf "latency p%s: %s\n", $1, $2} f && !/%/ {f = 0}' "$tmp/wrk.out" |
  grep -E "p50%|p90%|p99%" | sed 's/%//'
grep -E "Non-2xx|Socket errors" "$tmp/wrk.out" || echo "non-2xx answers: 0"
if [ -n "$pid" ]; then
  last=$(rss)
  echo "rss first sample: $first MB, last: $last MB, max: $max MB"
  awk '/^VmHWM/ {printf "rss peak (VmHWM, load included): %.1f MB\n", $2 / 1024}' "/proc/$pid/status"
  awk -v a="$first" -v b="$last" 'BEGIN {if (a > 0) printf "rss growth first→last: %+.1f%%\n", (b - a) / a * 100}'
fi
curl -s "$url/metrics" | grep '^stargan_http_requests_total{route="translate"' || true
