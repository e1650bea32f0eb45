#!/bin/sh
# t_encrypt_rcpt - the encryption policy at RCPT through Postfix: after a
# SIGHUP to Mode sve with an EncryptPolicyFile (new connections then
# negotiate RCPT), a SASL submission to a required recipient without a
# certificate is refused with 550 5.7.1 at RCPT TO, and one to a required
# recipient whose certificate is in the CertificateStore is accepted and
# delivered.  (The encryption itself is not part of this test.)
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter
e2e_need_signing

printf 'encrsa@example.org required\nnocert.example required\n' \
    >"$E2E_T/policy"
stats=$E2E_T/stats
e2e_conf_encrypt EncryptPolicyFile "$E2E_T/policy" StatsFile "$stats" ||
    e2e_fail "reload with Mode sve failed"
snapshot() { e2e_stats_snapshot "$stats" "$1"; }
counter() { sed -n "s/^$2=//p" "$1"; }
snapshot "$E2E_T/before" || e2e_fail "no StatsFile"

m=$E2E_T/out.eml
e2e_msg_plain "$m" alice@example.org a@nocert.example "policy" "Hello."
log=$E2E_T/swaks.log
if swaks --server "127.0.0.1:$E2E_SUBMIT_PORT" --helo client.test.example \
        --from alice@example.org --to a@nocert.example --data "$m" \
        --auth PLAIN --auth-user alice@example.org \
        --auth-password "$(e2e_password alice@example.org)" \
        --timeout 60 >"$log" 2>&1; then
    e2e_fail "a required recipient without a certificate was accepted"
fi
grep -q '<\*\* 550 5\.7\.1 ' "$log" ||
    e2e_fail "no 550 5.7.1 at RCPT: $(grep -E '^ *<' "$log" | tail -n 3)"

e2e_msg_plain "$m" alice@example.org encrsa@example.org "policy" "Hello."
qid=$(e2e_send_submit alice@example.org "$m" alice@example.org encrsa@example.org) ||
    e2e_fail "required recipient with a certificate refused"
e2e_wait_delivered "$qid" >/dev/null || e2e_fail "$qid not delivered"
snapshot "$E2E_T/after" || e2e_fail "no StatsFile"
b=$(counter "$E2E_T/before" rcpt_rejected) a=$(counter "$E2E_T/after" rcpt_rejected)
[ "$a" -eq $((b + 1)) ] || e2e_fail "rcpt_rejected went from $b to $a"
e2e_conf_restore || e2e_fail "reload of the original configuration failed"
e2e_pass "550 5.7.1 without a certificate, delivered with one"
