#!/bin/sh
# t_encrypt_alice - Mode sve through Postfix with opendkim after us: alice
# submits over SASL to encrsa@example.org, whose certificate is in the
# CertificateStore; the delivered message is application/pkcs7-mime
# enveloped-data, DKIM (signed after us) verifies on it, encrsa's key
# decrypts it with openssl and the S/MIME signature inside verifies with
# alice as signer.  The log line says "encrypted for 1 recipient".
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter
e2e_need_signing

e2e_conf_encrypt || e2e_fail "reload with Mode sve failed"

m=$E2E_T/in.eml
e2e_msg_plain "$m" alice@example.org encrsa@example.org "encrypted on submission" \
    "Hello, this should arrive signed by alice and encrypted to encrsa."
qid=$(e2e_send_submit alice@example.org "$m" alice@example.org encrsa@example.org) ||
    e2e_fail "submission failed"
out=$(e2e_wait_delivered "$qid") || e2e_fail "$qid not delivered"

ct=$(e2e_header "$out" Content-Type)
printf '%s\n' "$ct" | grep -q -i 'application/pkcs7-mime; smime-type=enveloped-data' ||
    e2e_fail "not encrypted: Content-Type: $ct"
e2e_dkim_verify "$out" >&2 || e2e_fail "DKIM does not verify on the encrypted message"
openssl cms -decrypt -in "$out" -recip "$E2E_PKI/encrsa.crt" \
    -inkey "$E2E_PKI/encrsa.key" -out "$E2E_T/dec.eml" 2>"$E2E_T/dec.err" ||
    e2e_fail "openssl cannot decrypt: $(cat "$E2E_T/dec.err")"
openssl cms -verify -in "$E2E_T/dec.eml" -CAfile "$E2E_PKI/roots.pem" \
    -out "$E2E_T/content" -signer "$E2E_T/signer.pem" 2>"$E2E_T/ver.err" ||
    e2e_fail "the signature inside does not verify: $(cat "$E2E_T/ver.err")"
openssl x509 -in "$E2E_T/signer.pem" -noout -ext subjectAltName |
    grep -q 'email:alice@example.org' || e2e_fail "signer is not alice"
grep -q 'signed by alice and encrypted' "$E2E_T/content" ||
    e2e_fail "the text is not in the decrypted message"
grep -q 'encrypted=yes encrypt="encrypted for 1 recipient (aes-256-cbc)"' \
    "$E2E_LOG/milter.log" || e2e_fail "no encryption log line"
e2e_conf_restore || e2e_fail "reload of the original configuration failed"
e2e_pass "signed, encrypted, DKIM intact; decrypts and verifies"
