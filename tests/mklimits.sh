#!/bin/sh
# mklimits.sh - make the limit test messages that are too big to commit
# or need the test PKI, with the output smime-milter -t must give.
#
# SYNOPSIS
#	tests/mklimits.sh PKIDIR OUTDIR AUTHSERV-ID
#
# DESCRIPTION
#	Writes OUTDIR/limit-NAME.eml and OUTDIR/limit-NAME.ref for every
#	limit against hostile input that the static tests/data/limit-*.eml
#	do not cover (see LIMITS in smime-milter.conf(5)):
#	  parts         10050 MIME parts (limit 10000)
#	  header-long   a 70000-byte header in a part's header block
#	                (limit 64 KiB per header)
#	  header-block  a never-ending top-level header block, 4.5 MB
#	                (limit 4 MiB); our forged Authentication-Results
#	                before and after the cap must both be deleted
#	  cms-size      a pkcs7-mime object of 64 MiB + 3 bytes (limit 64 MiB)
#	  signers       9 SignerInfos (limit 8)
#	  certs         40 certificates in the CMS (limit 32)
#	  chain         a signer 9 intermediates below the root (limit 8)
#	NAME.ref is the message with our Authentication-Results on top
#	("smime=permerror" or "fail" with the reason), forged headers of
#	ours removed.  The CMS ones are signed by OpenSSL with the test PKI
#	(PKIDIR, from tests/pki/mkpki.sh); the chain is made by certtool
#	with fixed dates.  OUTDIR is made afresh.
#
# ENVIRONMENT
#	OPENSSL, CERTTOOL	tool binaries (default: from PATH)

set -eu

if [ $# -ne 3 ]; then
	echo "usage: $0 PKIDIR OUTDIR AUTHSERV-ID" >&2
	exit 2
fi
PKI=$(cd "$1" && pwd)
OUT=$2
ID=$3
OPENSSL=${OPENSSL:-openssl}
CERTTOOL=${CERTTOOL:-certtool}
export LC_ALL=C
rm -rf "$OUT"
mkdir -p "$OUT/work"
OUT=$(cd "$OUT" && pwd)
W=$OUT/work

die() {
	echo "mklimits.sh: $*" >&2
	exit 1
}

run() {
	"$@" >"$W/run.log" 2>&1 || {
		cat "$W/run.log" >&2
		die "failed: $*"
	}
}

# head_block NAME SUBJECT: the top of every message.
head_block() {
	cat <<EOF
Received: from client.example.net (client.example.net [192.0.2.1])
	by mx.test.example (Postfix) with ESMTP id 4F2A1B3C4D
	for <bob@example.org>; Mon, 01 Jun 2020 12:00:01 +0000 (UTC)
From: Test User alice <alice@example.org>
To: Bob Example <bob@example.org>
Subject: $2
Date: Mon, 01 Jun 2020 12:00:00 +0000
Message-ID: <limit-$1@test.example>
MIME-Version: 1.0
EOF
}

# ref NAME LINE...: OUT/limit-NAME.ref = our header (each LINE one
# folded line of it after the authserv-id) + the message.
ref() {
	n=$1
	shift
	{
		printf 'Authentication-Results: %s;\n' "$ID"
		for l in "$@"; do printf '\t%s\n' "$l"; done
		cat "$OUT/limit-$n.eml"
	} >"$OUT/limit-$n.ref"
}

# --- MIME structure ------------------------------------------------------

{
	head_block parts "10050 MIME parts (limit: 10000)"
	printf 'Content-Type: multipart/mixed; boundary="p"\n\n'
	awk 'BEGIN { for (i = 1; i <= 10050; i++) printf "--p\n\npart %d\n", i
	    print "--p--" }'
} >"$OUT/limit-parts.eml"
ref parts "smime=permerror (too many MIME parts)"

{
	head_block header-long "a 70000-byte header in a part (limit: 64 KiB)"
	printf 'Content-Type: multipart/mixed; boundary="l"\n\n--l\n'
	printf 'X-Long: start\n'
	awk 'BEGIN { s = sprintf("%99s", ""); gsub(/ /, "x", s)
	    for (i = 0; i < 700; i++) printf "\t%s\n", s }'
	printf 'Content-Type: text/plain\n\nbody\n--l--\n'
} >"$OUT/limit-header-long.eml"
ref header-long "smime=permerror (header too long)"

# 90 headers of 50 KB: each one under the header length limit, all of
# them together over the 4 MiB cap of the top-level header block.
forged="Authentication-Results: $ID; smime=pass (forged)"
{
	head_block header-block "a never-ending header block (limit: 4 MiB)"
	echo "$forged before the cap"
	awk 'BEGIN { s = sprintf("%999s", ""); gsub(/ /, "y", s)
	    for (h = 1; h <= 90; h++) {
		printf "X-Block-%d: start\n", h
		for (i = 0; i < 50; i++) printf "\t%s\n", s
	    } }'
	echo "Authentication-Results: other.example; smime=pass (not ours)"
	echo "$forged after the cap"
	printf 'Content-Type: text/plain\n\nbody\n'
} >"$OUT/limit-header-block.eml"
{
	printf 'Authentication-Results: %s;\n\tsmime=permerror (%s)\n' \
	    "$ID" "header block too large"
	grep -v -F "$forged" "$OUT/limit-header-block.eml"
} >"$OUT/limit-header-block.ref"

# 64 MiB + 3 bytes of decoded CMS (not even DER: the size decides).
{
	head_block cms-size "a 64 MiB pkcs7-mime object (limit: 64 MiB)"
	cat <<EOF
Content-Type: application/pkcs7-mime; smime-type=signed-data; name="smime.p7m"
Content-Transfer-Encoding: base64

EOF
	head -c $((64 * 1024 * 1024 + 3)) /dev/zero | base64 -w 76
} >"$OUT/limit-cms-size.eml"
ref cms-size "smime=permerror (CMS too large)"

# --- CMS policy limits ---------------------------------------------------

printf 'Content-Type: text/plain\r\n\r\nsigned by too many\r\n' >"$W/content"

# signed NAME SUBJECT [openssl cms -sign options]: multipart/signed.
signed() {
	n=$1 subj=$2
	shift 2
	run "$OPENSSL" cms -sign -binary -in "$W/content" -outform DER \
	    -out "$W/$n.p7s" "$@"
	{
		head_block "$n" "$subj"
		cat <<EOF
Content-Type: multipart/signed; protocol="application/pkcs7-signature";
	micalg=sha-256; boundary="sig"

--sig
EOF
		tr -d '\r' <"$W/content"
		echo
		printf -- '--sig\nContent-Type: application/pkcs7-signature; name="smime.p7s"\n'
		printf 'Content-Transfer-Encoding: base64\n\n'
		base64 -w 76 "$W/$n.p7s"
		printf -- '--sig--\n'
	} >"$OUT/limit-$n.eml"
}

set --
for u in alice bob revoked ecdsa ec384 ec521 weak noeku nokeyusage; do
	set -- "$@" -signer "$PKI/$u.crt" -inkey "$PKI/$u.key"
done
signed signers "9 signers (limit: 8)" "$@" -certfile "$PKI/inter.crt"
ref signers "smime=permerror (too many signers)" "body.smime-part=1"

# ct ARGS: certtool, quietly.
ct() {
	run "$CERTTOOL" "$@"
}

# cert NAME SERIAL CN ISSUER [template lines]: a P-256 certificate with
# fixed dates, issued by ISSUER (a PKI or a W name), in $W/NAME.crt.
cert() {
	name=$1 serial=$2 cn=$3 iss=$4
	shift 4
	ct --generate-privkey --key-type ecdsa --curve secp256r1 --pkcs8 \
	    --password '' --no-text --outfile "$W/$name.key"
	{
		echo "cn = \"$cn\""
		echo 'organization = "smime-milter test"'
		echo "serial = $serial"
		echo 'activation_date = "2020-01-01 00:00:00 UTC"'
		echo 'expiration_date = "2099-12-31 23:59:59 UTC"'
		for l in "$@"; do echo "$l"; done
	} >"$W/$name.tmpl"
	if [ -f "$W/$iss.crt" ]; then
		d=$W
	else
		d=$PKI
	fi
	ct --generate-certificate --no-text --load-privkey "$W/$name.key" \
	    --load-ca-certificate "$d/$iss.crt" --load-ca-privkey "$d/$iss.key" \
	    --template "$W/$name.tmpl" --outfile "$W/$name.crt"
}

# 40 certificates: alice's chain plus 38 unrelated ones.
: >"$W/many.pem"
i=1
while [ "$i" -le 38 ]; do
	cert "extra$i" $((1000 + i)) "Extra $i" inter email_protection_key \
	    signing_key
	cat "$W/extra$i.crt" >>"$W/many.pem"
	i=$((i + 1))
done
cat "$PKI/inter.crt" >>"$W/many.pem"
signed certs "40 certificates (limit: 32)" -signer "$PKI/alice.crt" \
    -inkey "$PKI/alice.key" -certfile "$W/many.pem"
ref certs "smime=permerror (too many certificates)" "body.smime-part=1"

# root -> chain1 -> ... -> chain9 -> the signer: 10 certificates below
# the root.
iss=root
: >"$W/chain.pem"
i=1
while [ "$i" -le 9 ]; do
	cert "chain$i" $((2000 + i)) "Chain CA $i" "$iss" ca cert_signing_key \
	    crl_signing_key
	cat "$W/chain$i.crt" >>"$W/chain.pem"
	iss=chain$i
	i=$((i + 1))
done
cert deep 2100 "Test User alice" "$iss" email_protection_key signing_key \
    'email = "alice@example.org"'
signed chain "a chain 9 intermediates deep (limit: 8)" \
    -signer "$W/deep.crt" -inkey "$W/deep.key" -certfile "$W/chain.pem"
ref chain \
    "smime=fail (certificate chain too long) body.smime-identifier=alice@example.org" \
    "body.smime-part=1 body.smime-serial=0834 body.smime-issuer=\"CN=Chain CA 9,O=smime-milter test\""
