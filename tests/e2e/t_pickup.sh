#!/bin/sh
# t_pickup - mail submitted with sendmail(1) passes non_smtpd_milters: a
# message signed by alice verifies (smime=pass) and opendkim, the second
# milter, still signs what smime-milter let through.
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter

e2e_entity_text "$E2E_T/content" "Locally submitted, signed by alice."
m=$E2E_T/in.eml
e2e_msg_signed "$m" alice alice@example.org bob@example.net "$E2E_T/content" ||
    e2e_fail "openssl cms -sign failed"
qid=$(e2e_send_local "$m" alice@example.org) || e2e_fail "sendmail submission failed"
out=$(e2e_wait_delivered "$qid") || e2e_fail "$qid not delivered"
ar=$(e2e_assert_ar "$out" pass "signature verified" alice@example.org) || exit 1
e2e_header "$out" DKIM-Signature | grep -q 'd=example.org' ||
    e2e_fail "opendkim (after smime-milter) did not sign"
e2e_dkim_verify "$out" >&2 || e2e_fail "DKIM does not verify"
e2e_cms_verify "$out" || e2e_fail "openssl cannot verify the delivered message"
e2e_pass "$ar"
