#!/bin/sh
# run.sh - build the libFuzzer harnesses, make their seed corpora, replay
# the regression corpus and fuzz each harness for a while.
#
# SYNOPSIS
#	tests/fuzz/run.sh [HARNESS...]	(from `make fuzz` or hardening.sh,
#					with top_srcdir and top_builddir set)
#
# DESCRIPTION
#	1. Builds tests/fuzz/fuzz_*.c with clang (ASan, UBSan, libFuzzer)
#	   through tests/fuzz/fuzz.mk into $top_builddir/tests/work/fuzz/bin;
#	   the gcc build is not touched.
#	2. Seeds (tests/work/fuzz/seed/NAME): the test messages
#	   (tests/data/*.eml and the signed messages mkmsgs.sh makes), the
#	   CMS objects cut out of them (seedcms), tests/data/*.conf and a
#	   configuration with every key, keystores built by smime-keystore
#	   from the test PKI, From/Sender values.
#	3. Replays every file of tests/fuzz/regress/NAME/ (inputs that once
#	   crashed, kept so that the bug stays fixed): each must run clean.
#	4. Fuzzes each harness with the corpus tests/work/fuzz/corpus/NAME
#	   (kept between runs) plus the seeds, either for FUZZ_SECONDS
#	   seconds or, when FUZZ_RUNS is set, for that many executions with
#	   a fixed -seed (CI: fast and repeatable).  A crash leaves the input
#	   in tests/work/fuzz/crash/ and fails the harness.
#	Prints one line per harness with its executions and "N passed,
#	N failed"; exit 0 only when nothing failed.  Nothing is left out
#	quietly: no clang, no generated test messages or a keystore seed
#	that cannot be built is a failure.
#
# ENVIRONMENT
#	top_srcdir, top_builddir	default: the directory above tests/
#	FUZZ_SECONDS	time per harness (default 60)
#	FUZZ_RUNS	executions per harness instead of a time
#	FUZZ_SEED	libFuzzer -seed with FUZZ_RUNS (default 1)
#	FUZZ_ARGS	extra libFuzzer arguments
#	FUZZ_CC		clang binary (default clang)

set -u
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(dirname "$(dirname "$here")")}
top_builddir=${top_builddir:-$top_srcdir}
top_srcdir=$(cd "$top_srcdir" && pwd)
top_builddir=$(cd "$top_builddir" && pwd)
W=$top_builddir/tests/work
F=$W/fuzz
BIN=$F/bin
ALL="mime cms config keystore rfc5322 canon testmode envelope"
HARNESSES=${*:-$ALL}

passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

# ---- 1. build ----
mkdir -p "$F"
if ! command -v "${FUZZ_CC:-clang}" >/dev/null 2>&1; then
	bad build "${FUZZ_CC:-clang} not found: install the Debian packages clang libclang-rt-14-dev"
fi
if ! make -s -k -j"$(nproc 2>/dev/null || echo 2)" \
	-f "$top_srcdir/tests/fuzz/fuzz.mk" top_srcdir="$top_srcdir" \
	top_builddir="$top_builddir" ${FUZZ_CC:+FUZZ_CC="$FUZZ_CC"} \
	>"$F/build.log" 2>&1; then
	echo "fuzz: build problems (tests/work/fuzz/build.log):"
	grep -E 'error|Error' "$F/build.log" | head -20 | sed 's/^/	/'
fi

# ---- 2. seeds ----
S=$F/seed
rm -rf "$S"
mkdir -p "$S/mime" "$S/canon" "$S/cms" "$S/config" "$S/keystore" \
	"$S/rfc5322" "$S/testmode" "$S/envelope" "$F/corpus" "$F/crash"
if [ -d "$W/msgs" ] || { mkdir -p "$W" &&
	sh "$top_srcdir/tests/pki/mkpki.sh" "$W/pki" >/dev/null 2>&1 &&
	sh "$top_srcdir/tests/fixtures/mkmsgs.sh" "$W/pki" "$W/msgs" \
		>/dev/null 2>&1; }; then
	:
else
	bad seeds "cannot make the test PKI and messages (tests/pki/mkpki.sh, tests/fixtures/mkmsgs.sh)"
fi
i=0
for m in "$top_srcdir"/tests/data/*.eml "$W"/msgs/*.eml \
	"$W"/msgs/work/*.inner.eml; do
	[ -f "$m" ] || continue
	i=$((i + 1))
	# fuzz_mime: control 0, one chunk size 0 (all at once); a second
	# copy fed in 7-byte chunks with small limits.
	{ printf '\000\000'; cat "$m"; } >"$S/mime/$i.eml"
	{ printf '\010\007'; cat "$m"; } >"$S/mime/$i-small.eml"
	# fuzz_canon: control 0 (memory spool, default limits, one chunk)
	{ printf '\000'; cat "$m"; } >"$S/canon/$i.eml"
	# fuzz_testmode: the message as it is
	cp "$m" "$S/testmode/$i.eml"
	# From/Sender values
	awk '
	/^$|^\r$/ { exit }
	/^[ \t]/ { if (h) v = v $0; next }
	{ if (h) print v; h = 0 }
	tolower($0) ~ /^(from|sender|to|cc):/ { h = 1; v = substr($0, index($0, ":") + 1) }
	END { if (h) print v }' "$m" | tr -d '\r' >>"$S/rfc5322/all.txt"
done
if [ -x "$BIN/seedcms" ]; then
	"$BIN/seedcms" "$S/cms" "$top_srcdir"/tests/data/*.eml \
		"$W"/msgs/*.eml 2>/dev/null
fi
# envelope: the encrypted messages of mkenc.sh (not the 300 KB ones),
# control 0 (at once) and 7 (7-byte chunks)
if [ -f "$W/pki/.done" ] &&
	sh "$top_srcdir/tests/fixtures/mkenc.sh" "$W/pki" "$W/enc" >/dev/null 2>&1; then
	for e in "$W"/enc/*.der; do
		case $e in *-big.der|*-stream.der) continue ;; esac
		b=$(basename "$e" .der)
		{ printf '\000'; cat "$e"; } >"$S/envelope/$b.der"
		{ printf '\007'; cat "$e"; } >"$S/envelope/$b-7.der"
	done
else
	echo "fuzz: no encrypted test messages (mkenc.sh); envelope unseeded"
fi
# rfc5322: one value per file, plus some hand-made edge cases
n=0
{
	cat "$S/rfc5322/all.txt"
	printf '%s\n' \
	    '"A. (not a comment) Person" <a.person@example.org> (comment (nested))' \
	    'Group: a@example.org, "b c"@example.org;, d@[192.0.2.1]' \
	    '<@route1,@route2:x@example.org>' \
	    '=?utf-8?q?J=C3=B6rg?= <joerg@example.org>, undisclosed-recipients:;' \
	    '(((((((((((((((((deep)))))))))))))))))) x@y' \
	    '"\"quoted\\\\" @ example . org'
} | while IFS= read -r v; do
	n=$((n + 1))
	printf '%s' "$v" >"$S/rfc5322/$n.txt"
done
rm -f "$S/rfc5322/all.txt"
# config: the data configurations and one with every key
for c in "$top_srcdir"/tests/data/*.conf; do
	[ -f "$c" ] && cp "$c" "$S/config/"
done
cat >"$S/config/full.conf" <<'EOF'
# every key once
Socket inet:10025@127.0.0.1
Mode sv
AuthservID mx.example.net
TrustAnchorFile /etc/ssl/certs/ca-certificates.crt
TrustAnchorFile /nonexistent/roots.pem
TrustSystemStore no
CRLFile /nonexistent/crl.pem
Keystore /nonexistent/keys.cdb
InternalHosts 127.0.0.1, ::1 192.0.2.0/24, 2001:db8::/32
RequireFromMatch yes
AllowSHA1 no
AddNoneResult yes
SignSkipDKIM yes
TagHeader X-SMIME-Signer
OnError tempfail
SpoolThreshold 1m
SpoolDirectory /tmp
MaxMessageSize 50M
UserID root:root
PidFile /run/smime-milter.pid
LogLevel debug
SyslogFacility local3
EOF
printf 'Socket=unix:/run/x.sock\nmode = v\ninternalhosts none\n' \
	>"$S/config/eq.conf"
# keystore: built by smime-keystore from the test PKI
KT=$top_builddir/milter/smime-keystore
if [ ! -x "$KT" ] || [ ! -f "$W/pki/.done" ]; then
	bad seeds "no keystore seeds: build $KT and the test PKI first"
else
	P=$W/pki
	printf '%s\n' "alice@example.org $P/alice.pem alice bob" \
	    "ecdsa@example.org $P/ecdsa.pem" >"$F/ks1.src"
	printf '%s\n' "ed25519@example.org $P/ed25519.pem" \
	    "pss@example.org $P/pss.pem x" "ec384@example.org $P/ec384.pem" \
	    >"$F/ks2.src"
	for k in ks1 ks2; do
		"$KT" build "$F/$k.src" "$S/keystore/$k.cdb" >"$F/$k.log" 2>&1 ||
			bad seeds "smime-keystore build $k failed: $(head -n 3 "$F/$k.log")"
	done
fi

# ---- 3 and 4. regression corpus, then fuzzing ----
for h in $HARNESSES; do
	b=$BIN/fuzz_$h
	if [ ! -x "$b" ]; then
		bad "fuzz_$h" "not built (see tests/work/fuzz/build.log)"
		continue
	fi
	export SMIME_FUZZ_PKI="$W/pki"
	reg=$top_srcdir/tests/fuzz/regress/$h
	if [ -d "$reg" ] && [ -n "$(ls "$reg")" ]; then
		if ! "$b" -rss_limit_mb=2048 "$reg"/* >"$F/$h.regress.log" 2>&1; then
			bad "fuzz_$h" "regression corpus fails (tests/work/fuzz/$h.regress.log):"
			grep -E 'ERROR|invariant|Running' "$F/$h.regress.log" |
				tail -5 | sed 's/^/	/'
			continue
		fi
	fi
	dict=
	d=$h
	case $h in canon|testmode) d=mime ;; esac
	[ -f "$here/$d.dict" ] && dict=-dict=$here/$d.dict
	if [ -n "${FUZZ_RUNS:-}" ]; then
		limit="-runs=$FUZZ_RUNS -seed=${FUZZ_SEED:-1}"
	else
		limit="-max_total_time=${FUZZ_SECONDS:-60}"
	fi
	mkdir -p "$F/corpus/$h"
	# shellcheck disable=SC2086
	"$b" $limit $dict -timeout=30 -rss_limit_mb=2048 -max_len=262144 \
		-print_final_stats=1 -artifact_prefix="$F/crash/$h-" \
		${FUZZ_ARGS:-} "$F/corpus/$h" "$S/$h" >"$F/$h.log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$F/$h.log")
	secs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$F/$h.log")
	corp=$(find "$F/corpus/$h" -type f | wc -l)
	if [ "$rc" -ne 0 ]; then
		bad "fuzz_$h" "exit $rc (tests/work/fuzz/$h.log):"
		grep -E 'ERROR|invariant|SUMMARY|Test unit written' "$F/$h.log" |
			head -6 | sed 's/^/	/'
	else
		echo "fuzz_$h: ${execs:-?} executions (${secs:-?}/s), corpus $corp"
		ok
	fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
