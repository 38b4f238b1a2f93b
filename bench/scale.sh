#!/usr/bin/env bash
# Throughput of several stargan-server replicas on one box, behind HAProxy (TCP, leastconn), as
# you would run them on one machine or one node: for each configuration REPLICASxWORKERS[:THREADS]
# (THREADS: SG_THREADS, each replica's conv pool; default: every online CPU, at most 8), starts
# the replicas, drives POST /v1/translate with wrk through the balancer, and prints images/s,
# the server CPU time each image took (img/cpu-s: images per CPU-second of the replicas, what one
# core you own would deliver; less swayed by other jobs on the box than images/s, not immune: a
# crowded box inflates the CPU time too), latency p50/p99, non-200 answers, and the replicas'
# total peak RSS. The configurations are run in turn
# for --rounds rounds (compare within a round). Runs only when asked (--run).
#
#   bench/scale.sh --run                                   1x1 1x2 2x1 3x1, 30 s each, 2 rounds
#   bench/scale.sh --run --configs "1x2 2x1:1 3x1:1" --duration 60 --connections 4
#   bench/scale.sh --run --model m.safetensors --image a.jpg --domain 1
#
# Options: --server BIN (build/stargan-server), --cli BIN (build/stargan), --model PATH (default:
# an AFHQ-layout 256 px spec-v1 model made with `stargan make-model`), --configs LIST,
# --connections C (default: 2 per replica of the largest configuration), --duration S (30),
# --rounds R (2),
# --image IMG, --domain D (1). Needs wrk and haproxy (apt-get install wrk haproxy); loopback only.
# Each replica's conv pool takes every online CPU (SG_THREADS=n overrides): on a 2-core box
# several replicas share the same 2 cores, so the figures show what splitting costs or gains,
# not more hardware.
set -euo pipefail
cd "$(dirname "$0")/.."
run=0 server=build/stargan-server cli=build/stargan model="" configs="1x1 1x2 2x1 3x1" conns=""
duration=30 image="" domain=1 rounds=2
while [ $# -gt 0 ]; do
  case $1 in
    --run) run=1 ;;
    --server) server=$2; shift ;;
    --cli) cli=$2; shift ;;
    --model) model=$2; shift ;;
    --configs) configs=$2; shift ;;
    --connections) conns=$2; shift ;;
    --duration) duration=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --image) image=$2; shift ;;
    --domain) domain=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ $run = 0 ]; then sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0; fi
for t in wrk haproxy curl; do
  command -v $t >/dev/null || { echo "scale.sh: $t is not installed (apt-get install $t)" >&2; exit 2; }
done
if [ -z "$image" ]; then
  image=../shared/fixtures/images/afhq/src/cat/flickr_cat_000253.jpg
  [ -f "$image" ] || image=tests/data/images/jpg_444.jpg
fi
case $image in *.png) type=image/png ;; *) type=image/jpeg ;; esac
tmp=$(mktemp -d)
pids=()
stop_all() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done; pids=(); }
trap 'stop_all; rm -rf "$tmp"' EXIT
if [ -z "$model" ]; then
  model=$tmp/afhq.safetensors
  "$cli" make-model --config afhq --out "$model" >/dev/null
fi
maxn=1
for c in $configs; do [ "${c%%x*}" -gt "$maxn" ] && maxn=${c%%x*}; done
conns=${conns:-$((2 * maxn))}

freeport() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  return 1
}
cat >"$tmp/post.lua" <<'EOF'
wrk.method = "POST"
local f = assert(io.open(os.getenv("SG_LOAD_IMAGE"), "rb"))
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = os.getenv("SG_LOAD_TYPE")
EOF

echo "scale: model=$model image=$image connections=$conns duration=${duration}s cpus=$(nproc) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
tck=$(getconf CLK_TCK)
cpu_ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo $t; }
printf '%-6s %-8s %9s %10s %9s %9s %8s %9s\n' round config images/s img/cpu-s p50 p99 non-200 rss-MB
for round in $(seq 1 "$rounds"); do
for c in $configs; do
  n=${c%%x*} w=${c#*x} th=""
  case $w in *:*) th=${w#*:} w=${w%%:*} ;; esac
  ports=()
  for i in $(seq 1 "$n"); do
    p=$(freeport); ports+=("$p")
    SG_THREADS=$th "$server" --listen "127.0.0.1:$p" --model "m=$model" --workers "$w" --queue 16 --access-log off \
      --drain-delay 0 2>"$tmp/r$i.log" &
    pids+=($!)
  done
  for p in "${ports[@]}"; do
    for _ in $(seq 600); do
      [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$p/readyz")" = 200 ] && break
      sleep 0.1
    done
  done
  front=$(freeport)
  {
    printf 'global\n  maxconn 256\ndefaults\n  mode tcp\n  timeout connect 2s\n  timeout client 180s\n  timeout server 180s\n'
    printf 'frontend fe\n  bind 127.0.0.1:%s\n  default_backend be\nbackend be\n  balance leastconn\n' "$front"
    for i in "${!ports[@]}"; do printf '  server r%d 127.0.0.1:%s\n' "$i" "${ports[$i]}"; done
  } >"$tmp/haproxy.cfg"
  haproxy -db -f "$tmp/haproxy.cfg" >"$tmp/haproxy.log" 2>&1 &
  pids+=($!)
  url="http://127.0.0.1:$front/v1/translate?domain=$domain&seed=1"
  for _ in $(seq 50); do curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$front/" && break; sleep 0.1; done
  # one request per replica first (warm-up), then the measured run
  for _ in "${ports[@]}"; do curl -s -o /dev/null --max-time 120 -H "Content-Type: $type" --data-binary @"$image" "$url"; done
  srv_pids=("${pids[@]:0:$n}")
  t0=$(cpu_ticks "${srv_pids[@]}")
  SG_LOAD_IMAGE=$image SG_LOAD_TYPE=$type wrk -t1 -c"$conns" -d"${duration}s" --timeout 120s --latency \
    -s "$tmp/post.lua" "$url" >"$tmp/wrk.$c" 2>&1 || true
  t1=$(cpu_ticks "${srv_pids[@]}")
  rss=0
  for p in "${pids[@]}"; do
    r=$(awk '/^VmHWM/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" = stargan-server ] && rss=$((rss + r))
  done
  rps=$(awk '/Requests\/sec/ { print $2 }' "$tmp/wrk.$c")
  lat() { awk -v q="$1" '/Latency Distribution/ { f = 1; next } f && $1 == q { print $2 }' "$tmp/wrk.$c"; }
  non=$(awk '/Non-2xx/ { n += $NF } /Socket errors/ { for (i = 4; i <= NF; i += 2) n += $i } END { print n + 0 }' "$tmp/wrk.$c")
  total=$(awk '/requests in/ { print $1 }' "$tmp/wrk.$c")
  ipc=$(awk -v n="${total:-0}" -v x="$non" -v d=$((t1 - t0)) -v k="$tck" 'BEGIN { printf "%.2f", (d > 0) ? (n - x) / (d / k) : 0 }')
  printf '%-6s %-8s %9s %10s %9s %9s %8s %9d\n' "$round" "$c" "$rps" "$ipc" "$(lat 50%)" "$(lat 99%)" "$non" $((rss / 1024))
  stop_all
done
done
echo "(rss-MB: the replicas' peak resident sets together, model pages counted once per replica though shared)"
