#!/bin/sh
# t_fault_reload_trust - a TrustAnchorFile or CRLFile that is damaged or
# missing at a SIGHUP never takes the daemon down nor fails mail: the
# reload is refused, logged once with the file and the reason, and the
# old configuration (its anchors and CRLs) stays in use until a reload
# finds good files again.
#
#   1. The milter uses copies of crl.pem and roots.pem: bob's message
#      passes, the `revoked' user's fails (revoked).
#   2. For each of: CRL garbage, CRL missing, anchors garbage, anchors
#      missing, keystore garbage: SIGHUP; one config problem line naming the file, one
#      "reload failed, old configuration kept" line; bob still passes
#      (old anchors, and no "CRL unavailable" temperror), revoked still
#      fails revoked (old CRL), alice's submission is still signed.
#   3. Good copies again: the reload succeeds.
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter

e2e_conf_trust_copies || e2e_fail "reload with the copies failed"
# the good keystore back (registered last: put back before the reload)
e2e_at_exit '[ ! -f "$E2E_T/keystore.good" ] || mv "$E2E_T/keystore.good" "$E2E_KEYSTORE"'

e2e_entity_text "$E2E_T/content" "Hello, this is a signed message."
e2e_msg_signed "$E2E_T/bob.eml" bob bob@example.org dave@example.com \
    "$E2E_T/content" || e2e_fail "openssl cms -sign (bob) failed"
e2e_msg_signed "$E2E_T/revoked.eml" revoked revoked@example.org \
    dave@example.com "$E2E_T/content" || e2e_fail "openssl cms -sign (revoked) failed"

# deliver FILE FROM WANT REASON: send inbound, assert the result.
deliver() {
    qid=$(e2e_send_inbound "$1" "$2" dave@example.com) || e2e_fail "send $1 failed"
    out=$(e2e_wait_delivered "$qid") || e2e_fail "$qid not delivered"
    e2e_assert_ar "$out" "$3" "$4" >/dev/null || exit 1
}
# still_good WHAT: mail is judged (and signed) with the old snapshot.
still_good() {
    deliver "$E2E_T/bob.eml" bob@example.org pass "signature verified"
    deliver "$E2E_T/revoked.eml" revoked@example.org fail "revoked"
    [ -z "${E2E_KEYSTORE:-}" ] && return
    e2e_msg_plain "$E2E_T/out.eml" alice@example.org erin@example.net \
        "signed during $1" "Still signed."
    qid=$(e2e_send_submit alice@example.org "$E2E_T/out.eml" \
        alice@example.org erin@example.net) || e2e_fail "$1: submission failed"
    out=$(e2e_wait_delivered "$qid") || e2e_fail "$1: $qid not delivered"
    e2e_cms_verify "$out" || e2e_fail "$1: submission not signed"
}

still_good "the copies"

# bad WHAT KEY FILE: FILE (given in KEY) was just damaged or removed.
bad() {
    off=$(e2e_milter_log_size)
    if e2e_milter_reload; then e2e_fail "$1: reload accepted"; fi
    kill -0 "$E2E_MILTER_PID" 2>/dev/null || e2e_fail "$1: the milter is gone"
    log=$(e2e_milter_log_since "$off")
    problems=$(printf '%s\n' "$log" | grep -c 'event=config problem=')
    [ "$problems" -eq 1 ] || e2e_fail "$1: $problems problem lines: $log"
    printf '%s\n' "$log" | grep 'event=config problem=' |
        grep -F -q "$2: " || e2e_fail "$1: the problem line does not name $2: $log"
    printf '%s\n' "$log" | grep 'event=config problem=' |
        grep -F -q "$3" || e2e_fail "$1: the problem line does not name $3: $log"
    failed=$(printf '%s\n' "$log" |
        grep -c 'event=reload status=failed .*old configuration kept')
    [ "$failed" -eq 1 ] || e2e_fail "$1: $failed reload failure lines: $log"
    still_good "$1"
    e2e_pass "$1: reload refused, old anchors and CRLs kept: $(printf '%s\n' "$log" |
        grep 'event=config problem=' | sed 's/.*problem=//')"
}

head -c 3000 /dev/urandom >"$E2E_T/crl.pem"
bad "CRL garbage" CRLFile "$E2E_T/crl.pem"
rm -f "$E2E_T/crl.pem"
bad "CRL missing" CRLFile "$E2E_T/crl.pem"
cp "$E2E_PKI/crl.pem" "$E2E_T/crl.pem"
echo "-----BEGIN CERTIFICATE-----" >"$E2E_T/roots.pem"
bad "anchors garbage" TrustAnchorFile "$E2E_T/roots.pem"
rm -f "$E2E_T/roots.pem"
bad "anchors missing" TrustAnchorFile "$E2E_T/roots.pem"

cp "$E2E_PKI/roots.pem" "$E2E_T/roots.pem"
if [ -n "${E2E_KEYSTORE:-}" ]; then
    # the keystore the same way: a SIGHUP does not drop the last good one
    cp -p "$E2E_KEYSTORE" "$E2E_T/keystore.good"
    head -c 5000 /dev/urandom >"$E2E_T/keystore.bad"
    chmod 600 "$E2E_T/keystore.bad"
    mv "$E2E_T/keystore.bad" "$E2E_KEYSTORE"
    bad "keystore garbage" Keystore "$E2E_KEYSTORE"
    mv "$E2E_T/keystore.good" "$E2E_KEYSTORE"
fi
e2e_milter_reload || e2e_fail "reload with good copies again failed"
still_good "good copies again"
e2e_conf_restore || e2e_fail "reload of the original configuration failed"
e2e_pass "good files again: reloaded"
