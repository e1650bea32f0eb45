# need.sh - what a test does when something it needs is missing.
#
# SYNOPSIS
#	. "$top_srcdir/tests/need.sh"
#	need_tool COMMAND PACKAGE	COMMAND must be on PATH
#	need_skip REASON		give up on the whole script
#	need_strict			true under ./quickstart check / CI
#
# DESCRIPTION
#	Under ./quickstart check (it exports SMIME_NO_SKIP=1; CI=true counts
#	the same) nothing may skip: need_tool and need_skip print
#	"FAIL: REASON" and exit 1, and a missing tool names the Debian
#	package to install.  Otherwise they print "SKIP: REASON" and exit
#	77, which automake (and tests/e2e/run.sh, tests/sendmail/run.sh)
#	report as a skip, never as a pass.
#
#	A known limit of an independent tool (NSS cannot verify RSA-PSS, ...)
#	is no reason to skip: the test asserts the known failure or leaves
#	that combination out and lists it in its header.

need_strict() {
    [ "${SMIME_NO_SKIP:-}" = 1 ] || [ "${CI:-}" = true ]
}

need_skip() {
    if need_strict; then
        printf 'FAIL: %s (nothing may skip under ./quickstart check)\n' "$*"
        exit 1
    fi
    printf 'SKIP: %s\n' "$*"
    exit 77
}

need_tool() {
    command -v "$1" >/dev/null 2>&1 ||
        need_skip "$1 not found: install the Debian package $2"
}
