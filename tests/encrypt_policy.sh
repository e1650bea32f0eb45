#!/bin/sh
# encrypt_policy.sh - what the policy does at end of message, through
# smime-milter -t (SPEC "Encryption", "Certificate store and harvesting"):
#   - a partner's signed message is harvested, then our reply to that
#     partner leaves encrypted to the harvested certificate, and openssl
#     cms -decrypt opens it with the partner's key (the issue's
#     harvest-then-encrypt test);
#   - a required recipient with a certificate: encrypted;
#   - an opportunistic recipient with a certificate next to a never one:
#     not encrypted, and the log line says why;
#   - a required recipient whose message is not encrypted after all
#     (over MaxMessageSize; with OnError accept too) is never sent in
#     clear: tempfail, exit 75.
#
# Prints "N passed, N failed" and exits 1 when anything failed.
set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
OPENSSL=${OPENSSL:-openssl}
CS=$top_builddir/milter/smime-certstore
MILTER=$top_builddir/milter/smime-milter
PKI=$top_builddir/tests/work/pki
W=$top_builddir/tests/work/encrypt-policy-sh

. "$top_srcdir/tests/need.sh"
need_tool "$OPENSSL" openssl
sh "$top_srcdir/tests/pki/mkpki.sh" "$PKI" >/dev/null || {
	echo "encrypt_policy.sh: cannot make the test PKI" >&2; exit 1; }
rm -rf "$W"
mkdir -p "$W"
S=$W/store.mdb
die() { echo "encrypt_policy.sh: $*" >&2; exit 1; }
for u in encrsa encec; do
	"$CS" import "$S" "$PKI/$u.chain.pem" >/dev/null || die "import $u"
done
printf 'encrsa@example.org required\nnever.example never\n' >"$W/policy"
conf() {	# conf NAME [EXTRA-LINES]
	cat >"$W/$1.conf" <<EOF
Mode ve
AuthservID mx.example.net
TrustAnchorFile $PKI/roots.pem
CertificateStore $S
Harvest yes
EncryptPolicyFile $W/policy
${2:-}
EOF
}
conf plain
conf small "MaxMessageSize 10
OnError accept"
printf 'From: us@example.net\nTo: them@example.org\nSubject: reply\n\nhello, in confidence\n' \
    >"$W/msg.eml"

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
notok() { failed=$((failed + 1)); echo "not ok - $1"; sed 's/^/    /' "$W/err"; }
# run CONF OUT [options]: -t as submitted by SASL login us@example.net
run() {
	cf=$1 out=$2
	shift 2
	"$MILTER" -c "$W/$cf.conf" -t "$W/msg.eml" -A us@example.net "$@" \
	    >"$W/$out" 2>"$W/err"
}
encrypted() { grep -q -i '^Content-Type: application/pkcs7-mime; smime-type=enveloped-data' "$W/$1"; }
# decrypts OUT USER: openssl cms -decrypt with USER's key gives the text
decrypts() {
	"$OPENSSL" cms -decrypt -in "$W/$1" -recip "$PKI/$2.crt" \
	    -inkey "$PKI/$2.key" -out "$W/$1.plain" 2>>"$W/err" &&
	    grep -q "hello, in confidence" "$W/$1.plain"
}

# --- harvest, then encrypt to the harvested certificate ---
printf 'Content-Type: text/plain\r\n\r\nHi, this is alice.\r\n' >"$W/content"
"$OPENSSL" cms -sign -in "$W/content" -signer "$PKI/alice.crt" \
    -inkey "$PKI/alice.key" -certfile "$PKI/inter.crt" \
    -from "alice@example.org" -to us@example.net -subject hi \
    -out "$W/alice.eml" || die "openssl cms -sign"
"$MILTER" -c "$W/plain.conf" -t "$W/alice.eml" >"$W/alice.out" 2>"$W/err"
if grep -q "smime=pass" "$W/alice.out" &&
   grep -q "event=harvest status=stored address=alice@example.org" "$W/err"
then ok "partner's signed message harvested"
else notok "partner's signed message harvested"; fi
run plain reply.eml -r alice@example.org
rc=$?
if [ $rc -eq 0 ] && encrypted reply.eml && decrypts reply.eml alice; then
	ok "the reply to the partner leaves encrypted to the harvested certificate"
else
	notok "the reply to the partner leaves encrypted (exit $rc)"
fi

# --- required with a certificate ---
run plain req.eml -r encrsa@example.org
rc=$?
if [ $rc -eq 0 ] && encrypted req.eml && decrypts req.eml encrsa; then
	ok "required with a certificate: encrypted"
else notok "required with a certificate: encrypted (exit $rc)"; fi

# --- never wins over opportunistic with a certificate ---
run plain never.eml -r encec@example.org -r b@never.example
rc=$?
if [ $rc -eq 0 ] && ! encrypted never.eml &&
   grep -q "hello, in confidence" "$W/never.eml" &&
   grep -q "not encrypted: a recipient's policy is never" "$W/err"; then
	ok "never: not encrypted, the log says why"
else notok "never: not encrypted (exit $rc)"; fi
run plain opp.eml -r encec@example.org
rc=$?
if [ $rc -eq 0 ] && encrypted opp.eml; then
	ok "the same without the never recipient: encrypted"
else notok "the same without the never recipient: encrypted (exit $rc)"; fi

# --- required, but not encrypted after all: never in clear ---
run small big.eml -r encrsa@example.org
rc=$?
if [ $rc -eq 75 ] && grep -q "a recipient requires encryption, not encrypted" "$W/err"
then ok "required over MaxMessageSize (OnError accept): tempfail"
else notok "required over MaxMessageSize (OnError accept): tempfail (exit $rc)"; fi
run small big2.eml -r encec@example.org
rc=$?
if [ $rc -eq 0 ] && ! encrypted big2.eml; then
	ok "opportunistic over MaxMessageSize: sent as it is"
else notok "opportunistic over MaxMessageSize: sent as it is (exit $rc)"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
