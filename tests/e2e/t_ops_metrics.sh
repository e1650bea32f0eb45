#!/bin/sh
# t_ops_metrics - a StatsFile named *.prom holds the counters in the
# Prometheus text format (node_exporter's textfile collector), and the
# daemon rewrites it every StatsInterval seconds without any signal:
# after a SIGHUP that sets StatsFile and StatsInterval 1, the file turns
# up by itself; it parses by the format's rules (promparse.py, with
# prometheus_client's parser); two inbound messages (unsigned, signed by
# alice) then show up in a later rewrite, again without a signal, as
# results_total{direction="inbound",result="none"|"pass"} and
# messages_total{direction="inbound"} deltas.  Mode 0644, no temporary
# file left beside it.
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter

prom=$E2E_T/smime-milter.prom

"$E2E_PY" -c 'import prometheus_client' 2>/dev/null ||
    e2e_fail "prometheus_client missing: install the Debian package python3-prometheus-client"

# parse OUT: the current file, parsed, to OUT (fails on a format error).
parse() { "$E2E_PY" "$E2E_SRC/promparse.py" "$prom" >"$1"; }
# sample FILE KEY: a sample's value in a parsed file.
sample() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }
pass_k='smime_milter_results_total{direction="inbound",result="pass"}'
none_k='smime_milter_results_total{direction="inbound",result="none"}'
in_k='smime_milter_messages_total{direction="inbound"}'
# delta KEY: after minus before.
delta() { echo $(( $(sample "$E2E_T/now" "$1") - $(sample "$E2E_T/before" "$1") )); }

e2e_conf_set StatsFile "$prom" StatsInterval 1 ||
    e2e_fail "reload with StatsFile $prom failed"
i=0
while [ ! -f "$prom" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
[ -f "$prom" ] || e2e_fail "no periodic write of $prom within 30 s (no signal sent)"
parse "$E2E_T/before" 2>"$E2E_T/parse.err" ||
    e2e_fail "$prom does not parse: $(cat "$E2E_T/parse.err")"
for k in "$pass_k" "$none_k" "$in_k" smime_milter_errors_total \
         smime_milter_tempfails_total smime_milter_aborted_total \
         'smime_milter_results_total{direction="outbound",result="signed"}' \
         smime_milter_start_time_seconds; do
    [ -n "$(sample "$E2E_T/before" "$k")" ] || e2e_fail "$k missing: $(cat "$E2E_T/before")"
done
[ "$(stat -c %a "$prom")" = 644 ] || e2e_fail "mode $(stat -c %a "$prom")"

e2e_msg_plain "$E2E_T/plain.eml" carol@example.net bob@example.net "plain" "Hello."
qid=$(e2e_send_inbound "$E2E_T/plain.eml" carol@example.net bob@example.net) || e2e_fail "send plain failed"
e2e_wait_delivered "$qid" >/dev/null || e2e_fail "$qid not delivered"
e2e_entity_text "$E2E_T/content" "Hello Bob, signed by alice."
e2e_msg_signed "$E2E_T/signed.eml" alice alice@example.org bob@example.net \
    "$E2E_T/content" || e2e_fail "openssl cms -sign failed"
qid=$(e2e_send_inbound "$E2E_T/signed.eml" alice@example.org bob@example.net) || e2e_fail "send signed failed"
e2e_wait_delivered "$qid" >/dev/null || e2e_fail "$qid not delivered"

# a later rewrite counts both (bounded wait, still no signal)
i=0
while :; do
    parse "$E2E_T/now" 2>"$E2E_T/parse.err" ||
        e2e_fail "$prom does not parse: $(cat "$E2E_T/parse.err")"
    [ "$(delta "$in_k")" -ge 2 ] && break
    [ $i -lt 300 ] || e2e_fail "no rewrite with the two messages within 30 s"
    sleep 0.1; i=$((i + 1))
done
e2e_conf_restore || e2e_fail "reload of the original configuration failed"
[ "$(delta "$in_k")" -eq 2 ] || e2e_fail "inbound +$(delta "$in_k"), want +2"
[ "$(delta "$pass_k")" -eq 1 ] || e2e_fail "pass +$(delta "$pass_k"), want +1"
[ "$(delta "$none_k")" -eq 1 ] || e2e_fail "none +$(delta "$none_k"), want +1"
ls "$E2E_T" | grep -q '^smime-milter\.prom\.' && e2e_fail "temporary file left: $(ls "$E2E_T")"
e2e_pass "Prometheus textfile rewritten without signals: $(grep -F -e "$pass_k" -e "$none_k" "$E2E_T/now" | tr '\n' ' ')"
