#!/usr/bin/env bash
# Cross-builds for another architecture and runs the ctest suite under qemu-user (Debian 12).
#   scripts/cross-test.sh arm64 [ctest args]
# As root it first installs what it needs: Debian's cross compiler (gcc-aarch64-linux-gnu), the
# arm64 -dev packages through multiarch (dpkg --add-architecture arm64), qemu-user-static; and
# registers qemu with binfmt_misc (mounting it when absent), so the shell tests can exec the
# arm64 binaries. Then it configures build-arm64/ with scripts/toolchain-arm64.cmake, builds, and
# runs ctest there (the unit tests through qemu, the shell tests through binfmt_misc). Tests that
# cannot run under emulation (the browser test: the front end is the same bytes on every
# architecture and is tested in the native suite) report Skipped; ctest's summary closes the
# output. The CPU qemu emulates is its "max" model, which has BF16 (BFDOT): the bf16 tests run.
# SG_JOBS: build jobs (default: nproc). SG_FIXTURES as in scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:-}
[ "$arch" = arm64 ] || { echo "usage: scripts/cross-test.sh arm64 [ctest args]" >&2; exit 2; }
shift
triplet=aarch64-linux-gnu
fix="${SG_FIXTURES:-$(cd .. && pwd)/shared/fixtures}"
dir=build-arm64

if [ "$(id -u)" = 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  pkgs=(gcc-$triplet qemu-user-static cmake pkg-config)
  for p in libopenblas-dev libpng-dev libjpeg62-turbo-dev libcjson-dev libzip-dev \
           libmicrohttpd-dev libx264-dev libwebp-dev libcmocka-dev libcurl4-openssl-dev \
           libavcodec-dev libavformat-dev libavutil-dev libswscale-dev; do
    pkgs+=("$p:$arch")
  done
  missing=()
  for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    dpkg --print-foreign-architectures | grep -qx "$arch" || dpkg --add-architecture "$arch"
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
  bf=/proc/sys/fs/binfmt_misc
  if [ ! -e $bf/register ]; then
    mount -t binfmt_misc binfmt_misc $bf || echo "cross-test: could not mount binfmt_misc" >&2
  fi
  if [ -e $bf/register ] && [ ! -e $bf/qemu-aarch64 ]; then
    cat /usr/lib/binfmt.d/qemu-aarch64.conf >$bf/register ||
      echo "cross-test: could not register qemu-aarch64 with binfmt_misc" >&2
  fi
fi
# the shell tests exec the arm64 binaries directly: that needs binfmt_misc
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'int main(void) { return 42; }\n' >"$probe/p.c"
$triplet-gcc "$probe/p.c" -o "$probe/p" || { echo "cross-test: no $triplet-gcc (run as root)" >&2; exit 1; }
set +e; "$probe/p" 2>/dev/null; rc=$?; set -e
if [ $rc != 42 ]; then
  echo "cross-test: cannot run $arch binaries here (binfmt_misc with qemu-aarch64: run as root)" >&2
  exit 1
fi

log=$(mktemp)
if ! cmake -S . -B "$dir" -DCMAKE_TOOLCHAIN_FILE=scripts/toolchain-arm64.cmake \
     -DCMAKE_BUILD_TYPE=Release -DSG_FIXTURES="$fix" >"$log" 2>&1; then
  cat "$log" >&2; rm -f "$log"; exit 1
fi
rm -f "$log"
cmake --build "$dir" -j"${SG_JOBS:-$(nproc)}"
echo "cross-test: $(file -b "$dir/stargan" | cut -d, -f1-2); qemu $(qemu-aarch64-static --version | sed -n '1s/.*version \([0-9.]*\).*/\1/p')"
# Emulated, the networks run about 100 times slower than natively (test_faces: 536 s under qemu,
# ~5 s here), so the whole suite would take hours: by default the tests that run whole networks
# over every fixture, or many requests through the AFHQ-sized demo model (the server's end-to-end
# tests, and the manifests' test, which serves the demo model live), are left out (the unit
# tests of every module, the fuzz replays and the OpenAPI document run), and tests/arch_test.sh checks the networks instead: selftest on the mini fixture per
# kernel path and in bf16, the CLI's bytes against this machine's build, the face detector's
# boxes against this machine's; the container test checks the arm64 server. SG_CROSS_FULL=1 runs the whole suite.
heavy='^(test_generator|test_encode|test_styles|test_faces|test_detect|cli_selftest|cli_sample|bf16_cli|ckpt_cli'
heavy+='|server_integration|server_harden|server_jobs|server_chaos|rolling_restart|k8s_manifests'
heavy+='|detect_server)$'
exclude=()
if [ "${SG_CROSS_FULL:-0}" != 1 ]; then
  exclude=(-E "$heavy")
  echo "cross-test: not run under qemu (SG_CROSS_FULL=1 runs them): $(echo "$heavy" | tr -d '^$()' | tr '|' ' ')"
fi
rc=0
# the arm64 CLI against this machine's build (built here when absent), then ctest (its summary last)
[ -x build/stargan ] && [ -x build/media_probe ] ||
  SG_TARGETS="stargan media_probe" scripts/build.sh -DSG_FIXTURES="$fix" >/dev/null
t0=$(date +%s)
tests/arch_test.sh build/stargan "$dir/stargan" build/media_probe "$fix" "$dir/arch-tmp" || rc=1
echo "cross-test: arch_test $(($(date +%s) - t0)) s"
(cd "$dir" && ctest --output-on-failure "${exclude[@]}" "$@") || rc=1
exit $rc
