#!/bin/sh
# encrypt_interop.sh - what we encrypt (crypto/envelope_write.c, through
# tests/encrypt_tool) judged by independent decrypters and by our reader.
#
#   openssl cms -decrypt  RSA, ECDH P-256/384/521; AES-256-CBC and -GCM
#   NSS cmsutil -D        RSA AES-256-CBC
#   gpgsm --decrypt       RSA AES-256-CBC
#   our reader            everything (encrypt_tool -d: crypto/envelope.c)
# Several recipients, RSA and EC mixed: each one's key opens it.
#
# Known limits of the tools, asserted rather than skipped (each tool is
# first given the same kind of message made by OpenSSL, which openssl
# itself decrypts; when the tool refuses OpenSSL's, it must refuse ours
# the same way; when it takes OpenSSL's, it must take ours):
#   - NSS 3.87 (Debian 12) knows no AuthEnvelopedData
#     (SEC_ERROR_UNRECOGNIZED_OID) and cannot decode ECDH
#     KeyAgreeRecipientInfo (SEC_ERROR_BAD_DER).
#   - gpgsm 2.2 opens a message for several recipients only when its
#     key's RecipientInfo comes first (as with OpenSSL's).
#   - gpgsm 2.2 cannot parse GCMParameters ("error getting IV") and cannot
#     import EC private keys from PKCS#12 at all (it crashes), so ECDH is
#     not given to gpgsm.
# Every tool is required: a missing one fails under ./quickstart check
# (tests/need.sh) and skips the whole script (exit 77) otherwise.
#
# Prints "N passed, N failed" and exits 1 when anything failed.
set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
OPENSSL=${OPENSSL:-openssl}
ENC=$top_builddir/tests/encrypt_tool
PKI=$top_builddir/tests/work/pki
W=$top_builddir/tests/work/encrypt-interop
. "$top_srcdir/tests/need.sh"
need_tool "$OPENSSL" openssl
need_tool gpgsm gpgsm
need_tool gpgconf gpgconf
need_tool cmsutil libnss3-tools
need_tool certutil libnss3-tools
need_tool pk12util libnss3-tools

sh "$top_srcdir/tests/pki/mkpki.sh" "$PKI" >/dev/null || {
	echo "encrypt_interop: cannot make the test PKI" >&2; exit 1; }
rm -rf "$W"
mkdir -p "$W"
GNUPGHOME=$(mktemp -d /tmp/encrypt-interop-gpg.XXXXXX)
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

printf 'Content-Type: text/plain; charset=us-ascii\r\n\r\nHello Bob,\r\nthis is for you only.\r\n' >"$W/plain"
"$OPENSSL" rand -out "$W/big" 1000003
# exactly a block multiple: CBC must add a whole block of padding
printf '0123456789abcdef0123456789abcdef' >"$W/block"

# --- the decrypters' set-up ---
D=sql:$W/nss
mkdir "$W/nss"
check "NSS set-up: database with the test root and encrsa's key" sh -c "
    certutil -N -d '$D' --empty-password &&
    certutil -A -d '$D' -n root -t C,C,C -i '$PKI/root.crt' &&
    certutil -A -d '$D' -n inter -t ,, -i '$PKI/inter.crt' &&
    pk12util -i '$PKI/encrsa.p12' -d '$D' -W test &&
    pk12util -i '$PKI/ecdh256.p12' -d '$D' -W test"
echo disable-crl-checks >"$GNUPGHOME/gpgsm.conf"
check "gpgsm set-up: encrsa's key" sh -c "
    sh '$top_srcdir/tests/gpgsm_import.sh' '$PKI/encrsa.key' \
        '$PKI/encrsa.crt' '$W' &&
    gpgsm --batch --import '$PKI/root.crt' '$PKI/inter.crt'"
fpr=$(gpgsm --with-colons --fingerprint "CN=Test Root CA,O=smime-milter test" |
    awk -F: '/^fpr:/ { print $10; exit }')
echo "$fpr S relax" >"$GNUPGHOME/trustlist.txt"

d_openssl() {	# d_openssl USER DER OUT
	"$OPENSSL" cms -decrypt -binary -inform DER -in "$2" \
	    -recip "$PKI/$1.crt" -inkey "$PKI/$1.key" -out "$3"
}
d_ours() { "$ENC" -d "$PKI/$1.crt" "$PKI/$1.key" "$2" "$3"; }
d_nss() { cmsutil -D -d "$D" -i "$2" -o "$3"; }
d_gpgsm() {
	rm -f "$3"
	echo test | gpgsm --batch --pinentry-mode loopback --passphrase-fd 0 \
	    --decrypt -o "$3" "$2"
}
# opens TOOL USER DER PLAIN: TOOL decrypts DER to exactly PLAIN
opens() {
	"d_$1" "$2" "$3" "$W/out" && cmp "$W/out" "$4"
}

# --- ours, each decrypter ---
# enc NAME IN [-g] [-c N] CERT-USERS...
enc() {
	name=$1 in=$2
	shift 2
	opts=
	while [ $# -gt 0 ]; do
		case $1 in
		-g) opts="$opts -g" ;;
		-c) opts="$opts -c $2"; shift ;;
		*) break ;;
		esac
		shift
	done
	certs=
	for u; do certs="$certs $PKI/$u.crt"; done
	# shellcheck disable=SC2086
	check "encrypt $name" "$ENC" $opts "$W/$in" "$W/$name.der" $certs
}

enc rsa-cbc plain encrsa
enc rsa-cbc-block block encrsa
enc rsa-cbc-big big -c 7777 encrsa
enc rsa-cbc-bytewise plain -c 1 encrsa
enc rsa-gcm plain -g encrsa
enc rsa-gcm-big big -g -c 65536 encrsa
for c in 256 384 521; do
	enc ec$c-cbc plain ecdh$c
	enc ec$c-gcm plain -g ecdh$c
done
enc multi-cbc plain bob ecdh384 encrsa ecdh256
enc multi-gcm big -g ecdh521 encrsa

for t in openssl ours; do
	check "$t: RSA AES-256-CBC" opens $t encrsa "$W/rsa-cbc.der" "$W/plain"
	check "$t: RSA AES-256-CBC, block-multiple content" \
	    opens $t encrsa "$W/rsa-cbc-block.der" "$W/block"
	check "$t: RSA AES-256-CBC, 1 MB" opens $t encrsa "$W/rsa-cbc-big.der" "$W/big"
	check "$t: RSA AES-256-CBC, fed a byte at a time" \
	    opens $t encrsa "$W/rsa-cbc-bytewise.der" "$W/plain"
	check "$t: RSA AES-256-GCM" opens $t encrsa "$W/rsa-gcm.der" "$W/plain"
	check "$t: RSA AES-256-GCM, 1 MB" opens $t encrsa "$W/rsa-gcm-big.der" "$W/big"
	for c in 256 384 521; do
		check "$t: ECDH P-$c AES-256-CBC" \
		    opens $t ecdh$c "$W/ec$c-cbc.der" "$W/plain"
		check "$t: ECDH P-$c AES-256-GCM" \
		    opens $t ecdh$c "$W/ec$c-gcm.der" "$W/plain"
	done
	for u in bob ecdh384 encrsa ecdh256; do
		check "$t: 4 recipients, $u's key" \
		    opens $t $u "$W/multi-cbc.der" "$W/plain"
	done
	for u in ecdh521 encrsa; do
		check "$t: 2 recipients GCM 1 MB, $u's key" \
		    opens $t $u "$W/multi-gcm.der" "$W/big"
	done
done
for t in nss gpgsm; do
	check "$t: RSA AES-256-CBC" opens $t encrsa "$W/rsa-cbc.der" "$W/plain"
	check "$t: RSA AES-256-CBC, 1 MB" opens $t encrsa "$W/rsa-cbc-big.der" "$W/big"
done

# --- the tools' known limits: ours fails exactly where OpenSSL's does ---
# like TOOL USER OURS REF-OPTIONS... : OpenSSL's message made with the
# options; TOOL must treat ours as it treats OpenSSL's (same first error
# line when both fail).
like() {
	tool=$1 user=$2 ours=$3
	shift 3
	"$OPENSSL" cms -encrypt -binary -in "$W/plain" -outform DER \
	    -out "$W/ref.der" "$@" "$PKI/$user.crt" || return 1
	opens openssl "$user" "$W/ref.der" "$W/plain" || return 1
	if opens "$tool" "$user" "$W/ref.der" "$W/plain" >"$W/ref.log" 2>&1; then
		echo "$tool decrypts OpenSSL's: it must decrypt ours"
		opens "$tool" "$user" "$ours" "$W/plain"
		return
	fi
	if opens "$tool" "$user" "$ours" "$W/plain" >"$W/ours.log" 2>&1; then
		echo "$tool decrypts ours but not OpenSSL's"
		return 0
	fi
	r=$(grep -E 'SEC_ERROR|error getting|failed' "$W/ref.log" | head -1)
	o=$(grep -E 'SEC_ERROR|error getting|failed' "$W/ours.log" | head -1)
	echo "OpenSSL's: $r"
	echo "ours:      $o"
	[ -n "$r" ] && [ "$r" = "$o" ]
}
check "nss: AES-256-GCM as OpenSSL's (NSS 3.87 has no AuthEnvelopedData)" \
    like nss encrsa "$W/rsa-gcm.der" -aes-256-gcm
check "nss: ECDH P-256 as OpenSSL's (NSS 3.87 cannot decode ECDH)" \
    like nss ecdh256 "$W/ec256-cbc.der" -aes256
for t in nss gpgsm; do
	check "$t: 4 recipients as OpenSSL's, encrsa's key" \
	    like $t encrsa "$W/multi-cbc.der" -aes256 "$PKI/bob.crt" \
	    "$PKI/ecdh384.crt" "$PKI/ecdh256.crt"
done
check "gpgsm: AES-256-GCM as OpenSSL's (gpgsm 2.2 cannot read GCM)" \
    like gpgsm encrsa "$W/rsa-gcm.der" -aes-256-gcm

# --- damage is detected (GCM tag; CBC only by luck, so not asserted) ---
python3 - "$W/rsa-gcm.der" "$W/rsa-gcm-bad.der" <<'EOF'
import sys
b = bytearray(open(sys.argv[1], 'rb').read())
b[-40] ^= 1          # a ciphertext byte of the last segment
open(sys.argv[2], 'wb').write(b)
EOF
for t in openssl ours; do
	if opens $t encrsa "$W/rsa-gcm-bad.der" "$W/plain" >"$W/last.log" 2>&1
	then notok "$t: altered GCM ciphertext refused (accepted)"
	else ok "$t: altered GCM ciphertext refused"; fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
