#!/bin/sh
# t_deliver - the harness itself: a plain message sent to the inbound port
# reaches the pipe transport intact (body byte-identical, headers kept).
. "$(dirname "$0")/lib.sh"
e2e_test_begin

m=$E2E_T/in.eml
e2e_msg_plain "$m" carol@example.net dave@example.com "plain delivery" \
    "Hello through a private Postfix.
.a line that starts with a dot
last line"
qid=$(e2e_send_inbound "$m" carol@example.net dave@example.com) || e2e_fail "send failed"
out=$(e2e_wait_delivered "$qid") || e2e_fail "$qid not delivered"

e2e_body "$m" >"$E2E_T/body.in"
e2e_body "$out" >"$E2E_T/body.out"
cmp -s "$E2E_T/body.in" "$E2E_T/body.out" ||
    e2e_fail "body changed: $(diff "$E2E_T/body.in" "$E2E_T/body.out" | head -n 20)"
[ "$(e2e_header "$out" Subject)" = "plain delivery" ] || e2e_fail "Subject lost"
e2e_header "$out" Received | grep -q "$E2E_AUTHSERV" || e2e_fail "no Received by $E2E_AUTHSERV"
e2e_pass "delivered as $out"
