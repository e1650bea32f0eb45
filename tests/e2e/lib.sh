# lib.sh - end-to-end test harness: a private Postfix, smime-milter, opendkim.
#
# SYNOPSIS
#	. "$(dirname "$0")/lib.sh"	(from tests/e2e/t_*.sh and run.sh)
#
# DESCRIPTION
#	Starts, once per run, a private Postfix from Debian's package with its
#	own configuration, queue and data directories under
#	$top_builddir/tests/work/e2e/, listening on 127.0.0.1 only, on ports
#	chosen free at run time:
#
#	  inbound     smtpd_milters = smime-milter (verify path)
#	  submission  SASL (Cyrus sasldb: alice@example.org, bob@example.org),
#	              smtpd_milters = smime-milter, opendkim (signing path)
#	  pickup      non_smtpd_milters = smime-milter, opendkim
#
#	Every recipient, whatever its domain, is delivered by a pipe(8)
#	transport running tests/e2e/deliver.sh as nobody, which stores each
#	message as $E2E_OUT/QUEUE-ID.  Logging goes to files (maillog_file and
#	the postlog service; no syslog needed): $E2E_LOG/maillog, milter.log,
#	opendkim.log.  milter_default_action is tempfail, so a milter that is
#	down or crashes shows up as a failed send, never as silently unfiltered
#	mail.
#
#	run.sh starts everything (e2e_start), runs every t_*.sh with the
#	instance's coordinates in the environment (E2E_ATTACHED=1), and tears
#	everything down (e2e_stop, from a trap).  A t_*.sh started by hand
#	starts and stops its own instance.  One instance per build tree at a
#	time (flock on $E2E_DIR/.lock).
#
# WRITING A TEST
#	Create tests/e2e/t_NAME.sh (msgs.sh has the message helpers):
#
#	  . "$(dirname "$0")/lib.sh"
#	  e2e_test_begin            # attach to run.sh's instance or start one
#	  e2e_need_milter           # skip (exit 77) when SMIME_MILTER=none
#	  m=$E2E_T/in.eml           # $E2E_T: this test's scratch directory
#	  e2e_entity_text "$E2E_T/content" "hello"
#	  e2e_msg_signed "$m" alice alice@example.org bob@example.net "$E2E_T/content"
#	  qid=$(e2e_send_inbound "$m" alice@example.org bob@example.net) || e2e_fail "send"
#	  out=$(e2e_wait_delivered "$qid") || e2e_fail "not delivered"
#	  e2e_assert_ar "$out" pass "signature verified"
#	  e2e_pass "signed message verified"
#
#	A test that changes the suite's state uses e2e_conf_set /
#	e2e_conf_restore (configuration, SIGHUP), e2e_keystore_use (keystore)
#	and e2e_at_exit (anything else to undo); never an EXIT trap of its own.
#
#	Exit 0 = passed, 77 = skipped, anything else = failed (e2e_fail prints
#	the reason; run.sh then prints the Postfix, milter and opendkim log
#	lines written during the test).  Under ./quickstart check
#	(SMIME_NO_SKIP=1, tests/need.sh) e2e_skip fails instead: nothing may
#	skip there.
#
# ENVIRONMENT
#	top_srcdir, top_builddir   source and build tree (make check-e2e sets
#	                           them; defaults: the tree holding this file)
#	SMIME_MILTER               daemon to test (default
#	                           $top_builddir/milter/smime-milter); "none"
#	                           runs Postfix without it (milter tests skip);
#	                           "external": one started elsewhere, which
#	                           Postfix reaches at E2E_MILTER_POSTFIX (a
#	                           Postfix milter address; tests/package.sh)
#	SMIME_MILTER_WRAPPER       command put in front of it, e.g. "valgrind -q"
#	E2E_KEYSTORE               keystore CDB for the milter's Keystore key;
#	                           default: built by e2e_keystore_build with
#	                           $top_builddir/milter/smime-keystore (alice and
#	                           bob); without one the signing tests fail
#	E2E_SIGNING=no             skip the signing tests (default yes)
#	E2E_MILTER_CONF_EXTRA      extra lines for the milter configuration
#	E2E_QUEUE_DIR              Postfix's queue_directory (default
#	                           $top_builddir/tests/work/e2e/queue; the
#	                           benchmark uses one on tmpfs)
#
# FILES
#	Everything stays under $top_builddir/tests/work/e2e/ after a run for
#	inspection (out/ delivered messages, msgs/TEST/ sent ones, log/ logs,
#	etc/ Postfix configuration) and is removed when the next run starts.
#	$top_builddir/tests/work/pki/ is the shared test PKI (mkpki.sh).

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
if [ -z "${top_builddir:-}" ]; then
    if [ -x "$PWD/milter/smime-milter" ]; then top_builddir=$PWD
    else top_builddir=$top_srcdir; fi
fi
export top_srcdir top_builddir

E2E_SRC=$top_srcdir/tests/e2e
E2E_WORK=$top_builddir/tests/work
E2E_DIR=$E2E_WORK/e2e
E2E_PKI=$E2E_WORK/pki
E2E_ETC=$E2E_DIR/etc
E2E_QUEUE=${E2E_QUEUE_DIR:-$E2E_DIR/queue}   # the benchmark puts it on tmpfs
E2E_DATA=$E2E_DIR/data
E2E_OUT=$E2E_DIR/out
E2E_LOG=$E2E_DIR/log
E2E_DKIM=$E2E_DIR/dkim
E2E_MSGS=$E2E_DIR/msgs
E2E_SPOOL=$E2E_DIR/spool
E2E_STATE=$E2E_DIR/state.env
E2E_AUTHSERV=mx.test.example
E2E_PY=/usr/bin/python3
. "$top_srcdir/tests/need.sh"
: "${SMIME_MILTER:=$top_builddir/milter/smime-milter}"
: "${SMIME_MILTER_WRAPPER:=}"
: "${E2E_MILTER_CONF_EXTRA:=}"
: "${E2E_MILTER_LOGLEVEL:=debug}"     # the benchmark runs with warning
E2E_POSTFIX=/usr/sbin/postfix
E2E_SYSTEM_ETC=/etc/postfix         # never written: see e2e_system_state

# SASL users of the submission port (login = address; password = this).
e2e_password() { printf '%s-e2e-secret\n' "${1%%@*}"; }
E2E_SASL_USERS="alice bob"

# ---------------------------------------------------------------------------
# Messages and assertions

e2e_say() { printf '%s\n' "$*" >&2; }

e2e_fail() {
    printf 'FAIL: %s: %s\n' "${E2E_TEST:-e2e}" "$*" >&2
    exit 1
}

e2e_skip() {
    if need_strict; then
        e2e_fail "$* (a skip; nothing may skip under ./quickstart check)"
    fi
    printf 'SKIP: %s: %s\n' "${E2E_TEST:-e2e}" "$*" >&2
    exit 77
}

e2e_pass() { printf 'ok: %s: %s\n' "${E2E_TEST:-e2e}" "$*" >&2; }

# Print the log lines written since the offsets (bytes) given; all without.
e2e_dump_logs() {
    _mo=${1:-0} _so=${2:-0} _do=${3:-0}
    for _pair in "postfix:$E2E_LOG/maillog:$_mo" \
                 "smime-milter:$E2E_LOG/milter.log:$_so" \
                 "opendkim:$E2E_LOG/opendkim.log:$_do"; do
        _name=${_pair%%:*}; _rest=${_pair#*:}
        _file=${_rest%:*}; _off=${_rest##*:}
        printf -- '---- %s log (%s) ----\n' "$_name" "$_file" >&2
        [ -f "$_file" ] && tail -c +$((_off + 1)) "$_file" | tail -n 200 >&2
    done
    printf -- '---- end of logs ----\n' >&2
}

e2e_log_sizes() {
    for _f in maillog milter.log opendkim.log; do
        if [ -f "$E2E_LOG/$_f" ]; then wc -c <"$E2E_LOG/$_f"; else echo 0; fi
    done | tr '\n' ' '
}

# ---------------------------------------------------------------------------
# Process and port helpers

# Print N distinct TCP ports on 127.0.0.1 that nobody listens on, picked
# outside the usual ephemeral range so that outgoing connections are
# unlikely to take them before our daemons bind.
e2e_free_ports() {
    "$E2E_PY" - "$1" <<'EOF'
import random, socket, sys
want, found = int(sys.argv[1]), []
while len(found) < want:
    port = random.randint(20000, 32000)
    if port in found:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        found.append(port)
    except OSError:
        pass
    finally:
        s.close()
print(" ".join(map(str, found)))
EOF
}

# e2e_wait_port PORT SECONDS [PID]: wait until 127.0.0.1:PORT accepts a
# connection; give up early when PID (the daemon) has died.
e2e_wait_port() {
    "$E2E_PY" - "$1" "$2" "${3:-0}" <<'EOF'
import os, socket, sys, time
port, limit, pid = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
end = time.monotonic() + limit
while time.monotonic() < end:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        sys.exit(0)
    except OSError:
        pass
    if pid:
        try:
            os.kill(pid, 0)
            with open("/proc/%d/stat" % pid) as f:
                if f.read().split(")")[-1].split()[0] == "Z":
                    sys.exit(2)
        except (OSError, IndexError):
            sys.exit(2)
    time.sleep(0.05)
sys.exit(1)
EOF
}

# e2e_alive PID NAME: PID runs a program whose command line mentions NAME.
e2e_alive() {
    [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] &&
        { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null | grep -q -- "$2"
}

# e2e_kill PID NAME: TERM, wait up to 10 s, then KILL; only if PID is NAME.
e2e_kill() {
    e2e_alive "$1" "$2" || return 0
    kill -TERM "$1" 2>/dev/null
    _i=0
    while e2e_alive "$1" "$2" && [ $_i -lt 100 ]; do
        sleep 0.1; _i=$((_i + 1))
    done
    if e2e_alive "$1" "$2"; then
        e2e_say "e2e: $2 (pid $1) ignored SIGTERM; killing it"
        kill -KILL "$1" 2>/dev/null
    fi
    wait "$1" 2>/dev/null
    return 0
}

# ---------------------------------------------------------------------------
# Set-up pieces

# The private instance never touches the system's Postfix configuration:
# "postfix -c DIR", "sendmail -C DIR" and "postqueue -c DIR" want DIR in
# /etc/postfix/main.cf's alternate_config_directories only when they run
# with an effective uid other than root (Postfix's mail_conf_checkdir),
# and these tests run as root.  e2e_system_state prints a checksum of each
# file there ("absent" when missing); run.sh (or a t_*.sh run alone)
# keeps it in E2E_SYSTEM_BEFORE and fails the run when e2e_system_unchanged
# finds it different at the end.
e2e_system_state() {
    for _f in main.cf master.cf; do
        if [ -e "$E2E_SYSTEM_ETC/$_f" ]; then
            printf '%s %s\n' "$_f" "$(sha256sum <"$E2E_SYSTEM_ETC/$_f" | cut -d' ' -f1)"
        else
            printf '%s absent\n' "$_f"
        fi
    done
}

e2e_system_unchanged() {
    _after=$(e2e_system_state)
    [ "$_after" = "$E2E_SYSTEM_BEFORE" ] && return 0
    echo "FAIL: the run changed $E2E_SYSTEM_ETC (it must not write there):"
    printf '%s\n' "$E2E_SYSTEM_BEFORE" | sed 's/^/    before: /'
    printf '%s\n' "$_after" | sed 's/^/    after:  /'
    echo "    (a concurrent run of an older lib.sh, in another build tree, also writes there)"
    return 1
}

e2e_pki() {
    if [ ! -f "$E2E_PKI/.done" ]; then
        [ -f "$top_srcdir/tests/pki/mkpki.sh" ] ||
            { e2e_say "e2e: tests/pki/mkpki.sh missing"; return 1; }
        sh "$top_srcdir/tests/pki/mkpki.sh" "$E2E_PKI" >"$E2E_LOG/mkpki.log" 2>&1 ||
            { cat "$E2E_LOG/mkpki.log" >&2; return 1; }
    fi
}

# e2e_master_common: the master.cf lines of Postfix's own services, the
# same for the suite's instance and t_encrypt_split's relay.
e2e_master_common() {
    cat <<'EOF'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

# e2e_maincf_common QUEUE DATA MAILLOG PREFIXES: the main.cf lines the
# suite's instance and t_encrypt_split's relay share: their own queue and
# data directories, loopback only, nothing local (no aliases, no local
# domains), logging to file MAILLOG without syslog, no TLS, no waiting.
e2e_maincf_common() {
    cat <<EOF
compatibility_level = 3.6
queue_directory = $1
data_directory = $2
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
mydomain = test.example
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
biff = no
append_dot_mydomain = no
mydestination =
relay_domains =
local_recipient_maps =
alias_maps =
alias_database =

# Logging without syslog.
maillog_file = $3
maillog_file_prefixes = $4

smtpd_error_sleep_time = 0
smtpd_tls_security_level = none
smtp_tls_security_level = none
delay_warning_time = 0
EOF
}

e2e_postfix_config() {
    _smime=${E2E_MILTER_POSTFIX:-inet:127.0.0.1:$E2E_MILTER_PORT}
    _dkim="inet:127.0.0.1:$E2E_DKIM_PORT"
    if [ "$SMIME_MILTER" = none ]; then
        _in_milters='' _sub_milters=$_dkim
    else
        _in_milters=$_smime _sub_milters="$_smime, $_dkim"
    fi
    cat >"$E2E_ETC/main.cf" <<EOF
# Private Postfix for smime-milter's end-to-end tests (generated by
# tests/e2e/lib.sh; every run rewrites it).
$(e2e_maincf_common "$E2E_QUEUE" "$E2E_DATA" "$E2E_LOG/maillog" "$E2E_LOG")
myhostname = $E2E_AUTHSERV
myorigin = \$mydomain
smtpd_banner = \$myhostname ESMTP e2e

# Every recipient, whatever its domain, goes to the pipe transport.
default_transport = e2epipe
relay_transport = e2epipe
local_transport = e2epipe
e2epipe_destination_recipient_limit = 1

# t_certstore_load holds 200 sessions open at once (100 per smtpd port)
# and t_fault_load starts 200 at once: the default limit (100 smtpd
# processes per port) would leave no headroom.
# (Loopback is in mynetworks, exempt from anvil's per-client limits.)
default_process_limit = 250

message_size_limit = 52428800
maximal_queue_lifetime = 1h
bounce_queue_lifetime = 1h

# SASL (enabled on the submission port only, see master.cf).
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $E2E_ETC/sasl
smtpd_sasl_security_options = noanonymous

# Milters: smime-milter first, so that opendkim signs what it produced.
milter_protocol = 6
milter_default_action = tempfail
milter_connect_macros = j {daemon_name} {daemon_addr} {client_addr} v _
milter_mail_macros = i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}
milter_end_of_data_macros = i
milter_command_timeout = 60s
milter_content_timeout = 300s
smtpd_milters = $_in_milters
non_smtpd_milters = $_sub_milters
EOF
    cat >"$E2E_ETC/master.cf" <<EOF
# Private Postfix for smime-milter's end-to-end tests (generated).
# service type  private unpriv  chroot  wakeup  maxproc command + args
$E2E_INBOUND_PORT inet n      -       n       -       -       smtpd
  -o syslog_name=postfix/inbound
  -o milter_macro_daemon_name=MTA
$E2E_SUBMIT_PORT inet n       -       n       -       -       smtpd
  -o syslog_name=postfix/submission
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
  -o milter_macro_daemon_name=ORIGINATING
  -o {smtpd_milters=$_sub_milters}
$(e2e_master_common)
e2epipe   unix  -       n       n       -       -       pipe
  flags=q user=nobody argv=/bin/sh $E2E_SRC/deliver.sh $E2E_OUT \${queue_id}
EOF
}

e2e_sasl_setup() {
    mkdir -p "$E2E_ETC/sasl"
    cat >"$E2E_ETC/sasl/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
mech_list: PLAIN LOGIN
sasldb_path: $E2E_ETC/sasl/sasldb2
EOF
    rm -f "$E2E_ETC/sasl/sasldb2"
    for _u in $E2E_SASL_USERS; do
        e2e_password "$_u" |
            saslpasswd2 -p -c -f "$E2E_ETC/sasl/sasldb2" -u example.org "$_u" ||
            return 1
    done
    chown root:postfix "$E2E_ETC/sasl/sasldb2" && chmod 0640 "$E2E_ETC/sasl/sasldb2"
}

# opendkim signs everything from 127.0.0.1 for example.org (selector e2e).
# It refuses keys in group/world-writable directories, and checks every
# ancestor: a build tree under /tmp (as CI may use) fails at signing time
# with a tempfail and, with Syslog off, no word.  Hence the 0700 directory
# and RequireSafeKeys off.
e2e_dkim_setup() {
    rm -rf "$E2E_DKIM"
    mkdir -m 0700 "$E2E_DKIM" || return 1
    opendkim-genkey -b 2048 -d example.org -s e2e -D "$E2E_DKIM" || return 1
    chmod 0600 "$E2E_DKIM/e2e.private"
    echo "e2e._domainkey.example.org example.org:e2e:$E2E_DKIM/e2e.private" \
        >"$E2E_DKIM/KeyTable"
    echo "*@example.org e2e._domainkey.example.org" >"$E2E_DKIM/SigningTable"
    cat >"$E2E_DKIM/opendkim.conf" <<EOF
Syslog                no
Mode                  s
Socket                inet:$E2E_DKIM_PORT@127.0.0.1
KeyTable              file:$E2E_DKIM/KeyTable
SigningTable          refile:$E2E_DKIM/SigningTable
InternalHosts         127.0.0.1
Canonicalization      relaxed/simple
OversignHeaders       From
PidFile               $E2E_DKIM/opendkim.pid
RequireSafeKeys       false
EOF
}

# The keystore for the signing tests: alice and bob may sign as themselves.
# Built with smime-keystore when it exists (E2E_KEYSTORE overrides it).
e2e_keystore_build() {
    _tool=$top_builddir/milter/smime-keystore
    [ -x "$_tool" ] || return 1
    _src=$E2E_DIR/keystore.src
    {
        echo "# e2e keystore: ADDRESS CREDENTIAL-FILE [LOGIN ...]"
        echo "alice@example.org $E2E_PKI/alice.pem"
        echo "bob@example.org $E2E_PKI/bob.pem"
    } >"$_src"
    "$_tool" build "$_src" "$E2E_DIR/keystore.cdb" >"$E2E_LOG/keystore.log" 2>&1 ||
        { cat "$E2E_LOG/keystore.log" >&2; return 1; }
    echo "$E2E_DIR/keystore.cdb"
}

# InternalHosts none: every port and pickup reach the milter from
# 127.0.0.1, so only SASL makes mail outbound here (t_pickup_sign.sh
# switches to InternalHosts 127.0.0.1 for its own messages).
e2e_milter_config() {
    {
        echo "# smime-milter configuration of the e2e tests (generated)"
        echo "Socket inet:$E2E_MILTER_PORT@127.0.0.1"
        echo "Mode sv"
        echo "AuthservID $E2E_AUTHSERV"
        echo "TrustAnchorFile $E2E_PKI/roots.pem"
        echo "CRLFile $E2E_PKI/crl.pem"
        echo "InternalHosts none"
        echo "SpoolDirectory $E2E_SPOOL"
        echo "LogLevel $E2E_MILTER_LOGLEVEL"
        [ -n "$E2E_KEYSTORE" ] && echo "Keystore $E2E_KEYSTORE"
        [ -n "$E2E_MILTER_CONF_EXTRA" ] && printf '%s\n' "$E2E_MILTER_CONF_EXTRA"
    } >"$E2E_DIR/smime-milter.conf"
}

e2e_milter_start() {
    [ -x "$SMIME_MILTER" ] ||
        { e2e_say "e2e: $SMIME_MILTER not built (SMIME_MILTER=none runs without it)"; return 1; }
    e2e_milter_config
    # shellcheck disable=SC2086
    $SMIME_MILTER_WRAPPER "$SMIME_MILTER" -f -c "$E2E_DIR/smime-milter.conf" \
        >>"$E2E_LOG/milter.log" 2>&1 9>&- &
    E2E_MILTER_PID=$!
    e2e_wait_port "$E2E_MILTER_PORT" 30 "$E2E_MILTER_PID" ||
        { e2e_say "e2e: smime-milter did not start listening"; return 1; }
}

# e2e_milter_stop / e2e_milter_restart: for tests of what happens while
# smime-milter is down.  The restart uses the same port and configuration
# and records the new pid (run.sh rereads it after every test).
e2e_milter_stop() { e2e_kill "$E2E_MILTER_PID" smime-milter; }
e2e_milter_restart() { e2e_milter_start && e2e_save_state; }

# e2e_milter_reload: SIGHUP, then wait (bounded) for the milter's
# "configuration ... reloaded" log line; fails on "reload ... failed".
e2e_milter_reload() {
    _before=$(grep -c -E 'reloaded|reload .* failed' "$E2E_LOG/milter.log")
    kill -HUP "$E2E_MILTER_PID" || return 1
    _i=0
    while [ $_i -lt 100 ]; do
        _now=$(grep -c -E 'reloaded|reload .* failed' "$E2E_LOG/milter.log")
        if [ "$_now" -gt "$_before" ]; then
            ! grep -E 'reloaded|reload .* failed' "$E2E_LOG/milter.log" | tail -n 1 |
                grep -q failed
            return
        fi
        sleep 0.1; _i=$((_i + 1))
    done
    e2e_say "e2e: no reload logged within 10 s"
    return 1
}

# e2e_conf_set KEY VALUE [KEY VALUE ...]: in the milter's configuration
# each KEY's line(s) replaced by "KEY VALUE" (appended when there is
# none), then SIGHUP; returns e2e_milter_reload's status.  The first call
# of a test keeps the original, which e2e_conf_restore (or the test's
# exit) puts back.
e2e_conf_set() {
    _conf=$E2E_DIR/smime-milter.conf
    if [ ! -f "$E2E_T/conf.orig" ]; then
        cp "$_conf" "$E2E_T/conf.orig" || return 1
        e2e_at_exit '[ -z "$E2E_CONF_CHANGED" ] || e2e_conf_restore'
    fi
    E2E_CONF_CHANGED=1
    while [ $# -ge 2 ]; do
        awk -v k="$1" -v v="$2" '
            $1 == k { if (!done) print k " " v; done = 1; next }
            { print }
            END { if (!done) print k " " v }' "$_conf" >"$_conf.new" &&
            mv "$_conf.new" "$_conf" || return 1
        shift 2
    done
    e2e_milter_reload
}

# e2e_conf_trust_copies: the milter reads copies of the test PKI's CRL
# and anchors, $E2E_T/crl.pem and $E2E_T/roots.pem, which the test may
# replace or damage before a reload; e2e_conf_set's status.
e2e_conf_trust_copies() {
    cp "$E2E_PKI/crl.pem" "$E2E_T/crl.pem" &&
        cp "$E2E_PKI/roots.pem" "$E2E_T/roots.pem" &&
        e2e_conf_set CRLFile "$E2E_T/crl.pem" TrustAnchorFile "$E2E_T/roots.pem"
}

# e2e_conf_restore: the configuration as it was before e2e_conf_set,
# reloaded; returns e2e_milter_reload's status.
e2e_conf_restore() {
    # shellcheck disable=SC2034   # read by e2e_conf_set's exit command
    E2E_CONF_CHANGED=
    cp "$E2E_T/conf.orig" "$E2E_DIR/smime-milter.conf" && e2e_milter_reload
}

# e2e_certstore_encrsa: smime-certstore import of encrsa's certificate
# (and chain) into $E2E_T/certs.mdb, the CertificateStore of the
# encryption tests; 1 with a message when the import failed.
e2e_certstore_encrsa() {
    "$top_builddir/milter/smime-certstore" import "$E2E_T/certs.mdb" \
        "$E2E_PKI/encrsa.chain.pem" >/dev/null ||
        { e2e_say "e2e: smime-certstore import of encrsa failed"; return 1; }
}

# e2e_conf_encrypt [KEY VALUE ...]: Mode sve with e2e_certstore_encrsa's
# store as CertificateStore and the KEY VALUE pairs given, through
# e2e_conf_set (so e2e_conf_restore puts the configuration back); 1 when
# the import or the reload failed.
e2e_conf_encrypt() {
    e2e_certstore_encrsa &&
        e2e_conf_set Mode sve CertificateStore "$E2E_T/certs.mdb" "$@"
}

# e2e_stats_snapshot STATSFILE OUT: SIGUSR1, wait (bounded) for the
# milter to write STATSFILE anew, copy it to OUT.
e2e_stats_snapshot() {
    rm -f "$1"
    kill -USR1 "$E2E_MILTER_PID" || return 1
    _i=0
    while [ ! -f "$1" ] && [ $_i -lt 100 ]; do
        sleep 0.1; _i=$((_i + 1))
    done
    [ -f "$1" ] && cp "$1" "$2"
}

# e2e_keystore_use SOURCE: smime-keystore build SOURCE into the milter's
# keystore ($E2E_KEYSTORE; the daemon takes it with the next message);
# on failure the build's messages on stderr and 1.  Calls e2e_keystore_keep.
e2e_keystore_use() {
    e2e_keystore_keep
    "$top_builddir/milter/smime-keystore" build "$1" "$E2E_KEYSTORE" \
        >"$E2E_T/keystore-build.log" 2>&1 ||
        { e2e_say "e2e: smime-keystore build $1 failed:"
          cat "$E2E_T/keystore-build.log" >&2; return 1; }
}

# e2e_keystore_keep: the test changes or damages $E2E_KEYSTORE; its exit
# rebuilds the suite's keystore from $E2E_DIR/keystore.src.
e2e_keystore_keep() {
    [ -z "${E2E_KEYSTORE_KEPT:-}" ] || return 0
    E2E_KEYSTORE_KEPT=1
    e2e_at_exit '"$top_builddir/milter/smime-keystore" build \
        "$E2E_DIR/keystore.src" "$E2E_KEYSTORE" >/dev/null 2>&1'
}

e2e_dkim_start() {
    opendkim -f -x "$E2E_DKIM/opendkim.conf" >>"$E2E_LOG/opendkim.log" 2>&1 9>&- &
    E2E_DKIM_PID=$!
    e2e_wait_port "$E2E_DKIM_PORT" 30 "$E2E_DKIM_PID" ||
        { e2e_say "e2e: opendkim did not start listening"; return 1; }
}

e2e_postfix_start() {
    "$E2E_POSTFIX" -c "$E2E_ETC" start >>"$E2E_LOG/postfix-start.log" 2>&1 9>&- ||
        { cat "$E2E_LOG/postfix-start.log" >&2; return 1; }
    if ! e2e_wait_port "$E2E_INBOUND_PORT" 30 || ! e2e_wait_port "$E2E_SUBMIT_PORT" 30; then
        e2e_say "e2e: postfix did not start listening"; return 1
    fi
}

# (the queue directory main.cf names: a stale run may have used another)
e2e_postfix_running() {
    [ -f "$E2E_ETC/main.cf" ] || return 1
    _q=$(postconf -c "$E2E_ETC" -h queue_directory 2>/dev/null) || return 1
    [ -f "$_q/pid/master.pid" ] && e2e_alive "$(tr -d ' ' <"$_q/pid/master.pid")" master
}

e2e_save_state() {
    cat >"$E2E_STATE" <<EOF
E2E_INBOUND_PORT=$E2E_INBOUND_PORT
E2E_SUBMIT_PORT=$E2E_SUBMIT_PORT
E2E_MILTER_PORT=$E2E_MILTER_PORT
E2E_DKIM_PORT=$E2E_DKIM_PORT
E2E_MILTER_PID=$E2E_MILTER_PID
E2E_DKIM_PID=$E2E_DKIM_PID
E2E_KEYSTORE=$E2E_KEYSTORE
EOF
}

# ---------------------------------------------------------------------------
# Start and stop

# Stop whatever a previous, interrupted run of this build tree left.
e2e_stop_stale() {
    if [ -f "$E2E_STATE" ]; then
        # shellcheck disable=SC1090
        . "$E2E_STATE"
        e2e_stop
    elif e2e_postfix_running; then
        e2e_stop
    fi
}

# e2e_need_tools: the programs the harness runs, each with its Debian
# package (tests/need.sh: a failure under ./quickstart check, else 77).
e2e_need_tools() {
    need_tool "$E2E_POSTFIX" postfix
    need_tool swaks swaks
    need_tool opendkim opendkim
    need_tool opendkim-genkey opendkim-tools
    need_tool saslpasswd2 sasl2-bin
    need_tool openssl openssl
    need_tool flock util-linux
    need_tool "$E2E_PY" python3
    "$E2E_PY" -c 'import dkim' 2>/dev/null ||
        need_skip "python3 module dkim not found: install the Debian package python3-dkim"
}

e2e_start() {
    e2e_need_tools
    mkdir -p "$E2E_DIR" || return 1
    exec 9>"$E2E_DIR/.lock"
    flock -w 900 9 || { e2e_say "e2e: $E2E_DIR is locked by another run"; return 1; }
    E2E_MILTER_PID='' E2E_DKIM_PID=''
    e2e_stop_stale
    rm -rf "$E2E_QUEUE" "$E2E_DATA" "$E2E_OUT" "$E2E_LOG" "$E2E_MSGS" "$E2E_SPOOL"
    mkdir -p "$E2E_ETC" "$E2E_QUEUE" "$E2E_DATA" "$E2E_OUT" "$E2E_LOG" \
        "$E2E_MSGS" "$E2E_SPOOL" || return 1
    chown root:root "$E2E_QUEUE" && chmod 0755 "$E2E_QUEUE"
    chown postfix:postfix "$E2E_DATA" && chmod 0700 "$E2E_DATA"
    chown nobody:nogroup "$E2E_OUT" && chmod 0755 "$E2E_OUT"
    chmod 0700 "$E2E_SPOOL"
    e2e_pki || return 1
    # shellcheck disable=SC2046
    set -- $(e2e_free_ports 4)
    E2E_INBOUND_PORT=$1 E2E_SUBMIT_PORT=$2 E2E_MILTER_PORT=$3 E2E_DKIM_PORT=$4
    if [ -z "${E2E_KEYSTORE:-}" ] && [ "$SMIME_MILTER" != none ] &&
       [ "$SMIME_MILTER" != external ]; then
        E2E_KEYSTORE=$(e2e_keystore_build) || E2E_KEYSTORE=
    fi
    E2E_KEYSTORE=${E2E_KEYSTORE:-}
    e2e_postfix_config && e2e_sasl_setup && e2e_dkim_setup || return 1
    e2e_save_state
    e2e_dkim_start || return 1
    if [ "$SMIME_MILTER" != none ] && [ "$SMIME_MILTER" != external ]; then
        e2e_milter_start || { e2e_save_state; return 1; }
    fi
    e2e_save_state
    e2e_postfix_start || return 1
    export E2E_INBOUND_PORT E2E_SUBMIT_PORT E2E_MILTER_PORT E2E_DKIM_PORT \
        E2E_MILTER_PID E2E_DKIM_PID E2E_KEYSTORE SMIME_MILTER
    E2E_ATTACHED=1; export E2E_ATTACHED
    e2e_say "e2e: postfix inbound 127.0.0.1:$E2E_INBOUND_PORT," \
        "submission 127.0.0.1:$E2E_SUBMIT_PORT; smime-milter" \
        "${E2E_MILTER_PID:-none} on $E2E_MILTER_PORT; opendkim on $E2E_DKIM_PORT;" \
        "keystore ${E2E_KEYSTORE:-none}"
}

e2e_stop() {
    if e2e_postfix_running; then
        "$E2E_POSTFIX" -c "$E2E_ETC" stop >/dev/null 2>&1
        _i=0
        while e2e_postfix_running && [ $_i -lt 100 ]; do
            sleep 0.1; _i=$((_i + 1))
        done
        if e2e_postfix_running; then
            "$E2E_POSTFIX" -c "$E2E_ETC" abort >/dev/null 2>&1
        fi
    fi
    e2e_kill "${E2E_MILTER_PID:-}" smime-milter
    e2e_kill "${E2E_DKIM_PID:-}" opendkim
    E2E_MILTER_PID='' E2E_DKIM_PID=''
    # a relaying Postfix (e2e_relay_start) of a test that was killed
    for _r in "$E2E_MSGS"/*/relay; do
        E2E_RELAY=$_r E2E_RELAY_ETC=$_r/etc
        e2e_relay_stop
    done
    rm -f "$E2E_STATE"
    return 0
}

# e2e_test_begin: every t_*.sh calls this first.  Under run.sh it attaches
# to the running instance; alone it starts one and stops it on exit.  Sets
# E2E_TEST (the test's name) and E2E_T (its scratch directory).
e2e_test_begin() {
    E2E_TEST=$(basename "$0" .sh)
    E2E_AT_EXIT=
    trap 'e2e_exit $?' EXIT
    if [ "${E2E_ATTACHED:-}" != 1 ]; then
        E2E_SYSTEM_BEFORE=$(e2e_system_state)
        trap 'exit 130' INT TERM HUP
        e2e_start || e2e_fail "could not start the test instance"
    fi
    E2E_T=$E2E_MSGS/$E2E_TEST
    rm -rf "$E2E_T" && mkdir -p "$E2E_T"
}

# e2e_at_exit COMMAND: eval COMMAND when the test exits, however it exits
# (e2e_fail included; not from a $(...) subshell), the last registered
# first, before a standalone run stops its instance.  Tests never set
# their own EXIT trap.
e2e_at_exit() { E2E_AT_EXIT="$1${E2E_AT_EXIT:+; $E2E_AT_EXIT}"; }

e2e_exit() {
    _rc=$1
    trap - EXIT
    [ -z "$E2E_AT_EXIT" ] || eval "$E2E_AT_EXIT"
    [ "${E2E_ATTACHED:-}" = 1 ] || e2e_standalone_exit "$_rc"
    exit "$_rc"
}

e2e_standalone_exit() {
    trap - EXIT
    if [ "$1" -ne 0 ] && [ "$1" -ne 77 ]; then e2e_dump_logs 0 0 0; fi
    e2e_stop
    e2e_system_unchanged >&2 || exit 1
    exit "$1"
}

e2e_need_milter() {
    [ "$SMIME_MILTER" != none ] || e2e_skip "runs without smime-milter (SMIME_MILTER=none)"
}

# The signing tests run by default (milter/outbound.c signs); E2E_SIGNING=no
# skips them, e.g. to try a daemon built without signing.
: "${E2E_SIGNING:=yes}"

e2e_need_signing() {
    [ "$E2E_SIGNING" = yes ] || e2e_skip "signing tests disabled (E2E_SIGNING=$E2E_SIGNING)"
    [ -n "${E2E_KEYSTORE:-}" ] ||
        e2e_fail "no keystore: smime-keystore not built or failed (see keystore.log), E2E_KEYSTORE unset"
}

# ---------------------------------------------------------------------------
# Sending and receiving

# e2e_swaks PORT FILE FROM TO [SWAKS-ARGS...]: send FILE as the DATA;
# print the queue id.  On failure print swaks' transcript and return 1.
e2e_swaks() {
    _port=$1 _file=$2 _from=$3 _to=$4
    shift 4
    _log=$(mktemp "$E2E_LOG/swaks.XXXXXX")
    # swaks appends CRLF "." CRLF to the data unless it ends in a line
    # holding a dot: give it that, so the message arrives byte-exact.
    _nl=yes
    [ "$(tail -c 1 "$_file" | od -An -c | tr -d ' ')" = '\n' ] || _nl=no
    if ! { cat "$_file"; [ $_nl = yes ] || echo; echo .; } |
            swaks --server "127.0.0.1:$_port" --helo client.test.example \
            --from "$_from" --to "$_to" --data - --suppress-data \
            --timeout 300 "$@" >"$_log" 2>&1; then
        e2e_say "e2e: swaks failed:"; cat "$_log" >&2
        return 1
    fi
    _qid=$(sed -n 's/.*queued as \([0-9A-Za-z]*\).*/\1/p' "$_log" | tail -n 1)
    [ -n "$_qid" ] || { e2e_say "e2e: no queue id:"; cat "$_log" >&2; return 1; }
    echo "$_qid"
}

# e2e_send_inbound FILE FROM TO: as an unauthenticated remote client.
e2e_send_inbound() {
    e2e_swaks "$E2E_INBOUND_PORT" "$1" "$2" "$3"
}

# e2e_send_submit LOGIN FILE FROM TO: SASL PLAIN on the submission port.
e2e_send_submit() {
    e2e_swaks "$E2E_SUBMIT_PORT" "$2" "$3" "$4" --auth PLAIN \
        --auth-user "$1" --auth-password "$(e2e_password "$1")"
}

# e2e_send_local FILE FROM: submit with sendmail(1) (postdrop, pickup:
# non_smtpd_milters); print the queue id, found by the Message-ID.
e2e_send_local() {
    _mid=$(e2e_header "$1" Message-ID)
    [ -n "$_mid" ] || { e2e_say "e2e: $1 has no Message-ID"; return 1; }
    sendmail -C "$E2E_ETC" -i -t -f "$2" <"$1" ||
        { e2e_say "e2e: sendmail failed"; return 1; }
    _i=0
    while [ $_i -lt 300 ]; do
        _qid=$(grep -F "message-id=$_mid" "$E2E_LOG/maillog" 2>/dev/null |
            sed -n 's/.*cleanup\[[0-9]*\]: \([0-9A-Za-z]*\): message-id=.*/\1/p' | tail -n 1)
        [ -n "$_qid" ] && { echo "$_qid"; return 0; }
        sleep 0.1; _i=$((_i + 1))
    done
    e2e_say "e2e: pickup did not take $_mid within 30 s"
    return 1
}

# e2e_wait_delivered QID [SECONDS]: wait (bounded poll) until Postfix has
# delivered QID and removed it from its queue; print the delivered file.
# Fails at once when Postfix defers or bounces the message.
e2e_wait_delivered() {
    _qid=$1 _limit=$(( ${2:-60} * 10 )) _i=0
    while [ $_i -lt "$_limit" ]; do
        if grep -q " $_qid: removed" "$E2E_LOG/maillog" 2>/dev/null; then
            if grep -E -q " $_qid: .*status=(deferred|bounced|expired)" "$E2E_LOG/maillog"; then
                e2e_say "e2e: $_qid was not delivered:"
                grep " $_qid: " "$E2E_LOG/maillog" >&2
                return 1
            fi
            [ -f "$E2E_OUT/$_qid" ] ||
                { e2e_say "e2e: $_qid removed but $E2E_OUT/$_qid missing"; return 1; }
            echo "$E2E_OUT/$_qid"
            return 0
        fi
        if grep -E -q " $_qid: .*status=deferred" "$E2E_LOG/maillog" 2>/dev/null; then
            e2e_say "e2e: $_qid deferred (stuck in the queue):"
            grep " $_qid: " "$E2E_LOG/maillog" >&2
            return 1
        fi
        sleep 0.1; _i=$((_i + 1))
    done
    e2e_say "e2e: $_qid not delivered within ${2:-60} s"
    return 1
}

# Reading, building and judging messages.
. "$E2E_SRC/msgs.sh"

# ---------------------------------------------------------------------------
# Fault tests (t_fault_*.sh)

# e2e_milter_fds: number of open file descriptors of the milter.
e2e_milter_fds() { ls "/proc/$E2E_MILTER_PID/fd" 2>/dev/null | wc -l; }

# e2e_milter_rss_kb: the milter's resident set size (VmRSS) in kB.
e2e_milter_rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$E2E_MILTER_PID/status"; }

# e2e_milter_rchar: bytes the milter has read so far (any fd, sockets too).
e2e_milter_rchar() { awk '/^rchar:/ { print $2 }' "/proc/$E2E_MILTER_PID/io"; }

# e2e_send_expect_4xx PORT FILE FROM TO [SWAKS-ARGS...]: the send must
# fail with a 4xx reply; print that reply line.
e2e_send_expect_4xx() {
    _p=$1 _f=$2 _fr=$3 _to=$4
    shift 4
    if e2e_swaks "$_p" "$_f" "$_fr" "$_to" "$@" >"$E2E_T/4xx.qid" 2>"$E2E_T/4xx.err"; then
        e2e_say "e2e: accepted (queue id $(cat "$E2E_T/4xx.qid")), 4xx expected"
        return 1
    fi
    grep -E -o '<\*\* +4[0-9][0-9][^[:cntrl:]]*' "$E2E_T/4xx.err" | head -n 1 | grep . ||
        { e2e_say "e2e: no 4xx reply:"; cat "$E2E_T/4xx.err" >&2; return 1; }
}

# e2e_delivered_ids: the Message-ID of every delivered message, one per
# line (only the start of each file is read: some are big).
e2e_delivered_ids() {
    grep -m 1 -h -i '^Message-ID:' "$E2E_OUT"/* 2>/dev/null |
        sed 's/^[^:]*:[ \t]*//; s/\r$//'
}

# e2e_delivered_count MESSAGE-ID: how many delivered messages carry it.
e2e_delivered_count() {
    e2e_delivered_ids | grep -c -F -x -- "$1"
}

# e2e_milter_log_since OFFSET: the milter log written after OFFSET bytes.
e2e_milter_log_since() { tail -c +$(($1 + 1)) "$E2E_LOG/milter.log"; }
e2e_milter_log_size() { wc -c <"$E2E_LOG/milter.log"; }

# ---------------------------------------------------------------------------
# A second Postfix as a relaying client (t_encrypt_split.sh)

# e2e_relay_start: a second, milter-less private Postfix under
# $E2E_T/relay (its own configuration, queue and data directories and
# maillog $E2E_RELAY_LOG) listening on 127.0.0.1:$E2E_RELAY_PORT for
# anyone in 127.0.0.0/8, which relays everything through its smtp(8)
# client to the suite's submission port with SASL PLAIN as
# alice@example.org: a real MTA as the milter's client, whose queue
# manager re-sends a recipient deferred with 4xx at RCPT in a later
# transaction.  Retries are fast (queue_run_delay and backoff 1 s;
# e2e_relay_flush asks for one at once).  Stopped at the test's exit.
e2e_relay_start() {
    E2E_RELAY=$E2E_T/relay
    E2E_RELAY_ETC=$E2E_RELAY/etc E2E_RELAY_LOG=$E2E_RELAY/maillog
    E2E_RELAY_PORT=$(e2e_free_ports 1) || return 1
    rm -rf "$E2E_RELAY"
    mkdir -p "$E2E_RELAY_ETC" "$E2E_RELAY/queue" "$E2E_RELAY/data" || return 1
    chown root:root "$E2E_RELAY/queue" && chmod 0755 "$E2E_RELAY/queue"
    chown postfix:postfix "$E2E_RELAY/data" && chmod 0700 "$E2E_RELAY/data"
    cat >"$E2E_RELAY_ETC/main.cf" <<EOF
# Relaying client of t_encrypt_split (generated by tests/e2e/lib.sh).
$(e2e_maincf_common "$E2E_RELAY/queue" "$E2E_RELAY/data" "$E2E_RELAY_LOG" \
    "$E2E_RELAY")
myhostname = relay.test.example
relayhost = [127.0.0.1]:$E2E_SUBMIT_PORT
smtp_sasl_auth_enable = yes
smtp_sasl_password_maps = static:alice@example.org:$(e2e_password alice)
smtp_sasl_security_options = noanonymous
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
EOF
    cat >"$E2E_RELAY_ETC/master.cf" <<EOF
# Relaying client of t_encrypt_split (generated).
$E2E_RELAY_PORT inet n    -       n       -       -       smtpd
$(e2e_master_common)
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
EOF
    e2e_at_exit 'e2e_relay_stop'
    "$E2E_POSTFIX" -c "$E2E_RELAY_ETC" start >"$E2E_RELAY/start.log" 2>&1 9>&- ||
        { cat "$E2E_RELAY/start.log" >&2; return 1; }
    e2e_wait_port "$E2E_RELAY_PORT" 30 ||
        { e2e_say "e2e: the relay Postfix did not start listening"; return 1; }
}

e2e_relay_running() {
    [ -f "$E2E_RELAY/queue/pid/master.pid" ] &&
        e2e_alive "$(tr -d ' ' <"$E2E_RELAY/queue/pid/master.pid")" master
}

e2e_relay_stop() {
    e2e_relay_running || return 0
    "$E2E_POSTFIX" -c "$E2E_RELAY_ETC" stop >/dev/null 2>&1
    _i=0
    while e2e_relay_running && [ $_i -lt 100 ]; do
        sleep 0.1; _i=$((_i + 1))
    done
}

# e2e_relay_flush: ask the relay to retry its deferred mail now.
e2e_relay_flush() { postqueue -c "$E2E_RELAY_ETC" -f >/dev/null 2>&1; }
