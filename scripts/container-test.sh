#!/usr/bin/env bash
# Builds docker/Dockerfile and checks the running container as a user would run it:
#   non-root user; read-only root filesystem (--read-only; a tmpfs on /tmp only for running the
#   CLI inside, the server alone needs none); a model mounted
#   read-only from a Docker volume; the HEALTHCHECK turning healthy; an answer byte-identical to
#   the CLI's; `docker stop` with a request in flight (the request gets 200, the container exits
#   0); a --memory limit in force under a request (peak from the container's cgroup), and one
#   below the working set enforced (OOM kill); no
#   compilers, no curl, every shared library resolved; docker/compose.yaml validated with
#   Debian's docker-compose. Prints the image size and the time each step took.
# Uses a running Docker engine when there is one; otherwise installs docker.io (and debootstrap)
# and starts dockerd (--iptables=false --bridge=none: containers use the host's network, and
# listen on loopback only) and stops it at the end. Makes the base image debian:bookworm-slim
# with debootstrap only when the engine lacks it.
#   scripts/container-test.sh                 (as root; CI: .ci/run)
#   SG_KEEP_IMAGE=0   remove the built image at the end (default: keep it, the next build reuses
#                     its layers)
# Last line: "N passed, N failed"; exit 0 only when nothing failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
t_start=$(date +%s)
[ "$(id -u)" = 0 ] || { echo "skipped: run as root (installs docker.io, starts dockerd)"; exit 77; }
command -v curl >/dev/null || { echo "skipped: curl not installed"; exit 77; }
tmp=$(mktemp -d /tmp/sg-container-test.XXXXXX)
img=stargan-server:test
img64=stargan-server:test-arm64 base64=stargan-base/debian:bookworm-slim-arm64
name=sg-ctest-$$ vol=sg-ctest-models-$$
pass=0 fail=0 dockerd_pid=
ok()  { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
step() { echo "== $1 ($(($(date +%s) - t_start)) s)"; }
cleanup() {
  docker rm -f "$name" "$name-stop" "$name-mem" "$name-arm64" >/dev/null 2>&1
  docker volume rm -f "$vol" >/dev/null 2>&1
  [ "${SG_KEEP_IMAGE:-1}" = 0 ] && docker rmi -f "$img" "$img64" >/dev/null 2>&1
  if [ -n "$dockerd_pid" ]; then
    kill -TERM "$dockerd_pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.2; done
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
finish() {
  echo "container test: $(($(date +%s) - t_start)) s"
  echo "$pass passed, $fail failed"
  [ "$fail" = 0 ]
  exit
}

# ---- the engine -------------------------------------------------------------------------------
step "Docker engine"
if ! docker info >/dev/null 2>&1; then
  need=()
  command -v dockerd >/dev/null || need+=(docker.io)
  command -v debootstrap >/dev/null || need+=(debootstrap)
  command -v docker-compose >/dev/null || need+=(docker-compose)
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null ||
      { echo "cannot install ${need[*]}"; bad "install ${need[*]}"; finish; }
  fi
  dockerd --iptables=false --bridge=none >"$tmp/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { tail -20 "$tmp/dockerd.log"; bad "dockerd starts"; finish; }
  echo "started dockerd (pid $dockerd_pid); it is stopped at the end"
else
  echo "using the running Docker engine"
fi
for t in debootstrap docker-compose; do
  command -v "$t" >/dev/null ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$t" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$t" >/dev/null; }
done

# ---- the base image ---------------------------------------------------------------------------
# debian:bookworm-slim made here as Docker's is: debootstrap minbase, without docs, man pages and
# locales (the same dpkg excludes), apt sources as the host's (the mirror the host reaches).
step "base image"
if docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
  echo "debian:bookworm-slim present"
else
  mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
  mirror=${mirror:-http://deb.debian.org/debian}
  rootfs="$tmp/rootfs"
  echo "debootstrap --variant=minbase bookworm from $mirror"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$tmp/debootstrap.log" 2>&1 ||
    { tail -20 "$tmp/debootstrap.log"; bad "debootstrap"; finish; }
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/debian.sources"
    rm -f "$rootfs/etc/apt/sources.list"
  fi
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null
  rm -rf "$rootfs"/usr/share/{man,info,locale}/* "$rootfs"/var/cache/apt/*.bin \
    "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log
  tar -C "$rootfs" -c . | docker import - debian:bookworm-slim >/dev/null ||
    { bad "docker import"; finish; }
  rm -rf "$rootfs"
  echo "imported debian:bookworm-slim ($(docker image inspect -f '{{.Size}}' debian:bookworm-slim | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
fi

# ---- build ------------------------------------------------------------------------------------
step "docker build"
# BuildKit (the Dockerfile needs it: its build stage runs on $BUILDPLATFORM): buildx when
# installed, else the daemon's own through a client that still has it (Debian's docker.io 20.10)
bk_build() {
  if docker buildx version >/dev/null 2>&1; then docker buildx build --load "$@"
  elif [ -x /usr/bin/docker ] && /usr/bin/docker version -f '{{.Client.Version}}' 2>/dev/null | grep -q '^20\.'; then
    DOCKER_BUILDKIT=1 /usr/bin/docker build "$@"
  else DOCKER_BUILDKIT=1 docker build "$@"; fi
}
if ! bk_build --network host -f docker/Dockerfile -t "$img" . >"$tmp/build.log" 2>&1; then
  tail -30 "$tmp/build.log"; bad "docker build"; finish
fi
ok "docker build -f docker/Dockerfile ($(grep -c 'CACHED\|Using cache' "$tmp/build.log") steps from the layer cache)"
size=$(docker image inspect -f '{{.Size}}' "$img")
echo "image size: $(awk -v s="$size" 'BEGIN { printf "%.0f MB (%d bytes)", s / 1e6, s }')"

# the runtime image: only what the binaries need
shell() { docker run --rm --network none --entrypoint /bin/sh "$img" -c "$1"; }
check "runtime image: no compilers, no curl, no wget" \
  '[ -z "$(shell "for t in cc gcc g++ clang make cmake curl wget; do command -v \$t; done")" ]'
check "runtime image: every shared library of both binaries resolves" \
  '[ -z "$(shell "ldd /usr/local/bin/stargan-server /usr/local/bin/stargan | grep \"not found\"")" ]'
check "image: USER is not root, HEALTHCHECK set" \
  '[ "$(docker image inspect -f "{{.Config.User}}" "$img")" = stargan ] && docker image inspect -f "{{.Config.Healthcheck.Test}}" "$img" | grep -q healthcheck'

# ---- a model on a volume ----------------------------------------------------------------------
step "model volume"
# the AFHQ layout at 256 px (spec-v1 weights, 232 MB): the size of the release model
docker volume create "$vol" >/dev/null
docker run --rm --network none --user root -v "$vol:/models" --entrypoint stargan "$img" \
  make-model --config afhq --out /models/afhq.safetensors >/dev/null ||
  { bad "make a model on the volume"; finish; }
src=tests/data/images/jpg_exif_6.jpg
[ -f ../shared/fixtures/images/afhq/src/cat/flickr_cat_000253.jpg ] &&
  src=../shared/fixtures/images/afhq/src/cat/flickr_cat_000253.jpg

# free loopback port for the container (it shares the host's network)
port=
for _ in $(seq 200); do
  p=$((20000 + RANDOM % 40000))
  (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { port=$p; break; }
done
U="http://127.0.0.1:$port"
blas=()
[ -n "${OPENBLAS_CORETYPE:-}" ] && blas=(-e OPENBLAS_CORETYPE)   # the host's setting, as given

# run NAME [docker args...]: the server as a user runs it, hardened
run() {
  local n=$1; shift
  local tmpfs=(--tmpfs /tmp:rw,size=64m)
  [ "${NO_TMPFS:-}" = 1 ] && tmpfs=()   # the server alone writes nothing
  docker run -d --name "$n" --network host --read-only "${tmpfs[@]}" \
    --cap-drop ALL --security-opt no-new-privileges \
    -v "$vol:/models:ro" -e STARGAN_LISTEN="127.0.0.1:$port" \
    -e STARGAN_MODEL=afhq=/models/afhq.safetensors "${blas[@]}" \
    --health-interval 1s --health-timeout 3s --health-retries 3 --health-start-period 60s \
    "$@" "$img" >/dev/null
}
# healthy NAME: waits (≤ 90 s) for the HEALTHCHECK's verdict
healthy() {
  for _ in $(seq 180); do
    local h; h=$(docker inspect -f '{{.State.Health.Status}}' "$1" 2>/dev/null)
    [ "$h" = healthy ] && return 0
    [ "$(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ] || return 1
    sleep 0.5
  done
  return 1
}

# ready: waits (≤ 120 s) for /readyz 200 (healthy is alive; the model may still be loading and
# packing its weights)
ready() {
  for _ in $(seq 240); do
    [ "$(curl -s -o /dev/null --max-time 5 -w '%{http_code}' "$U/readyz")" = 200 ] && return 0
    sleep 0.5
  done
  return 1
}

# ---- the running container --------------------------------------------------------------------
step "run"
run "$name"
t0=$(date +%s.%N)
check "HEALTHCHECK turns healthy" 'healthy "$name"'
echo "healthy after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
[ "$(docker inspect -f '{{.State.Health.Status}}' "$name")" = healthy ] || { docker logs "$name" 2>&1 | tail; finish; }
check "runs as a non-root user (uid $(docker exec "$name" id -u))" '[ "$(docker exec "$name" id -u)" != 0 ] && [ "$(docker exec "$name" id -un)" = stargan ]'
check "root filesystem read-only" '[ "$(docker inspect -f "{{.HostConfig.ReadonlyRootfs}}" "$name")" = true ] && ! docker exec "$name" touch /usr/local/bin/x 2>/dev/null && ! docker exec "$name" touch /x 2>/dev/null'
check "model volume mounted read-only" '! docker exec "$name" touch /models/x 2>/dev/null && docker inspect -f "{{range .Mounts}}{{.Name}} {{.Destination}} {{.RW}}{{end}}" "$name" | grep -qx "$vol /models false"'
t0=$(date +%s.%N)
check "/readyz 200, /v1/models names the volume's model" 'ready && curl -s --max-time 5 "$U/v1/models" | grep -q "\"name\":\"afhq\""'
echo "ready $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s after healthy"

# the answer, and the CLI of the same image on the same model
st=$(curl -s --max-time 120 -o "$tmp/srv.png" -w '%{http_code}' -F image=@"$src" -F domain=dog -F seed=5 "$U/v1/translate")
docker exec -i "$name" sh -c 'cat > /tmp/src.jpg' <"$src"
docker exec "$name" stargan translate --model /models/afhq.safetensors --src /tmp/src.jpg --domain dog \
  --seed 5 --out /tmp/cli.png >/dev/null
docker exec "$name" cat /tmp/cli.png >"$tmp/cli.png"
check "translate: 200, byte-identical to the CLI's" '[ "$st" = 200 ] && [ -s "$tmp/cli.png" ] && cmp -s "$tmp/srv.png" "$tmp/cli.png"'
# the face detector the image carries (face-api.js's weights as their TensorFlow.js manifest)
curl -s --max-time 60 -o "$tmp/detect.json" -F image=@tests/data/detect/exif6.jpg "$U/v1/detect"
check "detect: the image's own detector finds the 5 faces of exif6.jpg" '[ "$(grep -o "\"score\"" "$tmp/detect.json" | wc -l)" = 5 ]'
check "the detector's MIT licence travels with it" 'docker exec "$name" grep -q "MIT License" /usr/local/share/stargan/detector/LICENSE'
if [ -x build/stargan ]; then
  build/stargan make-model --config afhq --out "$tmp/afhq.safetensors" >/dev/null &&
    build/stargan translate --model "$tmp/afhq.safetensors" --src "$src" --domain dog --seed 5 --out "$tmp/host.png" >/dev/null
  check "and to the host build's CLI" 'cmp -s "$tmp/srv.png" "$tmp/host.png"'
  rm -f "$tmp/afhq.safetensors"
fi

# ---- docker stop with a request in flight -----------------------------------------------------
step "docker stop"
# stargan_admitted: requests handed to a worker or waiting for one
admitted() { curl -s --max-time 3 "$U/metrics" | awk '$1 == "stargan_admitted" { print $2 }'; }
curl -s --max-time 120 -o "$tmp/stop.png" -w '%{http_code}' -F image=@"$src" -F domain=dog -F seed=5 \
  "$U/v1/translate" >"$tmp/stop.code" &
cpid=$!
for _ in $(seq 200); do [ "$(admitted)" = 1 ] && break; sleep 0.01; done
held=$(admitted)
t0=$(date +%s.%N)
docker stop -t 60 "$name" >/dev/null
t_stop=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
wait "$cpid"
echo "docker stop took ${t_stop} s (the default --drain-delay, then the request in flight)"
check "docker stop with a request in flight (admitted=$held): it gets 200, same bytes" \
  '[ "$held" = 1 ] && [ "$(cat "$tmp/stop.code")" = 200 ] && cmp -s "$tmp/stop.png" "$tmp/srv.png"'
check "container exits 0 (not killed)" '[ "$(docker inspect -f "{{.State.ExitCode}} {{.State.OOMKilled}}" "$name")" = "0 false" ]'
docker logs "$name" 2>&1 | grep -E 'draining|stopping|stopped' | sed 's/^/  log: /'
docker rm -f "$name" >/dev/null

# ---- a memory limit -------------------------------------------------------------------------
step "memory limit"
mem=${SG_CONTAINER_MEMORY:-768m} # the Kubernetes base's request (deploy/k8s/base)
NO_TMPFS=1 run "$name-mem" --memory "$mem" --memory-swap "$mem"
if healthy "$name-mem"; then
  limit=$(docker exec "$name-mem" sh -c 'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes')
  ready
  codes=
  for s in 1 2 3; do   # reference-guided and latent-guided, the heaviest paths
    codes+=$(curl -s --max-time 120 -o /dev/null -w '%{http_code} ' -F image=@"$src" -F domain=dog -F seed=$s "$U/v1/translate")
    codes+=$(curl -s --max-time 120 -o /dev/null -w '%{http_code} ' -F image=@"$src" -F domain=cat -F reference=@"$src" "$U/v1/translate")
  done
  peak=$(docker exec "$name-mem" sh -c 'cat /sys/fs/cgroup/memory.peak 2>/dev/null || cat /sys/fs/cgroup/memory/memory.max_usage_in_bytes')
  rss=$(docker exec "$name-mem" sh -c 'grep VmHWM /proc/1/status' | awk '{ print $2 * 1024 }')
  echo "memory: limit $limit bytes; cgroup peak $(awk -v p="$peak" 'BEGIN { printf "%.0f MiB", p / 1048576 }') (model pages already cached are charged to the container that wrote them), server peak RSS $(awk -v p="$rss" 'BEGIN { printf "%.0f MiB", p / 1048576 }'); answers: $codes"
  check "--memory $mem in force (cgroup limit), requests 200 under it, peak below it (read-only root, no tmpfs)" \
    '[ "$(docker inspect -f "{{.HostConfig.Memory}}" "$name-mem")" = "$limit" ] && [ "$codes" = "200 200 200 200 200 200 " ] && [ "$peak" -le "$limit" ] && [ "$(docker inspect -f "{{.State.OOMKilled}}" "$name-mem")" = false ]'
else
  docker logs "$name-mem" 2>&1 | tail -5
  bad "healthy under --memory $mem"
fi
docker rm -f "$name-mem" >/dev/null
# and a limit below the working set is enforced, not exceeded: the kernel kills the server
run "$name-mem" --memory 96m --memory-swap 96m
for _ in $(seq 120); do
  [ "$(docker inspect -f '{{.State.Running}}' "$name-mem")" = true ] || break
  curl -s -o /dev/null --max-time 30 -F image=@"$src" -F domain=dog -F seed=1 "$U/v1/translate"
  sleep 0.5
done
check "--memory 96m (below the working set) is enforced: OOM-killed ($(docker inspect -f '{{.State.ExitCode}} oom={{.State.OOMKilled}}' "$name-mem"))" \
  '[ "$(docker inspect -f "{{.State.Running}} {{.State.OOMKilled}}" "$name-mem")" = "false true" ]'
docker rm -f "$name-mem" >/dev/null

# ---- the arm64 image, under qemu ----------------------------------------------------------------
# Built from the same Dockerfile with BuildKit for linux/arm64: cross-compiled in a build stage on
# this machine's platform, the runtime stage on an arm64 debian:bookworm-slim made here with
# debootstrap (tagged $base64, passed as BASE), run through qemu-user (binfmt_misc). Checked as a
# user runs it: arm64 binaries, non-root, healthy, and /v1/translate answering the bytes of the
# arm64 CLI (the image's own, and build-arm64/'s when scripts/cross-test.sh built it).
# SG_CONTAINER_ARM64=0 leaves it out.
step "arm64 image"
arm64_ready() {
  local bf=/proc/sys/fs/binfmt_misc
  [ -e $bf/register ] || mount -t binfmt_misc binfmt_misc $bf 2>/dev/null
  command -v qemu-aarch64-static >/dev/null ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends qemu-user-static >/dev/null 2>&1
  [ -e $bf/qemu-aarch64 ] || cat /usr/lib/binfmt.d/qemu-aarch64.conf >$bf/register 2>/dev/null
  [ -e $bf/qemu-aarch64 ] && grep -q '^flags: .*F' $bf/qemu-aarch64
}
if [ "${SG_CONTAINER_ARM64:-1}" = 0 ]; then
  echo "skipped: the arm64 image (SG_CONTAINER_ARM64=0)"
elif ! arm64_ready; then
  bad "arm64 image: qemu-aarch64 with binfmt_misc (fix-binary flag) is needed to run it"
else
  if ! docker image inspect "$base64" >/dev/null 2>&1; then
    mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
    mirror=${mirror:-http://deb.debian.org/debian}
    rootfs="$tmp/rootfs64"
    echo "debootstrap --arch=arm64 --variant=minbase bookworm from $mirror"
    if debootstrap --arch=arm64 --foreign --variant=minbase bookworm "$rootfs" "$mirror" >"$tmp/debootstrap64.log" 2>&1 &&
       chroot "$rootfs" /debootstrap/debootstrap --second-stage >>"$tmp/debootstrap64.log" 2>&1; then
      [ -f /etc/apt/sources.list.d/debian.sources ] &&
        cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/" && rm -f "$rootfs/etc/apt/sources.list"
      printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
        'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' \
        >"$rootfs/etc/dpkg/dpkg.cfg.d/docker"
      find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null
      rm -rf "$rootfs"/usr/share/{man,info,locale}/* "$rootfs"/var/cache/apt/*.bin \
        "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log
      # docker import labels it with the engine's platform (20.10 ignores --platform): BuildKit's
      # ADD of the tree with --platform linux/arm64 makes an image labelled arm64
      tar -C "$rootfs" -cf "$tmp/rootfs64.tar" . && printf 'FROM scratch\nADD rootfs64.tar /\nCMD ["bash"]\n' >"$tmp/Dockerfile.base64"
      bk_build --platform linux/arm64 -f "$tmp/Dockerfile.base64" -t "$base64" "$tmp" >"$tmp/base64.log" 2>&1 ||
        tail -5 "$tmp/base64.log"
      rm -f "$tmp/rootfs64.tar"
    else
      tail -5 "$tmp/debootstrap64.log"
    fi
    rm -rf "$rootfs"
  fi
  t0=$(date +%s)
  if ! docker image inspect "$base64" >/dev/null 2>&1; then
    bad "arm64 base image (debootstrap --arch=arm64)"
  elif ! bk_build --network host --platform linux/arm64 --build-arg BASE="$base64" \
         -f docker/Dockerfile -t "$img64" . >"$tmp/build64.log" 2>&1; then
    tail -30 "$tmp/build64.log"; bad "docker build --platform linux/arm64"
  else
    size64=$(docker image inspect -f '{{.Size}}' "$img64")
    ok "docker build --platform linux/arm64 ($(($(date +%s) - t0)) s; image $(awk -v s="$size64" 'BEGIN { printf "%.0f MB", s / 1e6 }'), base $(docker image inspect -f '{{.Size}}' "$base64" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
    check "arm64 image: linux/arm64, aarch64 binaries, USER stargan" \
      '[ "$(docker image inspect -f "{{.Os}}/{{.Architecture}}" "$img64")" = linux/arm64 ] && [ "$(docker run --rm --network none --platform linux/arm64 --entrypoint uname "$img64" -m)" = aarch64 ] && [ "$(docker image inspect -f "{{.Config.User}}" "$img64")" = stargan ]'
    docker run --rm --network none --platform linux/arm64 --user root -v "$vol:/models" --entrypoint stargan \
      "$img64" make-model --config mini --out /models/mini.safetensors >/dev/null || bad "arm64: make a mini model"
    docker run -d --name "$name-arm64" --platform linux/arm64 --network host --read-only \
      --tmpfs /tmp:rw,size=64m --cap-drop ALL --security-opt no-new-privileges \
      -v "$vol:/models:ro" -e STARGAN_LISTEN="127.0.0.1:$port" -e STARGAN_MODEL=mini=/models/mini.safetensors \
      "${blas[@]}" --health-interval 1s --health-timeout 10s --health-retries 5 --health-start-period 120s \
      "$img64" >/dev/null
    t0=$(date +%s)
    check "arm64 container: HEALTHCHECK turns healthy (under qemu)" 'healthy "$name-arm64"'
    echo "arm64 healthy after $(($(date +%s) - t0)) s"
    check "arm64 container: runs as a non-root user" '[ "$(docker exec "$name-arm64" id -un)" = stargan ]'
    ready
    st=$(curl -s --max-time 300 -o "$tmp/srv64.png" -w '%{http_code}' -F image=@"$src" -F domain=1 -F seed=5 "$U/v1/translate")
    docker exec -i "$name-arm64" sh -c 'cat > /tmp/src.jpg' <"$src"
    docker exec "$name-arm64" stargan translate --model /models/mini.safetensors --src /tmp/src.jpg --domain 1 \
      --seed 5 --out /tmp/cli.png >/dev/null
    docker exec "$name-arm64" cat /tmp/cli.png >"$tmp/cli64.png"
    check "arm64 translate: 200, byte-identical to the arm64 CLI's" \
      '[ "$st" = 200 ] && [ -s "$tmp/cli64.png" ] && cmp -s "$tmp/srv64.png" "$tmp/cli64.png"'
    if [ -x build-arm64/stargan ] && build-arm64/stargan --help >/dev/null 2>&1; then
      docker run --rm --network none --platform linux/arm64 -v "$vol:/models:ro" --entrypoint cat "$img64" \
        /models/mini.safetensors >"$tmp/mini.safetensors"
      build-arm64/stargan translate --model "$tmp/mini.safetensors" --src "$src" --domain 1 --seed 5 \
        --out "$tmp/host64.png" >/dev/null
      check "and to build-arm64/'s CLI (scripts/cross-test.sh)" 'cmp -s "$tmp/srv64.png" "$tmp/host64.png"'
    fi
    docker rm -f "$name-arm64" >/dev/null
  fi
fi

# ---- compose ----------------------------------------------------------------------------------
step "compose"
if command -v docker-compose >/dev/null; then
  check "docker/compose.yaml: docker-compose config ($(docker-compose version --short 2>/dev/null))" \
    'docker-compose -f docker/compose.yaml config -q'
else
  bad "docker-compose (Debian package) not installed"
fi
finish
