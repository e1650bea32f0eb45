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
#	temporary name and renamed, so a poller never sees half a message.
#
#	Exit 75 (EX_TEMPFAIL) on any failure: Postfix keeps the message
#	queued instead of losing it.

set -u
out=$1
qid=$2
umask 022
tmp="$out/.tmp.$qid.$$"
cat >"$tmp" || { rm -f "$tmp"; exit 75; }
dest="$out/$qid"
n=1
while [ -e "$dest" ]; do
    n=$((n + 1))
    dest="$out/$qid.$n"
done
mv "$tmp" "$dest" || { rm -f "$tmp"; exit 75; }
exit 0
