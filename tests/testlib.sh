# testlib.sh - what the smime-milter -t scripts of make check share.
#
# SYNOPSIS
#	. "$(dirname "$0")/testlib.sh"	(tests/golden.sh, tests/log_notice.sh)
#
# DESCRIPTION
#	Sets top_srcdir and top_builddir (default: the directory above the
#	script's) and MILTER (SMIME_MILTER, default the built daemon), and
#	exits 99 (a hard error for automake) when MILTER is not built.
#	Counts results: fail NAME WHY prints "FAIL NAME: WHY"; pass counts
#	one; test_summary prints "N passed, N failed" and returns 0 only
#	when nothing failed.

export LC_ALL=C

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
MILTER=${SMIME_MILTER:-$top_builddir/milter/smime-milter}

if [ ! -x "$MILTER" ]; then
	echo "$(basename "$0"): no $MILTER (build it first)" >&2
	exit 99
fi

passed=0
failed=0
fail() {
	echo "FAIL $1: $2"
	failed=$((failed + 1))
}
pass() {
	passed=$((passed + 1))
}
test_summary() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
