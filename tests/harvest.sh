#!/bin/sh
# harvest.sh - Harvest yes (SPEC "Certificate store and harvesting")
# through smime-milter -t, judged with smime-certstore list:
#   - a partner's signed message (openssl cms) stores its signer
#     certificate, with the signingTime and SMIMECapabilities it came with;
#   - fail (content altered), policy (SHA-1) and neutral (a signed part
#     inside multipart/mixed) messages, and a pass for another address
#     than From (RequireFromMatch no), harvest nothing;
#   - an older signingTime does not replace a newer certificate, the same
#     one does not either, a later one does;
#   - an imported certificate is never replaced;
#   - SMIMEEncryptionKeyPreference (made by NSS cmsutil -Y, which writes
#     the issuerAndSerialNumber form; the key-identifier forms are
#     unit-tested in check_crypto): the preferred certificate among the
#     CMS certificates is stored, not the signing-only signer
#     certificate, which alone harvests nothing;
# openssl cannot add SMIMEEncryptionKeyPreference, hence NSS.
#
# Prints "N passed, N failed" and exits 1 when anything failed.
set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
OPENSSL=${OPENSSL:-openssl}
CS=$top_builddir/milter/smime-certstore
MILTER=$top_builddir/milter/smime-milter
PKI=$top_builddir/tests/work/pki
W=$top_builddir/tests/work/harvest-sh

. "$top_srcdir/tests/need.sh"
need_tool "$OPENSSL" openssl
need_tool certtool gnutls-bin
need_tool cmsutil libnss3-tools
need_tool pk12util libnss3-tools
sh "$top_srcdir/tests/pki/mkpki.sh" "$PKI" >/dev/null || {
	echo "harvest.sh: cannot make the test PKI" >&2; exit 1; }
rm -rf "$W"
mkdir -p "$W"
S=$W/store.mdb

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
notok() { failed=$((failed + 1)); echo "not ok - $1"; sed 's/^/    /' "$W/out"; }
die() { echo "harvest.sh: $*" >&2; exit 1; }
serial() { awk -v n="$1" '$1 == n { print $2 }' "$PKI/serials.txt"; }

# --- messages ---

printf 'Content-Type: text/plain; charset=us-ascii\r\n\r\nHello,\r\nsigned.\r\n' \
    >"$W/content"

# sign NAME SIGNER [openssl cms options]: detached signature into NAME.p7s
sign() {
	name=$1 signer=$2
	shift 2
	"$OPENSSL" cms -sign -binary -in "$W/content" \
	    -signer "$PKI/$signer.crt" -inkey "$PKI/$signer.key" \
	    -certfile "$PKI/inter.crt" -outform DER -out "$W/$name.p7s" "$@" ||
	    die "openssl cms -sign $name"
}

# msg NAME FROM [CONTENT]: NAME.eml, multipart/signed over CONTENT
# (default: the signed content) with NAME.p7s.
msg() {
	{
		printf 'From: %s\r\nTo: us@example.net\r\nSubject: %s\r\n' "$2" "$1"
		printf 'MIME-Version: 1.0\r\n'
		printf 'Content-Type: multipart/signed; protocol="application/pkcs7-signature";\r\n'
		printf '\tmicalg=sha-256; boundary="b1"\r\n\r\n--b1\r\n'
		cat "${3:-$W/content}"
		printf '\r\n--b1\r\nContent-Type: application/pkcs7-signature; name="smime.p7s"\r\n'
		printf 'Content-Transfer-Encoding: base64\r\n\r\n'
		base64 -w 76 "$W/$1.p7s" | sed 's/$/\r/'
		printf '\r\n--b1--\r\n'
	} >"$W/$1.eml"
}

# nested NAME FROM: NAME.eml holding signed message SRC as a part of
# multipart/mixed (a signature not over the whole message: neutral)
nested() {
	{
		printf 'From: %s\r\nTo: us@example.net\r\nSubject: %s\r\n' "$2" "$1"
		printf 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="outer"\r\n\r\n'
		printf -- '--outer\r\nContent-Type: text/plain\r\n\r\nlist footer\r\n--outer\r\n'
		sed -n '/^Content-Type: multipart\/signed/,$p' "$W/$3.eml"
		printf '\r\n--outer--\r\n'
	} >"$W/$1.eml"
}

conf() {
	cat >"$W/$1.conf" <<EOF
Mode v
AuthservID mx.example.net
TrustAnchorFile $PKI/roots.pem
CertificateStore $2
Harvest yes
${3:-}
EOF
}

# run CONF NAME: smime-milter -t; stdout NAME.out, stderr NAME.err
run() {
	"$MILTER" -c "$W/$1.conf" -t "$W/$2.eml" >"$W/$2.out" 2>"$W/$2.err"
}

# field ADDRESS KEY [STORE]: KEY=value of the address's first entry
field() {
	"$CS" list "${3:-$S}" "$1" 2>/dev/null |
	    sed -n "1s/.* $2=\\([^ ]*\\).*/\\1/p"
}

check() {	# check NAME COMMAND...: ok when COMMAND succeeds
	name=$1
	shift
	if "$@" >>"$W/out" 2>&1; then ok "$name"; else notok "$name"; fi
	: >"$W/out"
}
has() { grep -Eq -- "$2" "$1" || { echo "$1 lacks $2"; cat "$1"; return 1; }; }
lacks() { ! grep -Eq -- "$2" "$1" || { echo "$1 has $2"; return 1; }; }
none_for() { ! "$CS" list "$S" "$1" >/dev/null 2>&1 ||
	{ echo "$1 is in the store:"; "$CS" list "$S" "$1"; return 1; }; }
: >"$W/out"

# The daemon harvests into an existing store (smime-certstore makes it).
"$CS" import "$S" "$PKI/encrsa.crt" >/dev/null || die "import encrsa"
conf h "$S"

# --- a partner's pass stores its certificate ---
sign alice alice
msg alice "Alice <alice@example.org>"
run h alice
check "alice: pass" has "$W/alice.out" "smime=pass"
check "alice: harvested (log)" has "$W/alice.err" \
    "event=harvest status=stored address=alice@example.org"
has_list() {
	"$CS" list "$S" alice@example.org >"$W/list" 2>&1 &&
	    has "$W/list" "^alice@example.org source=harvest serial=$(serial alice) " &&
	    lacks "$W/list" "signing-time=- " && lacks "$W/list" "caps=0 "
}
check "alice: in the store as harvest, with signingTime and caps" has_list

# --- nothing from fail, policy, neutral, or a pass not for From ---
sign bobok bob
printf 'Content-Type: text/plain; charset=us-ascii\r\n\r\nHello,\r\nchanged.\r\n' \
    >"$W/altered"
cp "$W/bobok.p7s" "$W/bobfail.p7s"
msg bobfail "Bob <bob@example.org>" "$W/altered"
run h bobfail
check "fail: result" has "$W/bobfail.out" "smime=fail"
sign bobsha1 bob -md sha1
msg bobsha1 "Bob <bob@example.org>"
run h bobsha1
check "policy: result" has "$W/bobsha1.out" "smime=policy"
msg bobok "Bob <bob@example.org>"
nested bobnested "Bob <bob@example.org>" bobok
run h bobnested
check "neutral: result" has "$W/bobnested.out" "smime=neutral"
cp "$W/bobok.p7s" "$W/bobother.p7s"
msg bobother "Alice <alice@example.org>"
conf nofrom "$S" "RequireFromMatch no"
run nofrom bobother
check "pass without From match: result" has "$W/bobother.out" "smime=pass"
for m in bobfail bobsha1 bobnested bobother; do
	check "$m: no harvest line" lacks "$W/$m.err" "event=harvest"
done
check "fail/policy/neutral/other: bob not in the store" none_for bob@example.org

# --- signingTime ordering ---
sign old bob
sleep 1      # a later signingTime (one-second resolution), not a timing test
sign new bob
msg old "Bob <bob@example.org>"
msg new "Bob <bob@example.org>"
run h new
t_new=$(field bob@example.org signing-time)
check "newer: stored" has "$W/new.err" "event=harvest status=stored"
run h old
check "older: kept (log)" has "$W/old.err" "event=harvest status=kept"
check "older: signingTime unchanged" test "$(field bob@example.org signing-time)" = "$t_new"
run h new
check "same signingTime: kept" has "$W/new.err" "event=harvest status=kept"
sleep 1
sign newer bob
msg newer "Bob <bob@example.org>"
run h newer
check "later signingTime: stored" has "$W/newer.err" "event=harvest status=stored"
check "later signingTime: replaced" test "$(field bob@example.org signing-time)" != "$t_new"

# --- an imported certificate is never replaced ---
S2=$W/imported.mdb
"$CS" import "$S2" "$PKI/alice.crt" >/dev/null || die "import alice"
conf imp "$S2"
run imp alice
check "imported: kept (log)" has "$W/alice.err" "event=harvest status=kept"
check "imported: still the import" test "$(field alice@example.org source "$S2")" = import

# --- SMIMEEncryptionKeyPreference (NSS cmsutil -Y) ---
NSSDB=sql:$W/nss
mkdir -p "$W/nss"
certutil -N -d "$NSSDB" --empty-password >/dev/null 2>&1 || die "certutil -N"
certutil -A -d "$NSSDB" -n root -t "C,C,C" -i "$PKI/root.crt" || die "certutil root"
certutil -A -d "$NSSDB" -n inter -t ",," -i "$PKI/inter.crt" || die "certutil inter"
for u in carol-sign carol-enc; do
	pk12util -i "$PKI/$u.p12" -d "$NSSDB" -W test -K '' >/dev/null ||
	    die "pk12util $u"
done
nss_sign() {	# nss_sign NAME PREF
	cmsutil -S -d "$NSSDB" -N carol-sign -Y "$2" -T -G -P \
	    -i "$W/content" -o "$W/$1.p7s" || die "cmsutil -S $1"
}
nss_sign carolnone NONE
msg carolnone "Carol <carol@example.org>"
run h carolnone
check "no preference, signing-only signer: pass" has "$W/carolnone.out" "smime=pass"
check "no preference, signing-only signer: skipped" has "$W/carolnone.err" \
    "event=harvest status=skipped address=carol@example.org reason=\"signer certificate cannot encrypt\""
check "no preference: carol not in the store" none_for carol@example.org
nss_sign carolpref carol-enc
msg carolpref "Carol <carol@example.org>"
run h carolpref
check "preference: pass" has "$W/carolpref.out" "smime=pass"
check "preference: stored" has "$W/carolpref.err" "event=harvest status=stored address=carol@example.org"
check "preference: the preferred certificate" \
    test "$(field carol@example.org serial)" = "$(serial carol-enc)"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
