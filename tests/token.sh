#!/bin/sh
# token.sh - keystore keys on a PKCS#11 token (SoftHSM2 in a private
# token directory through SOFTHSM2_CONF).
#
#   set-up     a token with the test PKI's alice (RSA, sign and decrypt),
#              ecdsa (P-256, sign), encrsa (RSA, decrypt) and ecdh256,
#              ecdh384, ecdh521 (decrypt: CKA_DERIVE set) keys
#   build      smime-keystore build -c with PKCS11Module/PKCS11PinFile:
#              URIs stored, never the PIN; list shows key=token; the
#              certificate and intermediate taken from the token; a key
#              not found, another certificate's key, a pin-value, a wrong
#              PIN and a PIN file others may read are refused
#   sign       token keys sign what openssl, gpgsm and NSS verify (RSA,
#              ECDSA P-256), from 4 threads sharing a key too;
#              smime-milter -t signs with a token key
#   decrypt    CMS made by openssl to the RSA and EC (P-256, P-384,
#              P-521) token keys decrypts (key transport; ECDH by
#              C_DeriveKey on the token)
#   failures   wrong PIN and missing token at start, and the module
#              missing: tempfail (OnError) and one event=token line; the
#              token removed while running: the signature fails, one
#              state line; back: signs again without a restart, one line;
#              a reload with a wrong PIN while running: the same; a wrong
#              PIN at start works once another one is given
# Every tool is required (tests/need.sh).  Prints "N passed, N failed".
# TOKEN_TOOL: another build of tests/token_tool (tests/hardening.sh runs
# this script with its ThreadSanitizer build).
set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
OPENSSL=${OPENSSL:-openssl}
KS=$top_builddir/milter/smime-keystore
MILTER=$top_builddir/milter/smime-milter
TT=${TOKEN_TOOL:-$top_builddir/tests/token_tool}
PKI=$top_builddir/tests/work/pki
ENC=$top_builddir/tests/work/enc
W=$top_builddir/tests/work/token
. "$top_srcdir/tests/need.sh"
need_tool "$OPENSSL" openssl
need_tool softhsm2-util softhsm2
need_tool p11tool gnutls-bin
need_tool gpgsm gpgsm
need_tool gpgconf gpgconf
need_tool cmsutil libnss3-tools
need_tool certutil libnss3-tools
MODULE=
for m in /usr/lib/softhsm/libsofthsm2.so \
    /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so; do
	[ -f "$m" ] && MODULE=$m && break
done
[ -n "$MODULE" ] ||
	need_skip "libsofthsm2.so not found: install the Debian package softhsm2"

sh "$top_srcdir/tests/pki/mkpki.sh" "$PKI" >/dev/null || {
	echo "token: cannot make the test PKI" >&2; exit 1; }
sh "$top_srcdir/tests/fixtures/mkenc.sh" "$PKI" "$ENC" >/dev/null || {
	echo "token: cannot make the encrypted fixtures" >&2; exit 1; }
rm -rf "$W"
mkdir -p "$W/tokens"
GNUPGHOME=$(mktemp -d /tmp/token-gpg.XXXXXX)
export GNUPGHOME
cleanup() {
	exec 7>&- 2>/dev/null
	[ -n "${SERVE:-}" ] && kill "$SERVE" 2>/dev/null
	gpgconf --kill gpg-agent >/dev/null 2>&1
	rm -rf "$GNUPGHOME"
}
trap cleanup EXIT

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
notok() { failed=$((failed + 1)); echo "not ok - $1"; }
show() { sed 's/^/    /' "$1"; }
check() {	# check NAME COMMAND...: COMMAND must succeed
	name=$1; shift
	if "$@" >"$W/last.log" 2>&1; then ok "$name"
	else notok "$name"; show "$W/last.log"; fi
}

# --- set-up: a private SoftHSM2 token ---
cat >"$W/softhsm2.conf" <<EOT
directories.tokendir = $W/tokens
objectstore.backend = file
log.level = ERROR
EOT
SOFTHSM2_CONF=$W/softhsm2.conf
export SOFTHSM2_CONF
PIN=4321
URI="pkcs11:token=smime-test;type=private"
check "SoftHSM2 token initialised" softhsm2-util --init-token --free \
    --label smime-test --pin $PIN --so-pin 87654321
id=1
for u in alice ecdsa encrsa ecdh256 ecdh384 ecdh521; do
	check "key $u imported to the token" softhsm2-util --import \
	    "$PKI/$u.key" --token smime-test --label $u --id 0$id --pin $PIN
	id=$((id + 1))
done
printf '%s\n' $PIN >"$W/pin"
printf '1111\n' >"$W/badpin"
chmod 600 "$W/pin" "$W/badpin"
export SMIME_PKCS11_MODULE="$MODULE"
for u in ecdh256 ecdh384 ecdh521; do
	check "CKA_DERIVE set on the EC decryption key $u" env \
	    SMIME_PKCS11_PIN_FILE="$W/pin" "$TT" allow-derive "$URI;object=$u"
done
# decryption keys as HSMs hold them: they may not sign (build cannot
# prove them with a test signature)
for u in encrsa ecdh256 ecdh384 ecdh521; do
	check "CKA_SIGN cleared on the decryption key $u" env \
	    SMIME_PKCS11_PIN_FILE="$W/pin" "$TT" no-sign "$URI;object=$u"
done

conf() {	# conf FILE PINFILE [MODULE]
	cat >"$1" <<EOT
Socket unix:$W/m.sock
Mode sv
Keystore $W/ks.cdb
TrustAnchorFile $PKI/roots.pem
AuthservID mx.test.example
SpoolDirectory $W
PKCS11Module ${3:-$MODULE}
PKCS11PinFile $2
EOT
}
conf "$W/m.conf" "$W/pin"
conf "$W/badpin.conf" "$W/badpin"
conf "$W/nomodule.conf" "$W/pin" "$W/no-such-module.so"
cat >"$W/src.txt" <<EOT
# keys on a token: URI, certificate file (the key's first), logins
alice@example.org   $URI;object=alice   ../pki/alice.chain.pem
ecdsa@example.org   $URI;object=ecdsa   ../pki/ecdsa.chain.pem  ecdsa-login
encrsa@example.org  $URI;object=encrsa  ../pki/encrsa.chain.pem
ecdh256@example.org $URI;object=ecdh256 ../pki/ecdh256.chain.pem
ecdh384@example.org $URI;object=ecdh384 ../pki/ecdh384.chain.pem
ecdh521@example.org $URI;object=ecdh521 ../pki/ecdh521.chain.pem
EOT

# the signed entity: canonical CRLF MIME, as the milter signs it
printf 'Content-Type: text/plain; charset=us-ascii\r\n\r\nHello Bob,\r\n\r\nsigned on a token.\r\n' >"$W/content"
cp "$W/content" "$W/altered"
printf 'P.S. added later\r\n' >>"$W/altered"

# --- build and list ---
check "build a keystore of token keys" "$KS" build -c "$W/m.conf" \
    "$W/src.txt" "$W/ks.cdb"
"$KS" list "$W/ks.cdb" >"$W/list" 2>&1
if grep -q "^alice@example.org .* purpose=sign,decrypt logins=- key=token uri=\"$URI;object=alice\"$" "$W/list" &&
   grep -q "^ecdsa@example.org .* purpose=sign logins=ecdsa-login key=token uri=\"$URI;object=ecdsa\"$" "$W/list" &&
   grep -q "^encrsa@example.org .* purpose=decrypt logins=- key=token " "$W/list" &&
   grep -q "^ecdh256@example.org .* key=token uri=\"$URI;object=ecdh256\"$" "$W/list" &&
   [ "$(wc -l <"$W/list")" = 6 ]; then
	ok "list shows key=token and the URI"
else
	notok "list shows key=token and the URI"; show "$W/list"
fi
if grep -q "$PIN" "$W/ks.cdb" || grep -q "PRIVATE KEY" "$W/ks.cdb" ||
   ! grep -q "object=ecdh256" "$W/ks.cdb"; then
	notok "the keystore holds the URIs, never the PIN"
else
	ok "the keystore holds the URIs, never the PIN"
fi
check "check passes on the token keystore" "$KS" check "$W/ks.cdb"

refuse_build() {	# refuse_build NAME CONF MESSAGE LINE
	printf '%s\n' "$4" >"$W/bad.txt"
	if "$KS" build -c "$2" "$W/bad.txt" "$W/bad.cdb" >"$W/bad.out" 2>&1; then
		notok "build refuses $1 (accepted)"
	elif grep -q "^$W/bad.txt:1: .*$3" "$W/bad.out" && [ ! -e "$W/bad.cdb" ]; then
		ok "build refuses $1"
	else
		notok "build refuses $1"; show "$W/bad.out"
	fi
}
refuse_build "a key not on the token" "$W/m.conf" \
    "no such key on the token" \
    "alice@example.org $URI;object=nobody ../pki/alice.chain.pem"
refuse_build "another certificate's key" "$W/m.conf" \
    "the token key does not match the certificate" \
    "alice@example.org $URI;object=ecdsa ../pki/alice.chain.pem"
refuse_build "a decryption-only key that is another certificate's" \
    "$W/m.conf" "the token key does not match the certificate" \
    "encrsa@example.org $URI;object=encrsa ../pki/bob.chain.pem"
refuse_build "an EC decryption-only key that is another certificate's" \
    "$W/m.conf" "the token key does not match the certificate" \
    "ecdh256@example.org $URI;object=ecdh384 ../pki/ecdh256.chain.pem"
refuse_build "a PIN in the URI" "$W/m.conf" "holds a PIN (pin-value)" \
    "alice@example.org $URI;object=alice?pin-value=$PIN ../pki/alice.chain.pem"
refuse_build "a wrong PIN" "$W/badpin.conf" "PIN refused" \
    "alice@example.org $URI;object=alice ../pki/alice.chain.pem"
refuse_build "a token line without a certificate file" "$W/m.conf" \
    "expected ADDRESS pkcs11:URI CERTIFICATE-FILE" \
    "alice@example.org $URI;object=alice"
# the certificate from the token: alice's and the intermediate there
P11W="p11tool --provider $MODULE --login --write --no-mark-private"
if GNUTLS_PIN=$PIN $P11W --label alice --id 01 \
       --load-certificate "$PKI/alice.crt" "pkcs11:token=smime-test" \
       >"$W/p11.log" 2>&1 &&
   GNUTLS_PIN=$PIN $P11W --label inter --mark-ca \
       --load-certificate "$PKI/inter.crt" "pkcs11:token=smime-test" \
       >>"$W/p11.log" 2>&1; then
	ok "certificates written to the token"
else
	notok "certificates written to the token"; show "$W/p11.log"
fi
echo "alice@example.org $URI;object=alice token" >"$W/tsrc.txt"
check "build with the certificate from the token" "$KS" build \
    -c "$W/m.conf" "$W/tsrc.txt" "$W/tks.cdb"
if SMIME_PKCS11_PIN_FILE="$W/pin" "$TT" sign "$W/tks.cdb" \
       alice@example.org "$W/content" "$W/tks.der" >"$W/tks.log" 2>&1 &&
   "$OPENSSL" cms -verify -binary -inform DER -in "$W/tks.der" \
       -content "$W/content" -CAfile "$PKI/roots.pem" -out /dev/null \
       >>"$W/tks.log" 2>&1 &&
   [ "$("$OPENSSL" cms -cmsout -print -inform DER -in "$W/tks.der" |
       grep -c 'subject: .*CN=Test \(User alice\|Intermediate CA\)')" = 2 ]; then
	ok "the chain from the token: alice and the intermediate, openssl verifies"
else
	notok "the chain from the token: alice and the intermediate, openssl verifies"
	show "$W/tks.log"
fi
refuse_build "token for a key without a certificate there" "$W/m.conf" \
    "no certificate for the key on the token" \
    "ecdsa@example.org $URI;object=ecdsa token"
chmod 644 "$W/badpin"
if "$MILTER" -n -c "$W/badpin.conf" >"$W/n.out" 2>&1; then
	notok "a PIN file others may read is refused"
elif grep -q "PKCS11PinFile: .*badpin must be a regular file owned by .*(mode 0644): chmod 600" "$W/n.out"; then
	ok "a PIN file others may read is refused"
else
	notok "a PIN file others may read is refused"; show "$W/n.out"
fi
chmod 600 "$W/badpin"

# --- signing: judged by openssl, gpgsm and NSS ---
echo disable-crl-checks >"$GNUPGHOME/gpgsm.conf"
gpgsm --batch --import "$PKI/root.crt" >/dev/null 2>&1
fpr=$(gpgsm --with-colons --list-keys 2>/dev/null |
    awk -F: '/^fpr/ { print $10; exit }')
echo "$fpr S relax" >"$GNUPGHOME/trustlist.txt"
gpgconf --kill gpg-agent >/dev/null 2>&1
mkdir "$W/nss"
check "NSS set-up: database with the test root" sh -c \
    "certutil -N -d 'sql:$W/nss' --empty-password &&
     certutil -A -d 'sql:$W/nss' -n root -t C,C,C -i '$PKI/root.crt'"
v_openssl() { "$OPENSSL" cms -verify -binary -inform DER -in "$1" \
	-content "$2" -CAfile "$PKI/roots.pem" -out /dev/null; }
v_gpgsm() { gpgsm --batch --verify "$1" "$2"; }
v_nss() { cmsutil -D -d "sql:$W/nss" -i "$1" -c "$2" -o /dev/null; }
export SMIME_PKCS11_PIN_FILE="$W/pin"
for u in alice ecdsa; do
	check "$u's token key signs" "$TT" sign "$W/ks.cdb" $u@example.org \
	    "$W/content" "$W/$u.der"
	for v in openssl gpgsm nss; do
		check "$v verifies $u's token signature" \
		    v_$v "$W/$u.der" "$W/content"
		if v_$v "$W/$u.der" "$W/altered" >/dev/null 2>&1; then
			notok "$v rejects $u's token signature over altered content"
		else
			ok "$v rejects $u's token signature over altered content"
		fi
	done
done

# one token key, one session: 4 threads sign with it at once
for u in alice ecdsa; do
	"$TT" threads "$W/ks.cdb" $u@example.org "$W/content" 4 25 \
	    >"$W/threads.out" 2>&1
	if [ "$(cat "$W/threads.out")" = "ok 100" ]; then
		ok "4 threads share $u's token key: 100 signatures"
	else
		notok "4 threads share $u's token key: 100 signatures"
		show "$W/threads.out"
	fi
done

msg() {	# msg FILE FROM
	printf 'From: Sender <%s>\nTo: Bob <bob@example.org>\nSubject: token test\nDate: Mon, 01 Jan 2024 10:00:00 +0000\nMessage-ID: <token@example.org>\nMIME-Version: 1.0\nContent-Type: text/plain\n\nHello Bob,\n\nsigned with a key on a token.\n' "$2" >"$1"
}
msg "$W/m-alice.eml" alice@example.org
msg "$W/m-ecdsa.eml" ecdsa@example.org
"$MILTER" -c "$W/m.conf" -t "$W/m-alice.eml" -A alice@example.org \
    >"$W/m-alice.out" 2>"$W/m-alice.log"
if grep -q 'result=signed reason="signed as alice@example.org (rsa, sha-256)"' "$W/m-alice.log" &&
   "$OPENSSL" cms -verify -in "$W/m-alice.out" -CAfile "$PKI/roots.pem" \
       -out /dev/null >/dev/null 2>&1 &&
   ! grep -q 'event=token' "$W/m-alice.log"; then
	ok "smime-milter -t signs with an RSA token key, openssl verifies"
else
	notok "smime-milter -t signs with an RSA token key, openssl verifies"
	show "$W/m-alice.log"
fi
"$MILTER" -c "$W/m.conf" -t "$W/m-ecdsa.eml" -A ecdsa-login \
    >"$W/m-ecdsa.out" 2>"$W/m-ecdsa.log"
if grep -q 'result=signed' "$W/m-ecdsa.log" &&
   "$OPENSSL" cms -verify -in "$W/m-ecdsa.out" -CAfile "$PKI/roots.pem" \
       -out /dev/null >/dev/null 2>&1; then
	ok "smime-milter -t signs with an ECDSA token key, openssl verifies"
else
	notok "smime-milter -t signs with an ECDSA token key, openssl verifies"
	show "$W/m-ecdsa.log"
fi

# --- decryption: CMS made by openssl to the token keys ---
for f in ossl-rsa-aes256 ossl-rsa-aes128-indef ossl-rsa-gcm256 \
    ossl-rsa-aes256-keyid ossl-ec256-aes256 ossl-ec256-aes256-sha256 \
    ossl-ec256-aes128-keyid ossl-ec256-gcm256 ossl-ec384-aes256-sha384 \
    ossl-ec384-gcm256-stream ossl-ec521-aes256-sha512; do
	case $f in
	*-ec256-*) u=ecdh256 ;;
	*-ec384-*) u=ecdh384 ;;
	*-ec521-*) u=ecdh521 ;;
	*) u=encrsa ;;
	esac
	want=$ENC/plain.txt
	case $f in *-stream) want=$ENC/big.bin ;; esac
	rm -f "$W/$f.out"
	if "$TT" decrypt "$W/ks.cdb" $u@example.org "$ENC/$f.der" \
	       "$W/$f.out" >"$W/dec.log" 2>&1 &&
	   cmp -s "$W/$f.out" "$want"; then
		ok "$u's token key decrypts $f"
	else
		notok "$u's token key decrypts $f"; show "$W/dec.log"
	fi
done
# the wrong key: RSA hides it (RFC 3218), the content does not decrypt
cp "$ENC/ossl-rsa-aes256.der" "$W/to-encrsa.der"
if "$TT" decrypt "$W/ks.cdb" alice@example.org "$W/to-encrsa.der" \
       "$W/wrong.out" >"$W/dec.log" 2>&1; then
	notok "alice's token key does not decrypt mail to encrsa"
else
	ok "alice's token key does not decrypt mail to encrsa"
fi

# the milter decrypts with a token key (Mode vd, smime-milter -t)
sed 's/^Mode sv$/Mode vd/' "$W/m.conf" >"$W/md.conf"
{
	printf 'From: alice@example.org\nTo: encrsa@example.org\n'
	printf 'Subject: encrypted\nMessage-ID: <tok@example.org>\n'
	printf 'MIME-Version: 1.0\n'
	printf 'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\n'
	printf 'Content-Transfer-Encoding: base64\n\n'
	base64 -w 76 "$ENC/ossl-rsa-aes256.der"
} >"$W/m-enc.eml"
"$MILTER" -c "$W/md.conf" -t "$W/m-enc.eml" -r encrsa@example.org \
    >"$W/md.out" 2>"$W/md.log"
rc=$?
if [ $rc = 0 ] && grep -q '^X-SMIME-Decrypted: for=encrsa@example.org' "$W/md.out" &&
   grep -q '^this is encrypted\.' "$W/md.out"; then
	ok "smime-milter -t decrypts with an RSA token key"
else
	notok "smime-milter -t decrypts with an RSA token key (exit $rc)"
	show "$W/md.log"
fi

# --- failures at start ---
"$MILTER" -c "$W/badpin.conf" -t "$W/m-alice.eml" -A alice@example.org \
    >"$W/f.out" 2>"$W/f.log"
rc=$?
if [ $rc = 75 ] && grep -q 'result=tempfail' "$W/f.log" &&
   [ "$(grep -c 'event=token status=unusable error=".*PIN refused' "$W/f.log")" = 1 ]; then
	ok "wrong PIN at start: tempfail and one event=token line"
else
	notok "wrong PIN at start: tempfail and one event=token line (exit $rc)"
	show "$W/f.log"
fi
"$MILTER" -c "$W/nomodule.conf" -t "$W/m-alice.eml" -A alice@example.org \
    >"$W/f.out" 2>"$W/f.log"
rc=$?
if [ $rc = 75 ] && grep -q 'result=tempfail' "$W/f.log" &&
   grep -q 'event=token status=unusable error=".*cannot load the PKCS#11 module' "$W/f.log"; then
	ok "module missing: tempfail and an event=token line"
else
	notok "module missing: tempfail and an event=token line (exit $rc)"
	show "$W/f.log"
fi
if "$MILTER" -n -c "$W/nomodule.conf" >"$W/n.out" 2>&1 &&
   grep -q 'warning: PKCS11Module: cannot load the PKCS#11 module' "$W/n.out"; then
	ok "module missing: a warning with -n, not an error"
else
	notok "module missing: a warning with -n, not an error"; show "$W/n.out"
fi
mv "$W/tokens" "$W/tokens.away"
mkdir "$W/tokens"
"$MILTER" -c "$W/m.conf" -t "$W/m-alice.eml" -A alice@example.org \
    >"$W/f.out" 2>"$W/f.log"
rc=$?
if [ $rc = 75 ] && grep -q 'result=tempfail' "$W/f.log" &&
   [ "$(grep -c 'event=token status=unusable' "$W/f.log")" = 1 ]; then
	ok "token missing at start: tempfail and one event=token line"
else
	notok "token missing at start: tempfail and one event=token line (exit $rc)"
	show "$W/f.log"
fi
# decryption with the token gone: "unavailable" (a temporary failure),
# never taken for content that does not decrypt
for f in ossl-rsa-aes256:encrsa ossl-ec256-aes256:ecdh256; do
	if "$TT" decrypt "$W/ks.cdb" ${f#*:}@example.org "$ENC/${f%:*}.der" \
	       "$W/gone.out" >"$W/gone.log" 2>&1; then
		notok "token gone: ${f#*:} cannot decrypt, says the token is unavailable"
	elif grep -q "the key's token is unavailable" "$W/gone.log"; then
		ok "token gone: ${f#*:} cannot decrypt, says the token is unavailable"
	else
		notok "token gone: ${f#*:} cannot decrypt, says the token is unavailable"
		show "$W/gone.log"
	fi
done
# ... and through the milter that is OnError (tempfail), not mail left
# encrypted for good
"$MILTER" -c "$W/md.conf" -t "$W/m-enc.eml" -r encrsa@example.org \
    >"$W/md.out" 2>"$W/md.log"
rc=$?
if [ $rc = 75 ] && grep -q 'result=tempfail' "$W/md.log" &&
   grep -q "decrypting: the key's token is unavailable" "$W/md.log" &&
   [ "$(grep -c 'event=token status=unusable' "$W/md.log")" = 1 ]; then
	ok "token gone: smime-milter -t tempfails the encrypted message, one event=token line"
else
	notok "token gone: smime-milter -t tempfails the encrypted message (exit $rc)"
	show "$W/md.log"
fi
if "$MILTER" -n -c "$W/m.conf" >"$W/n.out" 2>&1 &&
   grep -q "warning: Keystore: alice@example.org: key on a token unusable now ($URI;object=alice): no such key on the token" "$W/n.out"; then
	ok "token missing: -n warns for each token key, exit 0"
else
	notok "token missing: -n warns for each token key, exit 0"; show "$W/n.out"
fi
# the daemon serves at once and tries its token keys in its first walk
# over the keystore (keystore_expiry.c): one event=token line before any
# mail, and not the -n warning on its terminal
"$MILTER" -f -c "$W/m.conf" >"$W/d.log" 2>&1 &
DPID=$!
i=0
while ! grep -q 'event=token status=unusable' "$W/d.log" && [ $i -lt 300 ]; do
	sleep 0.1; i=$((i + 1))
done
kill $DPID; wait $DPID 2>/dev/null
if ! grep -q 'event=start' "$W/d.log"; then
	notok "token missing: the daemon starts, one event=token line before any mail"
	show "$W/d.log"
elif [ "$(grep -c 'event=token status=unusable' "$W/d.log")" = 1 ] &&
     ! grep -q 'warning: Keystore' "$W/d.log"; then
	ok "token missing: the daemon starts, one event=token line before any mail"
else
	notok "token missing: the daemon starts, one event=token line before any mail"
	show "$W/d.log"
fi
rmdir "$W/tokens"
mv "$W/tokens.away" "$W/tokens"
if "$MILTER" -n -c "$W/m.conf" >"$W/n.out" 2>&1 && ! grep -q token "$W/n.out"; then
	ok "token present: -n says nothing about it"
else
	notok "token present: -n says nothing about it"; show "$W/n.out"
fi

# --- failures while running: one process, commands through a FIFO ---
mkfifo "$W/in"
"$TT" serve "$W/ks.cdb" alice@example.org "$W/content" <"$W/in" \
    >"$W/serve.out" 2>&1 &
SERVE=$!
exec 7>"$W/in"
n=0
ask() {		# ask COMMAND: send it, wait for its answer (ok or fail)
	echo "$1" >&7
	n=$((n + 1))
	while [ "$(grep -c '^\(ok\|fail\)' "$W/serve.out")" -lt $n ]; do
		kill -0 $SERVE 2>/dev/null || return 1
		sleep 0.1
	done
}
ask sign
mv "$W/tokens" "$W/tokens.away"
ask sign
ask sign
mv "$W/tokens.away" "$W/tokens"
ask sign
ask sign
ask "pin $W/badpin"		# a reload with a wrong PIN while running
ask sign
ask sign
ask "pin $W/pin"		# and with the right one again
ask sign
exec 7>&-
wait $SERVE
SERVE=
cat >"$W/serve.want" <<EOT
ok
event unusable
fail
fail
event usable
ok
ok
ok
event unusable
fail
fail
ok
event usable
ok
EOT
sed 's/^\(ok\|fail\|event usable\|event unusable\).*/\1/' "$W/serve.out" \
    >"$W/serve.got"
if cmp -s "$W/serve.want" "$W/serve.got" &&
   grep -q '^event unusable .*PIN refused' "$W/serve.out"; then
	ok "while running: token removed, then a wrong PIN: fails, one line each way, recovers"
else
	notok "while running: token removed, then a wrong PIN: fails, one line each way, recovers"
	show "$W/serve.out"
fi
printf 'sign\nsign\npin %s\nsign\n' "$W/pin" |
    SMIME_PKCS11_PIN_FILE="$W/badpin" "$TT" serve "$W/ks.cdb" \
    alice@example.org "$W/content" >"$W/pin.out" 2>&1
cat >"$W/pin.want" <<EOT
event unusable
fail
fail
ok
event usable
ok
EOT
sed 's/^\(ok\|fail\|event usable\|event unusable\).*/\1/' "$W/pin.out" \
    >"$W/pin.got"
if cmp -s "$W/pin.want" "$W/pin.got" &&
   grep -q '^event unusable .*PIN refused' "$W/pin.out"; then
	ok "wrong PIN: fails, one line, works after another PIN is given"
else
	notok "wrong PIN: fails, one line, works after another PIN is given"
	show "$W/pin.out"
fi

echo "$passed passed, $failed failed"
[ $failed = 0 ]
