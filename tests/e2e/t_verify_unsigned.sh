#!/bin/sh
# t_verify_unsigned - an unsigned message gets smime=none (AddNoneResult
# defaults to yes) and its body is untouched.
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter

m=$E2E_T/in.eml
e2e_msg_plain "$m" carol@example.net dave@example.com "not signed" "Just text."
qid=$(e2e_send_inbound "$m" carol@example.net dave@example.com) || e2e_fail "send failed"
out=$(e2e_wait_delivered "$qid") || e2e_fail "$qid not delivered"
ar=$(e2e_assert_ar "$out" none) || exit 1
e2e_body "$m" >"$E2E_T/body.in"
e2e_body "$out" >"$E2E_T/body.out"
cmp -s "$E2E_T/body.in" "$E2E_T/body.out" || e2e_fail "the body was modified"
e2e_pass "$ar"
