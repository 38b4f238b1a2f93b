#!/usr/bin/env bash
# The face detector against its peer, side by side: for R rounds, alternating which goes first,
# build/bench_detect (ours: the detect stage, sg_detect_faces, on the pool and on one thread) and
# tests/tools/detect_ref/bench.mjs (face-api.js locateFaces on tfjs-backend-wasm, SIMD, 1 thread:
# node cannot run its threads) on the same decoded pixels; each round's ratio ours/peer, then the
# median over rounds. Then the added cost of face=auto&paste=true on a 12 MP photo, per stage, from
# the server's Server-Timing (the demo model; the same request without face/paste beside it).
# usage: bench/detect.sh [ROUNDS] [RUNS]     (after scripts/test.sh: build/, models/, node_modules)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5} runs=${2:-10}
det=models/detector.safetensors pkg=models/face-api
photo=$pkg/demo/sample1.jpg
for f in build/bench_detect build/image_ppm build/stargan-server "$det" "$photo" \
         tests/tools/detect_ref/node_modules; do
  [ -e "$f" ] || { echo "bench/detect.sh: $f missing (scripts/test.sh makes it)" >&2; exit 2; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; kill $spid 2>/dev/null || true' EXIT
spid=
build/image_ppm "$photo" "$tmp/photo.ppm"
build/image_ppm --resize 4000x3000 "$photo" "$tmp/12mp.ppm"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); $(nproc) cores; $(grep -o 'avx2\|avx512f\|avx512_bf16\|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')"
ours() { build/bench_detect "$det" "$photo" --runs "$runs" --warmup 2; }
peer() { node tests/tools/detect_ref/bench.mjs "$pkg/model" "$tmp/photo.ppm" --runs "$runs" --warmup 2 2>/dev/null; }
for r in $(seq "$rounds"); do
  if [ $((r % 2)) = 1 ]; then o=$(ours); p=$(peer); else p=$(peer); o=$(ours); fi
  echo "round $r ours $o"
  echo "round $r peer $p"
done >"$tmp/rounds"
cat "$tmp/rounds"
python3 - "$tmp/rounds" <<'PY'
import json, statistics, sys
ours, peer = {}, {}
for line in open(sys.argv[1]):
    _, r, who, js = line.split(' ', 3)
    (ours if who == 'ours' else peer)[r] = json.loads(js)
rows = []
for r in sorted(ours, key=int):
    o, p = ours[r], peer[r]
    rows.append((o['detect_ms'][0] / p['locate_ms']['median'], o['detect_1thread_ms'][0] / p['locate_ms']['median'],
                 o['net_ms'][0] / p['net_ms']['median']))
med = [statistics.median(c) for c in zip(*rows)]
print(f"ours/peer, median of {len(rows)} rounds: detect stage (pool) {med[0]:.3f}, detect stage (1 thread) {med[1]:.3f}, network alone (pool) {med[2]:.3f}")
print(f"  ours ms (median of rounds): detect {statistics.median(ours[r]['detect_ms'][0] for r in ours):.1f}, 1 thread {statistics.median(ours[r]['detect_1thread_ms'][0] for r in ours):.1f}; peer locateFaces {statistics.median(peer[r]['locate_ms']['median'] for r in peer):.1f}")
PY
# 12 MP: the stages of face=auto&paste=true against the plain request, on the demo model
python3 - "$tmp/12mp.ppm" "$tmp/12mp.png" <<'PY'
import sys, zlib, struct
d = open(sys.argv[1], 'rb').read(); parts = d.split(maxsplit=4); w, h = int(parts[1]), int(parts[2]); p = parts[4][-w*h*3:]
raw = b''.join(b'\0' + p[y*w*3:(y+1)*w*3] for y in range(h))
c = lambda t, b: struct.pack('>I', len(b)) + t + b + struct.pack('>I', zlib.crc32(t + b))
open(sys.argv[2], 'wb').write(b'\x89PNG\r\n\x1a\n' + c(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) + c(b'IDAT', zlib.compress(raw, 1)) + c(b'IEND', b''))
PY
build/stargan-server --listen 127.0.0.1:0 --detector "$det" --workers 1 >/dev/null 2>"$tmp/srv.log" &
spid=$!
for _ in $(seq 300); do port=$(sed -n 's/.*listening on http:\/\/[0-9.]*:\([0-9]*\).*/\1/p' "$tmp/srv.log" | head -1); [ -n "$port" ] && break; sleep 0.1; done
U=http://127.0.0.1:$port
until curl -sf "$U/readyz" >/dev/null; do sleep 0.2; done
timing() { curl -s -o /dev/null -D - "$@" | tr -d '\r' | sed -n 's/^Server-Timing: //Ip'; }
for i in 1 2 3; do
  echo "12 MP plain:              $(timing -F image=@"$tmp/12mp.png" -F domain=dog -F seed=1 "$U/v1/translate")"
  echo "12 MP face=auto paste:    $(timing -F image=@"$tmp/12mp.png" -F domain=dog -F seed=1 -F face=auto -F paste=true "$U/v1/translate")"
  echo "12 MP face=auto paste jpeg: $(timing -F image=@"$tmp/12mp.png" -F domain=dog -F seed=1 -F face=auto -F paste=true -F format=jpeg "$U/v1/translate")"
done
# a pasted video: every frame the whole 12 MP photo (H.264 encodes 12 MP a frame)
for i in 1 2; do
  echo "12 MP interpolate 4 frames face=auto:       $(timing -F image=@"$tmp/12mp.png" -F domain=dog -F seed=1 -F seed=2 -F frames=4 -F face=auto "$U/v1/interpolate")"
  echo "12 MP interpolate 4 frames face=auto paste: $(timing -F image=@"$tmp/12mp.png" -F domain=dog -F seed=1 -F seed=2 -F frames=4 -F face=auto -F paste=true "$U/v1/interpolate")"
done
