#!/bin/sh
# t_verify_forged_ar - Authentication-Results headers that claim to be ours
# (any case, folded or not) are removed (RFC 8601 section 5); other hosts'
# headers stay, in order; ours says the truth (unsigned: smime=none).
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter

m=$E2E_T/in.eml
{
    printf 'Authentication-Results: mx.test.example; smime=pass (forged)\n'
    printf '\tbody.smime-identifier=ceo@example.org\n'
    printf 'Authentication-Results: relay1.example.net; spf=pass smtp.mailfrom=example.net\n'
    printf 'Authentication-Results: MX.Test.Example;\n\tsmime=pass (forged too)\n'
    printf 'Authentication-Results: relay2.example.net; dkim=none\n'
    e2e_msg_plain - ceo@example.org dave@example.com "urgent transfer" "Send money."
} >"$m"
qid=$(e2e_send_inbound "$m" ceo@example.org dave@example.com) || e2e_fail "send failed"
out=$(e2e_wait_delivered "$qid") || e2e_fail "$qid not delivered"

e2e_header "$out" Authentication-Results | grep -q forged &&
    e2e_fail "a forged header survived: $(e2e_header "$out" Authentication-Results)"
ar=$(e2e_assert_ar "$out" none) || exit 1
others=$(e2e_header "$out" Authentication-Results | grep '^relay' | cut -d';' -f1 | tr '\n' ' ')
[ "$others" = "relay1.example.net relay2.example.net " ] ||
    e2e_fail "other hosts' headers not kept in order: $others"
e2e_pass "forged removed, kept: $others; ours: $ar"
