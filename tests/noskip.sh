#!/bin/sh
# noskip.sh - a test whose tool is missing never passes.
#
# SYNOPSIS
#	tests/noskip.sh		(make check runs it)
#
# DESCRIPTION
#	Runs test scripts with one tool they need hidden from PATH (a
#	directory of links to every other program) and asserts:
#	  - under ./quickstart check (SMIME_NO_SKIP=1) the script exits 1 and
#	    names the Debian package to install;
#	  - otherwise it exits 77 (automake: SKIP), never 0.
#	The same for tests/e2e/lib.sh's e2e_skip (exit 1 / 77).
#	Prints "N passed, N failed"; exit 1 when anything failed.

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
W=$top_builddir/tests/work/noskip
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
rm -rf "$W" && mkdir -p "$W" || exit 99

# path_without TOOL: a directory of links to every program on PATH but TOOL.
path_without() {
    _d=$W/bin-$1
    mkdir -p "$_d"
    for _p in $(printf '%s\n' "$PATH" | tr ':' ' '); do
        for _f in "$_p"/*; do
            _n=${_f##*/}
            [ "$_n" = "$1" ] || [ -e "$_d/$_n" ] || [ ! -x "$_f" ] ||
                ln -s "$_f" "$_d/$_n"
        done
    done
    echo "$_d"
}

# hidden SCRIPT TOOL PACKAGE
hidden() {
    _bin=$(path_without "$2")
    _log=$W/$(basename "$1" .sh)-$2
    env PATH="$_bin" SMIME_NO_SKIP=1 CI= OPENSSL=openssl CERTTOOL=certtool \
        sh "$top_srcdir/$1" >"$_log.strict" 2>&1
    _rc=$?
    if [ $_rc = 1 ] && grep -q "install the Debian package $3" "$_log.strict"; then
        ok "$1 without $2, SMIME_NO_SKIP=1: fails, names $3"
    else
        bad "$1 without $2, SMIME_NO_SKIP=1: exit $_rc, expected 1 naming $3: $(tail -n 3 "$_log.strict")"
    fi
    env PATH="$_bin" SMIME_NO_SKIP= CI= OPENSSL=openssl CERTTOOL=certtool \
        sh "$top_srcdir/$1" >"$_log.plain" 2>&1
    _rc=$?
    [ $_rc = 77 ] && ok "$1 without $2: skipped (77)" ||
        bad "$1 without $2: exit $_rc, expected 77 (skip): $(tail -n 3 "$_log.plain")"
}

hidden tests/sign_interop.sh cmsutil libnss3-tools
hidden tests/sign_interop.sh gpgsm gpgsm
hidden tests/token.sh softhsm2-util softhsm2
hidden tests/sendmail/contrib_check.sh systemd-analyze systemd
hidden tests/man_check.sh mandoc mandoc
hidden tests/snippets.sh postconf postfix

# e2e_skip (tests/e2e/lib.sh, also used by tests/sendmail/run.sh)
for mode in strict plain; do
    if [ $mode = strict ]; then want=1; set -- SMIME_NO_SKIP=1; else want=77; set -- SMIME_NO_SKIP=; fi
    env "$@" CI= sh -c '. "$top_srcdir/tests/e2e/lib.sh"; E2E_TEST=probe; e2e_skip "a reason"' \
        >"$W/e2e-$mode" 2>&1
    rc=$?
    [ $rc = $want ] && ok "e2e_skip ($1): exit $rc" ||
        bad "e2e_skip ($1): exit $rc, expected $want: $(cat "$W/e2e-$mode")"
done

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
