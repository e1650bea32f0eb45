#!/bin/sh
# package.sh - the Debian package, built, installed, run and purged here.
#
# SYNOPSIS
#	tests/package.sh	(./quickstart check runs it after the e2e tests;
#				root, Debian 12)
#
# DESCRIPTION
#	Builds the package with `./quickstart package` (DEB_BUILD_OPTIONS=
#	nocheck: make check has run already; lintian errors fail it), then
#	on this machine:
#	  - purges any installed smime-milter, installs the .deb with dpkg -i,
#	    twice (the second run is a reinstall: the maintainer scripts must
#	    be idempotent);
#	  - checks what it installed: /usr/sbin/smime-milter and
#	    smime-keystore, the man pages, the conffile /etc/smime-milter.conf,
#	    the system user, /var/lib/smime-milter and
#	    /var/spool/postfix/smime-milter (smime-milter:smime-milter 0750),
#	    the unit in /lib/systemd/system and not enabled;
#	  - `smime-milter -n` accepts the configuration as shipped;
#	  - edits it as an operator would (the test PKI's root, Mode sv, a
#	    keystore built as user smime-milter in /var/lib/smime-milter, a
#	    .prom StatsFile) and starts the daemon exactly as the installed
#	    unit does (no systemd runs here): its RuntimeDirectory and mode,
#	    its UMask, its ExecStart line, as root; the daemon must then run
#	    as smime-milter with its unix socket smime-milter:smime-milter
#	    0770 in /var/spool/postfix/smime-milter;
#	  - sends mail through that socket with tests/e2e/milterclient.py as
#	    user postfix with the group smime-milter (what "adduser postfix
#	    smime-milter" gives): a message signed by alice gets smime=pass,
#	    an unsigned one smime=none; without the group postfix cannot
#	    connect;
#	  - `smime-milter -t -A alice@example.org` as user smime-milter with
#	    the installed configuration signs a message;
#	  - the private Postfix of the e2e tests (tests/e2e/lib.sh,
#	    SMIME_MILTER=external) with that socket as its milter, postfix in
#	    the group smime-milter for the time of the test: inbound mail
#	    signed by alice gets smime=pass, alice's submission is signed;
#	  - stops the daemon (SIGTERM): the StatsFile counts the messages and
#	    parses as Prometheus text;
#	  - dpkg --purge: every file the package installed is gone, so are
#	    /etc/smime-milter.conf, /var/lib/smime-milter (with the keystore
#	    and files the operator put there), /var/spool/postfix/smime-milter
#	    and the unit's state; the user smime-milter stays (Debian's rule
#	    for system users, as with opendkim).
#	Nothing is skipped: a missing tool fails with its Debian package.
#	Prints "N passed, N failed"; exit 0 when all passed.

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
# the test PKI and the message helpers of the e2e tests
. "$top_srcdir/tests/e2e/lib.sh"

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
finish() {
    echo "$pass passed, $fail failed"
    [ $fail -eq 0 ] && [ $pass -gt 0 ]
    exit
}
# stop: a failure after which nothing more can be checked
stop() { bad "$*"; cleanup; finish; }

[ "$(id -u)" -eq 0 ] || stop "needs root (dpkg -i)"
for tool in dpkg-buildpackage:dpkg-dev dh:debhelper lintian:lintian \
            git:git setpriv:util-linux runuser:util-linux \
            openssl:openssl postconf:postfix; do
    command -v "${tool%%:*}" >/dev/null 2>&1 ||
        stop "${tool%%:*} missing: install the Debian package ${tool#*:}"
done
"$E2E_PY" -c 'import prometheus_client' 2>/dev/null ||
    stop "install the Debian package python3-prometheus-client"

work=$top_builddir/tests/work/package
unit=/lib/systemd/system/smime-milter.service
conf=/etc/smime-milter.conf
sockdir=/var/spool/postfix/smime-milter
state=/var/lib/smime-milter
pid= msgs= postfix_up= grouped=

cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid"; wait "$pid" 2>/dev/null
    fi
    pid=
    [ -n "$postfix_up" ] && e2e_stop
    [ -n "$grouped" ] && gpasswd -d postfix smime-milter >/dev/null
    postfix_up= grouped=
    rm -rf /run/smime-milter
    [ -n "$msgs" ] && rm -rf "$msgs"
    dpkg --purge smime-milter >/dev/null 2>&1
}

# One run at a time on this machine: the package is installed system-wide.
exec 8>/run/lock/smime-milter-package-test.lock
flock -w 900 8 || stop "another package test holds /run/lock/smime-milter-package-test.lock"
rm -rf "$work" && mkdir -p "$work" "$E2E_LOG" && chmod 0755 "$work" || stop "cannot make $work"
e2e_pki || stop "test PKI (tests/pki/mkpki.sh) failed"

# --- build --------------------------------------------------------------
(cd "$top_srcdir" && DEB_BUILD_OPTIONS=nocheck ./quickstart package) \
    >"$work/build.log" 2>&1 || { cat "$work/build.log"; stop "./quickstart package failed"; }
deb=$(ls "$top_srcdir"/build-deb/smime-milter_*_*.deb 2>/dev/null | head -n 1)
[ -f "$deb" ] || stop "no .deb in build-deb/"
ok "built $(basename "$deb"); lintian: $(grep -c '^E:' "$top_srcdir/build-deb/lintian.txt") errors, $(grep -c '^W:' "$top_srcdir/build-deb/lintian.txt") warnings"

# --- install --------------------------------------------------------------
cleanup
dpkg -i "$deb" >"$work/install.log" 2>&1 || { cat "$work/install.log"; stop "dpkg -i failed"; }
dpkg -i "$deb" >>"$work/install.log" 2>&1 || { cat "$work/install.log"; stop "dpkg -i (reinstall) failed"; }
ok "dpkg -i, twice"

missing=
for f in /usr/sbin/smime-milter /usr/sbin/smime-keystore /usr/sbin/smime-certstore "$conf" "$unit" \
         /usr/share/man/man8/smime-milter.8.gz /usr/share/man/man8/smime-keystore.8.gz /usr/share/man/man8/smime-certstore.8.gz \
         /usr/share/man/man5/smime-milter.conf.5.gz \
         /usr/share/doc/smime-milter/README.Debian; do
    [ -f "$f" ] || missing="$missing $f"
done
[ -z "$missing" ] && ok "files installed" || bad "not installed:$missing"
grep -x -q "$conf" /var/lib/dpkg/info/smime-milter.conffiles &&
    ok "$conf is a conffile" || bad "$conf is not a conffile"
getent passwd smime-milter >/dev/null && getent group smime-milter >/dev/null &&
    ok "user and group smime-milter" || bad "no user/group smime-milter"
for d in "$state" "$sockdir"; do
    got=$(stat -c '%U:%G %a' "$d" 2>/dev/null)
    [ "$got" = "smime-milter:smime-milter 750" ] && ok "$d: $got" ||
        bad "$d: '$got', want smime-milter:smime-milter 750"
done
if ls /etc/systemd/system/*.wants/smime-milter.service >/dev/null 2>&1; then
    bad "the unit is enabled on installation"
else
    ok "unit installed, not enabled"
fi
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
case $exec_start in
    /usr/sbin/smime-milter\ *) ok "unit runs $exec_start" ;;
    *) bad "unit's ExecStart is not the installed daemon: $exec_start" ;;
esac

# --- the shipped configuration ---------------------------------------------
/usr/sbin/smime-milter -n >"$work/n.out" 2>&1 &&
    ok "smime-milter -n accepts $conf as shipped" ||
    bad "smime-milter -n rejects $conf as shipped: $(cat "$work/n.out")"

# --- configured as an operator would ------------------------------------------
install -o smime-milter -g smime-milter -m 0600 "$E2E_PKI/alice.pem" "$state/alice.pem" &&
install -m 0644 "$E2E_PKI/roots.pem" "$state/roots.pem" &&
printf 'alice@example.org alice.pem\n' >"$state/keystore.txt" &&
chmod 0644 "$state/keystore.txt" || stop "cannot put the credentials in $state"
runuser -u smime-milter -- /usr/sbin/smime-keystore build "$state/keystore.txt" \
    "$state/keystore.cdb" >"$work/keystore.log" 2>&1 ||
    stop "smime-keystore build as smime-milter in $state failed: $(cat "$work/keystore.log")"
# (InternalHosts none: the test clients all connect from 127.0.0.1, and
# only SASL-authenticated mail is to count as outbound)
sed -i -e 's/^Mode .*/Mode sv/' -e 's/^TrustSystemStore .*/TrustSystemStore no/' "$conf"
cat >>"$conf" <<EOF
AuthservID mx.test.example
TrustAnchorFile $state/roots.pem
Keystore $state/keystore.cdb
StatsFile $state/smime-milter.prom
InternalHosts none
EOF
/usr/sbin/smime-milter -n >"$work/n.out" 2>&1 &&
    ok "smime-milter -n accepts the configured file" ||
    stop "smime-milter -n rejects the configured file: $(cat "$work/n.out")"

# --- started as the unit starts it ------------------------------------------
rtdir=$(sed -n 's/^RuntimeDirectory=//p' "$unit")
rtmode=$(sed -n 's/^RuntimeDirectoryMode=//p' "$unit")
umask_=$(sed -n 's/^UMask=//p' "$unit")
[ -n "$rtdir" ] && [ -n "$umask_" ] || stop "unit without RuntimeDirectory or UMask"
rm -rf "/run/$rtdir" && mkdir -m "${rtmode:-0755}" "/run/$rtdir" || stop "mkdir /run/$rtdir"
# shellcheck disable=SC2086
(umask "$umask_" && cd / && exec $exec_start) >"$work/daemon.log" 2>&1 &
pid=$!
i=0
while [ "$(ps -o user= -p "$pid" 2>/dev/null)" != smime-milter ] && [ $i -lt 300 ]; do
    kill -0 "$pid" 2>/dev/null || { cat "$work/daemon.log"; stop "the daemon exited"; }
    sleep 0.1; i=$((i + 1))
done
[ "$(ps -o user= -p "$pid")" = smime-milter ] && ok "daemon runs as smime-milter" ||
    bad "daemon runs as $(ps -o user= -p "$pid")"
sock=$(sed -n 's/^Socket *unix://p' "$conf")
got=$(stat -c '%F %U:%G %a' "$sock" 2>/dev/null)
[ "$got" = "socket smime-milter:smime-milter 770" ] && ok "$sock: $got" ||
    bad "$sock: '$got', want socket smime-milter:smime-milter 770"

# --- mail through the socket, as Postfix would send it ---------------------------
# (under /tmp: postfix and smime-milter must reach the files; this tree's
# parents may be closed to them)
msgs=$(mktemp -d /tmp/smime-milter-pkgtest.XXXXXX) && chmod 0755 "$msgs" || stop "mktemp"
mkdir -p "$msgs/pause" && touch "$msgs/pause/go" && chown -R postfix "$msgs/pause"
E2E_T=$msgs
e2e_entity_text "$msgs/content" "Hello Bob, signed by alice."
e2e_msg_signed "$msgs/signed.eml" alice alice@example.org bob@example.net \
    "$msgs/content" || stop "openssl cms -sign failed"
e2e_msg_plain "$msgs/plain.eml" carol@example.net bob@example.net "plain" "Hello."
e2e_msg_plain "$msgs/out.eml" alice@example.org erin@example.net "out" "Sign me."
chmod -R a+rX "$msgs"
client() {
    setpriv --reuid=postfix --regid=postfix "$@" \
        "$E2E_PY" "$top_srcdir/tests/e2e/milterclient.py" "unix:$sock" "$msg" "$msgs/pause"
}
msg=$msgs/signed.eml
client --groups=smime-milter >"$work/signed.out" 2>&1
if [ "$(grep -c '^accept mx.test.example; smime=pass .*body.smime-identifier=alice@example.org' "$work/signed.out")" -eq 2 ]; then
    ok "signed by alice through the socket: smime=pass"
else
    bad "signed by alice: $(cat "$work/signed.out")"
fi
msg=$msgs/plain.eml
client --groups=smime-milter >"$work/plain.out" 2>&1
[ "$(grep -c '^accept mx.test.example; smime=none' "$work/plain.out")" -eq 2 ] &&
    ok "unsigned through the socket: smime=none" || bad "unsigned: $(cat "$work/plain.out")"
if client --clear-groups >"$work/nogroup.out" 2>&1; then
    bad "postfix without the group smime-milter could connect"
elif grep -q 'Permission denied' "$work/nogroup.out"; then
    ok "postfix without the group smime-milter cannot connect"
else
    bad "without the group: $(cat "$work/nogroup.out")"
fi

runuser -u smime-milter -- /usr/sbin/smime-milter -t "$msgs/out.eml" -A alice@example.org \
    >"$work/signed-out.eml" 2>"$work/t.err"
rc=$?
if [ $rc -eq 0 ] && grep -q '^Content-Type: multipart/signed' "$work/signed-out.eml"; then
    ok "smime-milter -t with the installed configuration signs as alice"
else
    bad "smime-milter -t (exit $rc): $(cat "$work/t.err")"
fi

# --- through Postfix -----------------------------------------------------------
# The private Postfix of the e2e tests (tests/e2e/lib.sh) with this daemon
# as its milter, on the package's socket; its smtpd runs as postfix, which
# joins the group smime-milter as README.Debian says (undone below).
grouped=
if id -nG postfix | tr ' ' '\n' | grep -q -x smime-milter; then :
else adduser --quiet postfix smime-milter && grouped=1 || bad "adduser postfix smime-milter"; fi
SMIME_MILTER=external E2E_MILTER_POSTFIX=unix:$sock
if e2e_start 2>"$work/postfix.err"; then
    postfix_up=1
    E2E_T=$msgs
    if qid=$(e2e_send_inbound "$msgs/signed.eml" alice@example.org bob@example.net) &&
       out=$(e2e_wait_delivered "$qid"); then
        e2e_ours "$out" | grep -q 'smime=pass .*body.smime-identifier=alice@example.org' &&
            ok "Postfix inbound, signed by alice: smime=pass" ||
            bad "Postfix inbound: $(e2e_ours "$out")"
    else
        bad "Postfix inbound: not delivered"
    fi
    if qid=$(e2e_send_submit alice@example.org "$msgs/out.eml" alice@example.org erin@example.net) &&
       out=$(e2e_wait_delivered "$qid"); then
        grep -q '^Content-Type: multipart/signed' "$out" &&
            ok "Postfix submission as alice: signed" || bad "Postfix submission: not signed"
    else
        bad "Postfix submission: not delivered"
    fi
    e2e_stop
    postfix_up=
else
    bad "private Postfix did not start: $(cat "$work/postfix.err")"
    e2e_stop
fi
[ -n "$grouped" ] && gpasswd -d postfix smime-milter >/dev/null && grouped=

# --- stop: the counters ----------------------------------------------------------
kill "$pid"
wait "$pid"
rc=$?
pid=
[ $rc -eq 0 ] && ok "daemon stopped cleanly on SIGTERM" ||
    bad "daemon exit $rc on SIGTERM: $(tail -n 5 "$work/daemon.log")"
rm -rf "/run/$rtdir"      # as systemd does with a RuntimeDirectory
if "$E2E_PY" "$top_srcdir/tests/e2e/promparse.py" "$state/smime-milter.prom" \
        >"$work/prom.txt" 2>&1 &&
   grep -q -x 'smime_milter_results_total{direction="inbound",result="pass"} 3' "$work/prom.txt" &&
   grep -q -x 'smime_milter_results_total{direction="inbound",result="none"} 2' "$work/prom.txt" &&
   grep -q -x 'smime_milter_results_total{direction="outbound",result="signed"} 1' "$work/prom.txt"; then
    ok "StatsFile $state/smime-milter.prom: 3 pass, 2 none, 1 signed"
else
    bad "StatsFile: $(cat "$work/prom.txt")"
fi

# --- purge ------------------------------------------------------------------
dpkg -L smime-milter >"$work/files" 2>/dev/null
dpkg --purge smime-milter >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; stop "dpkg --purge failed"; }
dpkg-query -W -f='${Status}\n' smime-milter 2>/dev/null | grep -q 'installed' &&
    bad "still known to dpkg: $(dpkg-query -W -f='${Status}' smime-milter)"
left=
while read -r f; do
    [ -d "$f" ] && continue          # directories shared with other packages
    [ -e "$f" ] && left="$left $f"
done <"$work/files"
for f in "$conf" "$state" "$sockdir" /usr/share/doc/smime-milter /run/smime-milter \
         /var/lib/systemd/deb-systemd-helper-enabled/smime-milter.service.dsh-also; do
    [ -e "$f" ] && left="$left $f"
done
left="$left $(ls -d /etc/smime-milter.conf.* /etc/systemd/system/*/smime-milter.service 2>/dev/null | tr '\n' ' ')"
[ -z "$(echo $left)" ] && ok "purge left nothing behind" || bad "left after purge:$left"
getent passwd smime-milter >/dev/null && ok "user smime-milter stays after purge (Debian policy)" ||
    bad "user smime-milter removed"
rm -rf "$msgs"
finish
