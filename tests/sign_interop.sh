#!/bin/sh
# sign_interop.sh - our CMS signatures judged by independent verifiers,
# and smime-keystore build/list/check, good and bad.
#
#   openssl cms -verify   RSA, RSA-PSS, ECDSA (P-256, P-384), PKCS#12 input
#   gpgsm --verify        RSA, RSA-PSS, ECDSA
#   NSS cmsutil -D        RSA, ECDSA, RSA-PSS (see below)
#   certtool --p7-verify  Ed25519 (OpenSSL 3.0 and gpgsm 2.2 cannot)
# Every verifier must also reject a signature over altered content.
#
# Known limits of the verifiers, asserted rather than skipped:
#   - NSS 3.87 (Debian 12) verifies no RSA-PSS CMS signature at all.  An
#     RSA-PSS signature made by OpenSSL (which openssl verifies) is given to
#     cmsutil first: when NSS rejects it, NSS must reject ours with the same
#     "BadSignature" status; when NSS accepts it, NSS must verify ours.
#   - Ed25519 is judged by certtool only; openssl, gpgsm and NSS are not run
#     on it (OpenSSL 3.0, gpgsm 2.2 and NSS 3.87 cannot verify it in CMS).
# Every tool is required: a missing one fails under ./quickstart check
# (tests/need.sh) and skips the whole script (exit 77) otherwise.
#
# smime-keystore build must reject each kind of bad entry with the right
# SOURCE:LINE, exit 1 and leave the old OUTPUT in place.
#
# Prints "N passed, N failed" and exits 1 when anything failed.
set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
OPENSSL=${OPENSSL:-openssl}
CERTTOOL=${CERTTOOL:-certtool}
SIGN=$top_builddir/tests/sign_tool
KS=$top_builddir/milter/smime-keystore
PKI=$top_builddir/tests/work/pki
W=$top_builddir/tests/work/sign-interop
. "$top_srcdir/tests/need.sh"
need_tool "$OPENSSL" openssl
need_tool "$CERTTOOL" gnutls-bin
need_tool gpgsm gpgsm
need_tool gpgconf gpgconf
need_tool cmsutil libnss3-tools
need_tool certutil libnss3-tools

sh "$top_srcdir/tests/pki/mkpki.sh" "$PKI" >/dev/null || {
	echo "sign_interop: cannot make the test PKI" >&2; exit 1; }
rm -rf "$W"
mkdir -p "$W/src"
GNUPGHOME=$(mktemp -d /tmp/sign-interop-gpg.XXXXXX)
export GNUPGHOME
cleanup() {
	gpgconf --kill gpg-agent >/dev/null 2>&1
	rm -rf "$GNUPGHOME"
}
trap cleanup EXIT

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
notok() { failed=$((failed + 1)); echo "not ok - $1"; }
check() {	# check NAME COMMAND...: COMMAND must succeed
	name=$1; shift
	if "$@" >"$W/last.log" 2>&1; then ok "$name"
	else notok "$name"; sed 's/^/    /' "$W/last.log"; fi
}
refuse() {	# refuse NAME COMMAND...: COMMAND must fail
	name=$1; shift
	if "$@" >"$W/last.log" 2>&1; then notok "$name (accepted)"
	else ok "$name"; fi
}

# The signed entity: canonical CRLF MIME, as the milter will sign it.
printf 'Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\nHello Bob,\r\n\r\nsigned by our signer.\r\n' >"$W/content"
cp "$W/content" "$W/altered"
printf 'P.S. added later\r\n' >>"$W/altered"

# --- verifiers' set-up (a verifier that cannot be set up fails its checks) ---
echo disable-crl-checks >"$GNUPGHOME/gpgsm.conf"
gpgsm --batch --import "$PKI/root.crt" >/dev/null 2>&1
fpr=$(gpgsm --with-colons --list-keys 2>/dev/null |
    awk -F: '/^fpr/ { print $10; exit }')
if [ -n "$fpr" ]; then
	echo "$fpr S relax" >"$GNUPGHOME/trustlist.txt"
	gpgconf --kill gpg-agent >/dev/null 2>&1
	ok "gpgsm set-up: root trusted"
else
	notok "gpgsm set-up: cannot import the test root"
fi
mkdir "$W/nss"
check "NSS set-up: database with the test root" sh -c \
    "certutil -N -d 'sql:$W/nss' --empty-password &&
     certutil -A -d 'sql:$W/nss' -n root -t C,C,C -i '$PKI/root.crt'"

v_openssl() { "$OPENSSL" cms -verify -binary -inform DER -in "$1" \
	-content "$2" -CAfile "$PKI/roots.pem" -out /dev/null; }
v_gpgsm() { gpgsm --batch --verify "$1" "$2"; }
v_nss() { cmsutil -D -d "sql:$W/nss" -i "$1" -c "$2" -o /dev/null; }
v_certtool() { "$CERTTOOL" --p7-verify --inder --infile "$1" \
	--load-data "$2" --load-ca-certificate "$PKI/roots.pem"; }

# Does this NSS verify RSA-PSS CMS at all?  Ask it about OpenSSL's, which
# openssl itself must verify (the header's known limit).
nss_pss=0
check "openssl makes a reference RSA-PSS signature" "$OPENSSL" cms -sign \
    -binary -in "$W/content" -signer "$PKI/pss.crt" -inkey "$PKI/pss.key" \
    -certfile "$PKI/inter.crt" -keyopt rsa_padding_mode:pss -outform DER \
    -out "$W/ref-pss.der"
check "openssl verifies its reference RSA-PSS signature" \
    v_openssl "$W/ref-pss.der" "$W/content"
if v_nss "$W/ref-pss.der" "$W/content" >"$W/nss-ref-pss.log" 2>&1; then
	nss_pss=1
fi
# pss_nss_limit DER: NSS rejects DER as it rejects OpenSSL's RSA-PSS CMS.
pss_nss_limit() {
	grep -q 'status = BadSignature' "$W/nss-ref-pss.log" &&
	! v_nss "$1" "$W/content" >"$W/nss-pss.log" 2>&1 &&
	grep -q 'status = BadSignature' "$W/nss-pss.log"
}

# --- our signatures ---
for u in alice pss ecdsa ec384 ed25519; do
	if ! "$SIGN" "$PKI/$u.pem" "$W/content" "$W/$u.der" >"$W/$u.micalg" \
	    2>"$W/last.log"; then
		notok "sign with $u"; sed 's/^/    /' "$W/last.log"; continue
	fi
	ok "sign with $u (micalg $(cat "$W/$u.micalg"))"
	case $u in
	ed25519) verifiers=certtool ;;
	ec384) verifiers="openssl gpgsm nss" ;;
	*) verifiers="openssl gpgsm nss" ;;
	esac
	for v in $verifiers; do
		if [ $v = nss ] && [ $u = pss ] && [ $nss_pss = 0 ]; then
			check "$u: nss rejects it (BadSignature) as it rejects OpenSSL's RSA-PSS: known NSS limit" \
			    pss_nss_limit "$W/$u.der"
			continue
		fi
		check "$u: $v verifies our signature" v_$v "$W/$u.der" "$W/content"
		refuse "$u: $v rejects it over altered content" \
		    v_$v "$W/$u.der" "$W/altered"
	done
done

# micalg follows the key
[ "$(cat "$W/ec384.micalg" 2>/dev/null)" = sha-384 ] &&
    ok "ec384 signs with sha-384" || notok "ec384 signs with sha-384"
[ "$(cat "$W/ed25519.micalg" 2>/dev/null)" = sha-512 ] &&
    ok "ed25519 uses sha-512" || notok "ed25519 uses sha-512"

# A PKCS#12 credential (mkpki's hold no intermediate: give it to openssl).
if SMIME_KEYSTORE_PASSWORD=test "$SIGN" "$PKI/alice.p12" "$W/content" \
    "$W/p12.der" >/dev/null 2>"$W/last.log"; then
	cat "$PKI/roots.pem" "$PKI/inter.crt" >"$W/roots+inter.pem"
	check "PKCS#12 credential: openssl verifies" "$OPENSSL" cms -verify \
	    -binary -inform DER -in "$W/p12.der" -content "$W/content" \
	    -CAfile "$W/roots+inter.pem" -out /dev/null
else
	notok "sign with alice.p12"; sed 's/^/    /' "$W/last.log"
fi

# --- smime-keystore build / list / check ---
# Sources live in $W/src and name credentials relative to that directory;
# the tool runs from / to show that relative means relative to SOURCE.
cat "$PKI/alice.key" "$PKI/bob.chain.pem" >"$W/mismatch.pem"
cat >"$W/src/good.txt" <<EOT
# the good keystore
alice@example.org   ../../pki/alice.pem
Ecdsa@Example.org   ../../pki/ecdsa.pem   ecdsa boss   # two logins

pss@example.org     ../../pki/pss.p12
EOT
OUT=$W/keystore.cdb
check "build a good keystore" env SMIME_KEYSTORE_PASSWORD=test \
    sh -c "cd / && '$KS' build '$W/src/good.txt' '$OUT'"
mode=$(stat -c %a "$OUT" 2>/dev/null)
[ "$mode" = 600 ] && ok "keystore mode 0600" || notok "keystore mode is $mode"
"$KS" list "$OUT" >"$W/list.out" 2>&1
if grep -q '^alice@example.org subject="CN=Test User alice,O=smime-milter test" serial=1001 not-after=2099-12-31T23:59:59Z purpose=sign,decrypt logins=- key=file$' "$W/list.out" &&
   grep -q '^ecdsa@example.org .* purpose=sign logins=ecdsa,boss key=file$' "$W/list.out" &&
   grep -q '^pss@example.org .* purpose=sign logins=- key=file$' "$W/list.out" &&
   [ "$(wc -l <"$W/list.out")" = 3 ]; then
	ok "list shows every entry"
else
	notok "list shows every entry"; sed 's/^/    /' "$W/list.out"
fi
if grep -qi 'PRIVATE\|BEGIN\|KEY-----' "$W/list.out"; then
	notok "list never prints key material"
else
	ok "list never prints key material"
fi
check "check accepts the good keystore" "$KS" check "$OUT"
cp "$OUT" "$W/keystore.before"

# bad NAME LINE MESSAGE ENTRY [PASSWORD]: a source whose line LINE is
# ENTRY must be refused with SOURCE:LINE: ...MESSAGE..., OUTPUT unchanged.
bad() {
	name=$1 line=$2 msg=$3 entry=$4 pw=${5:-test}
	src=$W/src/bad-$name.txt
	{
		echo "alice@example.org ../../pki/alice.pem"
		i=2
		while [ $i -lt "$line" ]; do echo "# filler $i"; i=$((i + 1)); done
		echo "$entry"
	} >"$src"
	SMIME_KEYSTORE_PASSWORD=$pw "$KS" build "$src" "$OUT" >"$W/bad.out" 2>&1
	rc=$?
	if [ $rc = 1 ] && grep -q "^$src:$line: .*$msg" "$W/bad.out" &&
	   cmp -s "$OUT" "$W/keystore.before" &&
	   [ -z "$(find "$W" -maxdepth 1 -name '.keystore.cdb.*')" ]; then
		ok "build refuses $name (line $line)"
	else
		notok "build refuses $name (line $line): exit $rc"
		sed 's/^/    /' "$W/bad.out"
	fi
}
bad key-mismatch 2 "private key does not match the certificate" \
    "mismatch@example.org ../mismatch.pem"
bad no-emailProtection 3 "no emailProtection" \
    "noeku@example.org ../../pki/noeku.pem"
bad wrong-key-usage 2 "wrong key usage: the certificate allows neither" \
    "rsa-agree@example.org ../../pki/rsa-agree.pem"
bad address-not-in-cert 4 "carol@example.org is not in the certificate" \
    "carol@example.org ../../pki/alice.pem"
bad expired 2 "expired certificate" \
    "carol@example.org ../../pki/carol-oldsign.pem"
bad missing-file 5 "cannot read .*nosuch.pem: No such file" \
    "missing@example.org ../../pki/nosuch.pem"
bad syntax 3 "bad syntax" "just-one-field@example.org"
bad not-an-address 2 "not an email address" "alice ../../pki/alice.pem"
bad wrong-p12-password 2 "wrong password" \
    "pss@example.org ../../pki/pss.p12" wrong
bad duplicate 2 "duplicate credential: ALICE@example.org has the same certificate on line 1" \
    "ALICE@example.org ../../pki/alice.pem"
bad weak-key 2 "weak key" "weak@example.org ../../pki/weak.pem"

# several problems: one line each, all reported
printf 'a@example.org ../../pki/alice.pem\ncarol@example.org ../../pki/carol-oldsign.pem\nb@example.org\n' >"$W/src/multi.txt"
"$KS" build "$W/src/multi.txt" "$OUT" >"$W/bad.out" 2>&1
if [ $? = 1 ] && [ "$(grep -c "^$W/src/multi.txt:[123]: " "$W/bad.out")" = 3 ]; then
	ok "build reports every problem"
else
	notok "build reports every problem"; sed 's/^/    /' "$W/bad.out"
fi

# the daemon's rules for the file itself
chmod 644 "$OUT"
"$KS" list "$OUT" >"$W/bad.out" 2>&1
if [ $? = 1 ] && grep -q "chmod 600" "$W/bad.out"; then
	ok "a group/world-readable keystore is refused"
else
	notok "a group/world-readable keystore is refused"
	sed 's/^/    /' "$W/bad.out"
fi
chmod 600 "$OUT"
refuse "usage error exits non-zero" "$KS" frobnicate "$OUT"

# --- the milter signs: smime-milter -t MSG -A LOGIN ---
MILTER=$top_builddir/milter/smime-milter
cat >"$W/src/milter.txt" <<EOT
alice@example.org   ../../pki/alice.pem
ecdsa@example.org   ../../pki/ecdsa.pem   ecdsa-login
EOT
"$KS" build "$W/src/milter.txt" "$W/milter.cdb" >/dev/null
cat >"$W/milter.conf" <<EOT
Mode sv
Keystore $W/milter.cdb
TrustAnchorFile $PKI/roots.pem
AuthservID mx.test.example
SpoolDirectory $W
EOT
msg() {	# msg FILE FROM [EXTRA-HEADER]: a plain text message
	{
		echo "From: Sender <$2>"
		echo "To: Bob <bob@example.org>"
		echo "Subject: signing test"
		echo "Date: Mon, 01 Jan 2024 10:00:00 +0000"
		echo "Message-ID: <sign-$(basename "$1")@example.org>"
		[ -n "${3:-}" ] && echo "$3"
		echo "MIME-Version: 1.0"
		echo "Content-Type: text/plain; charset=us-ascii"
		echo
		echo "Hello Bob,"
		echo
		echo "this message is signed by smime-milter."
	} >"$1"
}
# milter_sign NAME IN LOGIN: run -t, keep output and log
milter_sign() {
	"$MILTER" -c "$W/milter.conf" -t "$2" -A "$3" >"$W/$1.out" 2>"$W/$1.log"
}
msg "$W/m-alice.eml" alice@example.org
if milter_sign m-alice "$W/m-alice.eml" alice@example.org &&
   grep -q 'result=signed' "$W/m-alice.log"; then
	ok "-t -A alice@example.org signs"
	check "openssl verifies the milter's message" "$OPENSSL" cms -verify \
	    -in "$W/m-alice.out" -CAfile "$PKI/roots.pem" -out /dev/null
	if grep -q '^Content-Type: multipart/signed; protocol="application/pkcs7-signature";' "$W/m-alice.out" &&
	   grep -q 'micalg=sha-256; boundary=' "$W/m-alice.out" &&
	   [ "$(grep -c '^MIME-Version:' "$W/m-alice.out")" = 1 ] &&
	   grep -q '^Subject: signing test$' "$W/m-alice.out"; then
		ok "headers: multipart/signed, one MIME-Version, others kept"
	else
		notok "headers: multipart/signed, one MIME-Version, others kept"
	fi
	"$MILTER" -c "$W/milter.conf" -t "$W/m-alice.out" >"$W/m-alice.in" 2>/dev/null
	if grep -q 'smime=pass (signature verified) body.smime-identifier=alice@example.org' "$W/m-alice.in"; then
		ok "our verifier passes the milter's message"
	else
		notok "our verifier passes the milter's message"
	fi
	msg "$W/m-ecdsa.eml" ecdsa@example.org
	printf 'Caf\303\251 cr\303\250me: 8-bit text.\n' >>"$W/m-ecdsa.eml"
	sed -i 's/charset=us-ascii/charset=utf-8/' "$W/m-ecdsa.eml"
	if milter_sign m-ecdsa "$W/m-ecdsa.eml" ecdsa-login &&
	   "$OPENSSL" cms -verify -in "$W/m-ecdsa.out" -CAfile "$PKI/roots.pem" \
	       -out /dev/null >/dev/null 2>&1 &&
	   grep -q 'micalg=sha-256' "$W/m-ecdsa.out" &&
	   ! LC_ALL=C grep -q "$(printf '[\200-\377]')" "$W/m-ecdsa.out"; then
		ok "8-bit ECDSA message: signed 7-bit, openssl verifies"
	else
		notok "8-bit ECDSA message: signed 7-bit, openssl verifies"
		sed 's/^/    /' "$W/m-ecdsa.log"
	fi
	sed 's/$/\r/' "$W/m-alice.eml" >"$W/m-crlf.eml"
	if milter_sign m-crlf "$W/m-crlf.eml" alice@example.org &&
	   tr -d '\r' <"$W/m-crlf.out" >"$W/m-crlf.lf" &&
	   "$OPENSSL" cms -verify -in "$W/m-crlf.lf" -CAfile "$PKI/roots.pem" \
	       -out /dev/null >/dev/null 2>&1; then
		ok "CRLF input signs and verifies"
	else
		notok "CRLF input signs and verifies"
	fi
	# not signed: unchanged message, reason in the log
	unsigned() {	# unsigned NAME IN LOGIN REASON
		if milter_sign "$1" "$2" "$3" && cmp -s "$2" "$W/$1.out" &&
		   grep -q "result=unsigned reason=\"$4" "$W/$1.log"; then
			ok "not signed: $4"
		else
			notok "not signed: $4"; sed 's/^/    /' "$W/$1.log"
		fi
	}
	unsigned m-bob "$W/m-alice.eml" bob@example.org \
	    "login bob@example.org may not sign as alice@example.org"
	unsigned m-ecdsa-addr "$W/m-ecdsa.eml" ecdsa@example.org \
	    "login ecdsa@example.org may not sign as ecdsa@example.org"
	msg "$W/m-carol.eml" carol@example.org
	unsigned m-carol "$W/m-carol.eml" carol@example.org \
	    "no keystore entry for carol@example.org"
	msg "$W/m-dkim.eml" alice@example.org \
	    "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=x; b=AAAA"
	unsigned m-dkim "$W/m-dkim.eml" alice@example.org "DKIM-Signature present"
	unsigned m-again "$W/m-alice.out" alice@example.org "already signed"

	# Mail without a SASL login (an InternalHosts client, a local
	# submission) signs only as an address whose entry lists +internal;
	# a login never signs as somebody else, +internal or not.
	cp "$W/milter.conf" "$W/milter-int.conf"
	echo "InternalHosts 127.0.0.1" >>"$W/milter-int.conf"
	cp "$top_srcdir/tests/data/forged.eml" "$W/forged.eml"
	nologin() {	# nologin NAME CONF CLIENT: -t with -a CLIENT, no -A
		"$MILTER" -c "$2" -t "$W/forged.eml" -a "$3" \
		    >"$W/$1.out" 2>"$W/$1.log"
	}
	for a in 127.0.0.1 ''; do
		nologin nl-plain "$W/milter-int.conf" "$a"
		if grep -q 'result=unsigned reason="mail without a SASL login may not sign as alice@example.org' "$W/nl-plain.log" &&
		   ! grep -qi 'multipart/signed' "$W/nl-plain.out"; then
			ok "-a '$a': not signed as alice without +internal"
		else
			notok "-a '$a': not signed as alice without +internal"
			sed 's/^/    /' "$W/nl-plain.log"
		fi
	done
	# the default InternalHosts is none: loopback is inbound, verified
	nologin nl-default "$W/milter.conf" 127.0.0.1
	if grep -q 'dir=in client=127.0.0.1 result=none' "$W/nl-default.log" &&
	   grep -q '^Authentication-Results: mx.test.example;' "$W/nl-default.out" &&
	   ! grep -qi 'multipart/signed' "$W/nl-default.out"; then
		ok "-a 127.0.0.1 with the default InternalHosts: inbound"
	else
		notok "-a 127.0.0.1 with the default InternalHosts: inbound"
		sed 's/^/    /' "$W/nl-default.log"
	fi
	printf 'alice@example.org ../../pki/alice.pem +internal\n' \
	    >"$W/src/internal.txt"
	"$KS" build "$W/src/internal.txt" "$W/internal.cdb" >/dev/null
	sed "s|^Keystore .*|Keystore $W/internal.cdb|" "$W/milter-int.conf" \
	    >"$W/milter-int2.conf"
	for a in 127.0.0.1 ''; do
		if nologin nl-int "$W/milter-int2.conf" "$a" &&
		   grep -q 'result=signed' "$W/nl-int.log" &&
		   "$OPENSSL" cms -verify -in "$W/nl-int.out" \
		       -CAfile "$PKI/roots.pem" -out /dev/null >/dev/null 2>&1; then
			ok "-a '$a': signed as alice with +internal"
		else
			notok "-a '$a': signed as alice with +internal"
			sed 's/^/    /' "$W/nl-int.log"
		fi
	done
	"$MILTER" -c "$W/milter-int2.conf" -t "$W/forged.eml" -A mallory \
	    -a 127.0.0.1 >"$W/nl-mallory.out" 2>"$W/nl-mallory.log"
	if grep -q 'result=unsigned reason="login mallory may not sign as alice@example.org' "$W/nl-mallory.log"; then
		ok "-A mallory with +internal: still refused"
	else
		notok "-A mallory with +internal: still refused"
		sed 's/^/    /' "$W/nl-mallory.log"
	fi
	"$MILTER" -c "$W/milter-int2.conf" -t "$W/forged.eml" \
	    -A alice@example.org >"$W/nl-alice.out" 2>"$W/nl-alice.log"
	if grep -q 'result=signed' "$W/nl-alice.log"; then
		ok "+internal alone lists no login: the address's own login signs"
	else
		notok "+internal alone lists no login: the address's own login signs"
		sed 's/^/    /' "$W/nl-alice.log"
	fi
	"$MILTER" -c "$W/milter-int2.conf" -t "$W/forged.eml" -A +internal \
	    >"$W/nl-word.out" 2>"$W/nl-word.log"
	if grep -q 'result=unsigned reason="login +internal may not sign' "$W/nl-word.log"; then
		ok "a SASL login named +internal does not sign"
	else
		notok "a SASL login named +internal does not sign"
		sed 's/^/    /' "$W/nl-word.log"
	fi
else
	notok "-t -A alice@example.org signs"; sed 's/^/    /' "$W/m-alice.log"
fi

echo "$passed passed, $failed failed"
[ $failed = 0 ]
