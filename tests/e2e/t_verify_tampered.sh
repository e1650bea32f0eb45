#!/bin/sh
# t_verify_tampered - a signed message whose content was changed after
# signing gets smime=fail (content altered) and is still delivered.
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter

e2e_entity_text "$E2E_T/content" "Please pay invoice 1000 to account ORIGINAL."
e2e_msg_signed "$E2E_T/signed.eml" alice alice@example.org bob@example.net "$E2E_T/content" ||
    e2e_fail "openssl cms -sign failed"
m=$E2E_T/in.eml
sed 's/account ORIGINAL/account MALLORY/' "$E2E_T/signed.eml" >"$m"
cmp -s "$E2E_T/signed.eml" "$m" && e2e_fail "tampering changed nothing"
openssl cms -verify -in "$m" -CAfile "$E2E_PKI/roots.pem" -out /dev/null 2>/dev/null &&
    e2e_fail "openssl verifies the tampered message: the test is wrong"

qid=$(e2e_send_inbound "$m" alice@example.org bob@example.net) || e2e_fail "send failed"
out=$(e2e_wait_delivered "$qid") || e2e_fail "$qid not delivered"
ar=$(e2e_assert_ar "$out" fail "content altered") || exit 1
e2e_pass "$ar"
