#!/bin/sh
# keystore_build.sh - smime-keystore build/list/check beyond the basic
# error cases of sign_interop.sh:
#
#   - OUTPUT naming SOURCE (same path, another path, hard or symbolic
#     link) is refused and SOURCE stays as it was;
#   - logins separated by commas are separate logins, and one after a
#     comma can sign (smime-milter -t -A); an unknown +word is refused;
#   - a UTF-8 byte order mark at the start of SOURCE is skipped;
#   - credentials recipients cannot verify: without -c, warnings (exit 0)
#     for self-signed certificates and missing intermediates; with
#     -c CONF, the chain is checked against CONF's TrustAnchorFile and
#     CRLFile (self-signed, revoked, untrusted, incomplete: refused,
#     SOURCE:LINE: message, OUTPUT untouched);
#   - Ed25519 credentials are accepted with a warning;
#   - one file for several addresses builds what copies of it build,
#     each address checked on its own;
#   - list and check flag a certificate that expires within 30 days
#   - an address on several lines (purposes, logins combined, expired
#     decryption keys kept) and the usage errors
#     (made here, valid for 10 days from now).
#
# Prints "N passed, N failed" and exits 1 when anything failed.
set -u

. "$(dirname "$0")/pkitest.sh"
OPENSSL=${OPENSSL:-openssl}
MILTER=$top_builddir/milter/smime-milter
pkitest_begin keystore_build "$top_builddir/tests/work/keystore-build" src

# --- OUTPUT may not be SOURCE ---
printf 'alice@example.org ../../pki/alice.pem\n' >"$W/src/ks.txt"
cp "$W/src/ks.txt" "$W/ks.orig"
ln "$W/src/ks.txt" "$W/src/hard.txt"
ln -s ks.txt "$W/src/sym.txt"
for out in "$W/src/ks.txt" "$W/src/../src/ks.txt" "$W/src/hard.txt" \
    "$W/src/sym.txt"; do
	"$KS" build "$W/src/ks.txt" "$out" >"$W/out" 2>&1
	rc=$?
	if [ $rc = 1 ] && grep -q "is the source file" "$W/out" &&
	   cmp -s "$W/src/ks.txt" "$W/ks.orig" && [ ! -L "$W/src/ks.txt" ] &&
	   [ -L "$W/src/sym.txt" ]; then
		ok "build refuses OUTPUT $out: it is SOURCE"
	else
		notok "build refuses OUTPUT $out: it is SOURCE (exit $rc)"
		show "$W/out"
		cp "$W/ks.orig" "$W/src/ks.txt"
	fi
done

# --- several credentials per address: purposes, union of logins ---
cat >"$W/src/multi.txt" <<EOT
carol@example.org ../../pki/carol-sign.pem carol
alice@example.org ../../pki/alice.pem
Carol@example.org ../../pki/carol-enc.pem boss,+internal
carol@example.org ../../pki/carol-old.pem carol
EOT
"$KS" build "$W/src/multi.txt" "$W/multi.cdb" >"$W/out" 2>&1
rc=$?
"$KS" list "$W/multi.cdb" >"$W/list" 2>&1
if [ $rc = 0 ] &&
   grep -q "^$W/src/multi.txt:4: warning: expired certificate (valid until 2002-01-01T00:00:00Z): kept for decryption only$" "$W/out" &&
   [ "$(grep -c warning "$W/out")" = 1 ] &&
   grep -q '^carol@example.org .* serial=1101 .* purpose=sign logins=carol,boss,+internal key=file$' "$W/list" &&
   grep -q '^carol@example.org .* serial=1103 .* purpose=decrypt logins=carol,boss,+internal key=file$' "$W/list" &&
   grep -q '^carol@example.org .* serial=1104 not-after=2002-01-01T00:00:00Z purpose=decrypt logins=carol,boss,+internal key=file$' "$W/list" &&
   grep -q '^alice@example.org .* purpose=sign,decrypt logins=- key=file$' "$W/list" &&
   [ "$(wc -l <"$W/list")" = 4 ] &&
   "$KS" check "$W/multi.cdb" >/dev/null 2>&1; then
	ok "an address on several lines: one credential each, purposes listed, logins combined"
else
	notok "an address on several lines: one credential each, purposes listed, logins combined (exit $rc)"
	show "$W/out"; show "$W/list"
fi
# at most 64 credentials per address, counted over lines that are not
# adjacent (the 65th line of carol is line 66 here)
awk 'BEGIN { print "carol@example.org ../../pki/carol-sign.pem"
	print "alice@example.org ../../pki/alice.pem"
	for (i = 0; i < 65; i++) print "CAROL@example.org ../../pki/carol-sign.pem" }' \
    >"$W/src/many.txt"
"$KS" build "$W/src/many.txt" "$W/many.cdb" >"$W/out" 2>&1
rc=$?
if [ $rc = 1 ] && [ ! -e "$W/many.cdb" ] &&
   grep -q "^$W/src/many.txt:66: too many credentials for CAROL@example.org (at most 64)$" "$W/out" &&
   grep -q "^$W/src/many.txt:67: too many credentials" "$W/out" &&
   ! grep -q "^$W/src/many.txt:65: too many" "$W/out" &&
   grep -q "^$W/src/many.txt:3: duplicate credential: CAROL@example.org has the same certificate on line 1$" "$W/out"; then
	ok "more than 64 credentials for an address: refused from the 65th line on"
else
	notok "more than 64 credentials for an address: refused from the 65th line on (exit $rc)"
	show "$W/out"
fi
# an expired certificate that also signs: kept to decrypt, with a warning;
# one that allows neither use, or an expired signing-only one: refused
printf 'expired@example.org ../../pki/expired.pem
rsa-agree@example.org ../../pki/rsa-agree.pem
carol@example.org ../../pki/carol-oldsign.pem
' \
    >"$W/src/usage.txt"
"$KS" build "$W/src/usage.txt" "$W/usage.cdb" >"$W/out" 2>&1
rc=$?
if [ $rc = 1 ] && [ ! -e "$W/usage.cdb" ] &&
   grep -q "^$W/src/usage.txt:1: warning: expired certificate .*: kept for decryption only, it cannot sign$" "$W/out" &&
   grep -q "^$W/src/usage.txt:2: wrong key usage: the certificate allows neither signing" "$W/out" &&
   grep -q "^$W/src/usage.txt:3: expired certificate" "$W/out"; then
	ok "usage problems are reported as SOURCE:LINE"
else
	notok "usage problems are reported as SOURCE:LINE (exit $rc)"; show "$W/out"
fi

# --- logins: blanks or commas; +internal the only +word; BOM ---
printf '\357\273\277alice@example.org ../../pki/alice.pem bob,dave\n' \
    >"$W/src/logins.txt"
printf 'ecdsa@example.org ../../pki/ecdsa.pem x, carol +internal\n' \
    >>"$W/src/logins.txt"
if "$KS" build "$W/src/logins.txt" "$W/logins.cdb" >"$W/out" 2>&1; then
	ok "a source starting with a UTF-8 BOM builds"
else
	notok "a source starting with a UTF-8 BOM builds"; show "$W/out"
fi
"$KS" list "$W/logins.cdb" >"$W/list" 2>&1
if grep -q '^alice@example.org .* logins=bob,dave key=file$' "$W/list" &&
   grep -q '^ecdsa@example.org .* logins=x,carol,+internal key=file$' "$W/list"; then
	ok "logins after commas are separate logins"
else
	notok "logins after commas are separate logins"; show "$W/list"
fi
cat >"$W/milter.conf" <<EOT
Mode s
Keystore $W/logins.cdb
AuthservID mx.test.example
SpoolDirectory $W
EOT
msg() {	# msg FILE FROM
	printf 'From: <%s>\nTo: <bob@example.net>\nSubject: logins\nMessage-ID: <%s@example.org>\nMIME-Version: 1.0\nContent-Type: text/plain\n\nHello.\n' \
	    "$2" "$(basename "$1")" >"$1"
}
msg "$W/alice.eml" alice@example.org
msg "$W/ecdsa.eml" ecdsa@example.org
signs() {	# signs NAME MSG LOGIN: -t -A LOGIN must sign
	if "$MILTER" -c "$W/milter.conf" -t "$2" -A "$3" >"$W/$1.out" \
	       2>"$W/$1.log" && grep -q 'result=signed' "$W/$1.log" &&
	   "$OPENSSL" cms -verify -in "$W/$1.out" -CAfile "$PKI/roots.pem" \
	       -out /dev/null >/dev/null 2>&1; then
		ok "login $3 signs $(basename "$2" .eml)"
	else
		notok "login $3 signs $(basename "$2" .eml)"; show "$W/$1.log"
	fi
}
signs dave "$W/alice.eml" dave
signs bob "$W/alice.eml" bob
signs carol "$W/ecdsa.eml" carol
"$MILTER" -c "$W/milter.conf" -t "$W/alice.eml" -A bob,dave \
    >"$W/both.out" 2>"$W/both.log"
if grep -q 'result=unsigned reason="login bob,dave may not sign' \
    "$W/both.log"; then
	ok "\"bob,dave\" is not a login"
else
	notok "\"bob,dave\" is not a login"; show "$W/both.log"
fi
printf 'alice@example.org ../../pki/alice.pem +internl\n' >"$W/src/word.txt"
"$KS" build "$W/src/word.txt" "$W/word.cdb" >"$W/out" 2>&1
if [ $? = 1 ] && grep -q "^$W/src/word.txt:1: unknown word +internl" "$W/out" &&
   [ ! -e "$W/word.cdb" ]; then
	ok "an unknown +word among the logins is refused"
else
	notok "an unknown +word among the logins is refused"; show "$W/out"
fi

# --- credentials recipients cannot verify ---
cat "$PKI/alice.key" "$PKI/alice.crt" >"$W/alice-nochain.pem"
cat >"$W/trust.conf" <<EOT
Mode sv
TrustAnchorFile $PKI/roots.pem
CRLFile $PKI/crl.pem
Keystore $W/not-built-yet.cdb
EOT
# warn NAME ENTRY MESSAGE: without -c, built (exit 0) with the warning
warn() {
	printf 'bob@example.org ../../pki/bob.pem\n%s\n' "$2" \
	    >"$W/src/warn-$1.txt"
	rm -f "$W/warn.cdb"
	"$KS" build "$W/src/warn-$1.txt" "$W/warn.cdb" >"$W/out" 2>&1
	rc=$?
	if [ $rc = 0 ] && [ -s "$W/warn.cdb" ] &&
	   grep -q "^$W/src/warn-$1.txt:2: warning: .*$3" "$W/out" &&
	   [ "$(grep -c warning "$W/out")" = 1 ]; then
		ok "without -c: $1 built with a warning"
	else
		notok "without -c: $1 built with a warning (exit $rc)"
		show "$W/out"
	fi
}
warn self-signed "selfsigned@example.org ../../pki/selfsigned.pem" \
    "self-signed certificate"
warn no-intermediate "alice@example.org ../alice-nochain.pem" \
    "no intermediate certificate in the file.*CN=Test Intermediate CA"
warn ed25519 "ed25519@example.org ../../pki/ed25519.pem" \
    "Ed25519: .*OpenSSL 3.0"

# with -c: the good ones build, each bad one is refused on its line
printf 'alice@example.org ../../pki/alice.pem\necdsa@example.org ../../pki/ecdsa.pem\n' \
    >"$W/src/good.txt"
OUT=$W/trusted.cdb
if "$KS" build -c "$W/trust.conf" "$W/src/good.txt" "$OUT" >"$W/out" 2>&1 &&
   ! grep -q warning "$W/out"; then
	ok "-c: chains to the configured anchors build without warnings"
else
	notok "-c: chains to the configured anchors build without warnings"
	show "$W/out"
fi
cp "$OUT" "$W/trusted.before"
refused() {	# refused NAME ENTRY MESSAGE
	printf 'bob@example.org ../../pki/bob.pem\n# filler\n%s\n' "$2" \
	    >"$W/src/bad-$1.txt"
	"$KS" build -c "$W/trust.conf" "$W/src/bad-$1.txt" "$OUT" \
	    >"$W/out" 2>&1
	rc=$?
	if [ $rc = 1 ] && grep -q "^$W/src/bad-$1.txt:3: .*$3" "$W/out" &&
	   cmp -s "$OUT" "$W/trusted.before"; then
		ok "-c: $1 refused (line 3)"
	else
		notok "-c: $1 refused (line 3): exit $rc"; show "$W/out"
	fi
}
refused self-signed "selfsigned@example.org ../../pki/selfsigned.pem" \
    "self-signed certificate, not a trust anchor of $W/trust.conf"
refused revoked "revoked@example.org ../../pki/revoked.pem" \
    "revoked certificate"
refused untrusted "untrusted@example.org ../../pki/untrusted.pem" \
    "untrusted \(certificate\|issuer\).*CN=Other Root"
refused incomplete "alice@example.org ../alice-nochain.pem" \
    "untrusted issuer: CN=Test Intermediate CA.*missing intermediate, or a root"
printf 'ed25519@example.org ../../pki/ed25519.pem\n' >"$W/src/ed.txt"
"$KS" build -c "$W/trust.conf" "$W/src/ed.txt" "$W/ed.cdb" >"$W/out" 2>&1
if [ $? = 0 ] && grep -q "^$W/src/ed.txt:1: warning: Ed25519" "$W/out"; then
	ok "-c: Ed25519 built with a warning"
else
	notok "-c: Ed25519 built with a warning"; show "$W/out"
fi
# conf_refused WHAT CONF PATTERN: build -c CONF exits 1 with a message
# matching PATTERN and leaves OUTPUT as it was.
conf_refused() {
	"$KS" build -c "$2" "$W/src/good.txt" "$OUT" >"$W/out" 2>&1
	if [ $? = 1 ] && grep -q "$3" "$W/out" &&
	   cmp -s "$OUT" "$W/trusted.before"; then
		ok "-c with $1: nothing written"
	else
		notok "-c with $1: nothing written"; show "$W/out"
	fi
}
printf 'Mode sv\nTrustAnchorFile %s/nosuch.pem\n' "$W" >"$W/bad.conf"
conf_refused "an unusable configuration" "$W/bad.conf" "nosuch.pem"
printf 'Mode s\nKeystore %s/k.cdb\n' "$W" >"$W/noanchor.conf"
conf_refused "a configuration without trust anchors" "$W/noanchor.conf" \
    "has no TrustAnchorFile"

# mkcred NAME: a P-256 key and a certificate from $W/NAME.tmpl issued by
# the test intermediate, into $W/NAME.pem (key, certificate,
# intermediate); certtool's messages in $W/out.  Fails as certtool does.
mkcred() {
	"$CERTTOOL" --generate-privkey --key-type ecdsa --curve secp256r1 \
	    --pkcs8 --password '' --no-text --outfile "$W/$1.key" >"$W/out" 2>&1 &&
	"$CERTTOOL" --generate-certificate --no-text --load-privkey "$W/$1.key" \
	    --load-ca-certificate "$PKI/inter.crt" \
	    --load-ca-privkey "$PKI/inter.key" --template "$W/$1.tmpl" \
	    --outfile "$W/$1.crt" >"$W/out" 2>&1 &&
	cat "$W/$1.key" "$W/$1.crt" "$PKI/inter.crt" >"$W/$1.pem"
}

# --- one certificate for three addresses (aliases): build parses the
# file once for the lines that name it one after the other; the
# keystore is byte for byte the one built from three copies of it, and
# each address is still checked on its own (a fourth address the
# certificate does not name is refused) ---
cat >"$W/alias.tmpl" <<EOT
cn = "Test User aliases"
serial = 0x3002
expiration_days = 3650
email = "a1@example.org"
email = "a2@example.org"
email = "a3@example.org"
signing_key
email_protection_key
EOT
if mkcred alias; then
	for i in 1 2 3; do
		cp "$W/alias.pem" "$W/alias$i.pem"
	done
	printf 'a%s@example.org ../alias1.pem\n' 1 2 3 >"$W/src/shared.txt"
	printf 'a%s@example.org ../alias%s.pem\n' 1 1 2 2 3 3 >"$W/src/copies.txt"
	"$KS" build "$W/src/shared.txt" "$W/shared.cdb" >"$W/out" 2>&1 &&
	    "$KS" build "$W/src/copies.txt" "$W/copies.cdb" >>"$W/out" 2>&1
	rc=$?
	if [ $rc = 0 ] && cmp -s "$W/shared.cdb" "$W/copies.cdb" &&
	   [ "$("$KS" list "$W/shared.cdb" | grep -c 'serial=3002 .*purpose=sign')" = 3 ]; then
		ok "one file for three addresses: the keystore three copies make"
	else
		notok "one file for three addresses: the keystore three copies make (exit $rc)"
		show "$W/out"
	fi
	printf 'a%s@example.org ../alias1.pem\n' 1 2 4 3 >"$W/src/stranger.txt"
	"$KS" build "$W/src/stranger.txt" "$W/stranger.cdb" >"$W/out" 2>&1
	rc=$?
	if [ $rc = 1 ] && [ ! -e "$W/stranger.cdb" ] &&
	   grep -q "^$W/src/stranger.txt:3: a4@example.org is not in the certificate" "$W/out" &&
	   [ "$(grep -c "^$W/src/stranger.txt:" "$W/out")" = 1 ]; then
		ok "one file for several addresses: each address checked on its own"
	else
		notok "one file for several addresses: each address checked on its own (exit $rc)"
		show "$W/out"
	fi
else
	notok "certtool: cannot make the certificate for three addresses"
	show "$W/out"
fi

# --- expiring within 30 days: list and check say so ---
cat >"$W/soon.tmpl" <<EOT
cn = "Test User soon"
serial = 0x3001
expiration_days = 10
email = "soon@example.org"
signing_key
email_protection_key
EOT
if mkcred soon; then
	printf 'alice@example.org ../../pki/alice.pem\nsoon@example.org ../soon.pem\n' \
	    >"$W/src/soon.txt"
	"$KS" build "$W/src/soon.txt" "$W/soon.cdb" >"$W/out" 2>&1
	if [ $? = 0 ] &&
	   grep -q "^$W/src/soon.txt:2: warning: certificate expires in [0-9]* days" "$W/out"; then
		ok "build warns about a certificate expiring within 30 days"
	else
		notok "build warns about a certificate expiring within 30 days"
		show "$W/out"
	fi
	"$KS" list "$W/soon.cdb" >"$W/list" 2>&1
	if grep -q '^soon@example.org .* warning="expires in [0-9]* days (' "$W/list" &&
	   grep '^alice@example.org ' "$W/list" | grep -qv warning; then
		ok "list flags the entry expiring within 30 days"
	else
		notok "list flags the entry expiring within 30 days"; show "$W/list"
	fi
	"$KS" check "$W/soon.cdb" >"$W/out" 2>&1
	if [ $? = 0 ] &&
	   grep -q "^$W/soon.cdb: soon@example.org: warning: certificate expires in" "$W/out" &&
	   ! grep -q "alice@example.org" "$W/out" &&
	   grep -q "1 expiring within 30 days" "$W/out"; then
		ok "check warns about the entry expiring within 30 days"
	else
		notok "check warns about the entry expiring within 30 days"
		show "$W/out"
	fi
else
	notok "certtool: cannot make the expiring certificate"; show "$W/out"
fi

pkitest_end
