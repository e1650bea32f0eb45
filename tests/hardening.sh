#!/bin/sh
# hardening.sh - the tests again under AddressSanitizer/UBSan and
# valgrind, and short fuzz runs.
#
# SYNOPSIS
#	sh tests/hardening.sh	(after a build; ./quickstart check runs it
#				after make check and make check-e2e)
#
# DESCRIPTION
#	1. Sanitizers: a second build with ./configure --enable-sanitizers
#	   (gcc, ASan + UBSan) in $top_builddir/build-san, and its
#	   `make check' (the Check unit tests and the golden -t tests) with
#	   leak detection on and UBSan halting on the first error.  The
#	   source tree may be configured in place (quickstart does that), and
#	   then a VPATH build from it is refused; so the build is made from
#	   a copy of the sources in build-san/src (the files git knows,
#	   tracked or not ignored, with their times kept, plus the generated
#	   autotools files; `make distdir' outside git), configured in
#	   build-san/obj.  Only changed files are rebuilt the next time.
#	2. ThreadSanitizer: the same kind of build with
#	   ./configure --enable-sanitizers=thread in
#	   $top_builddir/build-tsan, and its Check unit tests (check_threads
#	   verifies and signs from 4 threads through session.c) with
#	   TSAN_OPTIONS=halt_on_error=1: a data race is a failure; then
#	   tests/token.sh with that build's token_tool (threads sharing a
#	   token key, the provider reloaded when the token comes back).
#	3. Valgrind: every -t test message (tests/data/*.eml with its .conf
#	   and .opts, and the signed messages of tests/work/msgs) through the
#	   normal build's smime-milter -t under `valgrind --error-exitcode=1
#	   --leak-check=full --errors-for-leak-kinds=definite'; each must
#	   show zero errors and zero definite leaks.  Also smime-milter -n
#	   and smime-keystore build/list/check.
#	4. Fuzzing: tests/fuzz/run.sh with FUZZ_RUNS executions per harness
#	   (default 20000), the regression corpus replayed first.
#	Prints one line per failure and "N passed, N failed"; exit 0 only
#	when nothing failed and no step was skipped (77 then).
#
# ENVIRONMENT
#	top_srcdir, top_builddir	default: the directory above this one
#	HARDEN_SKIP	steps to leave out: any of "san tsan valgrind fuzz"
#			(refused under ./quickstart check: nothing may skip)
#	HARDEN_JOBS	parallel jobs (default: the number of CPUs)
#	FUZZ_RUNS	executions per fuzz harness (default 20000)

set -u
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "${top_srcdir:-$(dirname "$here")}" && pwd)
top_builddir=$(cd "${top_builddir:-$top_srcdir}" && pwd)
JOBS=${HARDEN_JOBS:-$(nproc 2>/dev/null || echo 2)}
W=$top_builddir/tests/work
H=$W/hardening

passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
skipped=0
skip() { case " ${HARDEN_SKIP:-} " in *" $1 "*) ;; *) return 1 ;; esac
	. "$here/need.sh"
	need_strict || { note "$1 skipped (HARDEN_SKIP)"; skipped=$((skipped + 1)); return 0; }
	fail "$1" "HARDEN_SKIP names it: nothing may skip under ./quickstart check"; return 1; }
note() { echo "hardening: $*"; }

mkdir -p "$H"

# Test PKI and signed messages (make check has usually made them).
fixtures() {
	sh "$top_srcdir/tests/pki/mkpki.sh" "$W/pki" >/dev/null 2>&1 &&
	sh "$top_srcdir/tests/fixtures/mkmsgs.sh" "$W/pki" "$W/msgs" \
		>/dev/null 2>&1
}

# ---- 1. sanitizer build ----

# copy_sources DIR: the source tree as a clone would have it (plus local
# changes), generated autotools files included, times kept.
copy_sources() {
	mkdir -p "$1"
	if git -C "$top_srcdir" rev-parse --is-inside-work-tree \
		>/dev/null 2>&1; then
		(
			cd "$top_srcdir" || exit 1
			{
				git ls-files --cached --others --exclude-standard
				for f in configure Makefile.in aclocal.m4 \
				    config.h.in build-aux/* m4/*.m4; do
					echo "$f"
				done
			} | sort -u | while IFS= read -r f; do
				# not what a build writes in place
				case $f in build-san/*|build-tsan/*|tests/work/*) continue ;; esac
				[ -f "$f" ] && printf '%s\n' "$f"
			done >"$H/files"
			tar -cf - -T "$H/files"
		) | tar -C "$1" -xf -
	else
		rm -rf "$1" &&
		make -s -C "$top_builddir" distdir distdir="$1" >/dev/null
	fi
}

# sanitized_build DIR CONFIGURE-OPTION [CONFIGURE-VARIABLE [check-programs]]:
# the sources copied to DIR/src, configured with CONFIGURE-OPTION (and the
# variable setting) and built in DIR/obj (everything, or only the Check
# programs); the test PKI and messages of the main build copied there.
sanitized_build() {
	src=$1/src
	obj=$1/obj
	tag=$(basename "$1")
	note "sanitizer build in $1"
	copy_sources "$src" || { fail "$tag" "cannot copy the sources"; return 1; }
	if [ ! -x "$src/configure" ]; then
		(cd "$src" && autoreconf -fi) >"$H/$tag-autoreconf.log" 2>&1 ||
			{ fail "$tag" "autoreconf failed ($H/$tag-autoreconf.log)"; return 1; }
	fi
	mkdir -p "$obj"
	if [ ! -f "$obj/config.status" ] ||
	    [ -n "$(find "$src/configure" -newer "$obj/config.status")" ]; then
		(cd "$obj" && "$src/configure" -q "$2" ${3:+"$3"}) \
			>"$H/$tag-configure.log" 2>&1 ||
			{ fail "$tag" "configure failed ($H/$tag-configure.log)"; return 1; }
	fi
	targets=all
	if [ "${4:-}" = check-programs ]; then
		targets=$(printf 'print-check-programs:\n\t@echo $(check_PROGRAMS)\n' |
		    make -s -C "$obj" -f Makefile -f - print-check-programs)
	fi
	# shellcheck disable=SC2086
	if ! make -C "$obj" -j"$JOBS" $targets >"$H/$tag-build.log" 2>&1; then
		fail "$tag" "build failed:"
		grep -E 'error|Error' "$H/$tag-build.log" | head -10 | sed 's/^/	/'
		return 1
	fi
	pass
	# The PKI and messages take a while to make: reuse the main build's.
	for d in pki msgs; do
		if [ -f "$W/$d/.done" ] && [ ! -f "$obj/tests/work/$d/.done" ]; then
			mkdir -p "$obj/tests/work"
			rm -rf "$obj/tests/work/$d"
			cp -a "$W/$d" "$obj/tests/work/$d"
		fi
	done
}

# san_report LOG: after make check under a sanitizer, the failures and
# the sanitizer reports of each test log.
san_report() {
	grep -E '^(FAIL|ERROR|XPASS)' "$H/$1" | sed 's/^/	/'
	for l in "$obj"/tests/*.log; do
		[ -f "$l" ] || continue
		grep -qE 'ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|runtime error|^FAIL|:F:|:E:' "$l" ||
			continue
		echo "	--- $l"
		grep -E 'ERROR: |WARNING: |runtime error|SUMMARY|^FAIL|:F:|:E:|^    #[0-9] ' "$l" |
			head -16 | sed 's/^/	/'
	done
}

san_build() {
	sanitized_build "$top_builddir/build-san" --enable-sanitizers || return 1
	note "make check under ASan/UBSan"
	if ASAN_OPTIONS=detect_leaks=1 \
	    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    make -C "$obj" -j"$JOBS" check >"$H/san-check.log" 2>&1; then
		pass
	else
		fail san-check "make check failed under sanitizers:"
		san_report san-check.log
	fi
}

# ---- 2. ThreadSanitizer ----

# Only the Check programs, built at -O1 (faster to compile, and what
# TSan suggests): the golden and interoperability scripts run
# single-threaded programs.  Check's timeouts are stretched for TSan's
# slowdown.
tsan_build() {
	sanitized_build "$top_builddir/build-tsan" --enable-sanitizers=thread \
	    CFLAGS="-g -O1" check-programs || return 1
	note "Check unit tests under ThreadSanitizer"
	if TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	    CK_TIMEOUT_MULTIPLIER=10 \
	    make -C "$obj" -j"$JOBS" check-TESTS TESTS='$(check_PROGRAMS)' \
	    >"$H/tsan-check.log" 2>&1 &&
	    ! grep -q 'WARNING: ThreadSanitizer' "$obj"/tests/*.log; then
		pass
	else
		fail tsan-check "make check failed under ThreadSanitizer:"
		san_report tsan-check.log
	fi
	# token keys shared by threads, reloaded when the token comes back:
	# tests/token.sh with this build's token_tool (its other programs
	# from the main build); a race report fails a check there
	note "tests/token.sh with token_tool under ThreadSanitizer"
	if make -C "$obj" tests/token_tool >"$H/tsan-token-build.log" 2>&1 &&
	    top_srcdir=$top_srcdir top_builddir=$top_builddir \
	    TOKEN_TOOL=$obj/tests/token_tool \
	    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	    sh "$top_srcdir/tests/token.sh" >"$H/tsan-token.log" 2>&1; then
		pass
	else
		fail tsan-token "tests/token.sh under ThreadSanitizer ($H/tsan-token.log):"
		grep -E '^not ok|WARNING: ThreadSanitizer' "$H/tsan-token.log" |
			head -10 | sed 's/^/	/'
	fi
}

# ---- 3. valgrind ----

VG="valgrind -q --error-exitcode=1 --leak-check=full \
	--errors-for-leak-kinds=definite --show-leak-kinds=definite"

# vg NAME CMD...: run CMD under valgrind; the verdict goes to $H/vg/NAME.
# -t exits 0, 69 or 75 by design; valgrind's 1, a signal or a missing
# "0 errors" summary is a failure.
vg() {
	name=$1
	shift
	# shellcheck disable=SC2086
	$VG --log-file="$H/vg/$name.vg" "$@" >"$H/vg/$name.out" \
		2>"$H/vg/$name.err"
	rc=$?
	case $rc in
	0|69|75) if [ -s "$H/vg/$name.vg" ]; then
			echo "valgrind report (exit $rc)" >"$H/vg/$name.bad"
		 else
			: >"$H/vg/$name.ok"
		 fi ;;
	*) echo "exit $rc" >"$H/vg/$name.bad" ;;
	esac
}

valgrind_runs() {
	M=$top_builddir/milter/smime-milter
	K=$top_builddir/milter/smime-keystore
	if ! command -v valgrind >/dev/null 2>&1; then
		fail valgrind "valgrind is not installed"
		return 1
	fi
	if [ ! -x "$M" ] || [ ! -x "$K" ]; then
		fail valgrind "build the programs first (make)"
		return 1
	fi
	if ! fixtures; then     # idempotent; remade when the PKI changed
		fail valgrind "cannot make the test PKI and messages"
		return 1
	fi
	rm -rf "$H/vg"
	mkdir -p "$H/vg"
	cat >"$H/vg/base.conf" <<EOF
Socket inet:10025@127.0.0.1
Mode v
AuthservID mx.test.example
TrustAnchorFile $W/pki/roots.pem
CRLFile $W/pki/crl.pem
InternalHosts none
EOF
	note "valgrind: smime-milter -t on every test message ($JOBS at a time)"
	n=0
	for m in "$top_srcdir"/tests/data/*.eml "$W"/msgs/*.eml; do
		[ -f "$m" ] || continue
		base=$(basename "$m" .eml)
		case $m in "$W"/msgs/*) name=msgs-$base ;; *) name=data-$base ;; esac
		conf=$H/vg/base.conf
		opts=
		if [ -f "${m%.eml}.conf" ]; then
			conf=$H/vg/$name.conf
			# NAME.conf replaces the keys it sets (as golden.sh does)
			awk 'NR == FNR { if ($1 !~ /^#/) set[tolower($1)] = 1; next }
			    !(tolower($1) in set)' "${m%.eml}.conf" \
			    "$H/vg/base.conf" >"$conf"
			sed "s|@top_srcdir@|$top_srcdir|g" "${m%.eml}.conf" \
			    >>"$conf"
		fi
		[ -f "${m%.eml}.opts" ] && opts=$(cat "${m%.eml}.opts")
		# shellcheck disable=SC2086
		vg "$name" "$M" -c "$conf" -t "$m" $opts &
		n=$((n + 1))
		[ $((n % JOBS)) -eq 0 ] && wait
	done
	# the keystore tool and the configuration check
	printf '%s\n' "alice@example.org $W/pki/alice.pem alice" \
	    "ecdsa@example.org $W/pki/ecdsa.pem" \
	    "ed25519@example.org $W/pki/ed25519.pem" >"$H/vg/ks.src"
	cp "$H/vg/base.conf" "$H/vg/sign.conf"
	printf 'Mode sv\nKeystore %s\n' "$H/vg/ks.cdb" >>"$H/vg/sign.conf"
	sed -i '/^Mode v$/d' "$H/vg/sign.conf"
	wait
	vg keystore-build "$K" build "$H/vg/ks.src" "$H/vg/ks.cdb"
	vg keystore-list "$K" list "$H/vg/ks.cdb" &
	vg keystore-check "$K" check "$H/vg/ks.cdb" &
	wait
	vg milter-n "$M" -c "$H/vg/sign.conf" -n &
	printf '%s\n' 'From: Alice <alice@example.org>' \
	    'To: bob@example.org' 'Subject: valgrind signing test' \
	    'Content-Type: text/plain; charset=utf-8' \
	    'Content-Transfer-Encoding: 8bit' '' 'Gr\303\274\303\237e,' \
	    'From the test.  ' >"$H/vg/plain.eml"
	vg milter-sign "$M" -c "$H/vg/sign.conf" -A alice -t "$H/vg/plain.eml" &
	wait
	for r in "$H"/vg/*.ok "$H"/vg/*.bad; do
		[ -f "$r" ] || continue
		name=$(basename "$r")
		name=${name%.*}
		if [ "${r%.ok}" != "$r" ]; then
			pass
		else
			fail "valgrind $name" "$(cat "$r"): $H/vg/$name.vg"
			sed 's/^/	/' "$H/vg/$name.vg" | head -20
			head -c 300 "$H/vg/$name.err" | sed 's/^/	/'
		fi
	done
}

# ---- 4. fuzzing ----

fuzz_runs() {
	note "fuzzing: ${FUZZ_RUNS:-20000} executions per harness"
	export top_srcdir top_builddir
	FUZZ_RUNS=${FUZZ_RUNS:-20000} sh "$here/fuzz/run.sh" >"$H/fuzz.log" 2>&1
	grep -v ' passed, .* failed$' "$H/fuzz.log" | sed 's/^/	/'
	line=$(tail -n 1 "$H/fuzz.log")
	p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
	f=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
	if [ -z "$p" ]; then
		fail fuzz "tests/fuzz/run.sh did not finish ($H/fuzz.log)"
		return
	fi
	passed=$((passed + p))
	failed=$((failed + f))
}

# step NAME FUNCTION: run FUNCTION unless HARDEN_SKIP names it; say how
# long it took.
step() {
	skip "$1" && return 0
	t0=$(date +%s)
	"$2"
	note "$1: $(($(date +%s) - t0)) s"
}
step san san_build
step tsan tsan_build
step valgrind valgrind_runs
step fuzz fuzz_runs

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] || exit 1
[ "$skipped" -eq 0 ] || exit 77    # a skipped step is not a pass
