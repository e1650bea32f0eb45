#!/bin/sh
# t_verify_signed - inbound mail clear-signed by alice (OpenSSL as the
# independent signer) is delivered with exactly one Authentication-Results
# of ours saying smime=pass with alice's identity, serial and issuer; the
# body arrives byte-identical and OpenSSL still verifies it.
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter

e2e_entity_text "$E2E_T/content" "Hello Bob,
this message is signed by alice with S/MIME.
-- 
Alice"
m=$E2E_T/in.eml
e2e_msg_signed "$m" alice alice@example.org bob@example.net "$E2E_T/content" ||
    e2e_fail "openssl cms -sign failed"
qid=$(e2e_send_inbound "$m" alice@example.org bob@example.net) || e2e_fail "send failed"
out=$(e2e_wait_delivered "$qid") || e2e_fail "$qid not delivered"

ar=$(e2e_assert_ar "$out" pass "signature verified" alice@example.org) || exit 1
serial=$(awk '$1 == "alice" { print $2 }' "$E2E_PKI/serials.txt")
printf '%s\n' "$ar" | grep -q -i "body.smime-serial=$serial\\b" ||
    e2e_fail "expected body.smime-serial=$serial in: $ar"
printf '%s\n' "$ar" | grep -F -q 'body.smime-part=1' ||
    e2e_fail "expected body.smime-part=1 in: $ar"
printf '%s\n' "$ar" | grep -F -q 'body.smime-issuer="CN=Test Intermediate CA,O=smime-milter test"' ||
    e2e_fail "expected the intermediate as body.smime-issuer in: $ar"

# The milter only adds a header: the signed body is untouched.
e2e_body "$m" >"$E2E_T/body.in"
e2e_body "$out" >"$E2E_T/body.out"
cmp -s "$E2E_T/body.in" "$E2E_T/body.out" || e2e_fail "the body was modified"
e2e_cms_verify "$out" || e2e_fail "openssl cannot verify the delivered message: $(cat "$E2E_T/cms-verify.err")"
e2e_pass "$ar"
