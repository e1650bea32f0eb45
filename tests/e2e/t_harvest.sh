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

store=$E2E_T/certs.mdb
stats=$E2E_T/stats
e2e_certstore_encrsa || e2e_fail "smime-certstore import"
e2e_conf_set CertificateStore "$store" Harvest yes StatsFile "$stats" ||
    e2e_fail "reload with Harvest failed"
snapshot() { e2e_stats_snapshot "$stats" "$1"; }
counter() { sed -n "s/^$2=//p" "$1"; }
snapshot "$E2E_T/before" || e2e_fail "no StatsFile"

e2e_entity_text "$E2E_T/content" "Hello,
a signed message from a partner.
-- 
Alice"
m=$E2E_T/in.eml
e2e_msg_signed "$m" alice alice@example.org bob@example.net "$E2E_T/content" ||
    e2e_fail "openssl cms -sign failed"
qid=$(e2e_send_inbound "$m" alice@example.org bob@example.net) || e2e_fail "send failed"
out=$(e2e_wait_delivered "$qid") || e2e_fail "$qid not delivered"
e2e_assert_ar "$out" pass "signature verified" alice@example.org >/dev/null ||
    exit 1
serial=$(awk '$1 == "alice" { print $2 }' "$E2E_PKI/serials.txt")
list=$("$top_builddir/milter/smime-certstore" list "$store" alice@example.org 2>&1)
printf '%s\n' "$list" | grep -q "^alice@example.org source=harvest serial=$serial " ||
    e2e_fail "alice not harvested: $list"
grep -q "$qid: event=harvest status=stored address=alice@example.org" \
    "$E2E_LOG/milter.log" || e2e_fail "no harvest log line for $qid"
snapshot "$E2E_T/after" || e2e_fail "no StatsFile"
b=$(counter "$E2E_T/before" harvested) a=$(counter "$E2E_T/after" harvested)
[ "$a" -eq $((b + 1)) ] || e2e_fail "harvested went from $b to $a"
e2e_conf_restore || e2e_fail "reload of the original configuration failed"
e2e_pass "harvested (counter $b -> $a): $list"
