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

conf=$E2E_DIR/smime-milter.conf
store=$E2E_T/certs.mdb
cp "$conf" "$E2E_T/conf.orig"
restore() { cp "$E2E_T/conf.orig" "$conf"; e2e_milter_reload; }

"$top_builddir/milter/smime-certstore" import "$store" \
    "$E2E_PKI/encrsa.chain.pem" >/dev/null || e2e_fail "smime-certstore import"
printf 'encrsa@example.org required\nnocert.example required\n' \
    >"$E2E_T/policy"
sed -i 's/^Mode sv$/Mode sve/' "$conf"
printf 'CertificateStore %s\nEncryptPolicyFile %s\nStatsFile %s\n' \
    "$store" "$E2E_T/policy" "$E2E_T/stats" >>"$conf"
e2e_milter_reload || { restore; e2e_fail "reload with Mode sve failed"; }
stats=$E2E_T/stats
# snapshot OUT: SIGUSR1, wait (bounded) for a new StatsFile, copy it.
snapshot() {
    rm -f "$stats"
    kill -USR1 "$E2E_MILTER_PID" || return 1
    _i=0
    while [ ! -f "$stats" ] && [ $_i -lt 100 ]; do
        sleep 0.1; _i=$((_i + 1))
    done
    [ -f "$stats" ] && cp "$stats" "$1"
}
counter() { sed -n "s/^$2=//p" "$1"; }
snapshot "$E2E_T/before" || { restore; e2e_fail "no StatsFile"; }

m=$E2E_T/out.eml
e2e_msg_plain "$m" alice@example.org a@nocert.example "policy" "Hello."
log=$E2E_T/swaks.log
if swaks --server "127.0.0.1:$E2E_SUBMIT_PORT" --helo client.test.example \
        --from alice@example.org --to a@nocert.example --data "$m" \
        --auth PLAIN --auth-user alice@example.org \
        --auth-password "$(e2e_password alice@example.org)" \
        --timeout 60 >"$log" 2>&1; then
    restore; e2e_fail "a required recipient without a certificate was accepted"
fi
grep -q '<\*\* 550 5\.7\.1 ' "$log" ||
    { restore; e2e_fail "no 550 5.7.1 at RCPT: $(grep -E '^ *<' "$log" | tail -n 3)"; }

e2e_msg_plain "$m" alice@example.org encrsa@example.org "policy" "Hello."
qid=$(e2e_send_submit alice@example.org "$m" alice@example.org encrsa@example.org) ||
    { restore; e2e_fail "required recipient with a certificate refused"; }
e2e_wait_delivered "$qid" >/dev/null || { restore; e2e_fail "$qid not delivered"; }
snapshot "$E2E_T/after" || { restore; e2e_fail "no StatsFile"; }
b=$(counter "$E2E_T/before" rcpt_rejected) a=$(counter "$E2E_T/after" rcpt_rejected)
[ "$a" -eq $((b + 1)) ] || { restore; e2e_fail "rcpt_rejected went from $b to $a"; }
restore || e2e_fail "reload of the original configuration failed"
e2e_pass "550 5.7.1 without a certificate, delivered with one"
