#!/bin/sh
# t_pickup_sign - local submission with sendmail(1) (pickup,
# non_smtpd_milters) under the signing rule.  Postfix presents it to the
# milter from 127.0.0.1 with no SASL login, so with "InternalHosts
# 127.0.0.1" (reloaded with SIGHUP for this test only) it is outbound:
#   - From alice, whose keystore entry lacks +internal: delivered
#     unsigned, the log says why;
#   - after a keystore rebuild that gives alice +internal: S/MIME signed
#     (openssl verifies, signer alice), then DKIM-signed by opendkim.
# The suite's configuration and keystore are put back at the end.
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter
e2e_need_signing

e2e_conf_set InternalHosts 127.0.0.1 ||
    e2e_fail "reload with InternalHosts 127.0.0.1 failed"

# 1. alice's entry has no +internal: not signed
m=$E2E_T/plain.eml
e2e_msg_plain "$m" alice@example.org bob@example.net "pickup, no +internal" \
    "Hello Bob, local mail that must not be signed."
qid=$(e2e_send_local "$m" alice@example.org) || e2e_fail "sendmail submission failed"
out=$(e2e_wait_delivered "$qid") || e2e_fail "$qid not delivered"
e2e_assert_unsigned "$out" "without +internal"
line=$(grep "$qid: event=message" "$E2E_LOG/milter.log" | tail -n 1)
case $line in
    *"dir=out client=127.0.0.1 login=- result=unsigned reason=\"mail without a SASL login may not sign as alice@example.org"*) ;;
    *) e2e_fail "without +internal: milter log: ${line:-no line for $qid}" ;;
esac

# 2. alice's entry lists +internal: signed
{
    echo "alice@example.org $E2E_PKI/alice.pem +internal"
    echo "bob@example.org $E2E_PKI/bob.pem"
} >"$E2E_T/keystore.src"
e2e_keystore_use "$E2E_T/keystore.src" || e2e_fail "keystore build failed"
m=$E2E_T/internal.eml
e2e_msg_plain "$m" alice@example.org bob@example.net "pickup, +internal" \
    "Hello Bob, local mail signed by alice."
qid=$(e2e_send_local "$m" alice@example.org) || e2e_fail "sendmail submission failed"
out=$(e2e_wait_delivered "$qid") || e2e_fail "$qid not delivered"
e2e_header "$out" Content-Type | grep -q -i 'multipart/signed' ||
    e2e_fail "with +internal: not signed: $(e2e_header "$out" Content-Type)"
e2e_assert_signed_by "$out" alice@example.org
e2e_dkim_verify "$out" >&2 || e2e_fail "DKIM does not verify on the signed message"
e2e_pass "pickup mail from 127.0.0.1: unsigned without +internal, signed with it"
