#!/bin/sh
# mkpki.sh - make the smime-milter test PKI with GnuTLS certtool.
#
# SYNOPSIS
#	tests/pki/mkpki.sh OUTDIR
#
# DESCRIPTION
#	Creates, once, a small PKI for the tests: a trusted root, an
#	intermediate, one user certificate per test situation, a CRL and a
#	second ("other") root that is not trusted.  Every certificate has a
#	fixed serial number and fixed validity dates, so nothing depends on
#	today's date except the random key material.
#
#	OUTDIR/root.crt root.key      CN=Test Root CA,O=smime-milter test (serial 01)
#	OUTDIR/inter.crt inter.key    CN=Test Intermediate CA,... (serial 02, by root)
#	OUTDIR/roots.pem              = root.crt, the test TrustAnchorFile
#	OUTDIR/other-root.crt .key    CN=Other Root,O=smime-milter test (serial 03)
#	OUTDIR/other-inter.crt .key   CN=Other Intermediate CA,... (serial 04,
#	                              by other-root: a hierarchy not trusted)
#	OUTDIR/crl.pem                CRL by inter listing `revoked'
#	OUTDIR/serials.txt            "NAME HEXSERIAL" for every certificate
#	OUTDIR/NAME.key               PKCS#8 PEM, unencrypted
#	OUTDIR/NAME.crt               PEM
#	OUTDIR/NAME.chain.pem         NAME.crt + its issuing CA certificate
#	                              (inter.crt; other-root.crt for `untrusted',
#	                              other-inter.crt for `stranger';
#	                              nothing more for `selfsigned')
#	OUTDIR/NAME.pem               NAME.key + NAME.chain.pem (keystore format)
#	OUTDIR/NAME.p12               PKCS#12 (3DES, password "test")
#
#	The users are listed in the USERS table below.  Validity is
#	2020-01-01 .. 2099-12-31 except for `expired' (2001-01-01 ..
#	2002-01-01).
#
#	The script is idempotent: OUTDIR/.done is written last and a later
#	run with it present does nothing (unless this script has changed
#	since: .done holds its checksum).  Concurrent runs serialise on
#	flock(1) of OUTDIR/.lock.  An interrupted run leaves no .done and the
#	next run starts again from scratch.
#
# ENVIRONMENT
#	CERTTOOL	certtool binary (default: certtool)

set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
OUT=$1
CERTTOOL=${CERTTOOL:-certtool}
ORG="smime-milter test"
NOTBEFORE="2020-01-01 00:00:00 UTC"
NOTAFTER="2099-12-31 23:59:59 UTC"

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# Hold the lock for the rest of the script (fd 9 stays open until exit).
# .done holds a checksum of this script: a PKI made by an older version
# is made again.
STAMP=$(cksum <"$0")
exec 9>"$OUT/.lock"
flock 9
if [ -f "$OUT/.done" ] && [ "$(cat "$OUT/.done")" = "$STAMP" ]; then
	exit 0
fi
rm -f "$OUT/.done"

TMP=$(mktemp -d "$OUT/.tmp.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

ct() {
	"$CERTTOOL" "$@" >"$TMP/certtool.log" 2>&1 || {
		cat "$TMP/certtool.log" >&2
		echo "mkpki.sh: certtool $* failed" >&2
		exit 1
	}
}

# genkey NAME TYPE [ARG]: TYPE rsa|rsa-pss (ARG = bits), ecdsa (ARG =
# curve), ed25519.
genkey() {
	case $2 in
	rsa|rsa-pss) set -- "$1" --key-type "$2" --bits "$3" ;;
	ecdsa) set -- "$1" --key-type ecdsa --curve "$3" ;;
	*) set -- "$1" --key-type "$2" ;;
	esac
	name=$1
	shift
	ct --generate-privkey --pkcs8 --password '' --no-text "$@" \
	    --outfile "$OUT/$name.key"
}

# template NAME SERIAL CN [NOTBEFORE NOTAFTER]: common template head.
template() {
	cat >"$TMP/$1.tmpl" <<EOF
cn = "$3"
organization = "$ORG"
serial = 0x$2
activation_date = "${4:-$NOTBEFORE}"
expiration_date = "${5:-$NOTAFTER}"
EOF
	echo "$1 $2" >>"$TMP/serials.txt"
}

ca() {
	# ca NAME SERIAL CN [ISSUER]
	genkey "$1" rsa 2048
	template "$1" "$2" "$3"
	cat >>"$TMP/$1.tmpl" <<EOF
ca
cert_signing_key
crl_signing_key
EOF
	if [ $# -ge 4 ]; then
		ct --generate-certificate --no-text \
		    --load-privkey "$OUT/$1.key" \
		    --load-ca-certificate "$OUT/$4.crt" \
		    --load-ca-privkey "$OUT/$4.key" \
		    --template "$TMP/$1.tmpl" --outfile "$OUT/$1.crt"
	else
		ct --generate-self-signed --no-text \
		    --load-privkey "$OUT/$1.key" \
		    --template "$TMP/$1.tmpl" --outfile "$OUT/$1.crt"
	fi
}

# user NAME SERIAL KEYTYPE KEYARG ISSUER USAGE [NOTBEFORE NOTAFTER]
# USAGE: normal, noeku (serverAuth only), nokeyusage (keyEncipherment only),
# signonly (digitalSignature only), agree (keyAgreement only),
# decrypt (keyEncipherment for RSA, keyAgreement for EC: a decryption key).
# The address is NAME@example.org, or MAILAS@example.org when MAILAS is set
# (several certificates of one address).
user() {
	name=$1 serial=$2 ktype=$3 karg=$4 issuer=$5 usage=$6
	shift 6
	genkey "$name" "$ktype" "$karg"
	template "$name" "$serial" "Test User $name" "$@"
	echo "email = \"${MAILAS:-$name}@example.org\"" >>"$TMP/$name.tmpl"
	case $usage in
	nokeyusage)
		echo "encryption_key" >>"$TMP/$name.tmpl" ;;
	decrypt)
		case $ktype in
		rsa) echo "encryption_key" >>"$TMP/$name.tmpl" ;;
		*) echo "key_agreement" >>"$TMP/$name.tmpl" ;;
		esac ;;
	signonly)
		echo "signing_key" >>"$TMP/$name.tmpl" ;;
	agree)
		echo "key_agreement" >>"$TMP/$name.tmpl" ;;
	*)
		printf 'signing_key\nnon_repudiation\n' >>"$TMP/$name.tmpl"
		case $ktype in
		rsa) echo "encryption_key" >>"$TMP/$name.tmpl" ;;
		esac ;;
	esac
	case $usage in
	# serverAuth by OID: certtool's tls_www_server flag would drop the
	# email SAN.
	noeku) echo "key_purpose_oid = 1.3.6.1.5.5.7.3.1" >>"$TMP/$name.tmpl" ;;
	*) echo "email_protection_key" >>"$TMP/$name.tmpl" ;;
	esac

	if [ "$issuer" = self ]; then
		ct --generate-self-signed --no-text \
		    --load-privkey "$OUT/$name.key" \
		    --template "$TMP/$name.tmpl" --outfile "$OUT/$name.crt"
		cat "$OUT/$name.crt" >"$OUT/$name.chain.pem"
	else
		ct --generate-certificate --no-text \
		    --load-privkey "$OUT/$name.key" \
		    --load-ca-certificate "$OUT/$issuer.crt" \
		    --load-ca-privkey "$OUT/$issuer.key" \
		    --template "$TMP/$name.tmpl" --outfile "$OUT/$name.crt"
		cat "$OUT/$name.crt" "$OUT/$issuer.crt" >"$OUT/$name.chain.pem"
	fi
	cat "$OUT/$name.key" "$OUT/$name.chain.pem" >"$OUT/$name.pem"
	ct --to-p12 --outder --pkcs-cipher 3des-pkcs12 --password test \
	    --p12-name "$name" --load-privkey "$OUT/$name.key" \
	    --load-certificate "$OUT/$name.crt" \
	    --outfile "$OUT/$name.p12"
}

: >"$TMP/serials.txt"
ca root 01 "Test Root CA"
ca inter 02 "Test Intermediate CA" root
ca other-root 03 "Other Root"
ca other-inter 04 "Other Intermediate CA" other-root
cp "$OUT/root.crt" "$OUT/roots.pem"

#    NAME       SERIAL KEY     ARG       ISSUER     USAGE
user alice      1001   rsa     2048      inter      normal
user pss        1002   rsa-pss 2048      inter      normal
user ecdsa      1003   ecdsa   secp256r1 inter      normal
user ec384      1004   ecdsa   secp384r1 inter      normal
user ec521      1005   ecdsa   secp521r1 inter      normal
user ed25519    1006   ed25519 -         inter      normal
user bob        1007   rsa     2048      inter      normal
user expired    1008   rsa     2048      inter      normal \
    "2001-01-01 00:00:00 UTC" "2002-01-01 00:00:00 UTC"
user noeku      1009   rsa     2048      inter      noeku
user nokeyusage 100a   rsa     2048      inter      nokeyusage
user revoked    100b   rsa     2048      inter      normal
user selfsigned 100c   rsa     2048      self       normal
user untrusted  100d   rsa     2048      other-root normal
user weak       100e   rsa     1024      inter      normal
user stranger   100f   rsa     2048      other-inter normal
# decryption keys (check_decrypt: tests/fixtures/mkenc.sh)
user encrsa     2001   rsa     2048      inter      decrypt
user ecdh256    2002   ecdsa   secp256r1 inter      decrypt
user ecdh384    2003   ecdsa   secp384r1 inter      decrypt
user ecdh521    2004   ecdsa   secp521r1 inter      decrypt
# several credentials of one address (the keystore): carol signs with
# carol-sign (and carol-sign2 from 2021, until 2098), decrypts with
# carol-enc and the expired carol-old; dave-ecenc an EC key with
# keyAgreement (certtool adds digitalSignature to EC keys: both);
# rsa-agree allows neither signing nor decryption (keyAgreement on RSA);
# carol-oldsign is an expired signing-only certificate.
MAILAS=carol
user carol-sign 1101   rsa     2048      inter      signonly
user carol-sign2 1102  rsa     2048      inter      signonly \
    "2021-01-01 00:00:00 UTC" "2098-12-31 23:59:59 UTC"
user carol-enc  1103   rsa     2048      inter      nokeyusage
user carol-old  1104   rsa     2048      inter      nokeyusage \
    "2001-01-01 00:00:00 UTC" "2002-01-01 00:00:00 UTC"
user carol-oldsign 1105 rsa    2048      inter      signonly \
    "2001-01-01 00:00:00 UTC" "2002-01-01 00:00:00 UTC"
MAILAS=dave
user dave-ecenc 1106   ecdsa   secp256r1 inter      agree
MAILAS=
user rsa-agree  1107   rsa     2048      inter      agree
user encec      2005   ecdsa   secp256r1 inter      decrypt

cat >"$TMP/crl.tmpl" <<EOF
crl_number = 1
crl_this_update_date = "$NOTBEFORE"
crl_next_update_date = "$NOTAFTER"
crl_revocation_date = "2020-06-01 00:00:00 UTC"
EOF
ct --generate-crl --no-text --load-ca-certificate "$OUT/inter.crt" \
    --load-ca-privkey "$OUT/inter.key" --load-certificate "$OUT/revoked.crt" \
    --template "$TMP/crl.tmpl" --outfile "$OUT/crl.pem"

mv "$TMP/serials.txt" "$OUT/serials.txt"
echo "$STAMP" >"$OUT/.done"
