#!/bin/sh
# t_log_notice - with LogLevel notice the daemon still logs every failed
# message and its reload line, and drops the routine pass lines.
#
#   1. The configuration is switched to LogLevel notice and reloaded: the
#      reload line itself is logged (at notice), or the reload would not
#      be seen.
#   2. A tampered signed message (fail) and an intact one (pass) go
#      through Postfix: the milter log has the fail line with its queue
#      id and no line for the pass.
#   3. The original configuration is restored.
# (The start and stop lines at notice are checked by tests/log_notice.sh,
# which runs its own daemon.)
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter

e2e_conf_set LogLevel notice ||
    e2e_fail "no reload line logged at LogLevel notice"

e2e_entity_text "$E2E_T/content" "Please pay invoice 1000 to account ORIGINAL."
e2e_msg_signed "$E2E_T/good.eml" alice alice@example.org bob@example.net \
    "$E2E_T/content" || e2e_fail "openssl cms -sign failed"
sed 's/account ORIGINAL/account MALLORY/' "$E2E_T/good.eml" >"$E2E_T/bad.eml"
cmp -s "$E2E_T/good.eml" "$E2E_T/bad.eml" && e2e_fail "tampering changed nothing"

off=$(e2e_milter_log_size)
bad=$(e2e_send_inbound "$E2E_T/bad.eml" alice@example.org bob@example.net) ||
    e2e_fail "send failed"
out=$(e2e_wait_delivered "$bad") || e2e_fail "$bad not delivered"
e2e_assert_ar "$out" fail "content altered" >/dev/null || exit 1
good=$(e2e_send_inbound "$E2E_T/good.eml" alice@example.org bob@example.net) ||
    e2e_fail "send failed"
out=$(e2e_wait_delivered "$good") || e2e_fail "$good not delivered"
e2e_assert_ar "$out" pass "signature verified" >/dev/null || exit 1

# The milter logs a message's line before Postfix delivers it.
e2e_milter_log_since "$off" >"$E2E_T/log"
grep -q "^smime-milter: $bad: event=message dir=in .* result=fail " "$E2E_T/log" ||
    e2e_fail "no fail line for $bad at LogLevel notice: $(cat "$E2E_T/log")"
! grep -q "$good: event=message" "$E2E_T/log" ||
    e2e_fail "pass line for $good logged at LogLevel notice: $(cat "$E2E_T/log")"

e2e_conf_restore || e2e_fail "reload of the original configuration failed"
e2e_pass "LogLevel notice: fail line for $bad, no line for the pass $good"
