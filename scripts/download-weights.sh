#!/usr/bin/env bash
# Downloads the official StarGAN v2 weights (the URLs of the download.sh of
# github.com/clovaai/stargan-v2) and checks that each file is a torch checkpoint this build
# reads, with the expected configuration. Needs curl or wget, and internet access.
#
# usage: scripts/download-weights.sh celeba_hq|afhq|wing [DIR]        (DIR defaults to weights/)
#   celeba_hq  DIR/celeba_hq/100000_nets_ema.ckpt   CelebA-HQ: female, male (uses face masks:
#                                                   also get wing)
#   afhq       DIR/afhq/100000_nets_ema.ckpt        AFHQ: cat, dog, wild
#   wing       DIR/wing.ckpt, DIR/celeba_lm_mean.npz the face network and the mean landmarks
#
# STARGAN=path/to/stargan selects the binary used for the checks (default build/stargan, else
# the one on PATH). Files already present and valid are not downloaded again. The release zip
# archives of some mirrors (holding expr/checkpoints/<name>/100000_nets_ema.ckpt) are unpacked.
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-}
dir=${2:-weights}
case "$what" in celeba_hq | afhq | wing) ;; *)
  sed -n '6,11p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
  ;;
esac

bin=${STARGAN:-}
if [ -z "$bin" ]; then
  if [ -x build/stargan ]; then bin=build/stargan; else bin=$(command -v stargan || true); fi
fi
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "download-weights: build stargan first (scripts/test.sh) or set STARGAN=..." >&2
  exit 2
fi

# The dropbox links of clovaai/stargan-v2's download.sh, with dl=1 (the file, not a web page).
url_celeba_hq="https://www.dropbox.com/s/96fmei6c93o8b8t/100000_nets_ema.ckpt?dl=1"
url_afhq="https://www.dropbox.com/s/etwm810v25h42sn/100000_nets_ema.ckpt?dl=1"
url_wing="https://www.dropbox.com/s/tjxpypwpt38926e/wing.ckpt?dl=1"
url_lm_mean="https://www.dropbox.com/s/91fth49gyb7xksk/celeba_lm_mean.npz?dl=1"

fail() { echo "download-weights: $*" >&2; exit 1; }

fetch() { # URL OUT: download to OUT.part, then rename
  local url=$1 out=$2
  mkdir -p "$(dirname "$out")"
  echo "downloading $out"
  if command -v curl >/dev/null; then
    curl -fL --retry 3 --progress-bar -o "$out.part" "$url" || fail "download failed: $url"
  elif command -v wget >/dev/null; then
    wget -q --show-progress -O "$out.part" "$url" || fail "download failed: $url"
  else
    fail "neither curl nor wget is installed"
  fi
  mv "$out.part" "$out"
}

magic() { head -c 4 "$1" | od -An -tx1 | tr -d ' \n'; }

# A downloaded file that is an HTML page (an expired link, a quota page) is not a checkpoint.
not_html() {
  local f=$1
  [ "$(stat -c %s "$f")" -gt 100000 ] || fail "$f is only $(stat -c %s "$f") bytes: not the weights (link expired?)"
  if head -c 512 "$f" | grep -qi '<html\|<!doctype'; then fail "$f is a web page, not the weights"; fi
}

# A release zip (not a torch zip checkpoint: those hold */data.pkl) holding the .ckpt: unpack it.
unpack_release_zip() {
  local f=$1 name=$2
  [ "$(magic "$f")" = "504b0304" ] || return 0
  command -v unzip >/dev/null || return 0
  if unzip -l "$f" | grep -q '/data\.pkl$'; then return 0; fi
  local member
  member=$(unzip -Z1 "$f" | grep "$name\$" | head -1 || true)
  [ -n "$member" ] || fail "$f: a zip archive without $name"
  echo "unpacking $member"
  unzip -p "$f" "$member" >"$f.unpacked" && mv "$f.unpacked" "$f"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

check_model() { # FILE DOMAINS W_HPF
  local f=$1 domains=$2 hpf=$3 out
  out=$("$bin" info --model "$f" 2>&1) || fail "$out"
  grep -q "img_size     256" <<<"$out" || fail "$f: img_size is not the release's 256"
  grep -q "w_hpf        $hpf" <<<"$out" || fail "$f: w_hpf is not the release's $hpf"
  grep -q "domains      $domains" <<<"$out" || fail "$f: domains are not the release's"
  echo "ok   $f  ($(stat -c %s "$f") bytes, sha256 $(sha "$f"))"
  while IFS= read -r line; do echo "     $line"; done <<<"$out"
}

check_wing() {
  local f=$1 tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  "$bin" convert --fan "$f" --out "$tmp/fan.safetensors" >"$tmp/out" 2>&1 || fail "$(cat "$tmp/out")"
  echo "ok   $f  ($(stat -c %s "$f") bytes, sha256 $(sha "$f")): $(head -1 "$tmp/out" | sed 's/^wrote [^:]*: //')"
}

check_npz() {
  local f=$1
  [ "$(magic "$f")" = "504b0304" ] || fail "$f is not an .npz (zip) file"
  echo "ok   $f  ($(stat -c %s "$f") bytes, sha256 $(sha "$f"))"
}

get_model() { # NAME URL DOMAINS W_HPF
  local name=$1 url=$2 domains=$3 hpf=$4 f="$dir/$1/100000_nets_ema.ckpt"
  if [ -f "$f" ] && "$bin" info --model "$f" >/dev/null 2>&1; then
    echo "present: $f"
  else
    fetch "$url" "$f"
    not_html "$f"
    unpack_release_zip "$f" 100000_nets_ema.ckpt
  fi
  check_model "$f" "$domains" "$hpf"
}

case "$what" in
celeba_hq)
  get_model celeba_hq "$url_celeba_hq" "0=female 1=male" 1
  echo "next: scripts/download-weights.sh wing; then"
  echo "  $bin convert --model $dir/celeba_hq/100000_nets_ema.ckpt --fan $dir/wing.ckpt --out $dir/celeba_hq.safetensors"
  ;;
afhq)
  get_model afhq "$url_afhq" "0=cat 1=dog 2=wild" 0
  echo "next (optional, faster start): $bin convert --model $dir/afhq/100000_nets_ema.ckpt --out $dir/afhq.safetensors"
  ;;
wing)
  f="$dir/wing.ckpt"
  [ -f "$f" ] || { fetch "$url_wing" "$f"; not_html "$f"; }
  check_wing "$f"
  f="$dir/celeba_lm_mean.npz"
  [ -f "$f" ] || fetch "$url_lm_mean" "$f"
  check_npz "$f"
  ;;
esac
