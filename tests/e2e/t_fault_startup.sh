#!/bin/sh
# t_fault_startup - the daemon refuses to start, and -n reports the
# problem as FILE:LINE: message with exit 1, when the TrustAnchorFile is
# missing, a directory, not PEM certificates, or unreadable by the user
# the daemon runs as; and when the keystore is readable by group or
# others, or owned by another user than UserID.  A refused start never
# listens.  Runs its own daemons on a spare port (not the suite's).
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter

D=$(mktemp -d /tmp/smime-e2e-startup.XXXXXX) || e2e_fail "mktemp"
chmod 0755 "$D"
e2e_at_exit 'rm -rf "$D"'
port=$(e2e_free_ports 1)
cp "$E2E_PKI/roots.pem" "$D/roots.pem"
chmod 0644 "$D/roots.pem"

# conf NAME TRUST [EXTRA-LINE]: a configuration in $D/NAME.conf.
conf() {
    {
        echo "Socket inet:$port@127.0.0.1"
        echo "Mode ${4:-v}"
        echo "AuthservID $E2E_AUTHSERV"
        echo "TrustAnchorFile $2"
        [ -z "${3:-}" ] || echo "$3"
    } >"$D/$1.conf"
    chmod 0644 "$D/$1.conf"
}

# refused NAME PATTERN [RUNAS]: -n and a start both fail, saying PATTERN
# on the configuration line at fault; the start never listens.
refused() {
    run=
    [ -z "${3:-}" ] || run="runuser -u $3 --"
    $run "$SMIME_MILTER" -n -c "$D/$1.conf" >"$D/$1.n" 2>&1 &&
        e2e_fail "$1: -n accepted it"
    grep -q "^$D/$1.conf:[0-9]*: .*$2" "$D/$1.n" ||
        e2e_fail "$1: -n does not say FILE:LINE: ...$2: $(cat "$D/$1.n")"
    $run timeout 20 "$SMIME_MILTER" -f -c "$D/$1.conf" >"$D/$1.start" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then
        e2e_fail "$1: the daemon started (exit $rc): $(cat "$D/$1.start")"
    fi
    grep -q -- "$2" "$D/$1.start" ||
        e2e_fail "$1: start failed without saying why: $(cat "$D/$1.start")"
    ! e2e_wait_port "$port" 0.2 || e2e_fail "$1: something listens on $port"
    e2e_pass "$1: exit $rc; $(head -n 1 "$D/$1.n")"
}

conf missing "$D/no-such-roots.pem"
refused missing "cannot read .*No such file"
mkdir "$D/adir"
conf directory "$D/adir"
refused directory "cannot read .*Is a directory"
cp "$E2E_PKI/alice.key" "$D/not-pem-certs.pem"
conf garbage "$D/not-pem-certs.pem"
refused garbage "no PEM certificate"
cp "$D/roots.pem" "$D/private-roots.pem"
chmod 0600 "$D/private-roots.pem"
conf unreadable "$D/private-roots.pem"
refused unreadable "cannot read .*Permission denied" nobody

# Keystores.
"$top_builddir/milter/smime-keystore" build "$E2E_DIR/keystore.src" "$D/ks.cdb" \
    >/dev/null 2>&1 || e2e_fail "smime-keystore build failed"
chmod 0644 "$D/ks.cdb"
conf ks-mode "$D/roots.pem" "Keystore $D/ks.cdb" sv
refused ks-mode "accessible to group or others .*chmod 600"
chmod 0600 "$D/ks.cdb"
conf ks-owner "$D/roots.pem" "Keystore $D/ks.cdb
UserID nobody" sv
refused ks-owner "owned by uid 0, not by UserID nobody.*chown nobody"

# The control: the same files, fixed, are accepted.
chown nobody "$D/ks.cdb"
"$SMIME_MILTER" -n -c "$D/ks-owner.conf" >"$D/ok.n" 2>&1 ||
    e2e_fail "a good configuration is refused: $(cat "$D/ok.n")"
e2e_pass "fixed (keystore 0600, owned by UserID): -n exit 0"
