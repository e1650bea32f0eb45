#!/bin/sh
# t_verify_opaque - opaque signed mail (application/pkcs7-mime;
# smime-type=signed-data, `openssl cms -sign -nodetach`) verifies as pass
# through Postfix, and arrives unchanged.
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter

e2e_entity_text "$E2E_T/content" "Opaque signed content from alice."
openssl cms -sign -nodetach -md sha256 -in "$E2E_T/content" -outform SMIME \
    -signer "$E2E_PKI/alice.crt" -inkey "$E2E_PKI/alice.key" \
    -certfile "$E2E_PKI/inter.crt" -out "$E2E_T/cms" || e2e_fail "openssl cms -sign failed"
m=$E2E_T/in.eml
{
    e2e_msg_head alice@example.org bob@example.net "opaque signed"
    sed 's/\r$//' "$E2E_T/cms"
} >"$m"
grep -q -i '^Content-Type: application/.*pkcs7-mime' "$m" || e2e_fail "openssl made no pkcs7-mime"

qid=$(e2e_send_inbound "$m" alice@example.org bob@example.net) || e2e_fail "send failed"
out=$(e2e_wait_delivered "$qid") || e2e_fail "$qid not delivered"
ar=$(e2e_assert_ar "$out" pass "signature verified" alice@example.org) || exit 1
printf '%s\n' "$ar" | grep -F -q 'body.smime-part=1' || e2e_fail "expected body.smime-part=1 in: $ar"
e2e_body "$m" >"$E2E_T/body.in"
e2e_body "$out" >"$E2E_T/body.out"
cmp -s "$E2E_T/body.in" "$E2E_T/body.out" || e2e_fail "the body was modified"
e2e_cms_verify "$out" || e2e_fail "openssl cannot verify the delivered message"
e2e_pass "$ar"
