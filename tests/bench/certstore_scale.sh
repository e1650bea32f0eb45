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
# transaction as an import of such certificates would.  Then the daemon
# (Mode e) with the 1 k and with the 1 M store open while it encrypts
# 400 messages to encrsa (imported into both): VmRSS, VmHWM and RssFile
# of smime-milter side by side and the growth (target < 10 MB).  Prints
# one line per measurement; asserts nothing about time (the machine is
# shared); exit 1 when a step fails.
set -eu

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
CERTTOOL=${CERTTOOL:-certtool}
CS=$top_builddir/milter/smime-certstore
LOOKUP=$top_builddir/tests/bench/certstore_lookup
MILTER=$top_builddir/milter/smime-milter
MGEN=$top_builddir/tests/bench/miltergen
PKI=$top_builddir/tests/work/pki
W=$top_builddir/tests/work/bench-certstore
SIZES=${1:-"10x100 1000x100"}

. "$top_srcdir/tests/bench/lib.sh"	# now, kv, ratio, bench_*

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

: >"$W/library.txt"
"$CERTTOOL" --certificate-info --infile "$PKI/encec.crt" --outder \
    --outfile "$W/encec.der" >/dev/null 2>&1
for ncerts in 10 1000 10000; do
	S=$W/fill-$ncerts.mdb
	rm -f "$S" "$S-lock"
	echo "certstore library $("$LOOKUP" "$S" "$ncerts" 100 100000 "$W/encec.der") store_kib=$(du -k "$S" | cut -f1)" |
	    tee -a "$W/library.txt"
	# the smallest and the largest stay for the daemon below
	case $ncerts in 10|10000) ;; *) rm -f "$S" "$S-lock" ;; esac
done

# ---- the daemon encrypting with the 1 k and the 1 M store open ----
# Each store also gets encrsa (smime-certstore import); smime-milter in
# Mode e encrypts 400 4 KB messages from alice (SASL login) to
# encrsa@example.org through tests/bench/miltergen, 4 connections:
# VmRSS, VmHWM and RssFile (the store's mmap pages) of smime-milter.
TMP=$(mktemp -d /tmp/smime-csbench.XXXXXX)
MPID=
trap '[ -z "$MPID" ] || kill "$MPID" 2>/dev/null; rm -rf "$TMP"' EXIT
bench_msg4k "$TMP/msg.eml" alice@example.org encrsa@example.org certstore

# daemon STORE: prints "rss_kb=.. hwm_kb=.. file_kb=.." of smime-milter
# after encrypting 400 messages with STORE as its CertificateStore.
daemon() {
	"$CS" import "$1" "$PKI/encrsa.chain.pem" >/dev/null ||
		{ echo "certstore_scale: import of encrsa into $1 failed" >&2; exit 1; }
	cat >"$TMP/m.conf" <<EOF
Socket unix:$TMP/m.sock
Mode e
AuthservID mx.bench.example
TrustAnchorFile $PKI/roots.pem
CRLFile $PKI/crl.pem
CertificateStore $1
InternalHosts none
SpoolDirectory $TMP
LogLevel warning
EOF
	bench_start "$W/milter.log" "$TMP/m.sock" 600 \
	    "$MILTER" -f -c "$TMP/m.conf" ||
		{ echo "certstore_scale: smime-milter did not start (see $W/milter.log)" >&2; exit 1; }
	r=$("$MGEN" -p "unix:$TMP/m.sock" -m "$TMP/msg.eml" -c 4 -n 400 -d 60 \
		-A alice@example.org -r encrsa@example.org)
	[ "$(kv encrypted "$r")" = 400 ] ||
		{ echo "certstore_scale: encryption failed: $r" >&2; exit 1; }
	awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } /^RssFile:/ { f = $2 }
		END { printf "rss_kb=%d hwm_kb=%d file_kb=%d", r, h, f }' \
		"/proc/$MPID/status"
	kill "$MPID"
	wait "$MPID" 2>/dev/null || :
	MPID=
}
ds=$(daemon "$W/fill-10.mdb")
dl=$(daemon "$W/fill-10000.mdb")
echo "daemon encrypting, store of 1 k addresses: $ds"
echo "daemon encrypting, store of 1 M addresses: $dl ($(du -m "$W/fill-10000.mdb" | cut -f1) MB file)"
echo "daemon RSS growth with 1 M addresses: $(awk -v a="$(kv rss_kb "$dl")" -v b="$(kv rss_kb "$ds")" 'BEGIN { printf "%.1f", (a - b) / 1024 }') MB, peak $(awk -v a="$(kv hwm_kb "$dl")" -v b="$(kv hwm_kb "$ds")" 'BEGIN { printf "%.1f", (a - b) / 1024 }') MB (target < 10 MB)"
rm -f "$W"/fill-*.mdb "$W"/fill-*.mdb-lock

# ---- the targets, as ratios from this run (the library fills) ----
lib() { kv "$2" "$(grep "filled=$1 " "$W/library.txt")"; }
echo "fill time per address: $(lib 1000 fill_us_per_address) us at 1 k, $(lib 100000 fill_us_per_address) us at 100 k, $(lib 1000000 fill_us_per_address) us at 1 M: ratio 1 M / 1 k $(ratio "$(lib 1000000 fill_us_per_address)" "$(lib 1000 fill_us_per_address)") (target: linear, about 1)"
echo "lookup p99, first lookups: $(lib 1000000 p99_us) us at 1 M, $(lib 1000 p99_us) us at 1 k: ratio $(ratio "$(lib 1000000 p99_us)" "$(lib 1000 p99_us)") (target <= 2)"
echo "lookup p99, warm (the same addresses again): $(lib 1000000 warm_p99_us) us at 1 M, $(lib 1000 warm_p99_us) us at 1 k: ratio $(ratio "$(lib 1000000 warm_p99_us)" "$(lib 1000 warm_p99_us)") (target <= 2)"
