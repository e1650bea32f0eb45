#!/bin/sh
# t_certstore_load - 200 SMTP sessions open at once, harvesting and
# encrypting against one CertificateStore while `smime-certstore import`
# and `delete` write to it in a loop (Mode sve, Harvest yes):
#   - 50 inbound messages signed by alice and 50 by bob (partners: their
#     certificates are harvested), to carol@example.org;
#   - 50 SASL submissions from alice to encrsa@example.org (RSA) and 50
#     from bob to encec@example.org (P-256, ECDH), both imported.
# tests/e2e/burst.py holds every session after EHLO (and AUTH) until all
# 200 are open (the milter then holds at least 200 sockets: Postfix
# connects to it before its greeting), then each sends.  Meanwhile a
# loop imports encrsa, encec and ecdh384 and deletes ecdh384 again.
# Then: every session got 250, every message is delivered exactly once
# (counted per recipient), each inbound one with smime=pass, each
# outbound one enveloped-data that `openssl cms -decrypt` opens with the
# recipient's key, alice's or bob's signature verifying inside; every
# inbound message logged one harvest (stored or kept), none failed;
# `smime-certstore check -c CONF` finds no problem and the store lists
# exactly alice and bob (harvested), encrsa and encec (imported).
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter
e2e_need_signing
N=200
tool=$top_builddir/milter/smime-certstore
store=$E2E_T/certs.mdb

"$tool" import "$store" "$E2E_PKI/encec.chain.pem" >/dev/null ||
    e2e_fail "smime-certstore import"
e2e_conf_encrypt Harvest yes ||
    e2e_fail "reload with Mode sve, Harvest yes failed"

# Templates; each message gets its own Message-ID (outside any
# signature) and the outbound ones their job's ID in the text.
for p in alice bob; do
    e2e_entity_text "$E2E_T/content-$p" "A signed message from partner $p."
    e2e_msg_signed "$E2E_T/t-in-$p" "$p" "$p@example.org" carol@example.org \
        "$E2E_T/content-$p" "load: signed by $p" || e2e_fail "openssl cms -sign failed"
done
i=0
while [ $i -lt $N ]; do
    case $((i % 4)) in
        0) id=in-alice-$i port=$E2E_INBOUND_PORT login=- from=alice@example.org to=carol@example.org ;;
        1) id=in-bob-$i port=$E2E_INBOUND_PORT login=- from=bob@example.org to=carol@example.org ;;
        2) id=out-encrsa-$i port=$E2E_SUBMIT_PORT login=alice@example.org from=alice@example.org to=encrsa@example.org ;;
        *) id=out-encec-$i port=$E2E_SUBMIT_PORT login=bob@example.org from=bob@example.org to=encec@example.org ;;
    esac
    f=$E2E_T/$id.eml mid="<$id.$$@e2e.test.example>"
    case $id in
        in-*) sed "s/^Message-ID: .*/Message-ID: $mid/" "$E2E_T/t-in-${from%@*}" >"$f" ;;
        *) e2e_msg_plain - "$from" "$to" "load: $id" "Hello, burst job $id." |
               sed "s/^Message-ID: .*/Message-ID: $mid/" >"$f" ;;
    esac
    echo "$id $port $login $from $to $f $mid"
    i=$((i + 1))
done >"$E2E_T/jobs"

# The writer: until $E2E_T/stop exists, import and delete; each round's
# failures go to writer.err.  It has done a round before the sessions start.
writer() {
    n=0
    while [ ! -f "$E2E_T/stop" ]; do
        "$tool" import "$store" "$E2E_PKI/encrsa.chain.pem" "$E2E_PKI/encec.chain.pem" \
            "$E2E_PKI/ecdh384.chain.pem" >>"$E2E_T/writer.out" 2>&1 ||
            echo "round $n: import failed" >>"$E2E_T/writer.err"
        "$tool" delete "$store" ecdh384@example.org >>"$E2E_T/writer.out" 2>&1 ||
            echo "round $n: delete failed" >>"$E2E_T/writer.err"
        n=$((n + 1))
        echo "$n" >"$E2E_T/rounds"
    done
}
: >"$E2E_T/writer.err"
writer &
wpid=$!
e2e_at_exit 'touch "$E2E_T/stop"; wait '"$wpid"
i=0
while [ ! -s "$E2E_T/rounds" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$E2E_T/rounds" ] || e2e_fail "the import loop did not finish a round in 30 s"

"$E2E_PY" "$E2E_SRC/burst.py" send "$E2E_T/jobs" "$E2E_MILTER_PID" >"$E2E_T/sent.raw" ||
    e2e_fail "the $N sessions were not all open at once: $(grep FAILED "$E2E_T/sent.raw" | head -n 3)"
sockets=$(sed -n 's/^sockets //p' "$E2E_T/sent.raw")
grep -v '^sockets ' "$E2E_T/sent.raw" >"$E2E_T/sent"
[ "${sockets:-0}" -ge $N ] ||
    e2e_fail "with all $N sessions open the milter held ${sockets:-no} sockets"
"$E2E_PY" "$E2E_SRC/burst.py" wait "$E2E_T/sent" "$E2E_LOG/maillog" "$E2E_OUT" 120 >&2 ||
    e2e_fail "not every message was delivered"
touch "$E2E_T/stop"
wait "$wpid"
rounds=$(cat "$E2E_T/rounds")
[ ! -s "$E2E_T/writer.err" ] ||
    e2e_fail "smime-certstore failed meanwhile: $(cat "$E2E_T/writer.err") $(tail -n 5 "$E2E_T/writer.out")"

"$E2E_PY" "$E2E_SRC/burst.py" check "$E2E_T/sent" "$E2E_OUT" "$E2E_PKI" "$E2E_AUTHSERV" \
    >"$E2E_T/check.out"
rc=$?
cat "$E2E_T/check.out" >&2
[ $rc -eq 0 ] || e2e_fail "delivered mail not as it should be (see above)"
[ "$(grep -c . "$E2E_T/sent")" -eq $N ] || e2e_fail "not $N sessions"

# One harvest line per inbound message, stored or kept; none failed.
bad=0
for q in $(awk '$1 ~ /^in-/ { print $2 }' "$E2E_T/sent"); do
    l=$(grep -c "$q: event=harvest status=\(stored\|kept\) " "$E2E_LOG/milter.log")
    [ "$l" -eq 1 ] || { e2e_say "$q: $l harvest lines stored or kept:" \
        "$(grep "$q: event=harvest" "$E2E_LOG/milter.log")"; bad=$((bad + 1)); }
done
[ $bad -eq 0 ] || e2e_fail "$bad inbound messages without exactly one harvest line"
for q in $(awk '$1 ~ /^in-/ { print $2 }' "$E2E_T/sent"); do
    grep "$q: event=harvest status=stored " "$E2E_LOG/milter.log"
done >"$E2E_T/stored"
for p in alice bob; do
    grep -q "address=$p@example.org" "$E2E_T/stored" ||
        e2e_fail "$p's certificate was never stored: $(cat "$E2E_T/stored")"
done

"$tool" check "$store" -c "$E2E_DIR/smime-milter.conf" >"$E2E_T/check-store" 2>&1 ||
    e2e_fail "smime-certstore check: $(cat "$E2E_T/check-store")"
"$tool" list "$store" >"$E2E_T/list" 2>&1 || e2e_fail "smime-certstore list: $(cat "$E2E_T/list")"
for want in "alice@example.org source=harvest serial=$(awk '$1 == "alice" { print $2 }' "$E2E_PKI/serials.txt") " \
            "bob@example.org source=harvest serial=$(awk '$1 == "bob" { print $2 }' "$E2E_PKI/serials.txt") " \
            "encrsa@example.org source=import " "encec@example.org source=import "; do
    grep -q "^$want" "$E2E_T/list" || e2e_fail "not in the store: $want ($(cat "$E2E_T/list"))"
done
[ "$(cut -d' ' -f1 "$E2E_T/list" | sort -u | wc -l)" -eq 4 ] ||
    e2e_fail "the store lists other addresses: $(cat "$E2E_T/list")"
e2e_pass "$N sessions open at once (milter sockets: $sockets) during $rounds import/delete rounds;" \
    "$(cat "$E2E_T/check.out"); every outbound one decrypts; alice and bob harvested; store checks clean"
