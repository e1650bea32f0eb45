#!/bin/sh
# certstore.sh - smime-certstore(8) from the outside: import of PEM, DER
# and PKCS#7 (PEM and DER) files made by openssl and certtool from the
# test PKI, list, export (judged by openssl x509), delete by serial,
# check with and without -c against expired, not yet valid, revoked and untrusted
# certificates, error messages and exit codes, two imports at once, a
# writer killed with SIGKILL in the middle of an import, and
# smime-milter -n opening CertificateStore.
#
# Prints "N passed, N failed" and exits 1 when anything failed.
set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
OPENSSL=${OPENSSL:-openssl}
CERTTOOL=${CERTTOOL:-certtool}
CS=$top_builddir/milter/smime-certstore
MILTER=$top_builddir/milter/smime-milter
PKI=$top_builddir/tests/work/pki
W=$top_builddir/tests/work/certstore-sh

for t in "$OPENSSL:openssl" "$CERTTOOL:gnutls-bin"; do
	command -v "${t%%:*}" >/dev/null 2>&1 || {
		echo "certstore.sh: ${t%%:*} missing: install ${t#*:}" >&2
		exit 1; }
done
sh "$top_srcdir/tests/pki/mkpki.sh" "$PKI" >/dev/null || {
	echo "certstore.sh: cannot make the test PKI" >&2; exit 1; }
rm -rf "$W"
mkdir -p "$W"
S=$W/store.mdb

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
notok() { failed=$((failed + 1)); echo "not ok - $1"; sed 's/^/    /' "$W/out"; }
# expect NAME STATUS PATTERN COMMAND...: COMMAND exits STATUS and its
# output (stdout and stderr) matches the grep -E PATTERN ('' for any).
expect() {
	name=$1 want=$2 pat=$3
	shift 3
	"$@" >"$W/out" 2>&1
	got=$?
	if [ "$got" -ne "$want" ]; then
		echo "    exit $got, expected $want" >>"$W/out"
		notok "$name"
	elif [ -n "$pat" ] && ! grep -Eq -- "$pat" "$W/out"; then
		echo "    output does not match: $pat" >>"$W/out"
		notok "$name"
	else
		ok "$name"
	fi
}
serial() { awk -v n="$1" '$1 == n { print $2 }' "$PKI/serials.txt"; }
der() { "$OPENSSL" x509 -in "$1" -outform DER; }

# --- input files in every format ---
"$OPENSSL" x509 -in "$PKI/encrsa.crt" -outform DER -out "$W/encrsa.der"
"$OPENSSL" crl2pkcs7 -nocrl -certfile "$PKI/bob.chain.pem" -out "$W/bob.p7b"
"$OPENSSL" crl2pkcs7 -nocrl -certfile "$PKI/encec.chain.pem" \
    -outform DER -out "$W/encec.p7b"
cat "$PKI/alice.chain.pem" "$PKI/ecdsa.crt" >"$W/mixed.pem"
echo "not a certificate" >"$W/junk.txt"
# one certificate for three addresses (keyEncipherment only)
cat >"$W/multi.tmpl" <<EOF
cn = "Multi"
serial = 0x2001
email = "one@multi.example"
email = "Two@Multi.example"
email = "three@multi.example"
encryption_key
email_protection_key
activation_date = "2020-01-01 00:00:00 UTC"
expiration_date = "2099-12-31 23:59:59 UTC"
EOF
"$CERTTOOL" --generate-certificate --no-text --load-privkey "$PKI/encrsa.key" \
    --load-ca-certificate "$PKI/inter.crt" --load-ca-privkey "$PKI/inter.key" \
    --template "$W/multi.tmpl" --outfile "$W/multi.pem" >/dev/null 2>&1 ||
	{ echo "certstore.sh: certtool failed" >&2; exit 1; }

# not valid before 2090
sed -e 's/^cn = .*/cn = "Future"/' -e 's/^serial = .*/serial = 0x2002/' \
    -e '/^email/d' -e 's/2020-01-01/2090-01-01/' "$W/multi.tmpl" >"$W/future.tmpl"
echo 'email = "future@example.org"' >>"$W/future.tmpl"
"$CERTTOOL" --generate-certificate --no-text --load-privkey "$PKI/encrsa.key" \
    --load-ca-certificate "$PKI/inter.crt" --load-ca-privkey "$PKI/inter.key" \
    --template "$W/future.tmpl" --outfile "$W/future.pem" >/dev/null 2>&1 ||
	{ echo "certstore.sh: certtool failed" >&2; exit 1; }
cat "$PKI/inter.crt" >>"$W/future.pem"

# --- usage ---
expect "no arguments: usage, exit 2" 2 "usage: smime-certstore import" "$CS"
expect "unknown command: exit 2" 2 "usage" "$CS" frob "$S"
expect "-h: usage on stdout, exit 0" 0 "smime-certstore check STORE" "$CS" -h
expect "-V: versions" 0 "LMDB 0\." "$CS" -V

# --- import ---
expect "list before the store exists fails" 1 "store.mdb: No such file" \
    "$CS" list "$S"
expect "import PEM (with chain), DER, PKCS#7 PEM and DER" 0 \
    "alice.chain.pem: .*stored for alice@example.org" \
    "$CS" import "$S" "$PKI/alice.chain.pem" "$W/encrsa.der" "$W/bob.p7b" \
    "$W/encec.p7b"
for a in alice bob encrsa encec; do
	expect "list $a@example.org" 0 \
	    "^$a@example.org source=import serial=$(serial $a) .*subject=\"CN=Test User $a,O=smime-milter test\"" \
	    "$CS" list "$S" "$a@example.org"
done
expect "the store is mode 0600" 0 "^-rw-------" ls -l "$S"
expect "the lock file is beside it" 0 "" test -f "$S-lock"
expect "a signing-only certificate is reported and skipped, the rest stored" 1 \
    "ecdsa.crt|mixed.pem: \"CN=Test User ecdsa,O=smime-milter test\" \(serial $(serial ecdsa)\): wrong key usage: cannot encrypt, skipped" \
    "$CS" import "$S" "$W/mixed.pem"
expect "... and not stored" 1 "ecdsa@example.org: no such address" \
    "$CS" list "$S" ecdsa@example.org
expect "a missing file" 1 "nonexistent.pem: No such file or directory" \
    "$CS" import "$S" "$W/nonexistent.pem"
expect "a file without certificates" 1 \
    "junk.txt: no certificate found \(PEM, DER or PKCS#7 expected\)" \
    "$CS" import "$S" "$W/junk.txt"
expect "a file with only a CA certificate" 1 "only CA certificates" \
    "$CS" import "$S" "$PKI/root.crt"
expect "one certificate, three addresses" 0 "stored for 3 addresses" \
    "$CS" import "$S" "$W/multi.pem"
expect "its addresses are lower-cased keys" 0 "^two@multi.example source=import serial=2001 " \
    "$CS" list "$S" TWO@multi.EXAMPLE
"$CS" list "$S" >"$W/all" 2>&1
n=$(wc -l <"$W/all")
if [ "$n" -eq 7 ]; then ok "list: 7 entries"; else
	cp "$W/all" "$W/out"; notok "list: 7 entries, got $n"; fi

# --- export ---
"$CS" export "$S" ALICE@example.org >"$W/alice.out" 2>"$W/out"
if der "$W/alice.out" >"$W/a1" 2>>"$W/out" && der "$PKI/alice.crt" >"$W/a2" &&
    cmp -s "$W/a1" "$W/a2"; then ok "export parses with openssl x509 and is the imported certificate"
else notok "export parses with openssl x509 and is the imported certificate"; fi
expect "export of an unknown address" 1 "nobody@example.org: no such address" \
    "$CS" export "$S" nobody@example.org
expect "export of no address" 1 "not an email address" \
    "$CS" export "$S" nobody

# --- delete ---
expect "delete an unknown serial" 1 "no certificate with serial ffff" \
    "$CS" delete "$S" bob@example.org ffff
expect "delete by serial (0x, leading zeros, case)" 0 "deleted bob@example.org" \
    "$CS" delete "$S" BOB@example.org "0x00$(serial bob)"
expect "... gone" 1 "no such address" "$CS" list "$S" bob@example.org
expect "delete a whole address" 0 "deleted one@multi.example" \
    "$CS" delete "$S" one@multi.example
expect "... the certificate stays for the others" 0 "serial=2001" \
    "$CS" list "$S" three@multi.example
expect "delete an unknown address" 1 "no such address" \
    "$CS" delete "$S" nobody@example.org

# --- check ---
cat >"$W/smime.conf" <<EOF
Mode v
AuthservID mx.example.net
TrustAnchorFile $PKI/roots.pem
CRLFile $PKI/crl.pem
EOF
S2=$W/check.mdb
cat "$W/multi.pem" "$PKI/inter.crt" >"$W/multi.chain.pem"
"$CS" import "$S2" "$PKI/alice.chain.pem" "$W/encec.p7b" \
    "$W/multi.chain.pem" >/dev/null 2>&1
expect "check: a good store" 0 "5 certificates OK \(no chain check without -c\)" \
    "$CS" check "$S2"
expect "check -c: a good store" 0 "5 certificates OK$" \
    "$CS" check "$S2" -c "$W/smime.conf"
"$CS" import "$S2" "$W/encrsa.der" "$PKI/expired.chain.pem" \
    "$PKI/revoked.chain.pem" "$PKI/untrusted.chain.pem" >/dev/null 2>&1
expect "check: expired" 1 "^expired@example.org serial=$(serial expired) source=import problem=\"expired certificate\"" \
    "$CS" check "$S2"
expect "check -c: revoked" 1 "^revoked@example.org serial=$(serial revoked) source=import problem=\"revoked certificate\"" \
    "$CS" check "$S2" -c "$W/smime.conf"
expect "check -c: untrusted" 1 "^untrusted@example.org serial=$(serial untrusted) source=import problem=\"untrusted root\"" \
    "$CS" check "$S2" -c "$W/smime.conf"
expect "check -c: imported without its intermediate" 1 "^encrsa@example.org serial=$(serial encrsa) source=import problem=\"untrusted issuer\"" \
    "$CS" check "$S2" -c "$W/smime.conf"
"$CS" import "$S2" "$W/future.pem" >/dev/null 2>&1
expect "check: not yet valid" 1 "^future@example.org serial=2002 source=import problem=\"certificate not yet valid\"" \
    "$CS" check "$S2"
expect "check -c: the summary" 1 "5 of 10 certificates with problems" \
    "$CS" check "$S2" -c "$W/smime.conf"
if "$CS" check "$S2" -c "$W/smime.conf" 2>/dev/null | grep -q '^alice@'; then
	"$CS" check "$S2" -c "$W/smime.conf" >"$W/out" 2>&1
	notok "check -c: alice has no problem"
else ok "check -c: alice has no problem"; fi
printf 'Mode v\nFrobnicate yes\n' >"$W/bad.conf"
expect "check -c: a bad configuration" 1 "bad.conf:2: unknown key \"Frobnicate\"" \
    "$CS" check "$S2" -c "$W/bad.conf"

# --- two writers at once ---
for i in 1 2 3 4 5; do
	"$CS" import "$S" "$W/multi.pem" >/dev/null 2>&1 || echo fail >"$W/bg"
done &
for i in 1 2 3 4 5; do
	"$CS" import "$S" "$PKI/bob.chain.pem" >/dev/null 2>&1 || echo fail >"$W/fg"
done
wait
if [ ! -e "$W/bg" ] && [ ! -e "$W/fg" ] &&
    "$CS" list "$S" one@multi.example >/dev/null 2>&1 &&
    "$CS" list "$S" bob@example.org >/dev/null 2>&1; then
	ok "two imports at once: both stored"
else
	: >"$W/out"; notok "two imports at once: both stored"
fi

# --- a writer killed in the middle ---
S3=$W/killed.mdb
"$CS" import "$S3" "$PKI/alice.chain.pem" >/dev/null 2>&1
# shellcheck disable=SC2046
"$CS" import "$S3" $(i=0; while [ $i -lt 3000 ]; do echo "$W/multi.chain.pem"
	echo "$W/bob.p7b"; i=$((i + 1)); done) >/dev/null 2>&1 &
pid=$!
sleep 0.3
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
expect "after kill -9 of a writer: the store reads" 0 "^alice@example.org source=import" \
    "$CS" list "$S3"
expect "after kill -9 of a writer: the next writer gets the lock" 0 \
    "stored for encec@example.org" "$CS" import "$S3" "$W/encec.p7b"
expect "after kill -9 of a writer: check" 0 "certificates OK" \
    "$CS" check "$S3" -c "$W/smime.conf"

# --- bad stores ---
printf 'Socket unix:%s/sock\nMode v\nAuthservID mx.example.net\nTrustAnchorFile %s/roots.pem\nCertificateStore %s\n' \
    "$W" "$PKI" "$S" >"$W/milter.conf"
expect "smime-milter -n opens CertificateStore" 0 "" \
    "$MILTER" -n -c "$W/milter.conf"
sed "s#CertificateStore .*#CertificateStore $W/none.mdb#" "$W/milter.conf" \
    >"$W/milter2.conf"
expect "smime-milter -n: a missing CertificateStore" 1 \
    "milter2.conf:5: CertificateStore: .*none.mdb: No such file or directory" \
    "$MILTER" -n -c "$W/milter2.conf"
printf 'Harvest perhaps\n' >>"$W/milter.conf"
expect "smime-milter -n: Harvest is yes or no" 1 \
    "milter.conf:6: Harvest: expected yes or no" "$MILTER" -n -c "$W/milter.conf"
chmod 0666 "$S"
expect "a store writable by others is refused" 1 \
    "writable by group or others \(mode 0666\): chmod go-w" "$CS" list "$S"
chmod 0600 "$S"
head -c 20000 /dev/urandom >"$W/random.mdb"
expect "a file that is no store" 1 "random.mdb: not a certificate store" \
    "$CS" list "$W/random.mdb"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
