#!/bin/sh
# t_sign_not_as_bob - alice is authenticated but writes From: bob, whose
# key she may not use: the message is delivered unsigned (no S/MIME), and
# likewise for a From address with no keystore entry at all.
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter
e2e_need_signing

for from in bob@example.org nobody-in-keystore@example.org; do
    m=$E2E_T/$from.eml
    e2e_msg_plain "$m" "$from" erin@example.net "alice as $from" "Not alice's address."
    qid=$(e2e_send_submit alice@example.org "$m" "$from" erin@example.net) ||
        e2e_fail "submission as $from failed"
    out=$(e2e_wait_delivered "$qid") || e2e_fail "$qid not delivered"
    e2e_assert_unsigned "$out" "From: $from by login alice"
    e2e_body "$m" >"$E2E_T/body.in"
    e2e_body "$out" >"$E2E_T/body.out"
    cmp -s "$E2E_T/body.in" "$E2E_T/body.out" || e2e_fail "From: $from: body modified"
    e2e_pass "login alice, From: $from: delivered unsigned"
done
