#!/bin/sh
# decrypt.sh - Mode d through smime-milter -t, on whole messages that
# independent tools encrypted at test time.
#
# SYNOPSIS
#	tests/decrypt.sh		(make check runs it)
#
# DESCRIPTION
#	A keystore holds decryption credentials of the test PKI
#	(tests/pki/mkpki.sh): encrsa (RSA), ecdh256 (EC P-256), and carol's
#	carol-enc (RSA) and the expired carol-old.  Plaintexts (a
#	multipart/mixed entity; alice's clear-signed message made by
#	openssl cms -sign) are encrypted by openssl cms -encrypt (RSA
#	AES-256-CBC, AES-128-CBC, AES-256-GCM AuthEnvelopedData, ECDH), NSS
#	cmsutil -E and gpgsm --encrypt (RSA), wrapped into messages and run
#	through smime-milter -t.
#
#	Decrypted: exit 0; the first header is our Authentication-Results
#	with the expected result; the DecryptHeader has the expected value;
#	and the rest of the output is the outer headers without their
#	Content-* fields followed by the plaintext the tool was given
#	(its Content-* header fields, as SPEC says the content headers are
#	replaced, and its body), byte for byte with LF line ends.
#	Left encrypted: exit 0, the output is the input with our
#	Authentication-Results "smime=none (encrypted, not decrypted: ...)"
#	on top: a recipient without a key (To/Cc, or -r), OAEP (unsupported
#	by GnuTLS 3.7.9), a damaged CMS, a wrong RSA key (the encrypted key
#	changed: RFC 3218's random key), a failed GCM tag, content that
#	decrypts to something that is not a MIME entity.
#	More RecipientInfos than the reader's limit: left encrypted too.
#	Mode d without v decrypts and verifies, and ignores other mail.
#	Also: an encrypted message signed by alice (encrypt, then sign) is
#	verified and left encrypted; a smime.p7m without smime-type holding
#	signed-data is verified as before; a forged DecryptHeader is
#	removed.
#
#	Missing tools fail under ./quickstart check naming the Debian
#	package (tests/need.sh).

set -u
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(dirname "$here")}
top_builddir=${top_builddir:-$top_srcdir}
. "$top_srcdir/tests/need.sh"
MILTER=$top_builddir/milter/smime-milter
KEYSTORE=$top_builddir/milter/smime-keystore
WORK=$top_builddir/tests/work
PKI=$WORK/pki
D=$WORK/decrypt
OPENSSL=${OPENSSL:-openssl}

need_tool "$OPENSSL" openssl
need_tool cmsutil libnss3-tools
need_tool certutil libnss3-tools
need_tool gpgsm gpgsm
need_tool base64 coreutils
[ -x "$MILTER" ] && [ -x "$KEYSTORE" ] || { echo "FAIL: build first"; exit 99; }
sh "$top_srcdir/tests/pki/mkpki.sh" "$PKI" >/dev/null || exit 99
rm -rf "$D"
mkdir -p "$D"
chmod 700 "$D"

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "PASS: $*"; }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }
die() { echo "FAIL: $*"; exit 1; }
run() { "$@" >"$D/tool.log" 2>&1 || die "$* failed: $(cat "$D/tool.log")"; }

# --- keystore and configuration --------------------------------------------
{
	echo "encrsa@example.org $PKI/encrsa.pem"
	echo "ecdh256@example.org $PKI/ecdh256.pem"
	echo "carol@example.org $PKI/carol-enc.pem"
	echo "carol@example.org $PKI/carol-old.pem"
} >"$D/ks.src"
run "$KEYSTORE" build "$D/ks.src" "$D/ks.cdb"
cat >"$D/t.conf" <<EOF
Socket inet:10025@127.0.0.1
Mode vd
AuthservID mx.test.example
TrustAnchorFile $PKI/roots.pem
Keystore $D/ks.cdb
SpoolDirectory $D
InternalHosts none
EOF

# --- plaintexts (CRLF, as S/MIME content is canonical) ---------------------
printf '%s\r\n' 'Content-Type: multipart/mixed; boundary="=-b1"' \
    'Content-Language: en' '' 'preamble' '--=-b1' \
    'Content-Type: text/plain; charset=us-ascii' '' 'Hello Bob,' \
    'this was encrypted.' '--=-b1' \
    'Content-Type: application/octet-stream; name="a.bin"' \
    'Content-Transfer-Encoding: base64' '' 'AAECAwQFBgcICQ==' '--=-b1--' \
    >"$D/plain.txt"
printf 'Content-Type: text/plain\r\n\r\nsigned and encrypted\r\n' \
    >"$D/inner.txt"
run "$OPENSSL" cms -sign -in "$D/inner.txt" -signer "$PKI/alice.crt" \
    -inkey "$PKI/alice.key" -certfile "$PKI/inter.crt" -out "$D/signed.txt"

# msg TO [CC]: outer headers, then the S/MIME entity on stdin
msg() {
	printf 'From: alice@example.org\nTo: %s\n' "$1"
	[ -n "${2:-}" ] && printf 'Cc: %s\n' "$2"
	printf 'Subject: encrypted\nMessage-ID: <1@example.org>\n'
	cat
}
# wrap DER: an S/MIME entity around a DER file (NSS and gpgsm write DER)
wrap() {
	printf 'MIME-Version: 1.0\n'
	printf 'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\n'
	printf 'Content-Transfer-Encoding: base64\n'
	printf 'Content-Disposition: attachment; filename=smime.p7m\n\n'
	base64 -w 76 "$1"
}
ossl() {        # ossl OUT.eml TO INPUT OPTIONS...
	out=$1 to=$2 in=$3
	shift 3
	"$OPENSSL" cms -encrypt -in "$D/$in" "$@" >"$D/enc.tmp" 2>"$D/tool.log" ||
		die "openssl cms -encrypt $*: $(cat "$D/tool.log")"
	msg "$to" <"$D/enc.tmp" >"$D/$out"
}

# first_header FILE: the first header unfolded
first_header() {
	awk 'NR == 1 { h = $0; next } /^[ \t]/ { sub(/^[ \t]+/, " "); h = h $0; next }
	     { print h; exit }' "$1"
}
# strip_ours FILE: without the first header (A-R) and the DecryptHeader
strip_ours() {
	awk 'NR == 1 { skip = 1; next }
	     skip && /^[ \t]/ { next }
	     { skip = 0 }
	     /^X-SMIME-Decrypted:/ && !body { next }
	     /^$/ { body = 1 }
	     { print }' "$1"
}
# content_only FILE: FILE's header block with only its Content-* fields,
# LF line ends, and the body as it is
content_only() {
	tr -d '\r' <"$1" | awk '
	    body { print; next }
	    /^$/ { body = 1; print; next }
	    /^[ \t]/ { if (keep) print; next }
	    { keep = tolower(substr($0, 1, 8)) == "content-"; if (keep) print }'
}

# decrypted NAME MESSAGE PLAINTEXT AR DECRYPTHEADER [-r RCPT...]
decrypted() {
	name=$1 m=$2 p=$3 ar=$4 dh=$5
	shift 5
	"$MILTER" -c "$D/t.conf" -t "$D/$m" "$@" >"$D/$name.out" \
	    2>"$D/$name.err"
	rc=$?
	[ $rc -eq 0 ] || { bad "$name: exit $rc: $(cat "$D/$name.err")"; return; }
	got=$(first_header "$D/$name.out")
	case $got in
	"Authentication-Results: mx.test.example; $ar") ;;
	*) bad "$name: first header \"$got\", want smime result \"$ar\""; return ;;
	esac
	got=$(grep '^X-SMIME-Decrypted:' "$D/$name.out")
	[ "$got" = "X-SMIME-Decrypted: $dh" ] ||
		{ bad "$name: \"$got\", want \"X-SMIME-Decrypted: $dh\""; return; }
	{
		awk '/^$/ { exit } { print }' "$D/$m" | awk '
		    /^[ \t]/ { if (keep) print; next }
		    { keep = tolower(substr($0, 1, 8)) != "content-"; if (keep) print }'
		content_only "$D/$p"
	} >"$D/$name.want"
	strip_ours "$D/$name.out" >"$D/$name.got"
	if cmp -s "$D/$name.want" "$D/$name.got"; then
		ok "$name: decrypted, $dh"
	else
		bad "$name: not the plaintext: $(diff "$D/$name.want" "$D/$name.got" | head -n 8)"
	fi
}

# unchanged NAME MESSAGE REASON-PATTERN [-r RCPT...]: left as it came
unchanged() {
	name=$1 m=$2 why=$3
	shift 3
	"$MILTER" -c "$D/t.conf" -t "$D/$m" "$@" >"$D/$name.out" \
	    2>"$D/$name.err"
	rc=$?
	[ $rc -eq 0 ] || { bad "$name: exit $rc: $(cat "$D/$name.err")"; return; }
	got=$(first_header "$D/$name.out")
	case $got in
	"Authentication-Results: mx.test.example; smime=none (encrypted, not decrypted: "$why")") ;;
	*) bad "$name: first header \"$got\", want not decrypted: $why"; return ;;
	esac
	if ! grep -q "decrypted=no" "$D/$name.err"; then
		bad "$name: no decrypted=no in the log: $(cat "$D/$name.err")"
	elif strip_ours "$D/$name.out" | cmp -s - "$D/$m"; then
		ok "$name: unchanged ($got)"
	else
		bad "$name: the message was changed"
	fi
}

# --- openssl ---------------------------------------------------------------
ossl rsa-aes256.eml encrsa@example.org plain.txt -aes256 "$PKI/encrsa.crt"
decrypted ossl-rsa-aes256 rsa-aes256.eml plain.txt "smime=none" \
    "for=encrsa@example.org; cipher=aes-256-cbc; integrity=none"
ossl rsa-signed.eml encrsa@example.org signed.txt -aes256 "$PKI/encrsa.crt"
decrypted ossl-rsa-signed rsa-signed.eml signed.txt \
    "smime=pass (signature verified) body.smime-identifier=alice@example.org body.smime-part=1 body.smime-serial=1001 body.smime-issuer=\"CN=Test Intermediate CA,O=smime-milter test\"" \
    "for=encrsa@example.org; cipher=aes-256-cbc; integrity=signature"
ossl rsa-gcm.eml encrsa@example.org plain.txt -aes-256-gcm "$PKI/encrsa.crt"
decrypted ossl-rsa-gcm256 rsa-gcm.eml plain.txt "smime=none" \
    "for=encrsa@example.org; cipher=aes-256-gcm; integrity=aead"
ossl ec-aes128.eml ecdh256@example.org plain.txt -aes128 "$PKI/ecdh256.crt"
decrypted ossl-ecdh256-aes128 ec-aes128.eml plain.txt "smime=none" \
    "for=ecdh256@example.org; cipher=aes-128-cbc; integrity=none"
ossl ec-signed-gcm.eml ecdh256@example.org signed.txt -aes-256-gcm \
    -recip "$PKI/ecdh256.crt" -keyopt ecdh_kdf_md:sha256
decrypted ossl-ecdh256-signed-gcm ec-signed-gcm.eml signed.txt \
    "smime=pass (signature verified) body.smime-identifier=alice@example.org body.smime-part=1 body.smime-serial=1001 body.smime-issuer=\"CN=Test Intermediate CA,O=smime-milter test\"" \
    "for=ecdh256@example.org; cipher=aes-256-gcm; integrity=signature"
ossl carol-enc.eml carol@example.org plain.txt -aes256 -keyid \
    "$PKI/carol-enc.crt"
decrypted ossl-carol-enc-keyid carol-enc.eml plain.txt "smime=none" \
    "for=carol@example.org; cipher=aes-256-cbc; integrity=none"
ossl carol-old.eml carol@example.org plain.txt -aes256 "$PKI/carol-old.crt"
decrypted ossl-carol-old-expired carol-old.eml plain.txt "smime=none" \
    "for=carol@example.org; cipher=aes-256-cbc; integrity=none"

# --- NSS cmsutil and gpgsm (RSA, AES-CBC) ------------------------------------
NSSDB=sql:$D/nss
mkdir -p "$D/nss"
run certutil -N -d "$NSSDB" --empty-password
run certutil -A -d "$NSSDB" -n root -t "C,C,C" -i "$PKI/root.crt"
run certutil -A -d "$NSSDB" -n inter -t ",," -i "$PKI/inter.crt"
run certutil -A -d "$NSSDB" -n encrsa -t ",," -i "$PKI/encrsa.crt"
run cmsutil -E -d "$NSSDB" -r encrsa@example.org -i "$D/plain.txt" \
    -o "$D/nss.der"
wrap "$D/nss.der" | msg encrsa@example.org >"$D/nss.eml"
decrypted nss-rsa nss.eml plain.txt "smime=none" \
    "for=encrsa@example.org; cipher=aes-128-cbc; integrity=none"

GNUPGHOME=$D/gnupg
export GNUPGHOME
mkdir -m 700 "$GNUPGHOME"
echo disable-crl-checks >"$GNUPGHOME/gpgsm.conf"
run gpgsm --batch --import "$PKI/root.crt" "$PKI/inter.crt" "$PKI/encrsa.crt"
fpr=$(gpgsm --with-colons --fingerprint "CN=Test Root CA,O=smime-milter test" |
    awk -F: '/^fpr:/ { print $10; exit }')
echo "$fpr S relax" >"$GNUPGHOME/trustlist.txt"
run gpgsm --batch --cipher-algo AES256 -r encrsa@example.org --encrypt \
    -o "$D/gpgsm.der" "$D/signed.txt"
gpgconf --kill gpg-agent 2>/dev/null || :
wrap "$D/gpgsm.der" | msg encrsa@example.org >"$D/gpgsm.eml"
decrypted gpgsm-rsa-signed gpgsm.eml signed.txt \
    "smime=pass (signature verified) body.smime-identifier=alice@example.org body.smime-part=1 body.smime-serial=1001 body.smime-issuer=\"CN=Test Intermediate CA,O=smime-milter test\"" \
    "for=encrsa@example.org; cipher=aes-256-cbc; integrity=signature"

# --- the recipient rule ----------------------------------------------------
"$OPENSSL" cms -encrypt -aes256 -in "$D/plain.txt" "$PKI/encrsa.crt" \
    "$PKI/ecdh256.crt" "$PKI/bob.crt" >"$D/enc.tmp" || die "openssl multi"
msg encrsa@example.org bob@example.org <"$D/enc.tmp" >"$D/multi.eml"
# To and Cc: bob has no key, so nobody's key opens it
unchanged multi-bob-no-key multi.eml "no key for recipient bob@example.org"
unchanged multi-r-bob-no-key multi.eml "no key for recipient bob@example.org" \
    -r encrsa@example.org -r '<bob@example.org>'
# -r replaces To and Cc: both envelope recipients have keys
decrypted multi-r-both-keys multi.eml plain.txt "smime=none" \
    "for=encrsa@example.org, ecdh256@example.org; cipher=aes-256-cbc; integrity=none" \
    -r '<encrsa@example.org>' -r ECDH256@example.org
# a key we hold, but not one this message names
unchanged not-named rsa-aes256.eml "no key for recipient carol@example.org" \
    -r carol@example.org

# --- cannot be decrypted -----------------------------------------------------
ossl oaep.eml encrsa@example.org plain.txt -aes256 -recip "$PKI/encrsa.crt" \
    -keyopt rsa_padding_mode:oaep
unchanged ossl-rsa-oaep oaep.eml "unsupported key transport"
# damaged: the base64 body cut in the middle
awk 'length($0) == 64 && ++n == 10 { exit } { print }' "$D/rsa-aes256.eml" \
    >"$D/damaged.eml"
unchanged damaged-cms damaged.eml "*"
# a wrong RSA key: one byte of the encrypted key changed
"$OPENSSL" cms -encrypt -aes256 -binary -outform DER -in "$D/plain.txt" \
    "$PKI/encrsa.crt" >"$D/rsa.der" || die "openssl DER"
off=$(od -An -v -tx1 "$D/rsa.der" | tr -d ' \n' |
    awk '{ i = index($0, "04820100"); print i ? (i - 1) / 2 + 40 : -1 }')
[ "$off" -gt 0 ] || die "no RSA encryptedKey in rsa.der"
cp "$D/rsa.der" "$D/wrongkey.der"
printf '\125' | dd of="$D/wrongkey.der" bs=1 seek="$off" conv=notrunc \
    2>/dev/null
cmp -s "$D/rsa.der" "$D/wrongkey.der" &&
	{ printf '\252' | dd of="$D/wrongkey.der" bs=1 seek="$off" \
	    conv=notrunc 2>/dev/null; }
wrap "$D/wrongkey.der" | msg encrsa@example.org >"$D/wrongkey.eml"
unchanged wrong-rsa-key wrongkey.eml "*"
# a failed GCM tag: the last byte of the DER is the tag's
"$OPENSSL" cms -encrypt -aes-256-gcm -binary -outform DER \
    -in "$D/plain.txt" "$PKI/encrsa.crt" >"$D/gcm.der" || die "openssl GCM"
size=$(wc -c <"$D/gcm.der")
last=$(od -An -tu1 -j $((size - 1)) "$D/gcm.der" | tr -d ' ')
printf "\\$(printf %03o $(( (last + 1) % 256 )))" |
    dd of="$D/gcm.der" bs=1 seek=$((size - 1)) conv=notrunc 2>/dev/null
wrap "$D/gcm.der" | sed 's/enveloped-data/authEnveloped-data/' |
    msg encrsa@example.org >"$D/badtag.eml"
unchanged gcm-bad-tag badtag.eml "*"

# a limit: more RecipientInfos than the reader takes (64)
set -- "$PKI/encrsa.crt"
i=0
while [ $i -lt 70 ]; do set -- "$@" "$PKI/bob.crt"; i=$((i + 1)); done
ossl limit.eml encrsa@example.org plain.txt -aes128 "$@"
unchanged ri-limit limit.eml "too many RecipientInfos"

# content that decrypts but is no MIME entity (what a wrong RSA key gives
# once in 256 tries with CBC): never released
printf 'Hello, no header here\r\n\r\nbody\r\n' >"$D/nomime.txt"
ossl nomime.eml encrsa@example.org nomime.txt -aes256 "$PKI/encrsa.crt"
unchanged not-mime nomime.eml "decrypted content is not a MIME entity*"

# --- encrypted, then signed: verified, the encrypted part left alone --------
"$OPENSSL" cms -encrypt -aes256 -in "$D/plain.txt" "$PKI/encrsa.crt" \
    >"$D/enc.tmp" || die "openssl encrypt"
run "$OPENSSL" cms -sign -in "$D/enc.tmp" -signer "$PKI/alice.crt" \
    -inkey "$PKI/alice.key" -certfile "$PKI/inter.crt" -out "$D/es.tmp"
msg encrsa@example.org <"$D/es.tmp" >"$D/encsigned.eml"
"$MILTER" -c "$D/t.conf" -t "$D/encsigned.eml" >"$D/es.out" 2>"$D/es.err"
got=$(first_header "$D/es.out")
case $got in
*"smime=pass (signature verified)"*)
	if grep -q '^X-SMIME-Decrypted' "$D/es.out"; then
		bad "encrypt-then-sign: decrypted"
	elif strip_ours "$D/es.out" | cmp -s - "$D/encsigned.eml"; then
		ok "encrypt-then-sign: verified, left encrypted"
	else
		bad "encrypt-then-sign: changed"
	fi ;;
*) bad "encrypt-then-sign: $got" ;;
esac

# --- a .p7m without smime-type that holds signed-data: verified as before
run "$OPENSSL" cms -sign -nodetach -in "$D/plain.txt" -signer "$PKI/alice.crt" \
    -inkey "$PKI/alice.key" -certfile "$PKI/inter.crt" -out "$D/opaque.tmp"
sed 's/smime-type=signed-data; //' "$D/opaque.tmp" |
    msg encrsa@example.org >"$D/opaque.eml"
"$MILTER" -c "$D/t.conf" -t "$D/opaque.eml" >"$D/opaque.out" 2>"$D/opaque.err"
got=$(first_header "$D/opaque.out")
case $got in
*"smime=pass (signature verified)"*)
	if grep -q '^X-SMIME-Decrypted' "$D/opaque.out" ||
	    ! strip_ours "$D/opaque.out" | cmp -s - "$D/opaque.eml"; then
		bad "p7m signed-data: changed"
	else
		ok "p7m without smime-type holding signed-data: verified, unchanged"
	fi ;;
*) bad "p7m signed-data: $got" ;;
esac

# --- Mode d without v: only enveloped mail is handled (and verified) -----
sed 's/^Mode vd$/Mode d/' "$D/t.conf" >"$D/d.conf"
"$MILTER" -c "$D/d.conf" -t "$D/rsa-signed.eml" >"$D/d1.out" 2>"$D/d1.err"
"$MILTER" -c "$D/d.conf" -t "$D/encsigned.eml" >"$D/d2.out" 2>"$D/d2.err"
if ! grep -q '^X-SMIME-Decrypted: for=encrsa@example.org; cipher=aes-256-cbc; integrity=signature$' "$D/d1.out" ||
    ! grep -q 'result=pass .*decrypted=yes' "$D/d1.err"; then
	bad "Mode d: encrypted message: $(cat "$D/d1.err")"
elif ! cmp -s "$D/d2.out" "$D/encsigned.eml" ||
    ! grep -q 'result=ignored' "$D/d2.err"; then
	bad "Mode d: a signed message was handled: $(cat "$D/d2.err")"
else
	ok "Mode d without v: decrypts and verifies, ignores other mail"
fi

# --- forged DecryptHeader: removed from any message ---------------------------
printf 'From: alice@example.org\nTo: encrsa@example.org\nX-SMIME-Decrypted: for=encrsa@example.org; cipher=aes-256-cbc; integrity=signature\nSubject: x\nx-smime-decrypted: forged\n\nhello\n' \
    >"$D/forged.eml"
"$MILTER" -c "$D/t.conf" -t "$D/forged.eml" >"$D/forged.out" 2>&1
"$MILTER" -c "$D/t.conf" -A alice@example.org -t "$D/forged.eml" \
    >"$D/forged-out.out" 2>&1
if grep -qi '^X-SMIME-Decrypted' "$D/forged.out" "$D/forged-out.out"; then
	bad "forged DecryptHeader kept"
else
	ok "forged DecryptHeader removed (inbound and outbound)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
