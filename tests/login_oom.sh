#!/bin/sh
# login_oom.sh - a SASL login the daemon cannot keep tempfails the message.
#
# SYNOPSIS
#	tests/login_oom.sh	(make check)
#
# DESCRIPTION
#	Issue 10 item 19: when the {auth_authen} macro could not be stored
#	(out of memory), an authenticated submission looked like mail
#	without a login (unsigned, or signed by the +internal rule); it must
#	be tempfailed at end of message instead.  The daemon runs with
#	tests/strdup_fail.so preloaded, failing strdup() of the login
#	"oom-login" only, and a milter-protocol client (python3) sends a
#	message from alice@example.org with {auth_authen} set:
#	  control   STRDUP_FAIL unset: the message is signed (body replaced);
#	  lost      STRDUP_FAIL=oom-login: 451 4.3.0 at end of message and an
#	            "out of memory keeping the SASL login" log line.
#	Prints PASS/FAIL lines; exit 0 only when all passed.

set -u
. "$(dirname "$0")/testlib.sh"
SHIM=$top_builddir/tests/strdup_fail.so
KS=$top_builddir/milter/smime-keystore
PKI=$top_builddir/tests/work/pki

command -v python3 >/dev/null 2>&1 || {
	echo "FAIL: python3 not found (install the Debian package python3)"; exit 1; }
[ -f "$SHIM" ] || { echo "FAIL: $SHIM not built"; exit 1; }
sh "$top_srcdir/tests/pki/mkpki.sh" "$PKI" >/dev/null || {
	echo "FAIL: cannot make the test PKI"; exit 1; }
T=$(mktemp -d /tmp/smime-login-oom.XXXXXX) || exit 1
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

echo "alice@example.org $PKI/alice.pem oom-login" >"$T/ks.src"
"$KS" build "$T/ks.src" "$T/ks.cdb" >"$T/ks.log" 2>&1 || {
	echo "FAIL: smime-keystore build: $(cat "$T/ks.log")"; exit 1; }
cat >"$T/m.conf" <<EOC
Socket unix:$T/m.sock
Mode s
Keystore $T/ks.cdb
TrustAnchorFile $PKI/roots.pem
SpoolDirectory $T
EOC

# client: one message from alice with {auth_authen}=oom-login; prints the
# end-of-message reply: "replbody REPLY" or "keep REPLY"
client() {
	python3 - "$T/m.sock" <<'EOPY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
s.connect(sys.argv[1])
def send(cmd, data=b""):
    s.sendall(struct.pack(">I", len(data) + 1) + cmd + data)
def read(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            sys.exit("closed")
        b += c
    return b
def recv():
    n = struct.unpack(">I", read(4))[0]
    p = read(n)
    return p[:1], p[1:]
def expect(cmd, data=b""):
    send(cmd, data)
    r, d = recv()
    if r not in (b"c", b"O"):
        print("early", r.decode(), d.decode(errors="replace").strip("\0"))
        sys.exit(0)
expect(b"O", struct.pack(">III", 6, 0x1FF, 0))
expect(b"C", b"localhost\0" + b"4" + struct.pack(">H", 587) + b"127.0.0.1\0")
expect(b"H", b"localhost\0")
send(b"D", b"M" + b"{auth_authen}\0oom-login\0")
expect(b"M", b"<alice@example.org>\0")
expect(b"R", b"<bob@example.net>\0")
for n, v in ((b"From", b"alice@example.org"), (b"To", b"bob@example.net"),
             (b"Subject", b"login oom"), (b"MIME-Version", b"1.0"),
             (b"Content-Type", b"text/plain")):
    expect(b"L", n + b"\0" + v + b"\0")
expect(b"N")
expect(b"B", b"Hello Bob.\r\n")
send(b"E")
body = False
while True:
    r, d = recv()
    if r == b"b":
        body = True
    elif r in (b"a", b"c", b"t", b"r", b"d", b"y"):
        print("replbody" if body else "keep", r.decode(),
              d.decode(errors="replace").strip("\0"))
        break
send(b"Q")
EOPY
}

# run NAME [STRDUP_FAIL]: the daemon with the shim, one message; $got
run() {
	rm -f "$T/m.sock"
	# the shim comes before ASan's runtime in a sanitizer build
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
	LD_PRELOAD=$SHIM STRDUP_FAIL=${2:-} \
	    "$MILTER" -f -c "$T/m.conf" >"$T/$1.log" 2>&1 &
	pid=$!
	n=0
	while [ ! -S "$T/m.sock" ] && [ $n -lt 300 ]; do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1; n=$((n + 1))
	done
	got=$(client 2>&1)
	kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=
}

run control
case $got in
"replbody a"*|"replbody c"*) pass ;;
*) fail control "want the message signed (body replaced), got: $got; log: $(cat "$T/control.log")" ;;
esac
run lost oom-login
case $got in
"keep y 451 4.3.0"*)
	if grep -q 'out of memory keeping the SASL login' "$T/lost.log"; then pass
	else fail lost "no log line: $(cat "$T/lost.log")"; fi ;;
*) fail lost "want 451 4.3.0 at end of message, got: $got; log: $(cat "$T/lost.log")" ;;
esac
test_summary
