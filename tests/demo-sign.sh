#!/bin/sh
# demo-sign.sh - the outbound half of the demo (called by tests/demo.sh).
#
# SYNOPSIS
#	tests/demo-sign.sh PKI-DIR DEMO-DIR
#
# DESCRIPTION
#	Builds a keystore for alice@example.org with smime-keystore, runs an
#	unsigned message through `smime-milter -t -A alice@example.org` (as
#	if alice had submitted it over SASL), shows the headers that changed,
#	lets `openssl cms -verify` and smime-milter's own inbound side judge
#	the result, and shows that login bob may not sign as alice.
set -eu
export LC_ALL=C

PKI=$1 D=$2
top_builddir=${top_builddir:-$(cd "$PKI/../../.." && pwd)}
MILTER=${SMIME_MILTER:-$top_builddir/milter/smime-milter}
KS=$top_builddir/milter/smime-keystore
OPENSSL=${OPENSSL:-openssl}

cat >"$D/keystore.txt" <<EOF
# ADDRESS           CREDENTIAL-FILE (key + certificate + intermediate)
alice@example.org   $PKI/alice.pem
EOF
echo "    $ smime-keystore build keystore.txt keystore.cdb"
"$KS" build "$D/keystore.txt" "$D/keystore.cdb" | sed 's/^/    /'
echo "    $ smime-keystore list keystore.cdb"
"$KS" list "$D/keystore.cdb" | sed 's/^/    /'

cat >"$D/sign.conf" <<EOF
# smime-milter configuration for the signing demo
Socket inet:10025@127.0.0.1
Mode sv
AuthservID mx.demo.example
TrustAnchorFile $PKI/roots.pem
Keystore $D/keystore.cdb
InternalHosts none
SpoolDirectory $D
EOF
cat >"$D/outgoing.eml" <<'EOF'
From: Alice <alice@example.org>
To: Bob <bob@example.net>
Subject: Order 4711
Date: Mon, 01 Jan 2024 10:00:00 +0000
Message-ID: <demo-out@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Hello Bob,

the total is 100 EUR, payable to Alice Müller.
EOF

echo
echo "    $ smime-milter -t outgoing.eml -A alice@example.org"
rc=0
"$MILTER" -c "$D/sign.conf" -t "$D/outgoing.eml" -A alice@example.org \
    >"$D/outgoing.signed" 2>"$D/outgoing.log" || rc=$?
sed 's/^/    /' "$D/outgoing.log"
awk '/^$/ { exit } /^(Content-|MIME-|[ \t])/ { print "    " $0 }' \
    "$D/outgoing.signed"
echo "    (exit $rc; $D/outgoing.signed; the 8-bit text became"
echo "     quoted-printable inside the signed part)"

if "$OPENSSL" cms -verify -in "$D/outgoing.signed" -CAfile "$PKI/roots.pem" \
    -out /dev/null >/dev/null 2>&1; then
	echo "    openssl cms -verify outgoing.signed: verified"
else
	echo "    openssl cms -verify outgoing.signed: FAILED"
fi
"$MILTER" -c "$D/sign.conf" -t "$D/outgoing.signed" 2>/dev/null |
    awk 'NR == 1 { print "    inbound: " $0; next } /^[ \t]/ { print "    " $0; next } { exit }'

echo
echo "    $ smime-milter -t outgoing.eml -A bob@example.org"
"$MILTER" -c "$D/sign.conf" -t "$D/outgoing.eml" -A bob@example.org \
    2>&1 >/dev/null | sed 's/^/    /'
