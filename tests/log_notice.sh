#!/bin/sh
# log_notice.sh - what LogLevel notice still logs.
#
# SYNOPSIS
#	tests/log_notice.sh	(from make check, or by hand with top_srcdir
#				and top_builddir set)
#
# DESCRIPTION
#	An operator running with LogLevel notice must still see every
#	failure and when the daemon starts and stops (smime-milter(8),
#	LOGGING).  With LogLevel notice:
#	1. smime-milter -t (which logs to standard error) logs the message
#	   line of a fail (tests/data/tag-fail.eml) and a permerror
#	   (garbage-p7s.eml), and nothing for a pass (tag-pass.eml) or an
#	   unsigned message (plain.eml).  At LogLevel info the pass is logged
#	   (the control: the line exists and only its level hides it).
#	2. The daemon in the foreground on a unix socket logs its start line
#	   with the version, the configuration file and the socket, and on
#	   SIGTERM its stop line with the version and the configuration
#	   file, and exits 0.
#	Prints one line per failure and "N passed, N failed"; exit 0 only
#	when nothing failed.  Needs the built daemon and python3.
#
# ENVIRONMENT
#	top_srcdir, top_builddir	default: the directory above this one
#	SMIME_MILTER	the daemon (default $top_builddir/milter/smime-milter)

set -u
. "$(dirname "$0")/testlib.sh"
DATA=$top_srcdir/tests/data
W=$top_builddir/tests/work/log_notice

rm -rf "$W"
mkdir -p "$W" || exit 99
PY=${PYTHON3:-python3}
if ! command -v "$PY" >/dev/null 2>&1; then
	echo "log_notice.sh: no python3 (Debian package python3)" >&2
	exit 99
fi
version=$("$MILTER" -V | sed -n '1s/^smime-milter //p')
[ -n "$version" ] || { echo "log_notice.sh: no version from -V" >&2; exit 99; }

# conf LEVEL: a configuration in $W/LEVEL.conf.
conf() {
	cat >"$W/$1.conf" <<EOF
Mode v
AuthservID mx.test.example
TrustAnchorFile $DATA/tag-root.pem
InternalHosts none
LogLevel $1
EOF
}
conf notice
conf info

# logged LEVEL EML WANT: -t at LogLevel LEVEL writes exactly the line
# WANT to standard error ("" for nothing at all).
logged() {
	name=$(basename "$2" .eml)
	"$MILTER" -c "$W/$1.conf" -t "$2" >"$W/$name.out" 2>"$W/$name.err"
	rc=$?
	got=$(cat "$W/$name.err")
	if [ "$rc" -ne 0 ]; then
		fail "$1 $name" "exit $rc: $got"
	elif [ -z "$3" ] && [ -n "$got" ]; then
		fail "$1 $name" "logged at LogLevel $1: $got"
	elif [ -n "$3" ]; then
		case $got in
		"smime-milter: TEST: $3"*) pass ;;
		*) fail "$1 $name" "want \"$3...\", got \"$got\"" ;;
		esac
	else
		pass
	fi
}

in="event=message dir=in client=192.0.2.1"
logged notice "$DATA/tag-fail.eml" "$in result=fail signer=tag@example.org"
logged notice "$DATA/garbage-p7s.eml" "$in result=permerror"
logged notice "$DATA/tag-pass.eml" ""
logged notice "$DATA/plain.eml" ""
logged info "$DATA/tag-pass.eml" "$in result=pass signer=tag@example.org"

# 2. The daemon's start and stop lines.
sock=$W/milter.sock
"$MILTER" -f -c "$W/notice.conf" -p "unix:$sock" >"$W/daemon.out" \
    2>"$W/daemon.err" &
pid=$!
i=0
while [ ! -S "$sock" ] && [ $i -lt 300 ] && kill -0 "$pid" 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
# The socket exists before libmilter's listener runs: wait until it
# answers an option negotiation, so the daemon stopped is one that served
# (a SIGTERM before that is tests/daemon.sh's business).
answers() {
	"$PY" - "$sock" <<'EOF2'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(60)
s.connect(sys.argv[1])
data = b"O" + struct.pack(">III", 6, 0x1FF, 0)
s.sendall(struct.pack(">I", len(data)) + data)
head = s.recv(5)
sys.exit(0 if len(head) == 5 and head[4:5] == b"O" else 1)
EOF2
}
if [ ! -S "$sock" ]; then
	kill "$pid" 2>/dev/null
	wait "$pid"
	fail daemon "did not listen on $sock: $(cat "$W/daemon.err")"
elif ! answers; then
	kill "$pid" 2>/dev/null
	wait "$pid"
	fail daemon "no option negotiation on $sock: $(cat "$W/daemon.err")"
else
	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	start="smime-milter: event=start status=listening version=$version config=$W/notice.conf socket=unix:$sock pid=$pid"
	stop="smime-milter: event=stop status=stopped version=$version config=$W/notice.conf"
	if [ "$rc" -ne 0 ]; then
		fail daemon "exit $rc after SIGTERM: $(cat "$W/daemon.err")"
	elif ! grep -qxF "$start" "$W/daemon.err"; then
		fail daemon "no \"$start\" in: $(cat "$W/daemon.err")"
	elif ! grep -qxF "$stop" "$W/daemon.err"; then
		fail daemon "no \"$stop\" in: $(cat "$W/daemon.err")"
	else
		pass
	fi
fi

test_summary || exit 1
rm -rf "$W"
