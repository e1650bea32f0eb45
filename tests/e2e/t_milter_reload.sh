#!/bin/sh
# t_milter_reload - SIGHUP reloads the configuration in the running daemon:
# with "AddNoneResult no" unsigned mail gets no header of ours (and forged
# ones are still removed); after restoring the file and another SIGHUP,
# smime=none is back.  The milter keeps its pid throughout.
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter

pid=$E2E_MILTER_PID

m=$E2E_T/in.eml
{
    printf 'Authentication-Results: mx.test.example; smime=pass (forged)\n'
    e2e_msg_plain - carol@example.net dave@example.com "reload" "Hello."
} >"$m"

e2e_conf_set AddNoneResult no || e2e_fail "reload with AddNoneResult no failed"
qid=$(e2e_send_inbound "$m" carol@example.net dave@example.com) || e2e_fail "send failed"
out=$(e2e_wait_delivered "$qid") || e2e_fail "$qid not delivered"
n=$(e2e_ours "$out" | grep -c . || true)
[ "$n" -eq 0 ] || e2e_fail "AddNoneResult no: still $n header(s) of ours: $(e2e_ours "$out")"

e2e_conf_restore || e2e_fail "reload of the original configuration failed"
qid=$(e2e_send_inbound "$m" carol@example.net dave@example.com) || e2e_fail "send failed"
out=$(e2e_wait_delivered "$qid") || e2e_fail "$qid not delivered"
ar=$(e2e_assert_ar "$out" none) || exit 1
if [ "$E2E_MILTER_PID" != "$pid" ] || ! e2e_alive "$pid" smime-milter; then
    e2e_fail "the milter restarted"
fi
e2e_pass "AddNoneResult toggled by SIGHUP; forged header removed both times"
