#!/bin/sh
# t_encrypt_split - EncryptSplit with a real Postfix client re-sending.
# A second private Postfix (e2e_relay_start) takes one message from
# alice@example.org to encrsa@example.org (certificate in the store) and
# bob@example.net (none; opportunistic) and relays it with its smtp(8)
# client, SASL-authenticated as alice, to the suite's submission port
# (Mode sve).
#   - EncryptSplit no: one transaction, both recipients accepted, the
#     message not encrypted (bob has no certificate): both copies signed
#     by alice, neither enveloped-data.
#   - EncryptSplit yes: the milter answers the second recipient 452 4.5.3
#     at RCPT; the relay's log shows it deferred, and its queue manager
#     sends it in a second transaction (another queue id here).  encrsa's
#     copy is enveloped-data that `openssl cms -decrypt` opens with
#     encrsa's key, with alice's signature inside verifying; bob's is
#     signed by alice and not encrypted.  The milter logged two messages:
#     one encrypted for 1 recipient, one not encrypted.
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter
e2e_need_signing
need_tool postqueue postfix

e2e_relay_start || e2e_fail "could not start the relaying Postfix"

# sent_qid RCPT: the queue id of the suite's Postfix in the relay's
# "status=sent ... queued as QID" line for RCPT (the last one); empty
# when there is none yet.
sent_qid() {
    grep -F " to=<$1>," "$E2E_RELAY_LOG" 2>/dev/null | grep ' status=sent ' |
        sed -n 's/.*queued as \([0-9A-Za-z]*\).*/\1/p' | tail -n 1
}

# relay LEG: send the message for LEG through the relay; wait (bounded)
# until the relay has sent both recipients on; flush the relay's queue
# once a recipient is deferred.
relay() {
    m=$E2E_T/$1.eml
    e2e_msg_plain "$m" alice@example.org "encrsa@example.org, bob@example.net" \
        "split $1" "Hello, mail for a partner with and one without a certificate ($1)."
    e2e_swaks "$E2E_RELAY_PORT" "$m" alice@example.org encrsa@example.org \
        --to encrsa@example.org,bob@example.net >"$E2E_T/$1.relayqid" ||
        e2e_fail "$1: the relay refused the message"
    rqid=$(cat "$E2E_T/$1.relayqid")
    flushed='' i=0
    while [ $i -lt 300 ]; do
        n=$(grep -c " $rqid: to=<.*status=sent " "$E2E_RELAY_LOG" 2>/dev/null)
        [ "${n:-0}" -ge 2 ] && return 0
        if [ -z "$flushed" ] &&
           grep -q " $rqid: to=<.*status=deferred" "$E2E_RELAY_LOG" 2>/dev/null; then
            e2e_relay_flush; flushed=yes
        fi
        if grep -E -q " $rqid: to=<.*status=(bounced|expired)" "$E2E_RELAY_LOG"; then
            grep " $rqid: " "$E2E_RELAY_LOG" >&2
            e2e_fail "$1: the relay bounced a recipient"
        fi
        sleep 0.1; i=$((i + 1))
    done
    grep " $rqid: " "$E2E_RELAY_LOG" >&2
    e2e_fail "$1: the relay did not send both recipients within 30 s"
}

# plain_signed FILE WHAT: delivered signed by alice, not encrypted.
plain_signed() {
    ct=$(e2e_header "$1" Content-Type)
    printf '%s\n' "$ct" | grep -q -i 'multipart/signed' ||
        e2e_fail "$2: not signed as it should be: Content-Type: $ct"
    e2e_assert_signed_by "$1" alice@example.org
}

e2e_conf_encrypt EncryptSplit no ||
    e2e_fail "reload with Mode sve, EncryptSplit no failed"

# 1. EncryptSplit no: one transaction, nothing encrypted.
relay nosplit
grep -q " $rqid: to=<.*status=deferred" "$E2E_RELAY_LOG" &&
    e2e_fail "EncryptSplit no: a recipient was deferred: $(grep " $rqid: " "$E2E_RELAY_LOG")"
q1=$(sent_qid encrsa@example.org) q2=$(sent_qid bob@example.net)
[ -n "$q1" ] && [ "$q1" = "$q2" ] ||
    e2e_fail "EncryptSplit no: not one transaction (queued as '$q1' and '$q2')"
e2e_wait_delivered "$q1" >/dev/null || e2e_fail "EncryptSplit no: $q1 not delivered"
[ -f "$E2E_OUT/$q1.2" ] || e2e_fail "EncryptSplit no: only one copy of $q1 delivered"
plain_signed "$E2E_OUT/$q1" "EncryptSplit no"
plain_signed "$E2E_OUT/$q1.2" "EncryptSplit no"
grep -q "$q1: event=message .*encrypted=no encrypt=\"not encrypted: .*bob@example.net" \
    "$E2E_LOG/milter.log" ||
    e2e_fail "EncryptSplit no: no 'not encrypted' log line for $q1"

# 2. EncryptSplit yes: 452 at RCPT, the relay re-sends.
e2e_conf_set EncryptSplit yes || e2e_fail "reload with EncryptSplit yes failed"
off=$(e2e_milter_log_size)
relay split
grep -E -q " $rqid: to=<(encrsa@example.org|bob@example.net)>,.*status=deferred .*said: 452 4\.5\.3 .*in reply to RCPT TO" \
    "$E2E_RELAY_LOG" ||
    e2e_fail "EncryptSplit yes: no recipient deferred with 452 4.5.3 at RCPT by the relay: $(grep " $rqid: " "$E2E_RELAY_LOG")"
qe=$(sent_qid encrsa@example.org) qb=$(sent_qid bob@example.net)
[ -n "$qe" ] && [ -n "$qb" ] && [ "$qe" != "$qb" ] ||
    e2e_fail "EncryptSplit yes: not two transactions (queued as '$qe' and '$qb')"
enc=$(e2e_wait_delivered "$qe") || e2e_fail "EncryptSplit yes: $qe not delivered"
plain=$(e2e_wait_delivered "$qb") || e2e_fail "EncryptSplit yes: $qb not delivered"
[ ! -f "$E2E_OUT/$qe.2" ] && [ ! -f "$E2E_OUT/$qb.2" ] ||
    e2e_fail "EncryptSplit yes: a transaction was delivered twice"

ct=$(e2e_header "$enc" Content-Type)
printf '%s\n' "$ct" | grep -q -i 'application/pkcs7-mime; smime-type=enveloped-data' ||
    e2e_fail "encrsa's copy is not encrypted: Content-Type: $ct"
openssl cms -decrypt -in "$enc" -recip "$E2E_PKI/encrsa.crt" \
    -inkey "$E2E_PKI/encrsa.key" -out "$E2E_T/dec.eml" 2>"$E2E_T/dec.err" ||
    e2e_fail "openssl cannot decrypt encrsa's copy: $(cat "$E2E_T/dec.err")"
e2e_assert_signed_by "$E2E_T/dec.eml" alice@example.org
grep -q 'one without a certificate (split)' "$E2E_T/dec.eml" ||
    e2e_fail "the text is not in encrsa's decrypted copy"
plain_signed "$plain" "bob's copy"
grep -q 'one without a certificate (split)' "$plain" ||
    e2e_fail "the text is not in bob's copy"

log=$E2E_T/milter-split.log
e2e_milter_log_since "$off" >"$log"
grep -E -q 'event=rcpt rcpt=(encrsa@example.org|bob@example.net) .*reply=452 xcode=4\.5\.3 .*EncryptSplit' "$log" ||
    e2e_fail "no event=rcpt line with reply=452 4.5.3 (EncryptSplit)"
grep -q "$qe: event=message .*encrypted=yes encrypt=\"encrypted for 1 recipient " "$log" ||
    e2e_fail "no 'encrypted for 1 recipient' line for $qe"
grep -q "$qb: event=message .*encrypted=no " "$log" ||
    e2e_fail "no 'not encrypted' line for $qb"
[ "$(grep -c 'event=message ' "$log")" -eq 2 ] ||
    e2e_fail "expected 2 messages in the milter log, found $(grep -c 'event=message ' "$log")"
e2e_pass "EncryptSplit no: one plain transaction ($q1); yes: 452, re-sent by Postfix: $qe encrypted, $qb plain"
