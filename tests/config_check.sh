#!/bin/sh
# config_check.sh - `smime-milter -n` finds what used to fail only later.
#
# SYNOPSIS
#	tests/config_check.sh		(make check runs it)
#
# DESCRIPTION
#	Each case writes a configuration and runs `smime-milter -n -c` on
#	it: a PidFile or StatsFile in a missing directory, Mode sv or vd
#	without a Keystore (an error; the default Mode only warns), files unreadable by
#	UserID and a SpoolDirectory it cannot write (found at the first
#	SIGHUP or spill before), the default SpoolDirectory checked only when
#	the file does not replace it (in a mount namespace without /var/tmp),
#	and warnings with exit 0 for a keystore entry expiring within 30 days
#	and a CRL past its nextUpdate; -n -v prints every key with its value
#	and source.  Credentials expiring within 30 days, decryption-only
#	ones too but not expired ones: smime-keystore check, -n, and the
#	daemon's line at start, at a reload and each day.  Certificates and CRLs are made here
#	with certtool.  And smime-milter.conf(5) renders UserID's syntax as
#	"user[:group] (default: none)".
#
#	The UserID and namespace cases need root; as another user they are
#	reported as SKIP and the script exits 77 (automake's skip) unless
#	something failed.  Missing tools fail naming their Debian package.

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
M=$top_builddir/milter/smime-milter
K=$top_builddir/milter/smime-keystore
CERTTOOL=${CERTTOOL:-certtool}
pass=0 fail=0 skip=0

ok() { pass=$((pass + 1)); echo "PASS: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
skipped() { skip=$((skip + 1)); echo "SKIP: $*"; }

command -v "$CERTTOOL" >/dev/null 2>&1 || {
    echo "FAIL: certtool not found (install the Debian package gnutls-bin)"
    exit 1
}
[ -x "$M" ] && [ -x "$K" ] || { echo "FAIL: $M or $K not built"; exit 1; }
T=$(mktemp -d /tmp/smime-nchk.XXXXXX) || exit 1
chmod 0755 "$T"
trap 'rm -rf "$T"' EXIT

# check NAME WANT-EXIT PATTERN: -n on $T/NAME.conf exits WANT-EXIT and
# prints a line matching PATTERN (grep -E) after "$T/NAME.conf:"; an
# empty PATTERN: prints nothing.
check() {
    "$M" -n -c "$T/$1.conf" >"$T/$1.out" 2>&1
    rc=$?
    if [ -z "$3" ]; then
        if [ "$rc" -eq "$2" ] && [ ! -s "$T/$1.out" ]; then
            ok "$1: exit $rc, nothing to say"
        else
            bad "$1: exit $rc (want $2): $(cat "$T/$1.out")"
        fi
    elif [ "$rc" -eq "$2" ] && grep -E -q "^$T/$1.conf:$3" "$T/$1.out"; then
        ok "$1: exit $rc: $(grep -E "^$T/$1.conf:$3" "$T/$1.out" | head -n 1)"
    else
        bad "$1: exit $rc (want $2), want \"$3\": $(cat "$T/$1.out")"
    fi
}

# conf NAME LINE...: $T/NAME.conf, Socket on line 1, Mode v on line 2
# unless a LINE sets Mode.
conf() {
    _n=$1; shift
    {
        echo "Socket unix:$T/m.sock"
        case "$*" in *Mode*) ;; *) echo "Mode v" ;; esac
        for l in "$@"; do echo "$l"; done
    } >"$T/$_n.conf"
    chmod 0644 "$T/$_n.conf"
}

# --- a test PKI: a root, a signer expiring in 10 days, a stale CRL -----
ct() { "$CERTTOOL" "$@" >/dev/null 2>&1 || bad "certtool $*"; }
ct --generate-privkey --key-type ecdsa --outfile "$T/ca.key"
cat >"$T/ca.tmpl" <<EOF
cn = "Check Root"
ca
cert_signing_key
crl_signing_key
expiration_days = 3650
EOF
ct --generate-self-signed --load-privkey "$T/ca.key" \
    --template "$T/ca.tmpl" --outfile "$T/ca.pem"
ct --generate-privkey --key-type ecdsa --outfile "$T/alice.key"
cat >"$T/alice.tmpl" <<EOF
cn = "Alice"
email = "alice@example.org"
signing_key
key_agreement
email_protection_key
expiration_days = 10
EOF
ct --generate-certificate --load-privkey "$T/alice.key" \
    --load-ca-certificate "$T/ca.pem" --load-ca-privkey "$T/ca.key" \
    --template "$T/alice.tmpl" --outfile "$T/alice.crt"
cat "$T/alice.key" "$T/alice.crt" >"$T/alice.pem"
echo "alice@example.org alice.pem" >"$T/ks.src"
"$K" build "$T/ks.src" "$T/ks.cdb" >"$T/build.out" 2>&1 ||
    bad "smime-keystore build: $(cat "$T/build.out")"
# bob: a decryption-only credential (no signing credential at all)
ct --generate-privkey --key-type rsa --bits 2048 --outfile "$T/bob.key"
cat >"$T/bob.tmpl" <<EOF
cn = "Bob"
email = "bob@example.org"
encryption_key
email_protection_key
expiration_days = 3650
EOF
ct --generate-certificate --load-privkey "$T/bob.key" \
    --load-ca-certificate "$T/ca.pem" --load-ca-privkey "$T/ca.key" \
    --template "$T/bob.tmpl" --outfile "$T/bob.crt"
cat "$T/bob.key" "$T/bob.crt" >"$T/bob.pem"
echo "bob@example.org bob.pem" >"$T/ksdec.src"
"$K" build "$T/ksdec.src" "$T/ksdec.cdb" >"$T/build.out" 2>&1 ||
    bad "smime-keystore build (decryption only): $(cat "$T/build.out")"
cat >"$T/crl.tmpl" <<EOF
crl_number = 7
crl_this_update_date = "2020-01-01 00:00:00 UTC"
crl_next_update_date = "2020-02-01 00:00:00 UTC"
EOF
ct --generate-crl --load-ca-certificate "$T/ca.pem" \
    --load-ca-privkey "$T/ca.key" --template "$T/crl.tmpl" \
    --outfile "$T/stale.crl"

# --- the control: a good configuration -----------------------------------
conf good "TrustAnchorFile $T/ca.pem"
check good 0 ""

# --- warnings, exit 0 ------------------------------------------------------
conf expiring "Mode sv" "TrustAnchorFile $T/ca.pem" "Keystore $T/ks.cdb"
check expiring 0 "4: warning: Keystore: alice@example.org: certificate expires in (9|10) days"
# an entry without a signing credential has no expiry to warn about
# (-n used to crash on it)
conf decryptonly "Mode sv" "TrustAnchorFile $T/ca.pem" "Keystore $T/ksdec.cdb"
check decryptonly 0 ""
conf stalecrl "TrustAnchorFile $T/ca.pem" "CRLFile $T/stale.crl"
check stalecrl 0 "4: warning: CRLFile: $T/stale.crl: the CRL of CN=Check Root is past its nextUpdate \\(2020-02-01T00:00:00Z\\)"

# --- errors, exit 1 --------------------------------------------------------
conf pidfile "TrustAnchorFile $T/ca.pem" "PidFile $T/no-such-dir/m.pid"
check pidfile 1 "4: PidFile: directory $T/no-such-dir: No such file"
conf statsfile "TrustAnchorFile $T/ca.pem" "StatsFile $T/no-such-dir/stats"
check statsfile 1 "4: StatsFile: directory $T/no-such-dir: No such file"
conf nokeystore "Mode sv" "TrustAnchorFile $T/ca.pem"
check nokeystore 1 "2: Mode has s \\(sign\\) but no Keystore is given"
conf nokeystore_d "Mode vd" "TrustAnchorFile $T/ca.pem"
check nokeystore_d 1 "2: Mode has d \\(decrypt\\) but no Keystore is given"
conf nocertstore_e "Mode ve" "TrustAnchorFile $T/ca.pem"
check nocertstore_e 1 "2: Mode has e \\(encrypt\\) but no CertificateStore is given"
{ echo "Socket unix:$T/m.sock"; echo "TrustAnchorFile $T/ca.pem"; } \
    >"$T/defaultmode.conf"
check defaultmode 0 " warning: Mode \\(the default sv\\) has s"

# --- as UserID -------------------------------------------------------------
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
    cp "$T/ca.pem" "$T/private-ca.pem"
    chmod 0600 "$T/private-ca.pem"
    conf unreadable "TrustAnchorFile $T/private-ca.pem" "UserID nobody"
    check unreadable 1 "3: TrustAnchorFile: $T/private-ca.pem is not readable by UserID nobody .*Permission denied"
    cp "$T/stale.crl" "$T/private.crl"
    chmod 0600 "$T/private.crl"
    conf unreadablecrl "TrustAnchorFile $T/ca.pem" "CRLFile $T/private.crl" \
        "UserID nobody"
    check unreadablecrl 1 "4: CRLFile: $T/private.crl is not readable by UserID nobody"
    mkdir "$T/spool" && chmod 0755 "$T/spool"
    conf spool "TrustAnchorFile $T/ca.pem" "SpoolDirectory $T/spool" \
        "UserID nobody"
    check spool 1 "4: SpoolDirectory: $T/spool is not writable by UserID nobody"
    conf ownconf "TrustAnchorFile $T/ca.pem" "UserID nobody"
    chmod 0600 "$T/ownconf.conf"
    check ownconf 1 " not readable by UserID nobody \\(it is read again on SIGHUP\\)"
    chmod 0644 "$T/ownconf.conf"
    check ownconf 0 ""
else
    skipped "UserID readability checks need root"
fi

# --- the default SpoolDirectory is checked only when the file keeps it ----
if [ "$(id -u)" -eq 0 ] && unshare -m true 2>/dev/null; then
    conf spooltmp "TrustAnchorFile $T/ca.pem" "SpoolDirectory $T"
    conf spooldefault "TrustAnchorFile $T/ca.pem"
    # /var without tmp: a tmpfs over it in a private mount namespace
    unshare -m sh -c 'mount --make-rprivate / && mount -t tmpfs none /var &&
        "$1" -n -c "$2/spooltmp.conf" >"$2/spooltmp.out" 2>&1
        echo $? >"$2/spooltmp.rc"
        "$1" -n -c "$2/spooldefault.conf" >"$2/spooldefault.out" 2>&1
        echo $? >"$2/spooldefault.rc"' sh "$M" "$T"
    if [ "$(cat "$T/spooltmp.rc" 2>/dev/null)" = 0 ]; then
        ok "SpoolDirectory in the file, default /var/tmp missing: exit 0"
    else
        bad "SpoolDirectory in the file, /var/tmp missing: $(cat "$T/spooltmp.out")"
    fi
    if [ "$(cat "$T/spooldefault.rc" 2>/dev/null)" = 1 ] &&
        grep -q "SpoolDirectory: /var/tmp (the default) is not a directory" "$T/spooldefault.out"
    then
        ok "default SpoolDirectory missing: $(cat "$T/spooldefault.out")"
    else
        bad "default SpoolDirectory missing: $(cat "$T/spooldefault.out")"
    fi
else
    skipped "the missing /var/tmp case needs root and unshare -m (util-linux)"
fi

# --- expiring credentials of every purpose: check, -n and the daemon -------
# bob: a decryption-only key (RSA: certtool adds digitalSignature to EC
# keys) expiring in 10 days (a warning) and an expired
# one kept for old mail (none)
ct --generate-privkey --key-type rsa --bits 2048 --outfile "$T/bob.key"
cat >"$T/bobdec.tmpl" <<EOF
cn = "Bob"
serial = 0x0b0b01
email = "bob@example.org"
encryption_key
email_protection_key
expiration_days = 10
EOF
cat >"$T/bobold.tmpl" <<EOF
cn = "Bob"
serial = 0x0b0b02
email = "bob@example.org"
encryption_key
email_protection_key
activation_date = "2001-01-01 00:00:00 UTC"
expiration_date = "2002-01-01 00:00:00 UTC"
EOF
for b in bobdec bobold; do
    ct --generate-certificate --load-privkey "$T/bob.key" \
        --load-ca-certificate "$T/ca.pem" --load-ca-privkey "$T/ca.key" \
        --template "$T/$b.tmpl" --outfile "$T/$b.crt"
    cat "$T/bob.key" "$T/$b.crt" >"$T/$b.pem"
done
printf 'alice@example.org alice.pem\nbob@example.org bobdec.pem\nbob@example.org bobold.pem\n' \
    >"$T/ks2.src"
"$K" build "$T/ks2.src" "$T/ks2.cdb" >"$T/build2.out" 2>&1 ||
    bad "smime-keystore build ks2: $(cat "$T/build2.out")"
"$K" check "$T/ks2.cdb" >"$T/kcheck.out" 2>&1
rc=$?
if [ "$rc" -eq 0 ] &&
   grep -q "^$T/ks2.cdb: bob@example.org: warning: certificate expires in [0-9]* days (.*serial 0b0b01, for decrypt)" "$T/kcheck.out" &&
   ! grep -q "0b0b02" "$T/kcheck.out" &&
   grep -q "2 expiring within 30 days" "$T/kcheck.out"; then
    ok "check: a decryption-only key expiring soon warns, an expired one not"
else
    bad "check: exit $rc: $(cat "$T/kcheck.out")"
fi
conf expiring2 "Mode sv" "TrustAnchorFile $T/ca.pem" "Keystore $T/ks2.cdb"
check expiring2 0 "4: warning: Keystore: bob@example.org: certificate expires in (9|10) days .* \\(decryption\\)"

# the daemon: a line per expiring credential at start, at a reload and
# once a "day" (SMIME_MILTER_TEST_DAY seconds, HACKING.md); bounded waits
conf daemon "Mode sv" "TrustAnchorFile $T/ca.pem" "Keystore $T/ks2.cdb"
sed -i "s|^Socket .*|Socket unix:$T/d.sock|" "$T/daemon.conf"
# count_until FILE PATTERN N: wait (at most 30 s) for N lines matching;
# FILE may not exist yet (the daemon's shell opens it after the fork)
count_lines() { _n=$(grep -c -- "$2" "$1" 2>/dev/null); echo "${_n:-0}"; }
count_until() {
    _i=0
    while [ "$(count_lines "$1" "$2")" -lt "$3" ] && [ $_i -lt 300 ]; do
        sleep 0.1; _i=$((_i + 1))
    done
    [ "$(count_lines "$1" "$2")" -ge "$3" ]
}
bobline="event=keystore status=expiring address=bob@example.org serial=0b0b01 purpose=decrypt note=\"certificate expires in"
"$M" -f -c "$T/daemon.conf" >"$T/daemon.log" 2>&1 &
dpid=$!
# (logged by the running daemon's walk, not printed by a walk before it
# serves as -n does: a keystore of a million addresses takes a while)
if count_until "$T/daemon.log" "$bobline" 1 &&
   count_until "$T/daemon.log" "address=alice@example.org .*purpose=sign,decrypt" 1 &&
   ! grep -q "warning: Keystore" "$T/daemon.log"
then
    ok "daemon: expiring credentials logged at start"
else
    bad "daemon: no expiry lines at start: $(cat "$T/daemon.log")"
fi
kill -HUP "$dpid"
if count_until "$T/daemon.log" "event=reload status=reloaded" 1 &&
   count_until "$T/daemon.log" "$bobline" 2; then
    ok "daemon: logged again at a reload"
else
    bad "daemon: not logged at reload: $(cat "$T/daemon.log")"
fi
kill "$dpid"; wait "$dpid" 2>/dev/null
SMIME_MILTER_TEST_DAY=1 "$M" -f -c "$T/daemon.conf" >"$T/daemon2.log" 2>&1 &
dpid=$!
if count_until "$T/daemon2.log" "$bobline" 3; then
    ok "daemon: logged again each day (a test day of 1 s)"
else
    bad "daemon: no daily line: $(cat "$T/daemon2.log")"
fi
kill "$dpid"; wait "$dpid" 2>/dev/null
# a SIGUSR1 during the walk is answered between two addresses, not after
# the walk (half a minute at a million addresses), and only once: the
# hidden SMIME_MILTER_TEST_WALK_PAUSE (HACKING.md) makes the walk wait
# 3 s after each address; USR1 once the first line is out
SMIME_MILTER_TEST_WALK_PAUSE=3000 "$M" -f -c "$T/daemon.conf" >"$T/daemon3.log" 2>&1 &
dpid=$!
if count_until "$T/daemon3.log" "status=expiring" 1; then
    kill -USR1 "$dpid"
    count_until "$T/daemon3.log" "status=expiring" 2
    sleep 0.5
    first_stats=$(grep -n "event=stats" "$T/daemon3.log" | head -1 | cut -d: -f1)
    last_exp=$(grep -n "status=expiring" "$T/daemon3.log" | tail -1 | cut -d: -f1)
    if [ "$(count_lines "$T/daemon3.log" "event=stats")" = 1 ] &&
       [ -n "$first_stats" ] && [ "$first_stats" -lt "$last_exp" ]; then
        ok "daemon: SIGUSR1 answered during the keystore walk, once"
    else
        bad "daemon: SIGUSR1 waited for the walk or was answered twice: $(cat "$T/daemon3.log")"
    fi
else
    bad "daemon: no expiry line with a walk pause: $(cat "$T/daemon3.log")"
fi
kill "$dpid"; wait "$dpid" 2>/dev/null
if grep -q "0b0b02" "$T/daemon.log" "$T/daemon2.log"; then
    bad "daemon: the expired decryption key was logged"
else
    ok "daemon: the expired decryption key kept for old mail is not logged"
fi

# --- -n -v: the effective configuration, with where each value came from ---
conf dump "AuthservID mx.example.net" "TrustAnchorFile $T/ca.pem" \
    "TrustAnchorFile = $T/ca.pem  # twice" "LogLevel debug"
"$M" -n -v -c "$T/dump.conf" >"$T/dump.out" 2>"$T/dump.err"
rc=$?
# judged by hand from the format of smime-milter(8) -v
cat >"$T/dump.want" <<EOF
Socket unix:$T/m.sock  # $T/dump.conf:1
Mode v  # $T/dump.conf:2
AuthservID mx.example.net  # $T/dump.conf:3
TrustAnchorFile $T/ca.pem  # $T/dump.conf:4
TrustAnchorFile $T/ca.pem  # $T/dump.conf:5
TrustSystemStore no  # default
#Keystore  # default: none
SpoolThreshold 1048576  # default
LogLevel debug  # $T/dump.conf:6
EOF
missing=$(grep -v -x -F -f "$T/dump.out" "$T/dump.want")
if [ "$rc" -eq 0 ] && [ ! -s "$T/dump.err" ] && [ -z "$missing" ]; then
    ok "-n -v: sources and values"
else
    bad "-n -v: exit $rc, missing: $missing; got: $(cat "$T/dump.out" "$T/dump.err")"
fi
# every key of smime-milter.conf(5) once (TrustAnchorFile: once per value)
sed -n 's/^\.It Cm \([A-Za-z0-9]*\) .*/\1/p' \
    "$top_srcdir/man/smime-milter.conf.5" | sort >"$T/keys.man"
sed 's/^#//; s/[ =].*//' "$T/dump.out" | sort -u >"$T/keys.dump"
n_lines=$(wc -l <"$T/dump.out")
n_keys=$(wc -l <"$T/keys.man")
if cmp -s "$T/keys.man" "$T/keys.dump" && [ "$n_lines" -eq $((n_keys + 1)) ]
then
    ok "-n -v: all $n_keys keys of smime-milter.conf(5), one line each"
else
    bad "-n -v: keys differ from the man page ($n_lines lines): $(diff "$T/keys.man" "$T/keys.dump")"
fi
# -p replaces Socket; the output loads as a configuration with the same
# values (only the sources change)
"$M" -n -v -c "$T/dump.conf" -p inet:8891@127.0.0.1 >"$T/dump-p.out" 2>&1
if grep -q -x -F 'Socket inet:8891@127.0.0.1  # -p' "$T/dump-p.out" &&
   ! grep -q "^Socket unix" "$T/dump-p.out"; then
    ok "-n -v -p: Socket from -p"
else
    bad "-n -v -p: $(grep Socket "$T/dump-p.out")"
fi
cp "$T/dump.out" "$T/again.conf"
"$M" -n -v -c "$T/again.conf" >"$T/again.out" 2>&1
sed 's/  # .*//' "$T/dump.out" >"$T/dump.values"
sed 's/  # .*//' "$T/again.out" >"$T/again.values"
if cmp -s "$T/dump.values" "$T/again.values"; then
    ok "-n -v: the output is a configuration with the same values"
else
    bad "-n -v: reloaded output differs: $(diff "$T/dump.values" "$T/again.values")"
fi
"$M" -v -c "$T/dump.conf" >"$T/vonly.out" 2>&1
rc=$?
if [ "$rc" -eq 64 ]; then
    ok "-v without -n: usage error"
else
    bad "-v without -n: exit $rc: $(cat "$T/vonly.out")"
fi

# --- the man page shows UserID's syntax with its bracket closed -------------
if command -v mandoc >/dev/null 2>&1; then
    mandoc -T ascii "$top_srcdir/man/smime-milter.conf.5" 2>/dev/null |
        sed 's/.\x08//g' >"$T/conf5.txt"
    if grep -q 'UserID user\[:group\] (default: none)' "$T/conf5.txt"; then
        ok "man: UserID user[:group] (default: none)"
    else
        bad "man: $(grep 'UserID user' "$T/conf5.txt")"
    fi
else
    bad "mandoc not found (install the Debian package mandoc)"
fi

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] || exit 1
[ "$skip" -eq 0 ] || exit 77
exit 0
