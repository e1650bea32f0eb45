#!/bin/sh
# t_pickup_sign - local submission with sendmail(1) (pickup,
# non_smtpd_milters) under the signing rule.  Postfix presents it to the
# milter from 127.0.0.1 with no SASL login, so with "InternalHosts
# 127.0.0.1" (reloaded with SIGHUP for this test only) it is outbound:
#   - From alice, whose keystore entry lacks +internal: delivered
#     unsigned, the log says why;
#   - after a keystore rebuild that gives alice +internal: S/MIME signed
#     (openssl verifies, signer alice), then DKIM-signed by opendkim.
# The suite's configuration and keystore are put back at the end.
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter
e2e_need_signing

TOOL=$top_builddir/milter/smime-keystore
conf=$E2E_DIR/smime-milter.conf
cp "$conf" "$E2E_T/conf.orig"
restore() {
    cp "$E2E_T/conf.orig" "$conf"
    e2e_milter_reload
    "$TOOL" build "$E2E_DIR/keystore.src" "$E2E_KEYSTORE" >/dev/null 2>&1
}
on_exit() {
    rc=$1
    restore
    [ "${E2E_ATTACHED:-}" = 1 ] || e2e_standalone_exit "$rc"
    exit "$rc"
}
trap 'on_exit $?' EXIT

sed 's/^InternalHosts .*/InternalHosts 127.0.0.1/' "$E2E_T/conf.orig" >"$conf"
grep -q '^InternalHosts 127.0.0.1$' "$conf" ||
    echo "InternalHosts 127.0.0.1" >>"$conf"
e2e_milter_reload || e2e_fail "reload with InternalHosts 127.0.0.1 failed"

# 1. alice's entry has no +internal: not signed
m=$E2E_T/plain.eml
e2e_msg_plain "$m" alice@example.org bob@example.net "pickup, no +internal" \
    "Hello Bob, local mail that must not be signed."
qid=$(e2e_send_local "$m" alice@example.org) || e2e_fail "sendmail submission failed"
out=$(e2e_wait_delivered "$qid") || e2e_fail "$qid not delivered"
ct=$(e2e_header "$out" Content-Type)
case $ct in
    text/plain*) ;;
    *) e2e_fail "without +internal: Content-Type changed to $ct" ;;
esac
grep -q -i 'pkcs7' "$out" && e2e_fail "without +internal: S/MIME content found"
line=$(grep "$qid: event=message" "$E2E_LOG/milter.log" | tail -n 1)
case $line in
    *"dir=out client=127.0.0.1 login=- result=unsigned reason=\"mail without a SASL login may not sign as alice@example.org"*) ;;
    *) e2e_fail "without +internal: milter log: ${line:-no line for $qid}" ;;
esac

# 2. alice's entry lists +internal: signed
{
    echo "alice@example.org $E2E_PKI/alice.pem +internal"
    echo "bob@example.org $E2E_PKI/bob.pem"
} >"$E2E_T/keystore.src"
"$TOOL" build "$E2E_T/keystore.src" "$E2E_KEYSTORE" >"$E2E_T/build.log" 2>&1 ||
    e2e_fail "keystore build failed: $(cat "$E2E_T/build.log")"
m=$E2E_T/internal.eml
e2e_msg_plain "$m" alice@example.org bob@example.net "pickup, +internal" \
    "Hello Bob, local mail signed by alice."
qid=$(e2e_send_local "$m" alice@example.org) || e2e_fail "sendmail submission failed"
out=$(e2e_wait_delivered "$qid") || e2e_fail "$qid not delivered"
e2e_header "$out" Content-Type | grep -q -i 'multipart/signed' ||
    e2e_fail "with +internal: not signed: $(e2e_header "$out" Content-Type)"
e2e_cms_verify "$out" ||
    e2e_fail "openssl cms -verify fails: $(cat "$E2E_T/cms-verify.err")"
openssl cms -verify -in "$out" -CAfile "$E2E_PKI/roots.pem" -out /dev/null \
    -signer "$E2E_T/signer.pem" 2>/dev/null || e2e_fail "cannot extract the signer"
openssl x509 -in "$E2E_T/signer.pem" -noout -ext subjectAltName |
    grep -q 'email:alice@example.org' || e2e_fail "signer is not alice"
e2e_dkim_verify "$out" >&2 || e2e_fail "DKIM does not verify on the signed message"
e2e_pass "pickup mail from 127.0.0.1: unsigned without +internal, signed with it"
