#!/bin/sh
# t_submit - the submission port: SASL is required and checked, and
# opendkim (the milter after smime-milter) signs what alice submits, with a
# signature that python3-dkim verifies offline.
. "$(dirname "$0")/lib.sh"
e2e_test_begin

m=$E2E_T/in.eml
e2e_msg_plain "$m" alice@example.org erin@example.net "submitted" "Hello from alice."

if e2e_swaks "$E2E_SUBMIT_PORT" "$m" alice@example.org erin@example.net \
        >/dev/null 2>&1; then
    e2e_fail "submission port accepted mail without SASL"
fi
if e2e_swaks "$E2E_SUBMIT_PORT" "$m" alice@example.org erin@example.net --auth PLAIN \
        --auth-user alice@example.org --auth-password wrong >/dev/null 2>&1; then
    e2e_fail "submission port accepted a wrong password"
fi

qid=$(e2e_send_submit alice@example.org "$m" alice@example.org erin@example.net) ||
    e2e_fail "authenticated submission failed"
out=$(e2e_wait_delivered "$qid") || e2e_fail "$qid not delivered"
grep " $qid: client=" "$E2E_LOG/maillog" | grep -q "sasl_username=alice@example.org" ||
    e2e_fail "maillog shows no sasl_username=alice@example.org for $qid"
e2e_header "$out" DKIM-Signature | grep -q 'd=example.org' ||
    e2e_fail "no DKIM-Signature d=example.org from opendkim"
e2e_dkim_verify "$out" >&2 || e2e_fail "DKIM signature does not verify"
e2e_pass "SASL enforced; DKIM-signed by opendkim and verified"
