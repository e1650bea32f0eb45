#!/bin/sh
# t_sign_rebuild - the keystore is rebuilt (smime-keystore build renames a
# new file into place) while 200 messages from alice are being submitted
# by 4 parallel clients.  Every message must be delivered and S/MIME
# signed (openssl verifies it); a message submitted wholly before the
# rebuild started carries the old certificate (serial 1001), one
# submitted after the rebuild finished the new one (serial 2001, a fresh
# key for alice@example.org made here by the test intermediate).
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter
e2e_need_signing

N=50 CLIENTS=4

# A second credential for alice@example.org: new key, serial 2001.
"${CERTTOOL:-certtool}" --generate-privkey --key-type rsa --bits 2048 \
    --pkcs8 --password '' --no-text --outfile "$E2E_T/alice2.key" \
    >/dev/null 2>&1 || e2e_fail "certtool: cannot make a key"
cat >"$E2E_T/alice2.tmpl" <<EOT
cn = "Test User alice (new key)"
organization = "smime-milter test"
serial = 0x2001
activation_date = "2020-01-01 00:00:00 UTC"
expiration_date = "2099-12-31 23:59:59 UTC"
email = "alice@example.org"
signing_key
non_repudiation
email_protection_key
EOT
"${CERTTOOL:-certtool}" --generate-certificate --no-text \
    --load-privkey "$E2E_T/alice2.key" \
    --load-ca-certificate "$E2E_PKI/inter.crt" \
    --load-ca-privkey "$E2E_PKI/inter.key" \
    --template "$E2E_T/alice2.tmpl" --outfile "$E2E_T/alice2.crt" \
    >/dev/null 2>&1 || e2e_fail "certtool: cannot make a certificate"
cat "$E2E_T/alice2.key" "$E2E_T/alice2.crt" "$E2E_PKI/inter.crt" \
    >"$E2E_T/alice2.pem"
printf 'alice@example.org alice2.pem\nbob@example.org %s/bob.pem\n' \
    "$E2E_PKI" >"$E2E_T/keystore2.src"

now() { date +%s%N; }

# client C: send N messages, log "QID START END" per message
client() {
    i=1
    while [ $i -le $N ]; do
        m=$E2E_T/c$1-$i.eml
        e2e_msg_plain "$m" alice@example.org bob@example.net \
            "rebuild run client $1 message $i" "Message $i of client $1."
        t0=$(now)
        qid=$(e2e_send_submit alice@example.org "$m" alice@example.org \
            bob@example.net) || { echo "FAILED $1-$i" >>"$E2E_T/sent.$1"; i=$((i + 1)); continue; }
        echo "$qid $t0 $(now)" >>"$E2E_T/sent.$1"
        i=$((i + 1))
    done
}

c=1
while [ $c -le $CLIENTS ]; do
    : >"$E2E_T/sent.$c"
    client $c &
    c=$((c + 1))
done
# rebuild when about a third of the messages are in
while [ "$(cat "$E2E_T"/sent.* | wc -l)" -lt $((N * CLIENTS / 3)) ]; do
    sleep 0.1
done
r0=$(now)
e2e_keystore_use "$E2E_T/keystore2.src" || { wait; e2e_fail "rebuild failed"; }
r1=$(now)
wait

cat "$E2E_T"/sent.* >"$E2E_T/sent"
grep -q FAILED "$E2E_T/sent" &&
    e2e_fail "submissions failed: $(grep -c FAILED "$E2E_T/sent")"
total=$(wc -l <"$E2E_T/sent")
[ "$total" -eq $((N * CLIENTS)) ] || e2e_fail "only $total messages sent"

old=0 new=0 either=0
while read -r qid t0 t1; do
    out=$(e2e_wait_delivered "$qid" 120) || e2e_fail "$qid not delivered"
    e2e_cms_verify "$out" -signer "$E2E_T/signer.pem" ||
        e2e_fail "$qid: not signed or does not verify: $(cat "$E2E_T/cms-verify.err")"
    serial=$(openssl x509 -in "$E2E_T/signer.pem" -noout -serial | sed 's/.*=//')
    if [ "$t1" -lt "$r0" ]; then
        [ "$serial" = 1001 ] || e2e_fail "$qid sent before the rebuild: serial $serial"
        old=$((old + 1))
    elif [ "$t0" -gt "$r1" ]; then
        [ "$serial" = 2001 ] || e2e_fail "$qid sent after the rebuild: serial $serial"
        new=$((new + 1))
    else
        case $serial in 1001|2001) ;; *) e2e_fail "$qid: serial $serial" ;; esac
        either=$((either + 1))
    fi
done <"$E2E_T/sent"
[ $old -gt 0 ] && [ $new -gt 0 ] ||
    e2e_fail "run too short to tell: $old before, $new after the rebuild"
e2e_pass "$total messages signed and delivered: $old with the old key, $new with the new key, $either during the rebuild"
