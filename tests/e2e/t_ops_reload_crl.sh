#!/bin/sh
# t_ops_reload_crl - SIGHUP rereads the CRL and trust anchor files even
# when the configuration file itself did not change, and a reload does
# not disturb a message in flight.
#
#   1. The milter uses copies of crl.pem and roots.pem; bob's signed
#      message passes.
#   2. A milter-protocol client sends MAIL FROM (the milter takes its
#      configuration snapshot for the message) and waits.  The CRL copy
#      is replaced by one that also revokes bob, SIGHUP, reload logged.
#      The client then sends the rest of the message: it still passes
#      (old snapshot); a second message on that connection fails.
#   3. The same message sent through Postfix now fails: revoked.
#   4. The roots copy is replaced by an unrelated root, SIGHUP: alice's
#      message, which passed before, fails now.
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter

e2e_conf_trust_copies || e2e_fail "reload with the copies failed"

e2e_entity_text "$E2E_T/content" "Hello, this is bob."
e2e_msg_signed "$E2E_T/bob.eml" bob bob@example.org dave@example.com \
    "$E2E_T/content" || e2e_fail "openssl cms -sign (bob) failed"
e2e_msg_signed "$E2E_T/alice.eml" alice alice@example.org dave@example.com \
    "$E2E_T/content" || e2e_fail "openssl cms -sign (alice) failed"

# deliver FILE FROM WANT [REASON]: send inbound, assert the result.
deliver() {
    qid=$(e2e_send_inbound "$1" "$2" dave@example.com) || e2e_fail "send $1 failed"
    out=$(e2e_wait_delivered "$qid") || e2e_fail "$qid not delivered"
    e2e_assert_ar "$out" "$3" ${4:+"$4"} >/dev/null || exit 1
}

deliver "$E2E_T/bob.eml" bob@example.org pass "signature verified"
deliver "$E2E_T/alice.eml" alice@example.org pass "signature verified"

# A CRL by the intermediate that revokes bob as well as `revoked'.
cat "$E2E_PKI/revoked.crt" "$E2E_PKI/bob.crt" >"$E2E_T/revoke.pem"
cat >"$E2E_T/crl.tmpl" <<EOF
crl_number = 2
crl_this_update_date = "2020-01-01 00:00:00 UTC"
crl_next_update_date = "2099-12-31 23:59:59 UTC"
crl_revocation_date = "2020-06-01 00:00:00 UTC"
EOF
"${CERTTOOL:-certtool}" --generate-crl --no-text \
    --load-ca-certificate "$E2E_PKI/inter.crt" \
    --load-ca-privkey "$E2E_PKI/inter.key" \
    --load-certificate "$E2E_T/revoke.pem" --template "$E2E_T/crl.tmpl" \
    --outfile "$E2E_T/crl2.pem" >"$E2E_T/certtool.log" 2>&1 ||
    e2e_fail "certtool --generate-crl failed: $(cat "$E2E_T/certtool.log")"

# 2. A message in flight across the reload.  Postfix hands all events of
# a message to the milter at the end of DATA, at once, so this client
# speaks the milter protocol itself: MAIL FROM (the milter takes its
# configuration snapshot), wait for the reload, then the rest of the
# message on the same connection; then a second message.
rm -f "$E2E_T/mailed" "$E2E_T/go"
"$E2E_PY" "$E2E_SRC/milterclient.py" "$E2E_MILTER_PORT" "$E2E_T/bob.eml" \
    "$E2E_T" >"$E2E_T/inflight.out" 2>"$E2E_T/inflight.err" &
client=$!
i=0
while [ ! -f "$E2E_T/mailed" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
[ -f "$E2E_T/mailed" ] ||
    { kill "$client"; e2e_fail "milter client did not get past MAIL FROM: $(cat "$E2E_T/inflight.err")"; }
cp "$E2E_T/crl2.pem" "$E2E_T/crl.pem"          # the configuration file stays
e2e_milter_reload || { touch "$E2E_T/go"; wait "$client"; e2e_fail "reload with the new CRL failed"; }
touch "$E2E_T/go"
wait "$client" || e2e_fail "milter client: $(cat "$E2E_T/inflight.err")"
first=$(sed -n 1p "$E2E_T/inflight.out")
second=$(sed -n 2p "$E2E_T/inflight.out")
case $first in
    "accept "*"smime=pass (signature verified) body.smime-identifier=bob@example.org"*) ;;
    *) e2e_fail "message in flight across the reload: $first" ;;
esac
case $second in
    "accept "*"smime=fail (revoked"*) ;;
    *) e2e_fail "next message on the same connection: $second" ;;
esac

# 3. New messages see the new CRL.
deliver "$E2E_T/bob.eml" bob@example.org fail "revoked"
deliver "$E2E_T/alice.eml" alice@example.org pass "signature verified"

# 4. New trust anchors: the test root is gone.
cp "$E2E_PKI/other-root.crt" "$E2E_T/roots.pem"
e2e_milter_reload || e2e_fail "reload with other roots failed"
deliver "$E2E_T/alice.eml" alice@example.org fail

e2e_conf_restore || e2e_fail "reload of the original configuration failed"
deliver "$E2E_T/alice.eml" alice@example.org pass "signature verified"
e2e_pass "in flight across the reload: pass; after it: bob revoked, new roots applied"
