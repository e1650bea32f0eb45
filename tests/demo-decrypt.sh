#!/bin/sh
# demo-decrypt.sh - the decryption part of the demo (called by
# tests/demo.sh).
#
# SYNOPSIS
#	tests/demo-decrypt.sh PKI-DIR DEMO-DIR
#
# DESCRIPTION
#	Builds a keystore holding the decryption key of encrsa@example.org,
#	has openssl sign a message as alice and encrypt it to encrsa, and
#	runs it through `smime-milter -t -r encrsa@example.org` with Mode vd:
#	shows the headers of the decrypted, verified message and its text.
#	Then the same message with a second envelope recipient who has no
#	key: left encrypted (no key opens mail for another mailbox).
set -eu
export LC_ALL=C

PKI=$1 D=$2
top_builddir=${top_builddir:-$(cd "$PKI/../../.." && pwd)}
MILTER=${SMIME_MILTER:-$top_builddir/milter/smime-milter}
KS=$top_builddir/milter/smime-keystore
OPENSSL=${OPENSSL:-openssl}

echo "encrsa@example.org $PKI/encrsa.pem" >"$D/decrypt-keystore.txt"
"$KS" build "$D/decrypt-keystore.txt" "$D/decrypt-keystore.cdb" >/dev/null
{
	echo "Socket inet:10025@127.0.0.1"
	echo "Mode vd"
	echo "AuthservID mx.demo.example"
	echo "TrustAnchorFile $PKI/roots.pem"
	echo "Keystore $D/decrypt-keystore.cdb"
	echo "InternalHosts none"
} >"$D/decrypt.conf"
printf 'Content-Type: text/plain; charset=us-ascii\r\n\r\nHello, this was signed by alice and encrypted for you.\r\n' \
    >"$D/secret.txt"
"$OPENSSL" cms -sign -in "$D/secret.txt" -signer "$PKI/alice.crt" \
    -inkey "$PKI/alice.key" -certfile "$PKI/inter.crt" -out "$D/secret.sig"
{
	printf 'From: Alice <alice@example.org>\nTo: encrsa@example.org\n'
	printf 'Subject: secret\n'
	"$OPENSSL" cms -encrypt -aes256 -in "$D/secret.sig" "$PKI/encrsa.crt"
} >"$D/encrypted.eml"
echo "    openssl cms -sign (alice) | openssl cms -encrypt (to encrsa): encrypted.eml"
echo "    $ smime-milter -t encrypted.eml -r encrsa@example.org"
"$MILTER" -c "$D/decrypt.conf" -t "$D/encrypted.eml" \
    -r encrsa@example.org >"$D/decrypted.out" 2>"$D/decrypted.log" || :
awk '/^$/ { exit }
     /^(Authentication-Results|X-SMIME-Decrypted|Content-Type):/ { p = 1; print "    " $0; next }
     /^[ \t]/ { if (p) print "    " $0; next }
     { p = 0 }' "$D/decrypted.out"
grep -a 'Hello, this' "$D/decrypted.out" | sed 's/\r$//; s/^/    text: /'
sed 's/^/    log: /' "$D/decrypted.log"
echo "    $ smime-milter -t encrypted.eml -r encrsa@example.org -r bob@example.org"
"$MILTER" -c "$D/decrypt.conf" -t "$D/encrypted.eml" -r encrsa@example.org \
    -r bob@example.org >"$D/twice.out" 2>"$D/twice.log" || :
awk 'NR == 1 { print "    " $0; next } /^[ \t]/ { print "    " $0; next } { exit }' \
    "$D/twice.out"
