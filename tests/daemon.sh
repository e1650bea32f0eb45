#!/bin/sh
# daemon.sh - the daemon's start and stop, without an MTA.
#
# SYNOPSIS
#	tests/daemon.sh		(make check runs it)
#
# DESCRIPTION
#	-p goes through the Socket parser (-n -p refuses Postfix's
#	inet:HOST:PORT and relative unix paths); a second daemon on a unix
#	socket in use exits non-zero saying so and the first one still
#	answers; SIGTERM stops a daemon and removes its socket and pid
#	file; a stale socket nobody answers on is replaced, a file that is
#	no socket is not; a second daemon with the same PidFile refuses;
#	SIGTERM and SIGHUP that come during the start (pending before
#	exec) give a clean stop and a reload;
#	a port in use fails the start; -h, --help, -a NOTANIP, -r without
#	-t and -r ''; smime-keystore -h, --help, -V; the option negotiation
#	asks for RCPT only with d or e in Mode (verify/sign-only sites keep
#	SMFIP_NORCPT).
#	Daemons run in the foreground in a temporary directory; every wait
#	is bounded (30 s) but nothing is timed.
#
#	Prints "PASS: ..." / "FAIL: ..." lines; exit 0 when all passed, 1
#	otherwise (also when python3 is missing: install python3).

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
M=$top_builddir/milter/smime-milter
pass=0 fail=0
pids=

ok() { pass=$((pass + 1)); echo "PASS: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

command -v python3 >/dev/null 2>&1 || {
    echo "FAIL: python3 not found (install the Debian package python3)"
    exit 1
}
[ -x "$M" ] || { echo "FAIL: $M not built"; exit 1; }
T=$(mktemp -d /tmp/smime-daemon.XXXXXX) || exit 1
chmod 0755 "$T"
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT

# answers PATH: a process accepts connections on the unix socket PATH.
answers() {
    python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])' "$1" 2>/dev/null
}

# wait_for SECONDS COMMAND...: until COMMAND succeeds; 1 if it never did.
wait_for() {
    _n=$(($1 * 10)); shift
    while [ "$_n" -gt 0 ]; do
        "$@" && return 0
        sleep 0.1
        _n=$((_n - 1))
    done
    return 1
}

gone() { ! kill -0 "$1" 2>/dev/null; }

# conf NAME SOCKET [EXTRA-LINE]: $T/NAME.conf
conf() {
    printf 'Socket %s\nMode v\nTrustSystemStore yes\n%s\n' "$2" "${3:-}" \
        >"$T/$1.conf"
}

# start NAME [OPTIONS]: a daemon in the foreground; its pid in $pid.
start() {
    _name=$1; shift
    "$M" -f -c "$T/$_name.conf" "$@" >"$T/$_name.log" 2>&1 &
    pid=$!
    pids="$pids $pid"
}

# stop PID: SIGTERM, and the daemon is gone within 30 s.
stop() {
    kill -TERM "$1" && wait_for 30 gone "$1"
}

# --- -p goes through the Socket parser -----------------------------------
conf good "unix:$T/good.sock"
"$M" -n -c "$T/good.conf" -p inet:127.0.0.1:40001 >"$T/n1" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && grep -q 'use inet:40001@127.0.0.1' "$T/n1"; then
    ok "-n -p inet:127.0.0.1:40001 refused: $(cat "$T/n1")"
else
    bad "-n -p inet:127.0.0.1:40001: exit $rc: $(cat "$T/n1")"
fi
"$M" -n -c "$T/good.conf" -p unix:relative.sock >"$T/n2" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && grep -q 'must be absolute' "$T/n2"; then
    ok "-n -p unix:relative.sock refused"
else
    bad "-n -p unix:relative.sock: exit $rc: $(cat "$T/n2")"
fi
"$M" -n -c "$T/good.conf" -p "inet:40001@127.0.0.1" >"$T/n3" 2>&1 &&
    ok "-n -p inet:40001@127.0.0.1 accepted" ||
    bad "-n -p inet:40001@127.0.0.1 refused: $(cat "$T/n3")"
# the daemon itself refuses it too, before listening anywhere
timeout 30 "$M" -f -c "$T/good.conf" -p inet:127.0.0.1:40001 >"$T/d1" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && grep -q 'use inet:40001@127.0.0.1' "$T/d1"; then
    ok "daemon -p inet:127.0.0.1:40001 refused"
else
    bad "daemon -p inet:127.0.0.1:40001: exit $rc: $(cat "$T/d1")"
fi

# --- two daemons on one unix socket --------------------------------------
S=$T/one.sock
conf one "unix:$S"
start one
first=$pid
if wait_for 30 answers "$S"; then
    ok "first daemon answers on $S"
else
    bad "first daemon never answered: $(cat "$T/one.log")"
fi
ino=$(stat -c %i "$S" 2>/dev/null)
timeout 30 "$M" -f -c "$T/one.conf" >"$T/two.log" 2>&1
rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q "$S is in use" "$T/two.log"
then
    ok "second daemon refused (exit $rc): $(cat "$T/two.log")"
else
    bad "second daemon on $S: exit $rc: $(cat "$T/two.log")"
fi
if answers "$S" && [ "$(stat -c %i "$S" 2>/dev/null)" = "$ino" ]; then
    ok "first daemon still answers on its own socket"
else
    bad "first daemon lost its socket"
fi
# HUP and USR1 still reach the main thread (reload, statistics), and the
# daemon goes on answering
kill -HUP "$first"
wait_for 30 grep -q 'event=reload status=reloaded' "$T/one.log" &&
    ok "SIGHUP: reloaded" || bad "SIGHUP: no reload: $(cat "$T/one.log")"
kill -USR1 "$first"
wait_for 30 grep -q 'event=stats ' "$T/one.log" &&
    ok "SIGUSR1: statistics" || bad "SIGUSR1: no stats line"
answers "$S" || bad "no answer after HUP and USR1"
if stop "$first" && [ ! -e "$S" ]; then
    ok "SIGTERM: stopped, socket removed"
else
    bad "SIGTERM: $(ls -l "$S" 2>&1); $(cat "$T/one.log")"
fi
wait "$first"
rc=$?
[ "$rc" -eq 0 ] && ok "SIGTERM: exit 0" || bad "SIGTERM: exit $rc"

# --- signals that come before the daemon is ready -------------------------
# pending SIG CONF: start the daemon in the foreground with SIG already
# pending (blocked, then sent, then exec: both survive exec), which is
# what a signal that arrives at any moment of the start looks like to a
# daemon that holds its signals until its handlers are in place.
pending() {
    _sig=$1 _name=$2
    python3 -c 'import os, signal, sys
sig = getattr(signal, sys.argv[1])
signal.pthread_sigmask(signal.SIG_BLOCK, [sig])
os.kill(os.getpid(), sig)
os.execv(sys.argv[2], sys.argv[2:])' "$_sig" "$M" -f -c "$T/$_name.conf" \
        >"$T/$_name.log" 2>&1 &
    pid=$!
    pids="$pids $pid"
}
# SIGTERM before the start: a clean stop (socket and PidFile removed, the
# stop logged, exit 0), not death by the default action nor a hang.
S=$T/early.sock
conf early "unix:$S" "PidFile $T/early.pid"
pending SIGTERM early
if wait_for 30 gone "$pid"; then
    wait "$pid"
    rc=$?
    if [ "$rc" -eq 0 ] && [ ! -e "$S" ] && [ ! -e "$T/early.pid" ] &&
        grep -q 'event=stop status=stopped' "$T/early.log"; then
        ok "SIGTERM during the start: stopped, socket and pid file removed"
    else
        bad "SIGTERM during the start: exit $rc; $(echo "$T"/early.*); $(cat "$T/early.log")"
    fi
else
    bad "SIGTERM during the start: still running: $(cat "$T/early.log")"
fi
# SIGTERM as soon as the socket exists: libmilter's listener may not run
# yet; stopped before it starts, it reopens the socket it was told to
# close (as root the path is still there: "Address already in use") and
# fails.  Still a stop, exit 0.  A race: 30 tries hit it nearly always.
S=$T/race.sock
conf race "unix:$S"
i=0 lost=
while [ $i -lt 30 ]; do
    i=$((i + 1))
    start race
    n=0     # spin a little first: a 0.1 s poll would mostly come too late
    while [ ! -S "$S" ] && [ $n -lt 20000 ]; do n=$((n + 1)); done
    wait_for 30 test -S "$S" || { bad "race $i: no socket"; break; }
    kill -TERM "$pid"
    wait "$pid"
    rc=$?
    if [ "$rc" -ne 0 ] || [ -e "$S" ] ||
        ! grep -q 'event=stop status=stopped' "$T/race.log"; then
        lost="$lost $i(exit $rc)"
        cp "$T/race.log" "$T/race.lost"
        rm -f "$S"
    fi
done
[ -z "$lost" ] && ok "SIGTERM as soon as the socket exists: 30 clean stops" ||
    bad "SIGTERM as soon as the socket exists: not clean in try$lost: $(cat "$T/race.lost")"
# SIGHUP before the start: a reload once the daemon is up; libmilter,
# which stops on HUP, never sees it.
S=$T/hup.sock
conf hup "unix:$S"
pending SIGHUP hup
if wait_for 30 grep -q 'event=reload status=reloaded' "$T/hup.log" &&
    answers "$S"; then
    ok "SIGHUP during the start: reloaded, still answering"
else
    bad "SIGHUP during the start: $(cat "$T/hup.log")"
fi
if stop "$pid" && wait "$pid" && [ ! -e "$S" ]; then
    ok "SIGTERM after an early SIGHUP: stopped, exit 0"
else
    bad "SIGTERM after an early SIGHUP: $(cat "$T/hup.log")"
fi

# --- a stale socket is replaced, a file that is no socket is not ---------
S=$T/stale.sock
python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.close()' "$S"
[ -S "$S" ] && ! answers "$S" || bad "could not make a stale socket"
conf stale "unix:$S"
start stale
if wait_for 30 answers "$S"; then
    ok "stale socket replaced"
else
    bad "stale socket: $(cat "$T/stale.log")"
fi
kill -INT "$pid" && wait_for 30 gone "$pid" && [ ! -e "$S" ] &&
    ok "SIGINT: stopped, socket removed" || bad "SIGINT: $(cat "$T/stale.log")"

S=$T/file.sock
echo keep >"$S"
conf file "unix:$S"
timeout 30 "$M" -f -c "$T/file.conf" >"$T/file.log" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && grep -q 'is not a socket' "$T/file.log" &&
    [ "$(cat "$S")" = keep ]; then
    ok "a regular file at the socket path is refused and kept"
else
    bad "regular file at the socket path: exit $rc: $(cat "$T/file.log")"
fi

# --- PidFile lock ----------------------------------------------------------
conf pa "unix:$T/pa.sock" "PidFile $T/milter.pid"
conf pb "unix:$T/pb.sock" "PidFile $T/milter.pid"
start pa
first=$pid
wait_for 30 answers "$T/pa.sock" || bad "pa never answered: $(cat "$T/pa.log")"
timeout 30 "$M" -f -c "$T/pb.conf" >"$T/pb.log" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && grep -q "already running (pid $first)" "$T/pb.log" &&
    [ ! -e "$T/pb.sock" ] && [ "$(cat "$T/milter.pid")" = "$first" ]; then
    ok "second daemon with the same PidFile refused: $(cat "$T/pb.log")"
else
    bad "same PidFile: exit $rc: $(cat "$T/pb.log"); pid file: $(cat "$T/milter.pid")"
fi
if stop "$first" && [ ! -e "$T/milter.pid" ]; then
    ok "SIGTERM: pid file removed"
else
    bad "pid file after SIGTERM: $(ls -l "$T/milter.pid" 2>&1)"
fi

# --- a port in use ---------------------------------------------------------
port=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
conf ia "inet:$port@127.0.0.1"
start ia
first=$pid
wait_for 30 python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)' "$port" ||
    bad "inet daemon never answered: $(cat "$T/ia.log")"
timeout 30 "$M" -f -c "$T/ia.conf" >"$T/ib.log" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && grep -q "cannot listen on inet:$port@127.0.0.1: Address already in use" "$T/ib.log"; then
    ok "port in use: $(cat "$T/ib.log")"
else
    bad "port in use: exit $rc: $(cat "$T/ib.log")"
fi
stop "$first" || bad "inet daemon did not stop"

# --- options ---------------------------------------------------------------
for h in -h --help; do
    "$M" "$h" >"$T/h.out" 2>"$T/h.err"
    rc=$?
    if [ "$rc" -eq 0 ] && grep -q '^usage: ' "$T/h.out" && [ ! -s "$T/h.err" ]
    then ok "$h: usage on stdout, exit 0"
    else bad "$h: exit $rc: $(cat "$T/h.out" "$T/h.err")"; fi
done
K=$top_builddir/milter/smime-keystore
for h in -h --help; do
    "$K" "$h" >"$T/h.out" 2>"$T/h.err"
    rc=$?
    if [ "$rc" -eq 0 ] && grep -q '^usage: smime-keystore build' "$T/h.out" &&
        [ ! -s "$T/h.err" ]
    then ok "smime-keystore $h: usage on stdout, exit 0"
    else bad "smime-keystore $h: exit $rc: $(cat "$T/h.out" "$T/h.err")"; fi
done
"$K" -V >"$T/v.out" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && grep -q '^smime-keystore .* [0-9][0-9.]*$' "$T/v.out"; then
    ok "smime-keystore -V: $(head -n 1 "$T/v.out")"
else
    bad "smime-keystore -V: exit $rc: $(cat "$T/v.out")"
fi
"$M" -x >/dev/null 2>"$T/x.err"
rc=$?
[ "$rc" -eq 64 ] && grep -q '^usage: ' "$T/x.err" &&
    ok "unknown option: usage on stderr, exit 64" ||
    bad "unknown option: exit $rc"
printf 'From: a@example.org\n\nx\n' >"$T/m.eml"
"$M" -c "$T/good.conf" -t "$T/m.eml" -a notanip >"$T/a.out" 2>"$T/a.err"
rc=$?
if [ "$rc" -eq 64 ] && grep -q '"notanip" is not an IPv4 or IPv6 address' "$T/a.err" &&
    [ ! -s "$T/a.out" ]; then
    ok "-a notanip refused: $(cat "$T/a.err")"
else
    bad "-a notanip: exit $rc: $(cat "$T/a.err")"
fi

# --- -r: only with -t, never empty -----------------------------------------
"$M" -c "$T/good.conf" -r bob@example.org >/dev/null 2>"$T/r1.err"
rc=$?
[ "$rc" -eq 64 ] && grep -q '^usage: ' "$T/r1.err" &&
    ok "-r without -t: usage, exit 64" || bad "-r without -t: exit $rc"
"$M" -c "$T/good.conf" -t "$T/m.eml" -r '' >"$T/r2.out" 2>"$T/r2.err"
rc=$?
[ "$rc" -eq 64 ] && grep -q 'an empty recipient' "$T/r2.err" &&
    [ ! -s "$T/r2.out" ] && ok "-r '': refused, exit 64" ||
    bad "-r '': exit $rc: $(cat "$T/r2.err")"

# --- RCPT is negotiated only when Mode has d or e ---------------------------
# rcpt_wanted SOCKET: "yes" when the milter's option negotiation reply
# leaves SMFIP_NORCPT (0x8) unset, offered every protocol flag
rcpt_wanted() {
    python3 -c 'import socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(struct.pack(">IcIII", 13, b"O", 6, 0x1ff, 0x1fffff))
buf = b""
while len(buf) < 4 or len(buf) < 4 + struct.unpack(">I", buf[:4])[0]:
    chunk = s.recv(4096)
    if not chunk:
        sys.exit("closed")
    buf += chunk
cmd, ver, act, proto = struct.unpack(">cIII", buf[4:17])
print("yes" if cmd == b"O" and not proto & 0x8 else "no")' "$1" 2>&1
}
# Mode e needs a CertificateStore (-n refuses it without one).
sh "$top_srcdir/tests/pki/mkpki.sh" "$top_builddir/tests/work/pki" >/dev/null &&
    "$top_builddir/milter/smime-certstore" import "$T/certs.mdb" \
        "$top_builddir/tests/work/pki/alice.chain.pem" >/dev/null ||
    bad "cannot make a CertificateStore for Mode ve"
for m in v ve; do
    conf "neg$m" "unix:$T/neg$m.sock" "CertificateStore $T/certs.mdb"
    sed -i "s/^Mode v$/Mode $m/" "$T/neg$m.conf"
    start "neg$m"
    if ! wait_for 30 answers "$T/neg$m.sock"; then
        bad "Mode $m: daemon never answered: $(cat "$T/neg$m.log")"
        continue
    fi
    got=$(rcpt_wanted "$T/neg$m.sock")
    case $m in ve) want=yes ;; *) want=no ;; esac
    [ "$got" = "$want" ] && ok "Mode $m: RCPT negotiated: $got" ||
        bad "Mode $m: RCPT negotiated: $got, want $want"
    stop "$pid" || bad "Mode $m: daemon did not stop"
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
