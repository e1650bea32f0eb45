#!/bin/sh
# man_check.sh - the man pages render without a warning.
#
# SYNOPSIS
#	tests/man_check.sh	(make check runs it)
#
# DESCRIPTION
#	For every man/*.[1-8]: `MANWIDTH=80 man --warnings -l PAGE` (groff,
#	as man-db formats it for an 80-column terminal) must print nothing
#	on standard error, and `mandoc -T lint -W warning` must find
#	nothing (its STYLE notes, such as cross references to pages that
#	are not installed, do not count).  A missing man or mandoc fails
#	under ./quickstart check (tests/need.sh) and skips (77) otherwise.
#	Prints "N passed, N failed"; exit 1 when a page has a warning.

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/need.sh"
need_tool man man-db
need_tool groff groff-base
need_tool mandoc mandoc

pass=0 fail=0
for page in "$top_srcdir"/man/*.[1-8]; do
    [ -f "$page" ] || continue
    name=${page##*/}
    out=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
    if [ -z "$out" ]; then
        pass=$((pass + 1)); echo "PASS: $name: man --warnings at 80 columns"
    else
        fail=$((fail + 1)); echo "FAIL: $name: man --warnings at 80 columns:"
        printf '%s\n' "$out" | sed 's/^/    /'
    fi
    out=$(mandoc -T lint -W warning "$page" 2>&1)
    if [ -z "$out" ]; then
        pass=$((pass + 1)); echo "PASS: $name: mandoc -T lint"
    else
        fail=$((fail + 1)); echo "FAIL: $name: mandoc -T lint -W warning:"
        printf '%s\n' "$out" | sed 's/^/    /'
    fi
done
[ $pass -gt 0 ] || { echo "FAIL: no man pages in $top_srcdir/man"; exit 1; }
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
