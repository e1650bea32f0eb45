# lib.sh - what the benchmark scripts (run.sh, certstore_scale.sh,
# keystore_scale.sh) share.  Sourced; defines functions only.

now() { date +%s.%N; }

# kv KEY LINE: the value of KEY=... in a result line (miltergen, the
# lookup tools, the daemon measurements).
kv() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# ratio A B: A / B to two places; "-" when B is not above 0.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

# mb_per_s RATE BYTES: MB per second at RATE messages of BYTES a second.
mb_per_s() { awk -v r="$1" -v b="$2" 'BEGIN { printf "%.0f", r * b / 1048576 }'; }

# mb_per_cpu MSGS CPU BYTES: MB per CPU-second when MSGS messages of
# BYTES took CPU seconds; "-" when CPU is not above 0.
mb_per_cpu() { awk -v m="$1" -v c="$2" -v b="$3" 'BEGIN {
    if (c > 0) printf "%.0f", m * b / 1048576 / c; else print "-" }'; }

# bench_start LOG SOCKET TENTHS COMMAND [ARG...]: start a filter that
# listens on unix socket SOCKET (removed first) in the background, its
# output appended to LOG, its pid in MPID; wait for the socket, polling
# every 0.1 s at most TENTHS times.  0: listening; 1: the filter died;
# 2: no socket in time.
bench_start() {
    _bl=$1 _bs=$2 _bn=$3
    shift 3
    rm -f "$_bs"
    "$@" >>"$_bl" 2>&1 &
    MPID=$!
    _bi=0
    while [ ! -S "$_bs" ]; do
        kill -0 "$MPID" 2>/dev/null || return 1
        [ "$_bi" -lt "$_bn" ] || return 2
        sleep 0.1; _bi=$((_bi + 1))
    done
}

# bench_msg4k FILE FROM TO WHAT: a plain message of about 4 KB from FROM
# to TO, Subject "WHAT bench", 60 body lines padded with dots to one
# length (the scale scripts' daemons send it).
bench_msg4k() {
    printf 'From: %s\r\nTo: %s\r\nSubject: %s bench\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n' \
        "$2" "$3" "$4" >"$1"
    awk -v w="$4" 'BEGIN {
        t = "of a 4 KB outbound message for the " w " bench"
        while (length(t) < 53) t = t "."
        for (i = 0; i < 60; i++) printf "line %d %s\r\n", i, t }' >>"$1"
}
