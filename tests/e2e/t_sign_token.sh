#!/bin/sh
# t_sign_token - alice's signing key is on a PKCS#11 token (SoftHSM2 in a
# private token directory; the milter is restarted with SOFTHSM2_CONF,
# PKCS11Module and PKCS11PinFile for this test only):
#   - a SASL submission is delivered S/MIME signed by alice (openssl
#     verifies, signer alice), DKIM-signed after it by opendkim;
#   - with the token gone, a submission is refused with a temporary error
#     (OnError tempfail), one "event=token status=unusable" line logged
#     however many messages fail;
#   - with the token back, the next submission is signed again without a
#     restart, one "event=token status=usable" line.
# The suite's configuration, keystore and milter are put back at the end.
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter
e2e_need_signing
need_tool softhsm2-util softhsm2
MODULE=
for m in /usr/lib/softhsm/libsofthsm2.so \
    /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so; do
	[ -f "$m" ] && MODULE=$m && break
done
[ -n "$MODULE" ] || e2e_fail "libsofthsm2.so not found: install the Debian package softhsm2"

TOOL=$top_builddir/milter/smime-keystore
TOK=$E2E_T/tokens
restore() {
    E2E_MILTER_CONF_EXTRA=
    unset SOFTHSM2_CONF
    "$TOOL" build "$E2E_DIR/keystore.src" "$E2E_KEYSTORE" >/dev/null 2>&1
    e2e_milter_stop
    e2e_milter_restart
}
on_exit() {
    rc=$1
    restore
    [ "${E2E_ATTACHED:-}" = 1 ] || e2e_standalone_exit "$rc"
    exit "$rc"
}
trap 'on_exit $?' EXIT

# the token: alice's key only, certificate from the file
mkdir -p "$TOK"
cat >"$E2E_T/softhsm2.conf" <<EOT
directories.tokendir = $TOK
objectstore.backend = file
log.level = ERROR
EOT
SOFTHSM2_CONF=$E2E_T/softhsm2.conf
export SOFTHSM2_CONF
softhsm2-util --init-token --free --label e2e --pin 2468 \
    --so-pin 13579111 >"$E2E_T/init.log" 2>&1 &&
softhsm2-util --import "$E2E_PKI/alice.key" --token e2e --label alice \
    --id 01 --pin 2468 >>"$E2E_T/init.log" 2>&1 ||
    e2e_fail "SoftHSM2 set-up: $(cat "$E2E_T/init.log")"
printf '2468\n' >"$E2E_T/pin"
chmod 600 "$E2E_T/pin"
E2E_MILTER_CONF_EXTRA="PKCS11Module $MODULE
PKCS11PinFile $E2E_T/pin"
cat >"$E2E_T/build.conf" <<EOT
TrustAnchorFile $E2E_PKI/roots.pem
$E2E_MILTER_CONF_EXTRA
EOT
{
    echo "alice@example.org pkcs11:token=e2e;object=alice;type=private $E2E_PKI/alice.chain.pem"
    echo "bob@example.org $E2E_PKI/bob.pem"
} >"$E2E_T/keystore.src"
"$TOOL" build -c "$E2E_T/build.conf" "$E2E_T/keystore.src" "$E2E_KEYSTORE" \
    >"$E2E_T/build.log" 2>&1 || e2e_fail "build: $(cat "$E2E_T/build.log")"
"$TOOL" list "$E2E_KEYSTORE" | grep -q '^alice@example.org .* key=token ' ||
    e2e_fail "alice's key is not on the token: $("$TOOL" list "$E2E_KEYSTORE")"
e2e_milter_stop
e2e_milter_restart || e2e_fail "the milter does not start with the token"

# 1. signed with the token key
m=$E2E_T/in.eml
e2e_msg_plain "$m" alice@example.org bob@example.net "signed on a token" \
    "Hello Bob, signed by a key that never left its token."
qid=$(e2e_send_submit alice@example.org "$m" alice@example.org bob@example.net) ||
    e2e_fail "submission failed"
out=$(e2e_wait_delivered "$qid") || e2e_fail "$qid not delivered"
e2e_cms_verify "$out" ||
    e2e_fail "openssl cms -verify fails: $(cat "$E2E_T/cms-verify.err")"
openssl cms -verify -in "$out" -CAfile "$E2E_PKI/roots.pem" -out /dev/null \
    -signer "$E2E_T/signer.pem" 2>/dev/null || e2e_fail "cannot extract the signer"
openssl x509 -in "$E2E_T/signer.pem" -noout -ext subjectAltName |
    grep -q 'email:alice@example.org' || e2e_fail "signer is not alice"
e2e_dkim_verify "$out" >&2 || e2e_fail "DKIM does not verify on the S/MIME-signed message"

# 2. the token gone: tempfail, one state line for two messages
start=$(e2e_milter_log_size)
mv "$TOK" "$TOK.away"
mkdir "$TOK"
for i in 1 2; do
    if e2e_send_submit alice@example.org "$m" alice@example.org \
        bob@example.net >"$E2E_T/gone$i.qid" 2>"$E2E_T/gone$i.log"; then
        e2e_fail "accepted while the token is gone"
    fi
    grep -q '<\*\* *4[0-9][0-9]' "$E2E_T/gone$i.log" ||
        e2e_fail "not a temporary error: $(cat "$E2E_T/gone$i.log")"
done
e2e_milter_log_since "$start" >"$E2E_T/gone.milter"
[ "$(grep -c 'event=token status=unusable' "$E2E_T/gone.milter")" = 1 ] ||
    e2e_fail "want one event=token status=unusable line: $(cat "$E2E_T/gone.milter")"
[ "$(grep -c 'result=tempfail reason="signing failed: The requested PKCS #11 object is not available"$' "$E2E_T/gone.milter")" = 2 ] ||
    e2e_fail "want two tempfail lines saying why: $(cat "$E2E_T/gone.milter")"

# 3. the token back: signed again, no restart
start=$(e2e_milter_log_size)
rmdir "$TOK"
mv "$TOK.away" "$TOK"
qid=$(e2e_send_submit alice@example.org "$m" alice@example.org bob@example.net) ||
    e2e_fail "submission failed after the token came back"
out=$(e2e_wait_delivered "$qid") || e2e_fail "$qid not delivered"
e2e_cms_verify "$out" ||
    e2e_fail "not signed after the token came back: $(cat "$E2E_T/cms-verify.err")"
e2e_milter_log_since "$start" >"$E2E_T/back.milter"
[ "$(grep -c 'event=token status=usable' "$E2E_T/back.milter")" = 1 ] ||
    e2e_fail "want one event=token status=usable line: $(cat "$E2E_T/back.milter")"
e2e_pass "signed with a token key, DKIM intact; tempfail while gone, back without a restart"
