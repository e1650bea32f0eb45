#!/bin/sh
# t_decrypt - Mode d through Postfix (reloaded with SIGHUP to "Mode svd"
# and a keystore that also holds encrsa's decryption key, for this test
# only; the milter then asks Postfix for the recipients):
#   - a message alice signed and openssl encrypted to encrsa, sent to
#     encrsa@example.org: delivered decrypted, smime=pass, the
#     DecryptHeader says integrity=signature, the body is the plaintext;
#   - the same message to encrsa@example.org and bob@example.net (no
#     key): delivered unchanged, smime=none (encrypted, not decrypted:
#     no key for recipient bob@example.net).
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

{
    cat "$E2E_DIR/keystore.src"
    echo "encrsa@example.org $E2E_PKI/encrsa.pem"
} >"$E2E_T/keystore.src"
"$TOOL" build "$E2E_T/keystore.src" "$E2E_KEYSTORE" >"$E2E_T/build.log" 2>&1 ||
    e2e_fail "keystore build: $(cat "$E2E_T/build.log")"
sed 's/^Mode .*/Mode svd/' "$E2E_T/conf.orig" >"$conf"
e2e_milter_reload || e2e_fail "reload with Mode svd failed"

# alice signs, openssl encrypts to encrsa
printf 'Content-Type: text/plain; charset=us-ascii\r\n\r\nHello, signed and encrypted.\r\n' \
    >"$E2E_T/inner.txt"
openssl cms -sign -in "$E2E_T/inner.txt" -signer "$E2E_PKI/alice.crt" \
    -inkey "$E2E_PKI/alice.key" -certfile "$E2E_PKI/inter.crt" \
    -out "$E2E_T/signed.txt" || e2e_fail "openssl cms -sign"
openssl cms -encrypt -aes256 -in "$E2E_T/signed.txt" \
    -out "$E2E_T/enc.txt" "$E2E_PKI/encrsa.crt" || e2e_fail "openssl cms -encrypt"
m=$E2E_T/in.eml
{
    printf 'From: alice@example.org\nTo: encrsa@example.org\n'
    printf 'Subject: encrypted\nMessage-ID: <dec1@example.org>\n'
    cat "$E2E_T/enc.txt"
} >"$m"

# 1. the one recipient has a key: decrypted and verified
qid=$(e2e_send_inbound "$m" alice@example.org encrsa@example.org) ||
    e2e_fail "send failed"
out=$(e2e_wait_delivered "$qid") || e2e_fail "$qid not delivered"
ar=$(e2e_assert_ar "$out" pass "signature verified" alice@example.org) || exit 1
dh=$(e2e_header "$out" X-SMIME-Decrypted)
[ "$dh" = "for=encrsa@example.org; cipher=aes-256-cbc; integrity=signature" ] ||
    e2e_fail "DecryptHeader: \"$dh\""
ct=$(e2e_header "$out" Content-Type)
case $ct in
    multipart/signed*) ;;
    *) e2e_fail "Content-Type of the decrypted message: $ct" ;;
esac
e2e_body "$E2E_T/signed.txt" >"$E2E_T/body.want"
e2e_body "$out" >"$E2E_T/body.got"
cmp -s "$E2E_T/body.want" "$E2E_T/body.got" ||
    e2e_fail "the body is not the plaintext openssl was given"
line=$(grep "$qid: event=message" "$E2E_LOG/milter.log" | tail -n 1)
case $line in
    *"result=pass"*"decrypted=yes cipher=aes-256-cbc integrity=signature"*) ;;
    *) e2e_fail "milter log: ${line:-no line for $qid}" ;;
esac

# 2. a second recipient without a key: delivered as it came
sed 's/<dec1@/<dec2@/' "$m" >"$E2E_T/in2.eml"
qid=$(e2e_send_inbound "$E2E_T/in2.eml" alice@example.org \
    encrsa@example.org,bob@example.net) || e2e_fail "send failed"
out=$(e2e_wait_delivered "$qid") || e2e_fail "$qid not delivered"
e2e_assert_ar "$out" none \
    "encrypted, not decrypted: no key for recipient bob@example.net" >/dev/null ||
    exit 1
[ -z "$(e2e_header "$out" X-SMIME-Decrypted)" ] ||
    e2e_fail "two recipients: DecryptHeader added"
e2e_body "$E2E_T/in2.eml" >"$E2E_T/body2.want"
e2e_body "$out" >"$E2E_T/body2.got"
cmp -s "$E2E_T/body2.want" "$E2E_T/body2.got" ||
    e2e_fail "two recipients: the body was changed"
e2e_pass "decrypted for encrsa ($ar); left encrypted with bob as a recipient"
