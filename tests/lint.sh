#!/bin/sh
# lint.sh - source rules that a compiler does not check.
#
# SYNOPSIS
#	tests/lint.sh		(make check runs it)
#
# DESCRIPTION
#	No strerror() in crypto/, mime/ or milter/ (HACKING.md): that code
#	may run in a milter thread, and strerror() may return a buffer
#	shared between threads.  smime_strerror() (crypto/errbuf.h, on
#	strerror_r) is the one way; crypto/errbuf.[ch], which define it, are
#	the only exception.  gnutls_strerror, mdb_strerror and the like return
#	constant strings and do not count.
#	Prints "N passed, N failed"; exit 1 when a rule is broken.

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

files='' n=0
for f in "$top_srcdir"/crypto/*.[ch] "$top_srcdir"/mime/*.[ch] \
         "$top_srcdir"/milter/*.[ch]; do
    case $f in */crypto/errbuf.[ch]|*'*'*) ;; *) files="$files $f" n=$((n + 1)) ;; esac
done
[ -n "$files" ] || { echo "FAIL: no sources under $top_srcdir"; exit 1; }
# shellcheck disable=SC2086
hits=$(grep -n -E '(^|[^_[:alnum:]])strerror[[:space:]]*\(' $files |
    sed "s|^$top_srcdir/||")
if [ -z "$hits" ]; then
    ok "no strerror() in crypto/ mime/ milter/ ($n files)"
else
    bad "strerror() is not thread-safe; use smime_strerror() (crypto/errbuf.h):"
    printf '%s\n' "$hits" | sed 's/^/    /'
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
