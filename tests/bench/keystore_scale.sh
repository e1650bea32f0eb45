#!/bin/sh
# keystore_scale.sh - the keystore at 1 k, 100 k and 1 M addresses (make
# bench; not part of make check).
#
#	tests/bench/keystore_scale.sh [SIZES]
#
# For each size (default "1000 100000 1000000" addresses, or
# $KEYSTORE_SIZES, e.g. make bench-keystore KEYSTORE_SIZES="1000 100000"):
#   1. tests/bench/keystore_gen makes a SOURCE of that many addresses,
#      ten per certificate, the certificates for the test PKI's alice,
#      ecdsa and ed25519 keys in turn, issued by its intermediate (made
#      once, kept under tests/work/bench-keystore/N);
#   2. `smime-keystore build' of it, timed (seconds per 100 k entries);
#   3. tests/bench/keystore_lookup: opening the keystore as the daemon
#      does, and lookup latency p50/p99, first lookups and cached ones.
# Then the daemon with the largest keystore open while it signs (through
# tests/bench/miltergen, 4 connections), beside the same with the
# smallest: VmRSS, VmHWM and RssShmem of smime-milter.  Prints one line
# per measurement and the ratios the issue's targets name, side by side;
# asserts nothing about time (the machine is shared).  Exit 1 when a
# step fails.  Slow at 1 M on 2 shared cores: making the source (once)
# about 8 minutes, the build 15 to 30 (the daemon serves before it
# walks the keystore: start_s is the copy and the structural check).
set -eu

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
KS=$top_builddir/milter/smime-keystore
MILTER=$top_builddir/milter/smime-milter
GEN=$top_builddir/tests/bench/keystore_gen
LOOKUP=$top_builddir/tests/bench/keystore_lookup
MGEN=$top_builddir/tests/bench/miltergen
PKI=$top_builddir/tests/work/pki
W=$top_builddir/tests/work/bench-keystore
SIZES=${1:-${KEYSTORE_SIZES:-"1000 100000 1000000"}}
PERCERT=10

. "$top_srcdir/tests/bench/lib.sh"	# now, kv, ratio, bench_*

sh "$top_srcdir/tests/pki/mkpki.sh" "$PKI" >/dev/null
mkdir -p "$W"
# sz: a file's size in MB
sz() { du -m "$1" | cut -f1; }

OUT=$W/results.txt
: >"$OUT"
small= large=
for n in $SIZES; do
	d=$W/$n
	if [ ! -f "$d/.done" ]; then
		rm -rf "$d"
		t0=$(now)
		"$GEN" "$PKI" "$d" "$n" "$PERCERT" >/dev/null
		echo "keystore addresses=$n generated_s=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }') (once)"
		touch "$d/.done"
	fi
	rm -f "$d/keystore.cdb"
	t0=$(now)
	"$KS" build "$d/source" "$d/keystore.cdb" >"$d/build.log" 2>&1 ||
		{ tail -n 5 "$d/build.log" >&2; echo "keystore_scale: build of $n failed" >&2; exit 1; }
	t1=$(now)
	lk=$("$LOOKUP" "$d/keystore.cdb" "$n" "$PERCERT" 10000)
	line=$(awk -v n="$n" -v t0="$t0" -v t1="$t1" -v mb="$(sz "$d/keystore.cdb")" 'BEGIN {
		printf "keystore addresses=%d build_s=%.1f build_s_per_100k=%.1f file_mb=%d", n, t1 - t0, (t1 - t0) * 1e5 / n, mb }')
	echo "$line $lk" | tee -a "$OUT"
	[ -n "$small" ] || small=$n
	large=$n
done

res() { kv "$2" "$(grep "addresses=$1 " "$OUT")"; }

# ---- the daemon signing with the keystore open ----
TMP=$(mktemp -d /tmp/smime-ksbench.XXXXXX)
MPID=
trap '[ -z "$MPID" ] || kill "$MPID" 2>/dev/null; rm -rf "$TMP"' EXIT
bench_msg4k "$TMP/msg.eml" u0.0@scale.example bob@example.net keystore

# daemon N: signs 400 messages from u0.0 with the keystore of size N;
# prints "rss_kb=.. hwm_kb=.. shmem_kb=.. start_s=.." of smime-milter.
daemon() {
	cat >"$TMP/m.conf" <<EOF
Socket unix:$TMP/m.sock
Mode s
AuthservID mx.bench.example
TrustAnchorFile $PKI/roots.pem
Keystore $W/$1/keystore.cdb
InternalHosts none
SpoolDirectory $TMP
LogLevel warning
EOF
	t0=$(now)
	bench_start "$W/milter.log" "$TMP/m.sock" 18000 \
	    "$MILTER" -f -c "$TMP/m.conf" ||
		{ echo "keystore_scale: smime-milter did not start (see $W/milter.log)" >&2; exit 1; }
	t1=$(now)
	r=$("$MGEN" -p "unix:$TMP/m.sock" -m "$TMP/msg.eml" -c 4 -n 400 -d 60 \
		-A u0.0@scale.example)
	[ "$(kv replbody "$r")" = 400 ] ||
		{ echo "keystore_scale: signing failed: $r" >&2; exit 1; }
	st=/proc/$MPID/status
	awk -v s="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" '
		/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } /^RssShmem:/ { m = $2 }
		END { printf "rss_kb=%d hwm_kb=%d shmem_kb=%d start_s=%s", r, h, m, s }' "$st"
	kill "$MPID"
	wait "$MPID" 2>/dev/null || :
	MPID=
}
ds=$(daemon "$small")
dl=$(daemon "$large")
echo "daemon signing, keystore of $small: $ds"
echo "daemon signing, keystore of $large: $dl ($(sz "$W/$large/keystore.cdb") MB file)"

# ---- the targets, as ratios from this run ----
echo "build time per 100 k entries: $(res "$small" build_s_per_100k) s at $small, $(res "$large" build_s_per_100k) s at $large: ratio $(ratio "$(res "$large" build_s_per_100k)" "$(res "$small" build_s_per_100k)") (target: linear, about 1)"
echo "lookup p99, first lookup of an address: $(res "$large" cold_p99_us) us at $large, $(res "$small" cold_p99_us) us at $small: ratio $(ratio "$(res "$large" cold_p99_us)" "$(res "$small" cold_p99_us)") (target <= 2)"
echo "lookup p99, cached: $(res "$large" warm_p99_us) us at $large, $(res "$small" warm_p99_us) us at $small: ratio $(ratio "$(res "$large" warm_p99_us)" "$(res "$small" warm_p99_us)") (target <= 2)"
echo "daemon RSS growth with $large entries: $(awk -v a="$(kv rss_kb "$dl")" -v b="$(kv rss_kb "$ds")" 'BEGIN { printf "%.1f", (a - b) / 1024 }') MB (target < 10 MB)"
