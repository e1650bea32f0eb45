#!/bin/sh
# encrypt_golden.sh - Mode e through `smime-milter -t`, the results judged
# by independent tools (SPEC "Encryption"):
#   - signed and encrypted to an RSA and an EC recipient: openssl decrypts
#     with either key and the content verifies (openssl cms -verify);
#   - to an RSA recipient only: NSS cmsutil and gpgsm decrypt it too, our
#     reader (crypto/envelope.c) as well, and the content verifies;
#     (NSS 3.87 and gpgsm 2.2 cannot do ECDH: tests/encrypt_interop.sh)
#   - unsigned (no keystore entry for From): the decrypted entity is the
#     message's Content-* headers and body, byte for byte (CRLF);
#   - a message over SpoolThreshold (spooled) decrypts the same, and a
#     32 MB one signed and encrypted peaks within 4 MB of an 8 MB one
#     (memory O(SpoolThreshold), not O(message)); the encryptor never
#     spools the body in clear (it streams through the CMS writer, or is
#     not kept when the signed entity is encrypted: blocks written);
#   - Content-Type and Content-Transfer-Encoding are changed where the
#     message had them (one request to the MTA each);
#   - AES-256-GCM AuthEnvelopedData when every recipient's recorded
#     SMIMECapabilities list it (a harvested entry), CBC when one does not;
#   - every header that is not Content-* stays, in order; Content-Type is
#     application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m,
#     Content-Transfer-Encoding base64;
#   - a recipient without certificate: the message is left exactly as it
#     was and the log says "not encrypted: bob@example.net has no
#     certificate"; already encrypted mail is left alone.
# Every tool is required (tests/need.sh).  "N passed, N failed".
set -u
export LC_ALL=C

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
OPENSSL=${OPENSSL:-openssl}
MILTER=$top_builddir/milter/smime-milter
KS=$top_builddir/milter/smime-keystore
CS=$top_builddir/milter/smime-certstore
ENC=$top_builddir/tests/encrypt_tool
PKI=$top_builddir/tests/work/pki
W=$top_builddir/tests/work/encrypt-golden
. "$top_srcdir/tests/need.sh"
need_tool "$OPENSSL" openssl
need_tool gpgsm gpgsm
need_tool gpgconf gpgconf
need_tool cmsutil libnss3-tools
need_tool certutil libnss3-tools
need_tool pk12util libnss3-tools
need_tool /usr/bin/time time
need_tool python3 python3

sh "$top_srcdir/tests/pki/mkpki.sh" "$PKI" >/dev/null || {
	echo "encrypt_golden: cannot make the test PKI" >&2; exit 1; }
rm -rf "$W"
mkdir -p "$W"
GNUPGHOME=$(mktemp -d /tmp/encrypt-golden-gpg.XXXXXX)
export GNUPGHOME
cleanup() {
	gpgconf --kill gpg-agent >/dev/null 2>&1
	rm -rf "$GNUPGHOME"
}
trap cleanup EXIT

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
notok() { failed=$((failed + 1)); echo "not ok - $1"; }
check() {
	name=$1; shift
	if "$@" >"$W/last.log" 2>&1; then ok "$name"
	else notok "$name"; sed 's/^/    /' "$W/last.log"; fi
}

# --- set-up: keystore for alice, certificate store, the decrypters ---
printf 'alice@example.org %s/alice.pem\n' "$PKI" >"$W/ks.txt"
check "keystore" "$KS" build "$W/ks.txt" "$W/ks.cdb"
check "certificate store: encrsa, ecdh256 imported" "$CS" import \
    "$W/cs.mdb" "$PKI/encrsa.chain.pem" "$PKI/ecdh256.chain.pem"
conf() {	# conf FILE EXTRA-LINES
	cat >"$1" <<EOF
Socket inet:10025@127.0.0.1
Mode sve
AuthservID mx.test.example
TrustAnchorFile $PKI/roots.pem
CRLFile $PKI/crl.pem
Keystore $W/ks.cdb
CertificateStore $W/cs.mdb
InternalHosts none
SpoolDirectory $W
$2
EOF
}
conf "$W/c.conf" ""
conf "$W/small.conf" "SpoolThreshold 4096"
D=sql:$W/nss
mkdir "$W/nss"
check "NSS set-up" sh -c "certutil -N -d '$D' --empty-password &&
    pk12util -i '$PKI/encrsa.p12' -d '$D' -W test"
echo disable-crl-checks >"$GNUPGHOME/gpgsm.conf"
check "gpgsm set-up" sh "$top_srcdir/tests/gpgsm_import.sh" \
    "$PKI/encrsa.key" "$PKI/encrsa.crt" "$W"

msg() {	# msg FILE FROM [BODY-FILE]
	{
		printf 'Received: from x by y; Mon, 01 Jan 2024 10:00:00 +0000\n'
		printf 'From: Sender <%s>\nTo: Encrsa <encrsa@example.org>\n' "$2"
		printf 'Subject: Order 4711\nMessage-ID: <e@example.org>\n'
		printf 'MIME-Version: 1.0\n'
		printf 'Content-Type: text/plain; charset=utf-8\n'
		printf 'Content-Transfer-Encoding: 8bit\n'
		printf 'X-After: stays\n\n'
		if [ $# -ge 3 ]; then cat "$3"
		else printf 'Hello,\nthe total is 100 EUR, M\303\274ller.\n'; fi
	} >"$1"
}
run() {	# run CONF IN OUT LOGIN RCPT...
	c=$1 in=$2 out=$3 login=$4
	shift 4
	args=
	for r; do args="$args -r $r"; done
	# shellcheck disable=SC2086
	"$MILTER" -c "$c" -t "$in" -A "$login" $args >"$out" 2>"$out.log"
}
# The base64 CMS of a -t output, as DER.
der() { awk 'p { print } /^$/ { p = 1 }' "$1" | "$OPENSSL" base64 -d >"$2"; }
# Non-Content headers of a message, in order (continuation lines joined).
others() {
	awk '/^$/ { exit } /^[ \t]/ { next } { print }' "$1" |
	    grep -iv '^Content-' | grep -iv '^MIME-Version:'
}
headers_kept() {
	others "$1" >"$W/h1" && others "$2" >"$W/h2" && cmp "$W/h1" "$W/h2"
}
is_enveloped() {
	grep -q '^Content-Type: application/pkcs7-mime; smime-type=enveloped-data;' "$1" &&
	grep -q '^	name="smime.p7m"' "$1" &&
	grep -q '^Content-Transfer-Encoding: base64' "$1" &&
	[ "$(grep -ci '^Content-Type:' "$1")" = 1 ]
}
verifies() { "$OPENSSL" cms -verify -in "$1" -CAfile "$PKI/roots.pem" -out /dev/null; }

# --- 1: signed, then encrypted to RSA and EC ---
msg "$W/m1.eml" alice@example.org
check "signed+encrypted to 2: accepted" run "$W/c.conf" "$W/m1.eml" \
    "$W/o1.eml" alice@example.org encrsa@example.org ecdh256@example.org
check "signed+encrypted: enveloped-data, base64" is_enveloped "$W/o1.eml"
check "signed+encrypted: the other headers stay in order" \
    headers_kept "$W/m1.eml" "$W/o1.eml"
check "signed+encrypted: log line" grep -q \
    'result=signed .*encrypted=yes encrypt="encrypted for 2 recipients (aes-256-cbc)"' \
    "$W/o1.eml.log"
for u in encrsa ecdh256; do
	check "openssl decrypts with $u's key" "$OPENSSL" cms -decrypt \
	    -in "$W/o1.eml" -recip "$PKI/$u.crt" -inkey "$PKI/$u.key" \
	    -out "$W/d1-$u.eml"
	check "decrypted with $u's key: the signature verifies" \
	    verifies "$W/d1-$u.eml"
done

# --- 2: to RSA only: NSS, gpgsm, our reader ---
check "signed+encrypted to encrsa: accepted" run "$W/c.conf" "$W/m1.eml" \
    "$W/o2.eml" alice@example.org encrsa@example.org
der "$W/o2.eml" "$W/o2.der"
check "NSS cmsutil decrypts" cmsutil -D -d "$D" -i "$W/o2.der" -o "$W/d2-nss.eml"
check "NSS's output verifies" verifies "$W/d2-nss.eml"
check "gpgsm decrypts" sh -c "echo test | gpgsm --batch --pinentry-mode \
    loopback --passphrase-fd 0 --decrypt -o '$W/d2-gpgsm.eml' '$W/o2.der'"
check "gpgsm's output verifies" verifies "$W/d2-gpgsm.eml"
check "our reader decrypts" "$ENC" -d "$PKI/encrsa.crt" "$PKI/encrsa.key" \
    "$W/o2.der" "$W/d2-ours.eml"
check "our reader's output verifies" verifies "$W/d2-ours.eml"
check "our reader and NSS agree" cmp "$W/d2-ours.eml" "$W/d2-nss.eml"

# --- 3: unsigned (carol has no keystore entry), and 4: over SpoolThreshold ---
msg "$W/m3.eml" carol@example.org
printf 'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nHello,\r\nthe total is 100 EUR, M\303\274ller.\r\n' \
    >"$W/want3"
check "unsigned, encrypted: accepted" run "$W/c.conf" "$W/m3.eml" \
    "$W/o3.eml" carol@example.org encrsa@example.org
check "unsigned, encrypted: enveloped-data" is_enveloped "$W/o3.eml"
check "unsigned, encrypted: MIME-Version once" \
    test "$(grep -c '^MIME-Version:' "$W/o3.eml")" = 1
check "unsigned: the entity is the content headers and body" sh -c "
    '$OPENSSL' cms -decrypt -binary -in '$W/o3.eml' -recip '$PKI/encrsa.crt' \
        -inkey '$PKI/encrsa.key' -out '$W/d3.eml' && cmp '$W/d3.eml' '$W/want3'"
awk 'BEGIN { for (i = 0; i < 20000; i++) printf "line %06d of a long message\n", i }' \
    >"$W/long"
msg "$W/m4.eml" carol@example.org "$W/long"
check "over SpoolThreshold: accepted" run "$W/small.conf" "$W/m4.eml" \
    "$W/o4.eml" carol@example.org encrsa@example.org
check "over SpoolThreshold: decrypts to the whole body" sh -c "
    '$OPENSSL' cms -decrypt -binary -in '$W/o4.eml' -recip '$PKI/encrsa.crt' \
        -inkey '$PKI/encrsa.key' -out '$W/d4.eml' &&
    awk 'p { print } /^\r\$/ { p = 1 }' '$W/d4.eml' | tr -d '\r' >'$W/d4.body' &&
    cmp '$W/d4.body' '$W/long'"

# --- the Content-* headers are changed where they stand (one request to
# the MTA each, not a delete and an insert): Content-Transfer-Encoding
# base64 right after Content-Type, before X-After, signed or not ---
after_ct() {	# the header after Content-Type, continuation lines aside
	awk '/^$/ { exit } /^[^ \t]/ { print }' "$1" |
	    sed -n '/^Content-Type:/{n;p;q;}'
}
for o in o1 o3; do
	check "$o: Content-Transfer-Encoding changed where it stood" \
	    test "$(after_ct "$W/$o.eml")" = "Content-Transfer-Encoding: base64"
done

# --- the clear body is never spooled by the encryptor: it streams through
# the CMS writer when the message's own entity is encrypted (Mode e, and
# Mode sve for a sender who does not sign), and is not kept at all when
# the signed entity is.  File system writes of one -t run (ru_oublock,
# 512-byte blocks; counted when a page is dirtied), with encryption (B)
# against the same message and mode without it (A, whose output has
# size Sa): B adds the base64 CMS's spool, -t's spool of the new body and
# the bigger output on stdout, 3 x Sb - Sa bytes (with a signature, the
# signed entity the signer hands over, Sa, and -t's new-body spool of A
# leave the same sum).  A clear spool would add the 600 KB body: within
# half of it is the check.  0 blocks (a spool directory that is not
# accounted) fails. ---
oblk() {	# oblk CONF MESSAGE LOGIN: blocks written by one -t run
	/usr/bin/time -f %O -o "$W/oblk" "$MILTER" -c "$1" -t "$2" \
	    -A "$3" -r encrsa@example.org >"$W/oblk.out" \
	    2>/dev/null && tail -n 1 "$W/oblk"
}
body=$(wc -c <"$W/long")
# enc_writes WHAT MODE-A MODE-B MESSAGE LOGIN
enc_writes() {
	sed "s/^Mode sve\$/Mode $2/" "$W/small.conf" >"$W/a.conf"
	sed "s/^Mode sve\$/Mode $3/" "$W/small.conf" >"$W/b.conf"
	_a=$(oblk "$W/a.conf" "$4" "$5") _sa=$(wc -c <"$W/oblk.out")
	_b=$(oblk "$W/b.conf" "$4" "$5") _sb=$(wc -c <"$W/oblk.out")
	_d=$(( (_b - _a) * 512 - (3 * _sb - _sa) ))
	check "no clear spool, $1: Mode $2 $_a blocks, Mode $3 $_b (sizes $_sa, $_sb; off by $_d bytes, body $body)" \
	    test "${_a:-0}" -gt 0 -a "${_b:-0}" -gt 0 -a \
	    $((_d * 2)) -le "$body" -a $((-_d * 2)) -le "$body"
}
enc_writes "unsigned" v e "$W/m4.eml" carol@example.org
check "Mode e, over SpoolThreshold: decrypts to the whole body" sh -c "
    '$OPENSSL' cms -decrypt -binary -in '$W/oblk.out' -recip '$PKI/encrsa.crt' \
        -inkey '$PKI/encrsa.key' -out '$W/d4e.eml' &&
    awk 'p { print } /^\r\$/ { p = 1 }' '$W/d4e.eml' | tr -d '\r' | cmp - '$W/long'"
enc_writes "sender without a key" sv sve "$W/m4.eml" carol@example.org
msg "$W/m4s.eml" alice@example.org "$W/long"
enc_writes "signed" sv sve "$W/m4s.eml" alice@example.org
check "Mode sve, signed, over SpoolThreshold: a signed entity" sh -c "
    '$OPENSSL' cms -decrypt -binary -in '$W/oblk.out' -recip '$PKI/encrsa.crt' \
        -inkey '$PKI/encrsa.key' -out '$W/d4s.eml' &&
    grep -q '^Content-Type: multipart/signed' '$W/d4s.eml'"

# --- a sender whose keystore entry cannot be parsed (its key's DER
# damaged, the record sound): signing fails at the end of the headers,
# and with an encryptable recipient the body must not reach an encryptor
# that never started (a NULL writer crashed the daemon before 1948cb7's
# fix): OnError, a tempfail, one summary line ---
python3 - "$PKI/alice.key" "$W/ks.cdb" "$W/ks-bad.cdb" <<'PY' ||
import subprocess, sys
der = subprocess.run(["openssl", "pkcs8", "-topk8", "-nocrypt", "-outform",
                      "DER", "-in", sys.argv[1]], capture_output=True,
                     check=True).stdout
data = bytearray(open(sys.argv[2], "rb").read())
at = data.find(der)
if at < 0 or data.find(der, at + 1) >= 0:
    sys.exit("alice's key is not in the keystore exactly once")
data[at] = 0x31                     # SEQUENCE becomes SET: no key
open(sys.argv[3], "wb").write(data)
PY
	echo "not ok - could not damage alice's key in a keystore copy"
chmod 600 "$W/ks-bad.cdb"
sed "s|^Keystore .*|Keystore $W/ks-bad.cdb|" "$W/c.conf" >"$W/bad.conf"
run "$W/bad.conf" "$W/m1.eml" "$W/o9.eml" alice@example.org encrsa@example.org
rc=$?
check "a sender's damaged keystore entry: OnError (tempfail), no crash (exit $rc)" \
    sh -c "[ $rc = 75 ] && grep -q 'result=tempfail' '$W/o9.eml.log' &&
        grep -q 'alice@example.org' '$W/o9.eml.log'"

# peak RSS (KB) of one -t run.  Memory is O(SpoolThreshold): two
# messages far over the threshold, 8 MB and 32 MB, signed and encrypted,
# peak within 4 MB of each other (O(message) would add 24 MB).  Both are
# spooled, so what the allocator keeps for the in-memory part is the same
# in both runs and does not blur the comparison, on any machine.
rss() {
	/usr/bin/time -f %M -o "$W/rss" "$MILTER" -c "$W/c.conf" -t "$1" \
	    -A alice@example.org -r encrsa@example.org >"$W/rss.out" 2>/dev/null &&
	    tail -n 1 "$W/rss"
}
bigmsg() {	# bigmsg FILE MB: m1.eml's header, MB megabytes of base64 body
	{ sed -n '1,/^$/p' "$W/m1.eml"
	  head -c $(($2 * 750000)) /dev/urandom | "$OPENSSL" base64; } >"$1"
}
bigmsg "$W/m8.eml" 8
bigmsg "$W/m32.eml" 32
small=$(rss "$W/m1.eml") mid=$(rss "$W/m8.eml") big=$(rss "$W/m32.eml")
if [ "${SMIME_SANITIZERS:-no}" = no ]; then
	check "signed+encrypted: peak RSS 32 MB $big KB, 8 MB $mid KB (small $small KB)" \
	    test "$big" -le $((mid + 4096))
else	# shadow memory and the quarantine: the plain build measures it
	check "32 MB signed+encrypted under sanitizers ($SMIME_SANITIZERS): ran (RSS $big KB, 8 MB $mid KB, not judged)" \
	    test -s "$W/rss.out"
fi
check "32 MB: decrypts and verifies" sh -c "
    '$OPENSSL' cms -decrypt -in '$W/rss.out' -recip '$PKI/encrsa.crt' \
        -inkey '$PKI/encrsa.key' -out '$W/d32.eml' &&
    '$OPENSSL' cms -verify -in '$W/d32.eml' -CAfile '$PKI/roots.pem' -out /dev/null"
rm -f "$W/m8.eml" "$W/m32.eml" "$W/rss.out" "$W/d32.eml"

# --- GCM: only when every recipient announced it (harvested caps) ---
check "ecdh384 harvested with AES-256-GCM in its SMIMECapabilities" \
    "$ENC" -H "$W/cs.mdb" ecdh384@example.org "$PKI/ecdh384.crt" "$PKI/inter.crt"
check "to ecdh384: accepted" run "$W/c.conf" "$W/m1.eml" "$W/o7.eml" \
    alice@example.org ecdh384@example.org
check "to ecdh384: authEnveloped-data" grep -q \
    '^Content-Type: application/pkcs7-mime; smime-type=authEnveloped-data;' \
    "$W/o7.eml"
check "to ecdh384: log says aes-256-gcm" grep -q \
    'encrypt="encrypted for 1 recipient (aes-256-gcm)"' "$W/o7.eml.log"
check "openssl decrypts the GCM message and the content verifies" sh -c "
    '$OPENSSL' cms -decrypt -in '$W/o7.eml' -recip '$PKI/ecdh384.crt' \
        -inkey '$PKI/ecdh384.key' -out '$W/d7.eml' &&
    '$OPENSSL' cms -verify -in '$W/d7.eml' -CAfile '$PKI/roots.pem' -out /dev/null"
check "ecdh384 and encrsa (no capabilities): accepted" run "$W/c.conf" \
    "$W/m1.eml" "$W/o8.eml" alice@example.org ecdh384@example.org \
    encrsa@example.org
check "ecdh384 and encrsa: AES-256-CBC" grep -q \
    'encrypt="encrypted for 2 recipients (aes-256-cbc)"' "$W/o8.eml.log"

# --- 5: a recipient without certificate; already encrypted mail ---
check "bob without certificate: accepted" run "$W/c.conf" "$W/m3.eml" \
    "$W/o5.eml" carol@example.org encrsa@example.org bob@example.net
check "bob without certificate: message unchanged" cmp "$W/o5.eml" "$W/m3.eml"
check "bob without certificate: log says why" grep -q \
    'encrypted=no encrypt="not encrypted: bob@example.net has no certificate"' \
    "$W/o5.eml.log"
tr -d '\r' <"$W/o3.eml" >"$W/m6.eml"
check "already encrypted: accepted" run "$W/c.conf" "$W/m6.eml" \
    "$W/o6.eml" carol@example.org encrsa@example.org
check "already encrypted: unchanged" cmp "$W/o6.eml" "$W/m6.eml"
check "already encrypted: log says so" grep -q \
    'encrypt="not encrypted: already encrypted"' "$W/o6.eml.log"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
