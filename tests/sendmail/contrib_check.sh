#!/bin/sh
# contrib_check.sh - static checks of the operator files in contrib/.
#
# SYNOPSIS
#	tests/sendmail/contrib_check.sh	(make check runs it)
#
# DESCRIPTION
#	contrib/systemd/smime-milter.service: the settings operators rely on
#	are there, `systemd-analyze verify` accepts the unit without a word
#	(with ExecStart pointed at the built daemon, since /usr/sbin may hold
#	none), and `systemd-analyze security --offline` rates it SAFE or OK.
#	Without systemd-analyze: a failure under ./quickstart check, a skip
#	(77) otherwise (tests/need.sh).
#
#	contrib/sendmail.mc (and the sockets and paths every snippet names)
#	is checked by tests/snippets.sh, with sendmail-cf's real cf.m4;
#	tests/sendmail/run.sh runs Sendmail with it.
#
#	Prints "N passed, N failed"; exit 0 when all passed, 1 otherwise.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
unit=$top_srcdir/contrib/systemd/smime-milter.service
work=$top_builddir/tests/work/contrib
pass=0 fail=0
. "$top_srcdir/tests/need.sh"
need_tool systemd-analyze systemd

ok() { pass=$((pass + 1)); echo "PASS: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

rm -rf "$work" && mkdir -p "$work" || exit 1

# --- systemd unit ---------------------------------------------------------

# has_line LINE: the unit holds exactly this line.
missing=
for line in \
    'Type=simple' \
    'ExecStart=/usr/sbin/smime-milter -f -c /etc/smime-milter.conf' \
    'ExecReload=/bin/kill -HUP $MAINPID' \
    'RuntimeDirectory=smime-milter' \
    'NoNewPrivileges=yes' \
    'ProtectSystem=strict' \
    'ProtectHome=yes' \
    'PrivateTmp=yes' \
    'PrivateDevices=yes' \
    'ReadWritePaths=/run/smime-milter' \
    'ReadWritePaths=-/var/spool/postfix/smime-milter' \
    'CapabilityBoundingSet=CAP_SETUID CAP_SETGID CAP_CHOWN CAP_DAC_READ_SEARCH' \
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' \
    'SystemCallFilter=@system-service' \
    'WantedBy=multi-user.target'; do
    grep -F -x -q -- "$line" "$unit" || missing="$missing
    $line"
done
if [ -z "$missing" ]; then ok "unit: expected settings present"
else bad "unit: missing lines:$missing"; fi

daemon=$top_builddir/milter/smime-milter
[ -x "$daemon" ] || daemon=/bin/true
copy=$work/smime-milter.service
sed "s|/usr/sbin/smime-milter|$daemon|g" "$unit" >"$copy"
# --man=no: the man pages need not be installed for this check.
systemd-analyze verify --man=no "$copy" >"$work/verify.out" 2>&1
rc=$?
if [ $rc -eq 0 ] && ! grep -q . "$work/verify.out"; then
    ok "unit: systemd-analyze verify is silent"
else
    bad "unit: systemd-analyze verify (exit $rc): $(cat "$work/verify.out")"
fi
if systemd-analyze security --offline=yes "$copy" >"$work/security.out" 2>&1; then
    level=$(sed -n 's/.*Overall exposure level for [^:]*: *\([0-9.]*\) \([A-Z]*\).*/\1 \2/p' \
        "$work/security.out")
    case $level in
        *" SAFE"|*" OK") ok "unit: systemd-analyze security: exposure $level" ;;
        *) bad "unit: systemd-analyze security: exposure ${level:-unknown}"
           grep '✗' "$work/security.out" ;;
    esac
else
    bad "unit: systemd-analyze security --offline=yes failed: $(cat "$work/security.out")"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
