# pkitest.sh - the set-up the shell tests of smime-keystore share.
#
# SYNOPSIS
#	. "$(dirname "$0")/pkitest.sh"	(tests/keystore_build.sh,
#					 tests/keystore_import.sh)
#	pkitest_begin NAME WORKDIR [SUBDIR ...]
#	ok WHAT; notok WHAT; show FILE
#	pkitest_end
#
# DESCRIPTION
#	Sets top_srcdir and top_builddir (defaults: the directory above the
#	script's, the current directory), CERTTOOL (default certtool), KS
#	(smime-keystore) and PKI (the test PKI's directory).
#	pkitest_begin fails the script (exit 1, naming NAME and the Debian
#	package) without CERTTOOL, makes the test PKI (tests/pki/mkpki.sh),
#	and empties WORKDIR, creating the SUBDIRs below it; W is WORKDIR.
#	ok and notok count and print one result; show indents a file under
#	the last one; pkitest_end prints "N passed, N failed" and returns 0
#	only when nothing failed.

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
CERTTOOL=${CERTTOOL:-certtool}
KS=$top_builddir/milter/smime-keystore
PKI=$top_builddir/tests/work/pki

pkitest_begin() {
	_name=$1 W=$2
	shift 2
	command -v "$CERTTOOL" >/dev/null 2>&1 || {
		echo "$_name: $CERTTOOL not found: install gnutls-bin" >&2
		exit 1; }
	sh "$top_srcdir/tests/pki/mkpki.sh" "$PKI" >/dev/null || {
		echo "$_name: cannot make the test PKI" >&2; exit 1; }
	rm -rf "$W"
	mkdir -p "$W"
	for _d in "$@"; do
		mkdir -p "$W/$_d"
	done
}

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
notok() { failed=$((failed + 1)); echo "not ok - $1"; }
show() { sed 's/^/    /' "$1"; }

pkitest_end() {
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
}
