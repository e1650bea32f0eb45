#!/bin/sh
# demo.sh - show smime-milter at work (run by `./quickstart demo`).
#
# SYNOPSIS
#	tests/demo.sh
#
# DESCRIPTION
#	Makes the test PKI under tests/work/pki, signs a message as
#	alice@example.org with `openssl cms -sign` (an independent signer),
#	makes a copy with one word changed after signing, runs both through
#	`smime-milter -t` (the daemon's own code path, without an MTA) and
#	prints the Authentication-Results header each one gets.
#	Everything it writes stays under tests/work/demo/.
#
# ENVIRONMENT
#	top_srcdir, top_builddir	default: the directory above this one
#	SMIME_MILTER	the daemon (default $top_builddir/milter/smime-milter)

set -eu
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(dirname "$here")}
top_builddir=${top_builddir:-$top_srcdir}
MILTER=${SMIME_MILTER:-$top_builddir/milter/smime-milter}
OPENSSL=${OPENSSL:-openssl}
PKI=$top_builddir/tests/work/pki
D=$top_builddir/tests/work/demo

if [ ! -x "$MILTER" ]; then
	echo "demo: $MILTER is not built yet (./quickstart build)" >&2
	exit 1
fi

say() {
	printf '\n\033[1m%s\033[0m\n' "$*"
}

# show_header FILE: print the first header of FILE (our
# Authentication-Results, folded lines included).
show_header() {
	awk 'NR == 1 { print "    " $0; next } /^[ \t]/ { print "    " $0; next } { exit }' "$1"
}

say "1. A test PKI (root -> intermediate -> users), made with GnuTLS certtool"
sh "$top_srcdir/tests/pki/mkpki.sh" "$PKI"
echo "    $PKI: root.crt, inter.crt, alice.crt/.key, crl.pem, ..."

rm -rf "$D"
mkdir -p "$D"
cat >"$D/demo.conf" <<EOF
# smime-milter configuration for the demo
Socket inet:10025@127.0.0.1
Mode v
AuthservID mx.demo.example
TrustAnchorFile $PKI/roots.pem
CRLFile $PKI/crl.pem
InternalHosts none
EOF

say "2. alice@example.org signs a message with 'openssl cms -sign'"
cat >"$D/content.txt" <<'EOF'
Content-Type: text/plain; charset=us-ascii
Content-Transfer-Encoding: 7bit

Hello Bob,

the invoice total is 100 EUR.

Alice
EOF
# S/MIME signs the canonical form of the entity: CRLF line ends.
sed 's/$/\r/' "$D/content.txt" >"$D/content.crlf"
"$OPENSSL" cms -sign -binary -in "$D/content.crlf" \
    -signer "$PKI/alice.crt" -inkey "$PKI/alice.key" \
    -certfile "$PKI/inter.crt" -outform DER -out "$D/smime.p7s"
{
	cat <<'EOF'
From: Alice <alice@example.org>
To: Bob <bob@example.org>
Subject: invoice
Date: Mon, 01 Jun 2020 12:00:00 +0000
Message-ID: <demo@demo.example>
MIME-Version: 1.0
Content-Type: multipart/signed; protocol="application/pkcs7-signature";
	micalg=sha-256; boundary="demo-boundary"

--demo-boundary
EOF
	cat "$D/content.txt"
	cat <<'EOF'

--demo-boundary
Content-Type: application/pkcs7-signature; name="smime.p7s"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="smime.p7s"

EOF
	base64 -w 76 "$D/smime.p7s"
	printf '\n--demo-boundary--\n'
} >"$D/signed.eml"
echo "    $D/signed.eml"

say "3. smime-milter -t signed.eml   (the header it adds)"
rc=0
"$MILTER" -c "$D/demo.conf" -t "$D/signed.eml" >"$D/signed.out" \
    2>"$D/signed.log" || rc=$?
show_header "$D/signed.out"
sed 's/^/    log: /' "$D/signed.log"
n=$(awk 'NR > 1 && !/^[ \t]/ { print NR - 1; exit }' "$D/signed.out")
if tail -n +"$((n + 1))" "$D/signed.out" | cmp -s - "$D/signed.eml"; then
	echo "    (exit $rc; the rest of the message is byte for byte unchanged)"
else
	echo "    (exit $rc; WARNING: the rest of the message was changed)"
fi

say "4. Someone changes 100 EUR to 900 EUR on the way"
sed 's/total is 100 EUR/total is 900 EUR/' "$D/signed.eml" >"$D/tampered.eml"
echo "    $D/tampered.eml"

say "5. smime-milter -t tampered.eml"
rc=0
"$MILTER" -c "$D/demo.conf" -t "$D/tampered.eml" >"$D/tampered.out" \
    2>"$D/tampered.log" || rc=$?
show_header "$D/tampered.out"
sed 's/^/    log: /' "$D/tampered.log"
echo "    (exit $rc: the message is still delivered, marked as failed)"

say "6. Second opinion from OpenSSL"
for m in signed tampered; do
	if "$OPENSSL" cms -verify -in "$D/$m.eml" -CAfile "$PKI/roots.pem" \
	    -out /dev/null >/dev/null 2>&1; then
		echo "    openssl cms -verify $m.eml: verified"
	else
		echo "    openssl cms -verify $m.eml: FAILED"
	fi
done

# --- signing demo (outbound) -------------------------------------------
# Added by the signing engineer once milter/smime-keystore exists:
# build a keystore for alice, run `smime-milter -t -A alice@example.org`
# on an unsigned message and show that `openssl cms -verify` accepts the
# signed result.
if [ -x "$top_builddir/milter/smime-keystore" ] &&
    [ -f "$top_srcdir/tests/demo-sign.sh" ]; then
	say "7. Outbound: smime-milter signs for alice"
	sh "$top_srcdir/tests/demo-sign.sh" "$PKI" "$D"
fi

if [ -x "$top_builddir/milter/smime-keystore" ]; then
	say "8. Inbound: smime-milter decrypts mail for a key it holds (Mode d)"
	sh "$top_srcdir/tests/demo-decrypt.sh" "$PKI" "$D"
fi

say "Files are in $D"
