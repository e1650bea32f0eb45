#!/bin/sh
# run.sh - end-to-end tests of smime-milter behind a real Sendmail 8.17.
#
# SYNOPSIS
#	tests/sendmail/run.sh
#
# DESCRIPTION
#	Starts smime-milter (configured like the Postfix e2e tests, by
#	tests/e2e/lib.sh) and a private Sendmail (tests/sendmail/sm.sh) whose
#	milter lines are contrib/sendmail.mc, then sends with swaks:
#
#	  verify_signed    openssl-signed mail in: smime=pass, body untouched
#	  verify_tampered  the same, altered after signing: smime=fail
#	  verify_unsigned  plain mail in: smime=none
#	  sign_alice       alice authenticates (SASL): the delivered message is
#	                   S/MIME-signed (openssl cms -verify, signer alice);
#	                   sent back in, it gets smime=pass.  No keystore is a
#	                   failure; no SASL in this Sendmail (no /etc/sasldb2
#	                   to mount ours on, or no namespaces) a skip, and a
#	                   failure under ./quickstart check
#	  decrypt          Mode d (reloaded for this test): alice's signed
#	                   message openssl encrypted to encrsa comes out
#	                   decrypted, smime=pass, integrity=signature; with
#	                   bob (no key) as a second recipient, unchanged
#	  encrypt          Mode sve (reloaded for this test) with encrsa's
#	                   certificate in a CertificateStore: alice submits
#	                   (SASL) to encrsa; the delivered message is
#	                   enveloped-data that openssl decrypts with encrsa's
#	                   key, and the signature inside verifies (signer
#	                   alice)
#	  milter_down      smime-milter stopped: Sendmail answers 4xx (F=T)
#
#	Prints each outcome, the milter's and Sendmail's log lines of failed
#	tests, and "N passed, N failed" last.  Exits 1 when a test failed or
#	nothing could be started, 77 when one was skipped, 0 otherwise;
#	always stops what it started.
#	Needs root (Sendmail runs as root and delivers as nobody) and, the
#	first time, Debian's archive (apt-get download sendmail-bin
#	sendmail-cf; the packages stay in tests/work/sendmail-pkg).
#
# FILES
#	$top_builddir/tests/work/sendmail/: etc/ (sendmail.mc, .cf, SASL),
#	queue/, out/ (delivered messages), msgs/TEST/, log/; kept after the run
#	and removed when the next one starts.

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/sendmail/sm.sh"

# The e2e library's helpers, pointed at our own directories.
E2E_DIR=$E2E_WORK/sendmail
E2E_LOG=$E2E_DIR/log
E2E_MSGS=$E2E_DIR/msgs
E2E_SPOOL=$E2E_DIR/spool
SM_ETC=$E2E_DIR/etc
SM_QUEUE=$E2E_DIR/queue
SM_OUT=$E2E_DIR/out
SM_LOG=$E2E_LOG

pass=0 fail=0 skip=0 failed=

# ---------------------------------------------------------------------------
# Tests: each runs in a subshell; e2e_fail/e2e_skip end it with 1/77.

t_verify_signed() {
    e2e_entity_text "$E2E_T/content" "Hello Bob,
this message is signed by alice and travels through Sendmail."
    m=$E2E_T/in.eml
    e2e_msg_signed "$m" alice alice@example.org bob@example.net "$E2E_T/content" ||
        e2e_fail "openssl cms -sign failed"
    qid=$(sm_send_inbound "$m" alice@example.org bob@example.net) || e2e_fail "send failed"
    out=$(sm_wait_delivered "$qid") || e2e_fail "$qid not delivered"
    ar=$(e2e_assert_ar "$out" pass "signature verified" alice@example.org) || exit 1
    serial=$(awk '$1 == "alice" { print $2 }' "$E2E_PKI/serials.txt")
    printf '%s\n' "$ar" | grep -q -i "body.smime-serial=$serial\\b" ||
        e2e_fail "expected body.smime-serial=$serial in: $ar"
    e2e_body "$m" >"$E2E_T/body.in"
    e2e_body "$out" >"$E2E_T/body.out"
    cmp -s "$E2E_T/body.in" "$E2E_T/body.out" || e2e_fail "the body was modified"
    e2e_cms_verify "$out" ||
        e2e_fail "openssl cannot verify the delivered message: $(cat "$E2E_T/cms-verify.err")"
    grep -q "$qid" "$E2E_LOG/milter.log" ||
        e2e_fail "the milter's log does not name queue id $qid (macro i not sent?)"
    e2e_pass "$ar"
}

t_verify_tampered() {
    e2e_entity_text "$E2E_T/content" "Please pay invoice 1000 to account ORIGINAL."
    e2e_msg_signed "$E2E_T/signed.eml" alice alice@example.org bob@example.net \
        "$E2E_T/content" || e2e_fail "openssl cms -sign failed"
    m=$E2E_T/in.eml
    sed 's/account ORIGINAL/account MALLORY/' "$E2E_T/signed.eml" >"$m"
    cmp -s "$E2E_T/signed.eml" "$m" && e2e_fail "tampering changed nothing"
    qid=$(sm_send_inbound "$m" alice@example.org bob@example.net) || e2e_fail "send failed"
    out=$(sm_wait_delivered "$qid") || e2e_fail "$qid not delivered"
    ar=$(e2e_assert_ar "$out" fail "content altered") || exit 1
    e2e_pass "$ar"
}

t_verify_unsigned() {
    m=$E2E_T/in.eml
    e2e_msg_plain "$m" carol@example.net dave@example.com "not signed" "Just text."
    qid=$(sm_send_inbound "$m" carol@example.net dave@example.com) || e2e_fail "send failed"
    out=$(sm_wait_delivered "$qid") || e2e_fail "$qid not delivered"
    ar=$(e2e_assert_ar "$out" none) || exit 1
    e2e_body "$m" >"$E2E_T/body.in"
    e2e_body "$out" >"$E2E_T/body.out"
    cmp -s "$E2E_T/body.in" "$E2E_T/body.out" || e2e_fail "the body was modified"
    e2e_pass "$ar"
}

t_sign_alice() {
    [ -n "${E2E_KEYSTORE:-}" ] ||
        e2e_fail "no keystore: smime-keystore not built or its build failed (see $E2E_LOG/keystore.log)"
    [ "$SM_SASL" = yes ] ||
        e2e_skip "this Sendmail has no SASL users: it needs /etc/sasldb2 (Debian package sasl2-bin) and unshare --uts --mount (see above)"
    m=$E2E_T/in.eml
    e2e_msg_plain "$m" alice@example.org bob@example.net "signed via Sendmail" \
        "Hello Bob, Sendmail handed this to smime-milter for signing."
    # The submission port insists on AUTH.
    if sm_swaks "$SM_SUBMIT_PORT" "$m" alice@example.org bob@example.net \
            >/dev/null 2>&1; then
        e2e_fail "the submission port accepted mail without AUTH"
    fi
    qid=$(sm_send_submit alice@example.org "$m" alice@example.org bob@example.net) ||
        e2e_fail "authenticated submission failed"
    out=$(sm_wait_delivered "$qid") || e2e_fail "$qid not delivered"
    ct=$(e2e_header "$out" Content-Type)
    printf '%s\n' "$ct" | grep -q -i 'multipart/signed' ||
        e2e_fail "not signed: Content-Type: $ct"
    e2e_assert_signed_by "$out" alice@example.org
    grep -q 'Sendmail handed this to smime-milter' "$out" ||
        e2e_fail "the text is not in the signed message"
    [ -z "$(e2e_ours "$out")" ] ||
        e2e_fail "outbound mail got an Authentication-Results header: $(e2e_ours "$out")"
    grep -q "$qid: .*login=alice@example.org" "$E2E_LOG/milter.log" ||
        e2e_fail "the milter's log shows no login=alice@example.org for $qid ({auth_authen} not sent?)"
    # Round trip: what was signed verifies on the inbound side.
    qid2=$(sm_send_inbound "$out" alice@example.org bob@example.net) || e2e_fail "resend failed"
    out2=$(sm_wait_delivered "$qid2") || e2e_fail "$qid2 not delivered"
    ar=$(e2e_assert_ar "$out2" pass "signature verified" alice@example.org) || exit 1
    e2e_pass "authenticated alice: signed, openssl verifies (signer alice); inbound: $ar"
}

# Mode d behind Sendmail (reloaded to Mode svd with encrsa's key for
# this test only; the milter then asks Sendmail for the recipients): a
# message alice signed and openssl encrypted to encrsa is delivered
# decrypted with smime=pass and integrity=signature; with a second
# recipient without a key it is delivered as it came.
t_decrypt() {
    [ -n "${E2E_KEYSTORE:-}" ] || e2e_fail "no keystore"
    _tool=$top_builddir/milter/smime-keystore
    _conf=$E2E_DIR/smime-milter.conf
    cp "$_conf" "$E2E_T/conf.orig"
    # put the suite's configuration and keystore back however this ends
    trap 'cp "$E2E_T/conf.orig" "$_conf"; e2e_milter_reload >/dev/null 2>&1
        "$_tool" build "$E2E_DIR/keystore.src" "$E2E_KEYSTORE" >/dev/null 2>&1' EXIT
    { cat "$E2E_DIR/keystore.src"; echo "encrsa@example.org $E2E_PKI/encrsa.pem"; } \
        >"$E2E_T/keystore.src"
    "$_tool" build "$E2E_T/keystore.src" "$E2E_KEYSTORE" >/dev/null 2>&1 ||
        e2e_fail "keystore build"
    sed 's/^Mode .*/Mode svd/' "$E2E_T/conf.orig" >"$_conf"
    e2e_milter_reload || e2e_fail "reload with Mode svd failed"
    printf 'Content-Type: text/plain\r\n\r\nHello via Sendmail, signed and encrypted.\r\n' \
        >"$E2E_T/inner.txt"
    openssl cms -sign -in "$E2E_T/inner.txt" -signer "$E2E_PKI/alice.crt" \
        -inkey "$E2E_PKI/alice.key" -certfile "$E2E_PKI/inter.crt" \
        -out "$E2E_T/signed.txt" || e2e_fail "openssl cms -sign"
    openssl cms -encrypt -aes256 -in "$E2E_T/signed.txt" \
        -out "$E2E_T/enc.txt" "$E2E_PKI/encrsa.crt" || e2e_fail "openssl cms -encrypt"
    m=$E2E_T/in.eml
    { printf 'From: alice@example.org\nTo: encrsa@example.org\nSubject: enc\n'
      printf 'Message-ID: <smdec1@example.org>\n'; cat "$E2E_T/enc.txt"; } >"$m"
    qid=$(sm_send_inbound "$m" alice@example.org encrsa@example.org) || e2e_fail "send failed"
    out=$(sm_wait_delivered "$qid") || e2e_fail "$qid not delivered"
    ar=$(e2e_assert_ar "$out" pass "signature verified" alice@example.org) || exit 1
    dh=$(e2e_header "$out" X-SMIME-Decrypted)
    [ "$dh" = "for=encrsa@example.org; cipher=aes-256-cbc; integrity=signature" ] ||
        e2e_fail "DecryptHeader: \"$dh\""
    e2e_body "$E2E_T/signed.txt" >"$E2E_T/body.want"
    e2e_body "$out" >"$E2E_T/body.got"
    cmp -s "$E2E_T/body.want" "$E2E_T/body.got" ||
        e2e_fail "the body is not the plaintext openssl was given"
    sed 's/<smdec1@/<smdec2@/' "$m" >"$E2E_T/in2.eml"
    qid=$(sm_send_inbound "$E2E_T/in2.eml" alice@example.org \
        encrsa@example.org,bob@example.net) || e2e_fail "send failed"
    out=$(sm_wait_delivered "$qid") || e2e_fail "$qid not delivered"
    e2e_assert_ar "$out" none \
        "encrypted, not decrypted: no key for recipient bob@example.net" >/dev/null ||
        exit 1
    e2e_pass "decrypted for encrsa ($ar); left encrypted with bob as a recipient"
}

# Mode e behind Sendmail: the milter asks for the recipients (RCPT) and
# encrypts a signed submission to the one certificate it knows.
t_encrypt() {
    [ -n "${E2E_KEYSTORE:-}" ] || e2e_fail "no keystore"
    [ "$SM_SASL" = yes ] ||
        e2e_skip "this Sendmail has no SASL users (see sign_alice)"
    _conf=$E2E_DIR/smime-milter.conf
    cp "$_conf" "$E2E_T/conf.orig"
    trap 'cp "$E2E_T/conf.orig" "$_conf"; e2e_milter_reload >/dev/null 2>&1' EXIT
    e2e_conf_encrypt || e2e_fail "reload with Mode sve failed"
    m=$E2E_T/in.eml
    e2e_msg_plain "$m" alice@example.org encrsa@example.org "encrypted via Sendmail" \
        "Hello, Sendmail handed this to smime-milter to sign and encrypt."
    qid=$(sm_send_submit alice@example.org "$m" alice@example.org encrsa@example.org) ||
        e2e_fail "authenticated submission failed"
    out=$(sm_wait_delivered "$qid") || e2e_fail "$qid not delivered"
    ct=$(e2e_header "$out" Content-Type)
    printf '%s\n' "$ct" | grep -q -i 'application/pkcs7-mime; smime-type=enveloped-data' ||
        e2e_fail "not encrypted: Content-Type: $ct"
    openssl cms -decrypt -in "$out" -recip "$E2E_PKI/encrsa.crt" \
        -inkey "$E2E_PKI/encrsa.key" -out "$E2E_T/dec.eml" 2>"$E2E_T/dec.err" ||
        e2e_fail "openssl cannot decrypt: $(cat "$E2E_T/dec.err")"
    openssl cms -verify -in "$E2E_T/dec.eml" -CAfile "$E2E_PKI/roots.pem" \
        -out "$E2E_T/content" -signer "$E2E_T/signer.pem" 2>"$E2E_T/ver.err" ||
        e2e_fail "the signature inside does not verify: $(cat "$E2E_T/ver.err")"
    openssl x509 -in "$E2E_T/signer.pem" -noout -ext subjectAltName |
        grep -q 'email:alice@example.org' || e2e_fail "signer is not alice"
    grep -q 'Sendmail handed this to smime-milter to sign' "$E2E_T/content" ||
        e2e_fail "the text is not in the decrypted message"
    e2e_pass "signed and encrypted to encrsa; openssl decrypts, the signature inside verifies (alice)"
}

# F=T in contrib/sendmail.mc: with smime-milter down, Sendmail answers 4xx
# (the client keeps the mail) instead of passing it unverified.  Stops the
# milter: runs last.
t_milter_down() {
    e2e_kill "$E2E_MILTER_PID" smime-milter 2>/dev/null
    e2e_alive "$E2E_MILTER_PID" smime-milter && e2e_fail "could not stop smime-milter"
    m=$E2E_T/in.eml
    e2e_msg_plain "$m" carol@example.net dave@example.com "milter down" "Hold me."
    if sm_send_inbound "$m" carol@example.net dave@example.com >"$E2E_T/qid" 2>"$E2E_T/swaks.err"; then
        e2e_fail "accepted (queue id $(cat "$E2E_T/qid")) while smime-milter was down"
    fi
    reply=$(grep -E '^<\*\* +[0-9]{3}' "$E2E_T/swaks.err" | head -n 1)
    printf '%s\n' "$reply" | grep -E -q '^<\*\* +4[0-9]{2} ' ||
        e2e_fail "expected a 4xx reply, got: ${reply:-none} $(cat "$E2E_T/swaks.err")"
    e2e_pass "refused with ${reply#<\*\* }"
}

# ---------------------------------------------------------------------------
# Driver

# run_test NAME [stops-milter]: run t_NAME in a subshell; print and count
# its outcome.  A test that kills the milter fails, unless it is meant to.
run_test() {
    _name=$1 _stops=${2:-}
    _mo=$(wc -c <"$E2E_LOG/milter.log" 2>/dev/null || echo 0)
    _to=$(wc -c <"$SM_LOG/traffic.log" 2>/dev/null || echo 0)
    (
        # shellcheck disable=SC2034  # read by the e2e library's messages
        E2E_TEST=$_name
        E2E_T=$E2E_MSGS/$_name
        rm -rf "$E2E_T" && mkdir -p "$E2E_T" || exit 1
        "t_$_name"
    ) >"$E2E_LOG/$_name.out" 2>&1
    _rc=$?
    if [ -z "$_stops" ] && ! e2e_alive "$E2E_MILTER_PID" smime-milter; then
        echo "FAIL: $_name: smime-milter (pid $E2E_MILTER_PID) died" >>"$E2E_LOG/$_name.out"
        _rc=1
    fi
    [ $_rc = 77 ] && need_strict && _rc=1
    case $_rc in
        0)  pass=$((pass + 1)); echo "PASS: $_name"
            sed -n 's/^ok: [^:]*: /    /p' "$E2E_LOG/$_name.out" ;;
        77) skip=$((skip + 1))
            echo "SKIP: $_name ($(grep '^SKIP:' "$E2E_LOG/$_name.out" | tail -n 1 | sed 's/^SKIP: [^:]*: //'))" ;;
        *)  fail=$((fail + 1)); failed="$failed $_name"
            echo "FAIL: $_name (exit $_rc)"
            sed 's/^/    /' "$E2E_LOG/$_name.out"
            dump_logs "$_mo" "$_to" | sed 's/^/    /' ;;
    esac
}

# dump_logs [MILTER-OFFSET TRAFFIC-OFFSET]: the log lines written since.
dump_logs() {
    for _pair in "smime-milter:$E2E_LOG/milter.log:${1:-0}" \
                 "sendmail traffic (-X):$SM_LOG/traffic.log:${2:-0}" \
                 "sendmail output:$SM_LOG/sendmail.out:0"; do
        _name=${_pair%%:*}; _rest=${_pair#*:}
        _file=${_rest%:*}; _off=${_rest##*:}
        printf -- '---- %s (%s) ----\n' "$_name" "$_file"
        [ -f "$_file" ] && tail -c +$((_off + 1)) "$_file" | tail -n 150
    done
    printf -- '---- end of logs ----\n'
}

# (e2e_alive's tr may race a process exiting: its complaint is noise.)
teardown() {
    trap - EXIT
    sm_stop 2>/dev/null
    e2e_kill "${E2E_MILTER_PID:-}" smime-milter 2>/dev/null
    exit "$1"
}

# start: everything the tests need; 1 when something could not start.
start() {
    for _t in swaks:swaks saslpasswd2:sasl2-bin openssl:openssl m4:m4 \
            unshare:util-linux flock:util-linux dpkg-deb:dpkg apt-get:apt; do
        need_tool "${_t%%:*}" "${_t#*:}"
    done
    mkdir -p "$E2E_DIR" || return 1
    exec 9>"$E2E_DIR/.lock"
    flock -w 300 9 || { e2e_say "sendmail: $E2E_DIR is locked by another run"; return 1; }
    rm -rf "$SM_ETC" "$SM_QUEUE" "$SM_OUT" "$E2E_LOG" "$E2E_MSGS" "$E2E_SPOOL"
    mkdir -p "$SM_ETC" "$E2E_LOG" "$E2E_MSGS" "$E2E_SPOOL" || return 1
    chmod 0700 "$E2E_SPOOL"
    sm_unpack || return 1
    e2e_say "sendmail: Sendmail $(sm_version) from $SM_ROOT"
    e2e_pki || return 1
    # shellcheck disable=SC2046
    set -- $(e2e_free_ports 3)
    SM_INBOUND_PORT=$1 SM_SUBMIT_PORT=$2 E2E_MILTER_PORT=$3
    E2E_KEYSTORE=${E2E_KEYSTORE:-$(e2e_keystore_build)} || E2E_KEYSTORE=
    e2e_milter_start || return 1
    sm_configure || return 1
    sm_start || return 1
    e2e_say "sendmail: inbound 127.0.0.1:$SM_INBOUND_PORT," \
        "submission (AUTH) 127.0.0.1:$SM_SUBMIT_PORT; smime-milter $E2E_MILTER_PID" \
        "on $E2E_MILTER_PORT; keystore ${E2E_KEYSTORE:-none}"
}

if [ "$(id -u)" -ne 0 ]; then
    echo "sendmail/run.sh: needs root (private Sendmail)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
umask 022    # Sendmail refuses group- or world-writable files and paths
trap 'teardown $?' EXIT
trap 'exit 130' INT TERM HUP

E2E_MILTER_PID='' SM_PID=''    # (SM_PID: set by sm_start, read by sm_stop)
if ! start; then
    echo "sendmail/run.sh: could not start Sendmail and smime-milter" >&2
    dump_logs >&2
    echo "0 passed, 1 failed"
    exit 1
fi

for t in verify_signed verify_tampered verify_unsigned sign_alice decrypt \
    encrypt; do
    run_test "$t"
done
run_test milter_down stops-milter

[ $skip -gt 0 ] && echo "($skip skipped)"
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ] || exit 1
[ $skip -eq 0 ] || exit 77
