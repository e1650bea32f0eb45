#!/bin/sh
# t_harvest - Harvest through the running daemon: after a SIGHUP that
# adds CertificateStore and Harvest yes (the store is opened by the
# daemon's worker thread at its first use, after start-up and reload),
# an inbound message signed by alice (OpenSSL) passes and her
# certificate is in the store as harvested, as smime-certstore list
# shows; the delivered message carries the same verdict as without.
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter

conf=$E2E_DIR/smime-milter.conf
store=$E2E_T/certs.mdb
cp "$conf" "$E2E_T/conf.orig"
restore() { cp "$E2E_T/conf.orig" "$conf"; e2e_milter_reload; }

"$top_builddir/milter/smime-certstore" import "$store" \
    "$E2E_PKI/encrsa.chain.pem" >/dev/null || e2e_fail "smime-certstore import"
printf 'CertificateStore %s\nHarvest yes\nStatsFile %s\n' "$store" \
    "$E2E_T/stats" >>"$conf"
e2e_milter_reload || { restore; e2e_fail "reload with Harvest failed"; }
stats=$E2E_T/stats
# snapshot OUT: SIGUSR1, wait (bounded) for a new StatsFile, copy it.
snapshot() {
    rm -f "$stats"
    kill -USR1 "$E2E_MILTER_PID" || return 1
    _i=0
    while [ ! -f "$stats" ] && [ $_i -lt 100 ]; do
        sleep 0.1; _i=$((_i + 1))
    done
    [ -f "$stats" ] && cp "$stats" "$1"
}
counter() { sed -n "s/^$2=//p" "$1"; }
snapshot "$E2E_T/before" || { restore; e2e_fail "no StatsFile"; }

e2e_entity_text "$E2E_T/content" "Hello,
a signed message from a partner.
-- 
Alice"
m=$E2E_T/in.eml
e2e_msg_signed "$m" alice alice@example.org bob@example.net "$E2E_T/content" ||
    { restore; e2e_fail "openssl cms -sign failed"; }
qid=$(e2e_send_inbound "$m" alice@example.org bob@example.net) || { restore; e2e_fail "send failed"; }
out=$(e2e_wait_delivered "$qid") || { restore; e2e_fail "$qid not delivered"; }
e2e_assert_ar "$out" pass "signature verified" alice@example.org >/dev/null ||
    { restore; exit 1; }
serial=$(awk '$1 == "alice" { print $2 }' "$E2E_PKI/serials.txt")
list=$("$top_builddir/milter/smime-certstore" list "$store" alice@example.org 2>&1)
printf '%s\n' "$list" | grep -q "^alice@example.org source=harvest serial=$serial " ||
    { restore; e2e_fail "alice not harvested: $list"; }
grep -q "$qid: event=harvest status=stored address=alice@example.org" \
    "$E2E_LOG/milter.log" || { restore; e2e_fail "no harvest log line for $qid"; }
snapshot "$E2E_T/after" || { restore; e2e_fail "no StatsFile"; }
b=$(counter "$E2E_T/before" harvested) a=$(counter "$E2E_T/after" harvested)
[ "$a" -eq $((b + 1)) ] || { restore; e2e_fail "harvested went from $b to $a"; }
restore || e2e_fail "reload of the original configuration failed"
e2e_pass "harvested (counter $b -> $a): $list"
