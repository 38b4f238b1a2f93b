# shellcheck shell=bash disable=SC2154 # tmp and srv are the sourcing script's
# Sourced by the shell tests: the pass/fail lines and counters, the daemons killed on exit, and
# the HTTP helpers of the server tests. Set tmp (and srv for start) before calling them.
# Output: "ok   NAME" / "FAIL NAME" per check; finish prints "N passed, N failed" last and exits
# 0 only when nothing failed. A test that cannot run exits 77 (ctest: skipped) before any check.

pass=0 fail=0
pids=() # background processes killed (SIGKILL) when the script exits, however it exits
tl_cleanup() {
    local p
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
}
trap tl_cleanup EXIT

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
# check NAME EXPR [FILE]: EXPR (a shell expression, evaluated) must succeed; FILE is shown if not
check() {
    if eval "$2"; then ok "$1"; else
        bad "$1"
        [ -n "${3:-}" ] && cat "$3"
    fi
}
# expect_ok NAME CMD...: CMD must exit 0; its output (in $tmp/out) is shown if not
expect_ok() {
    local n=$1
    shift
    if "$@" >"$tmp/out" 2>&1; then ok "$n"; else
        bad "$n"
        cat "$tmp/out"
    fi
}
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
    exit
}
# need CMD [HOW]: skip the whole test (exit 77) without CMD
need() { command -v "$1" >/dev/null || { echo "skipped: $1 not installed${2:+ ($2)}"; exit 77; }; }

# ---- daemons and HTTP (server tests) ----
# start NAME [ARGS...]: $srv on a free port (port 0: read from its log), stdout in
# $tmp/NAME.out, stderr in $tmp/NAME.log; sets PID, PORT and U (base URL). Waits until /readyz
# answers 200 (at most 60 s); returns 1, showing the log, when it does not.
start() {
    local name=$1
    shift
    "$srv" --listen 127.0.0.1:0 "$@" >"$tmp/$name.out" 2>"$tmp/$name.log" &
    PID=$!
    pids+=("$PID")
    U='' PORT=''
    for _ in $(seq 600); do
        PORT=$(sed -n 's/.*listening on http:\/\/[0-9.]*:\([0-9]*\).*/\1/p' "$tmp/$name.log" | head -1)
        if [ -n "$PORT" ]; then
            U="http://127.0.0.1:$PORT"
            [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$U/readyz")" = 200 ] && return 0
        fi
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "daemon $name did not become ready:"
    cat "$tmp/$name.log"
    return 1
}
stop() {
    kill -TERM "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}
# req [curl args...]: prints the status code; body in $tmp/body, headers in $tmp/hdr
req() { curl -s --max-time 60 -o "$tmp/body" -D "$tmp/hdr" -w '%{http_code}' "$@"; }
# hdr NAME: that header of the last answer
hdr() { tr -d '\r' <"$tmp/hdr" | sed -n "s/^$1: //Ip" | tail -1; }
# expect NAME STATUS CODE [curl args...]: status and the JSON error {"error":{"code":CODE,...}}
expect() {
    local n=$1 st=$2 code=$3
    shift 3
    local got
    got=$(req "$@")
    if [ "$got" = "$st" ] && grep -q "^{\"error\":{\"code\":\"$code\",\"message\":\".*\"}}$" "$tmp/body" &&
        [ "$(hdr content-type)" = application/json ]; then
        ok "$n ($st $code)"
    else bad "$n: want $st $code, got $got $(head -c 300 "$tmp/body")"; fi
}
# wait_log NAME PATTERN: up to 60 s for a line matching PATTERN in $tmp/NAME.log
wait_log() {
    for _ in $(seq 600); do
        grep -q -- "$2" "$tmp/$1.log" && return 0
        sleep 0.1
    done
    return 1
}
# img_pixels FILE: width x height of a PNG or JPEG from its header (as the server sizes work)
img_pixels() {
    python3 - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
if d[:8] == b'\x89PNG\r\n\x1a\n':
    w, h = struct.unpack('>II', d[16:24])
else:
    p = 2
    while True:
        m = d[p + 1]
        n = struct.unpack('>H', d[p + 2:p + 4])[0]
        if 0xC0 <= m <= 0xCF and m not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack('>HH', d[p + 5:p + 9])
            break
        p += 2 + n
print(w * h)
PY
}
