#!/bin/sh
# t_sign_alice - alice submits over SASL; the delivered message is S/MIME
# signed by smime-milter (OpenSSL verifies it against the test root, signer
# alice) and DKIM-signed after it by opendkim (python3-dkim verifies), and
# the signed message sent back in on the inbound port gets smime=pass.
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter
e2e_need_signing

m=$E2E_T/in.eml
e2e_msg_plain "$m" alice@example.org bob@example.net "signed on submission" \
    "Hello Bob, this should arrive signed by alice."
qid=$(e2e_send_submit alice@example.org "$m" alice@example.org bob@example.net) ||
    e2e_fail "submission failed"
out=$(e2e_wait_delivered "$qid") || e2e_fail "$qid not delivered"

ct=$(e2e_header "$out" Content-Type)
printf '%s\n' "$ct" | grep -q -i 'multipart/signed' ||
    e2e_fail "not signed: Content-Type: $ct"
printf '%s\n' "$ct" | grep -q -i 'protocol="application/pkcs7-signature"' ||
    e2e_fail "wrong protocol: Content-Type: $ct"
e2e_assert_signed_by "$out" alice@example.org
grep -q 'bob, this should arrive signed by alice' -i "$out" ||
    e2e_fail "the text is not in the signed message"
e2e_dkim_verify "$out" >&2 || e2e_fail "DKIM does not verify on the S/MIME-signed message"

# Round trip: what we signed verifies on the inbound side.
qid2=$(e2e_send_inbound "$out" alice@example.org bob@example.net) || e2e_fail "resend failed"
out2=$(e2e_wait_delivered "$qid2") || e2e_fail "$qid2 not delivered"
ar=$(e2e_assert_ar "$out2" pass "signature verified" alice@example.org) || exit 1
e2e_pass "S/MIME + DKIM signed; inbound: $ar"
