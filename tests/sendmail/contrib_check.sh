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
#	Skipped with a message where systemd-analyze is missing.
#
#	contrib/sendmail.mc: the milter definition and macro lists are the
#	documented ones, and m4 reads the snippet with its quoting intact
#	(stub definitions; tests/sendmail/run.sh builds a real sendmail.cf
#	from it).
#
#	Prints "N passed, N failed"; exit 0 when all passed, 77 when nothing
#	could be checked, 1 otherwise.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
unit=$top_srcdir/contrib/systemd/smime-milter.service
mc=$top_srcdir/contrib/sendmail.mc
work=$top_builddir/tests/work/contrib
pass=0 fail=0 skip=0

ok() { pass=$((pass + 1)); echo "PASS: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
skipped() { skip=$((skip + 1)); echo "SKIP: $*"; }

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
    'CapabilityBoundingSet=CAP_SETUID CAP_SETGID CAP_CHOWN CAP_DAC_READ_SEARCH' \
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' \
    'SystemCallFilter=@system-service' \
    'WantedBy=multi-user.target'; do
    grep -F -x -q -- "$line" "$unit" || missing="$missing
    $line"
done
if [ -z "$missing" ]; then ok "unit: expected settings present"
else bad "unit: missing lines:$missing"; fi

if ! command -v systemd-analyze >/dev/null 2>&1; then
    skipped "unit: systemd-analyze not installed (Debian package systemd)"
else
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
        skipped "unit: this systemd-analyze has no security --offline"
    fi
fi

# --- sendmail.mc snippet ----------------------------------------------------

grep -F -x -q "INPUT_MAIL_FILTER(\`smime-milter', \`S=inet:8891@127.0.0.1, F=T, T=S:30s;R:60s;E:5m')dnl" "$mc" &&
    ok "sendmail.mc: INPUT_MAIL_FILTER with F=T and timeouts" ||
    bad "sendmail.mc: no INPUT_MAIL_FILTER(\`smime-milter', \`S=inet:8891@127.0.0.1, F=T, T=S:30s;R:60s;E:5m')"

if ! command -v m4 >/dev/null 2>&1; then
    skipped "sendmail.mc: m4 not installed"
else
    # Sendmail's cf.m4 turns m4 comments off (changecom()): so do we, so
    # that a stray quote in a comment shows up here too.
    {
        printf '%s\n' 'changecom()dnl' \
            "define(\`INPUT_MAIL_FILTER', \`FILTER <\$1> <\$2>')dnl"
        cat "$mc"
        printf '\n%s\n' 'ENVFROM <confMILTER_MACROS_ENVFROM>' \
            'CONNECT <confMILTER_MACROS_CONNECT>' 'EOM <confMILTER_MACROS_EOM>'
    } >"$work/mc.m4"
    if m4 "$work/mc.m4" >"$work/mc.out" 2>"$work/mc.err" && ! grep -q . "$work/mc.err"; then
        want_out='FILTER <smime-milter> <S=inet:8891@127.0.0.1, F=T, T=S:30s;R:60s;E:5m>'
        envfrom=$(sed -n 's/^ENVFROM <\(.*\)>$/\1/p' "$work/mc.out")
        connect=$(sed -n 's/^CONNECT <\(.*\)>$/\1/p' "$work/mc.out")
        if [ "$(grep -v '^ENVFROM\|^CONNECT\|^EOM' "$work/mc.out" | grep .)" != "$want_out" ]; then
            bad "sendmail.mc: m4 output is not just the filter: $(cat "$work/mc.out")"
        elif ! printf ', %s,\n' "$envfrom" | grep -q ', {auth_authen},' ||
             ! printf ', %s,\n' "$envfrom" | grep -q ', i,'; then
            bad "sendmail.mc: confMILTER_MACROS_ENVFROM lacks i or {auth_authen}: $envfrom"
        elif ! printf ', %s,\n' "$connect" | grep -q ', {daemon_name},'; then
            bad "sendmail.mc: confMILTER_MACROS_CONNECT lacks {daemon_name}: $connect"
        else
            ok "sendmail.mc: m4 reads it; ENVFROM macros: $envfrom"
        fi
    else
        bad "sendmail.mc: m4 failed: $(cat "$work/mc.err")"
    fi
fi

echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ] || exit 1
[ $pass -gt 0 ] || exit 77
exit 0
