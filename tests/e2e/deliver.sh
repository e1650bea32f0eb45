#!/bin/sh
# deliver.sh - pipe(8) delivery agent of the end-to-end test Postfix.
#
# SYNOPSIS
#	deliver.sh OUTDIR QUEUE-ID
#
# DESCRIPTION
#	Postfix's pipe transport runs this (as user nobody) for every
#	delivered message and hands the message over on standard input.  It
#	is stored as OUTDIR/QUEUE-ID (QUEUE-ID.2, .3, ... if Postfix delivers
#	the same queue file more than once).  The file is written under a
#	temporary name and linked to its final name, so a poller never sees
#	half a message.
#
#	Exit 75 (EX_TEMPFAIL) on any failure: Postfix keeps the message
#	queued instead of losing it.

set -u
out=$1
qid=$2
umask 022
tmp="$out/.tmp.$qid.$$"
cat >"$tmp" || { rm -f "$tmp"; exit 75; }
# ln(1) fails when the name exists, atomically: two deliveries of one
# queue file running at once (one per recipient) never take the same
# name, as a test-then-mv did under load.
dest="$out/$qid"
n=1
while ! ln "$tmp" "$dest" 2>/dev/null; do
    [ -e "$dest" ] || { rm -f "$tmp"; exit 75; }
    n=$((n + 1))
    dest="$out/$qid.$n"
done
rm -f "$tmp"
exit 0
