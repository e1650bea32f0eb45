#!/bin/sh
# t_ops_stats - SIGUSR1 writes the counters to StatsFile (and the log):
# after a SIGHUP that sets StatsFile, a snapshot is taken, six messages
# go through Postfix (inbound: unsigned, signed by alice, tampered;
# submission: signed as alice, From without a keystore entry, From bob
# whom alice may not sign as), and a second snapshot must differ from
# the first by exactly those messages.  The log's event=stats line says
# the same as the file.
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter
e2e_need_signing

stats=$E2E_T/stats

snapshot() { e2e_stats_snapshot "$stats" "$1"; }

# counter FILE KEY: the value of KEY in a snapshot.
counter() { awk -F= -v k="$2" '$1 == k { print $2 }' "$1"; }

# StatsInterval 0: only the signals write the file, so each snapshot is
# the one its log line describes.
e2e_conf_set StatsFile "$stats" StatsInterval 0 ||
    e2e_fail "reload with StatsFile failed"
snapshot "$E2E_T/before" || e2e_fail "no StatsFile after SIGUSR1"

# the file: key=value lines only, every counter there, mode 0644
grep -v -q -E '^[a-z_]+=[0-9]+$' "$E2E_T/before" &&
    e2e_fail "not key=value lines: $(grep -v -E '^[a-z_]+=[0-9]+$' "$E2E_T/before" | head -n 3)"
for k in uptime time messages inbound outbound result_pass result_fail \
         result_none signed unsigned_no_entry unsigned_login_not_allowed \
         errors tempfails; do
    [ -n "$(counter "$E2E_T/before" $k)" ] || e2e_fail "$k missing from the StatsFile"
done
[ "$(stat -c %a "$stats")" = 644 ] || e2e_fail "StatsFile mode $(stat -c %a "$stats")"
ls "$E2E_T" | grep -q '^stats\.' && e2e_fail "temporary file left: $(ls "$E2E_T")"

send_in() {
    qid=$(e2e_send_inbound "$1" "$2" bob@example.net) || e2e_fail "send $1 failed"
    e2e_wait_delivered "$qid" >/dev/null || e2e_fail "$qid not delivered"
}
send_sub() {
    qid=$(e2e_send_submit alice@example.org "$1" "$2" erin@example.net) ||
        e2e_fail "submit $1 failed"
    e2e_wait_delivered "$qid" >/dev/null || e2e_fail "$qid not delivered"
}

e2e_msg_plain "$E2E_T/plain.eml" carol@example.net bob@example.net "plain" "Hello."
send_in "$E2E_T/plain.eml" carol@example.net
e2e_entity_text "$E2E_T/content" "Hello Bob, signed by alice."
e2e_msg_signed "$E2E_T/signed.eml" alice alice@example.org bob@example.net \
    "$E2E_T/content" || e2e_fail "openssl cms -sign failed"
send_in "$E2E_T/signed.eml" alice@example.org
sed 's/Hello Bob, signed/Hello Bob, forged/' "$E2E_T/signed.eml" >"$E2E_T/tampered.eml"
send_in "$E2E_T/tampered.eml" alice@example.org
e2e_msg_plain "$E2E_T/out.eml" alice@example.org erin@example.net "out" "Sign me."
send_sub "$E2E_T/out.eml" alice@example.org
e2e_msg_plain "$E2E_T/noentry.eml" carol@example.org erin@example.net "x" "No key."
send_sub "$E2E_T/noentry.eml" carol@example.org
e2e_msg_plain "$E2E_T/asbob.eml" bob@example.org erin@example.net "x" "Not mine."
send_sub "$E2E_T/asbob.eml" bob@example.org

snapshot "$E2E_T/after" || e2e_fail "no StatsFile after the second SIGUSR1"
e2e_conf_restore || e2e_fail "reload of the original configuration failed"

bad=
for want in messages=6 inbound=3 outbound=3 result_none=1 result_pass=1 \
            result_fail=1 result_policy=0 result_permerror=0 signed=1 \
            unsigned_no_entry=1 unsigned_login_not_allowed=1 \
            unsigned_other=0 aborted=0 errors=0 tempfails=0; do
    k=${want%%=*}
    d=$(( $(counter "$E2E_T/after" "$k") - $(counter "$E2E_T/before" "$k") ))
    [ "$d" -eq "${want#*=}" ] || bad="$bad $k+$d (want +${want#*=})"
done
[ -z "$bad" ] || e2e_fail "counter deltas wrong:$bad"
[ "$(counter "$E2E_T/after" uptime)" -ge "$(counter "$E2E_T/before" uptime)" ] ||
    e2e_fail "uptime went backwards"

# the log line of the second snapshot carries the same numbers
line=$(grep 'event=stats ' "$E2E_LOG/milter.log" |
    grep " time=$(counter "$E2E_T/after" time) " | tail -n 1)
[ -n "$line" ] || e2e_fail "no event=stats log line for the snapshot"
for k in messages signed result_pass unsigned_no_entry; do
    printf '%s\n' "$line" | grep -q " $k=$(counter "$E2E_T/after" $k)\\b" ||
        e2e_fail "log line disagrees with the file on $k: $line"
done
e2e_pass "6 messages counted: $(grep -E '^(messages|signed|result_pass|result_fail)=' "$E2E_T/after" | tr '\n' ' ')"
