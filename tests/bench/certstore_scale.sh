#!/bin/sh
# certstore_scale.sh - the certificate store at 1 k, 100 k and 1 M
# addresses (make bench; not part of make check): import time with
# smime-certstore import, and lookup latency p50/p99 through
# certstore_lookup (crypto/certstore.c, read-only, as the daemon will).
#
#	tests/bench/certstore_scale.sh [SIZES]
#
# SIZES is a list of NCERTSxNSANS (default "10x100 1000x100"; certtool
# puts at most 128 addresses in one certificate and makes about ten a
# second here, too slow for 1 M):
# NCERTS certificates each naming NSANS addresses u<I>.<J>@scale.example,
# made once with certtool (one EC key, issued by the test PKI's
# intermediate) under tests/work/bench-certstore.  Then the store alone
# at 1 k, 100 k and 1 M addresses: filled through the library with one
# certificate (certstore_lookup's fill mode), 100 addresses per
# transaction as an import of such certificates would.  Prints one line
# per size; asserts nothing about time (the machine is shared).
set -eu

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
CERTTOOL=${CERTTOOL:-certtool}
CS=$top_builddir/milter/smime-certstore
LOOKUP=$top_builddir/tests/bench/certstore_lookup
PKI=$top_builddir/tests/work/pki
W=$top_builddir/tests/work/bench-certstore
SIZES=${1:-"10x100 1000x100"}

sh "$top_srcdir/tests/pki/mkpki.sh" "$PKI" >/dev/null
mkdir -p "$W/certs"

# cert I NSANS: certs/I-NSANS.pem, made once
cert() {
	f=$W/certs/$1-$2.pem
	[ -s "$f" ] && return 0
	{
		echo "cn = \"Scale $1\""
		echo "serial = $((0x100000 + $1))"
		awk -v i="$1" -v n="$2" 'BEGIN {
			for (j = 0; j < n; j++)
				printf "email = \"u%d.%d@scale.example\"\n", i, j }'
		echo "key_agreement"
		echo "email_protection_key"
		echo 'activation_date = "2020-01-01 00:00:00 UTC"'
		echo 'expiration_date = "2099-12-31 23:59:59 UTC"'
	} >"$W/tmpl"
	"$CERTTOOL" --generate-certificate --no-text \
	    --load-privkey "$PKI/encec.key" \
	    --load-ca-certificate "$PKI/inter.crt" \
	    --load-ca-privkey "$PKI/inter.key" \
	    --template "$W/tmpl" --outfile "$f.tmp" >/dev/null 2>&1
	mv "$f.tmp" "$f"
}

now() { date +%s.%N; }

for size in $SIZES; do
	ncerts=${size%x*} nsans=${size#*x}
	i=0
	while [ "$i" -lt "$ncerts" ]; do
		cert "$i" "$nsans"
		i=$((i + 1))
	done
	S=$W/store-$size.mdb
	rm -f "$S" "$S-lock"
	files=$(i=0; while [ "$i" -lt "$ncerts" ]; do
		echo "$W/certs/$i-$nsans.pem"; i=$((i + 1)); done)
	t0=$(now)
	# shellcheck disable=SC2086
	"$CS" import "$S" $files >/dev/null
	t1=$(now)
	addrs=$((ncerts * nsans))
	lk=$("$LOOKUP" "$S" "$ncerts" "$nsans" 100000)
	awk -v a="$addrs" -v t0="$t0" -v t1="$t1" -v lk="$lk" \
	    -v sz="$(du -k "$S" | cut -f1)" 'BEGIN {
		printf "certstore addresses=%d import_s=%.2f import_us_per_address=%.1f store_kib=%d %s\n",
		    a, t1 - t0, (t1 - t0) * 1e6 / a, sz, lk }'
done

"$CERTTOOL" --certificate-info --infile "$PKI/encec.crt" --outder \
    --outfile "$W/encec.der" >/dev/null 2>&1
for ncerts in 10 1000 10000; do
	S=$W/fill-$ncerts.mdb
	rm -f "$S" "$S-lock"
	echo "certstore library $("$LOOKUP" "$S" "$ncerts" 100 100000 "$W/encec.der") store_kib=$(du -k "$S" | cut -f1)"
	rm -f "$S" "$S-lock"
done
