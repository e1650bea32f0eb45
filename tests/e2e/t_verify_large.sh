#!/bin/sh
# t_verify_large - a 20 MiB clear-signed message verifies (smime=pass)
# through Postfix while the milter's peak resident set size (VmHWM) stays
# under 20 MB: the body is streamed, never held.
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter
limit_kb=20000
size=$((20 * 1024 * 1024))

e2e_entity_large "$E2E_T/content" "$size"
m=$E2E_T/in.eml
e2e_msg_signed "$m" alice alice@example.org bob@example.net "$E2E_T/content" "20 MiB signed" ||
    e2e_fail "openssl cms -sign failed"
[ "$(wc -c <"$m")" -gt "$size" ] || e2e_fail "message smaller than 20 MiB"

qid=$(e2e_send_inbound "$m" alice@example.org bob@example.net) || e2e_fail "send failed"
out=$(e2e_wait_delivered "$qid" 300) || e2e_fail "$qid not delivered"
ar=$(e2e_assert_ar "$out" pass "signature verified" alice@example.org) || exit 1

[ -z "$SMIME_MILTER_WRAPPER" ] || e2e_skip "peak RSS not meaningful under $SMIME_MILTER_WRAPPER"
hwm=$(e2e_milter_hwm_kb)
[ -n "$hwm" ] || e2e_fail "no VmHWM for milter pid $E2E_MILTER_PID"
echo "smime-milter peak RSS (VmHWM) after a $(wc -c <"$m")-byte message: $hwm kB (limit $limit_kb kB)"
[ "$hwm" -lt "$limit_kb" ] || e2e_fail "milter peak RSS $hwm kB >= $limit_kb kB"
e2e_pass "VmHWM $hwm kB; $ar"
