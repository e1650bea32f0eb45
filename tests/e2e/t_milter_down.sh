#!/bin/sh
# t_milter_down - with smime-milter down, Postfix answers 4xx
# (milter_default_action = tempfail): the client keeps the message, nothing
# passes unverified.  Once the milter is back, the same message goes
# through and is verified.
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter

m=$E2E_T/in.eml
e2e_msg_plain "$m" carol@example.net dave@example.com "while the milter is down" "Hello."
e2e_milter_stop
if e2e_send_inbound "$m" carol@example.net dave@example.com >"$E2E_T/qid" 2>"$E2E_T/swaks.err"; then
    e2e_milter_restart
    e2e_fail "accepted while smime-milter was down (queue id $(cat "$E2E_T/qid"))"
fi
grep -E -q '<\*\* +4[0-9][0-9] ' "$E2E_T/swaks.err" || {
    e2e_milter_restart
    e2e_fail "no 4xx reply while smime-milter was down: $(cat "$E2E_T/swaks.err")"
}
e2e_milter_restart || e2e_fail "smime-milter did not restart"
qid=$(e2e_send_inbound "$m" carol@example.net dave@example.com) || e2e_fail "send failed after restart"
out=$(e2e_wait_delivered "$qid") || e2e_fail "$qid not delivered"
ar=$(e2e_assert_ar "$out" none) || exit 1
e2e_pass "4xx while down ($(grep -E -o '<\*\* +4[0-9][0-9][^[:cntrl:]]*' "$E2E_T/swaks.err" | head -n 1)); after restart: $ar"
