#!/bin/sh
# t_verify_malformed - malformed S/MIME (garbage CMS; truncated CMS at the
# end of a message cut short) is delivered with smime=permerror: never
# rejected, never lost, never left in the queue.
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter

malformed() {   # malformed OUT SIGNATURE-BASE64-LINES CLOSE-BOUNDARY(yes|no)
    {
        e2e_msg_head alice@example.org bob@example.net "malformed S/MIME"
        printf 'MIME-Version: 1.0\n'
        printf 'Content-Type: multipart/signed; protocol="application/pkcs7-signature";\n'
        printf '\tmicalg=sha-256; boundary="=-e2e-boundary"\n\n'
        printf 'This is an S/MIME signed message\n\n--=-e2e-boundary\n'
        e2e_entity_text - "Signed text."
        printf '\n--=-e2e-boundary\n'
        printf 'Content-Type: application/pkcs7-signature; name="smime.p7s"\n'
        printf 'Content-Transfer-Encoding: base64\n'
        printf 'Content-Disposition: attachment; filename="smime.p7s"\n\n'
        printf '%s\n' "$2"
        [ "$3" = yes ] && printf '\n--=-e2e-boundary--\n'
    } >"$1"
}

# A real signature, cut to its first half.
e2e_entity_text "$E2E_T/content" "Signed text."
e2e_msg_signed "$E2E_T/good.eml" alice alice@example.org bob@example.net "$E2E_T/content" ||
    e2e_fail "openssl cms -sign failed"
sig=$(awk '/^Content-Type: application\/pkcs7-signature/ { s = 1 }
           s && /^$/ { b = 1; next } b && /^-/ { exit } b { print }' "$E2E_T/good.eml")
lines=$(printf '%s\n' "$sig" | grep -c .)
[ "$lines" -gt 4 ] || e2e_fail "could not extract the signature from $E2E_T/good.eml"
half=$(printf '%s\n' "$sig" | head -n $((lines / 2)))

malformed "$E2E_T/garbage.eml" "$(printf 'not a CMS signature' | base64)" yes
malformed "$E2E_T/truncated.eml" "$half" no

for m in "$E2E_T/garbage.eml" "$E2E_T/truncated.eml"; do
    qid=$(e2e_send_inbound "$m" alice@example.org bob@example.net) ||
        e2e_fail "$(basename "$m"): not accepted"
    out=$(e2e_wait_delivered "$qid") || e2e_fail "$(basename "$m"): $qid not delivered"
    ar=$(e2e_assert_ar "$out" permerror) || exit 1
    e2e_pass "$(basename "$m"): $ar"
done
n=$(postqueue -c "$E2E_ETC" -j | grep -c . || true)
[ "$n" -eq 0 ] || e2e_fail "$n message(s) left in the queue: $(postqueue -c "$E2E_ETC" -p)"
