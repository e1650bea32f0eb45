#!/bin/sh
# run.sh - run the end-to-end tests through a private Postfix.
#
# SYNOPSIS
#	tests/e2e/run.sh [NAME ...]
#
# DESCRIPTION
#	Starts the private Postfix, smime-milter and opendkim once (lib.sh),
#	runs every tests/e2e/t_*.sh (or only t_NAME.sh for each NAME given)
#	against them, prints each test's outcome, the Postfix/milter/opendkim
#	log lines of every failed test, and "N passed, N failed" at the end.
#	Exits 1 when a test failed or the instance could not start, else 0.
#	A test exiting 77 is skipped (counted apart; the run then exits 77,
#	never 0; under ./quickstart check a skip is a failure).
#	The run fails too when /etc/postfix/main.cf or master.cf is not
#	byte-identical (or still absent) at the end: the private instance
#	must leave the system's Postfix configuration alone.
#	Needs root (Postfix, pipe as nobody).  `make check-e2e` runs it with
#	top_srcdir and top_builddir set.

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top_srcdir/tests/e2e/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
    echo "run.sh: the end-to-end tests need root (private Postfix)" >&2
    exit 1
fi

if [ $# -gt 0 ]; then
    tests=
    for n in "$@"; do
        n=${n#t_}; n=${n%.sh}
        [ -f "$E2E_SRC/t_$n.sh" ] || { echo "run.sh: no test t_$n.sh" >&2; exit 1; }
        tests="$tests $E2E_SRC/t_$n.sh"
    done
else
    tests=$(ls "$E2E_SRC"/t_*.sh)
fi

E2E_SYSTEM_BEFORE=$(e2e_system_state) checked=

run_exit() {
    trap - EXIT
    e2e_stop
    _rc=$1
    [ -n "$checked" ] || e2e_system_unchanged || _rc=1
    exit "$_rc"
}
trap 'run_exit $?' EXIT
trap 'exit 130' INT TERM HUP

if ! e2e_start; then
    echo "run.sh: could not start the test instance" >&2
    e2e_dump_logs
    echo "0 passed, 1 failed"
    exit 1
fi

pass=0 fail=0 skip=0 failed=
for t in $tests; do
    name=$(basename "$t" .sh)
    # shellcheck disable=SC2046
    set -- $(e2e_log_sizes)
    sh "$t" >"$E2E_LOG/$name.out" 2>&1
    rc=$?
    # shellcheck disable=SC1090
    [ -f "$E2E_STATE" ] && . "$E2E_STATE"    # a test may restart the milter
    # A test that kills the milter fails, whatever it asserted.
    if [ "$SMIME_MILTER" != none ] && ! e2e_alive "$E2E_MILTER_PID" smime-milter; then
        echo "FAIL: $name: smime-milter (pid $E2E_MILTER_PID) died" >>"$E2E_LOG/$name.out"
        rc=1
    fi
    [ $rc = 77 ] && need_strict && rc=1
    case $rc in
        0)  pass=$((pass + 1)); echo "PASS: $name"
            sed -n 's/^ok: [^:]*: /    /p' "$E2E_LOG/$name.out" ;;
        77) skip=$((skip + 1)); echo "SKIP: $name ($(grep '^SKIP:' "$E2E_LOG/$name.out" | tail -n 1 | sed 's/^SKIP: [^:]*: //'))" ;;
        *)  fail=$((fail + 1)); failed="$failed $name"
            echo "FAIL: $name (exit $rc)"
            sed 's/^/    /' "$E2E_LOG/$name.out"
            e2e_dump_logs "$1" "$2" "$3" 2>&1 | sed 's/^/    /' ;;
    esac
done

# Under valgrind (SMIME_MILTER_WRAPPER), memory errors fail the run.
case $SMIME_MILTER_WRAPPER in
    *valgrind*)
        e2e_stop
        if grep -E -q '== (Invalid|Conditional jump|Syscall param|Mismatched)|definitely lost in' \
                "$E2E_LOG/milter.log"; then
            fail=$((fail + 1)); failed="$failed valgrind"
            echo "FAIL: valgrind reports errors in smime-milter:"
            grep -E -A12 '== (Invalid|Conditional jump|Syscall param|Mismatched)|definitely lost in' \
                "$E2E_LOG/milter.log" | head -n 80 | sed 's/^/    /'
        fi ;;
esac

e2e_stop
checked=yes
if ! e2e_system_unchanged; then
    fail=$((fail + 1)); failed="$failed system-config"
fi

[ $skip -gt 0 ] && echo "($skip skipped)"
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ] || exit 1
[ $skip -eq 0 ] || exit 77
