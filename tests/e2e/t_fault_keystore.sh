#!/bin/sh
# t_fault_keystore - the keystore is deleted, truncated in place and
# overwritten with garbage while the milter runs.  Each time alice's
# submission gets 4xx (OnError tempfail: nothing leaves unsigned), the
# milter logs why, and once a good keystore is built again her mail is
# signed again -- without a restart.
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter
e2e_need_signing

TOOL=$top_builddir/milter/smime-keystore
KS=$E2E_KEYSTORE
rebuild() { "$TOOL" build "$E2E_DIR/keystore.src" "$KS" >/dev/null 2>&1; }
on_exit() {
    rc=$1
    rebuild
    [ "${E2E_ATTACHED:-}" = 1 ] || e2e_standalone_exit "$rc"
    exit "$rc"
}
trap 'on_exit $?' EXIT

n=0
# signed_ok WHAT: alice's next submission arrives signed.
signed_ok() {
    n=$((n + 1))
    e2e_msg_plain "$E2E_T/m$n.eml" alice@example.org bob@example.net \
        "keystore fault $n" "Message $n."
    qid=$(e2e_send_submit alice@example.org "$E2E_T/m$n.eml" alice@example.org \
        bob@example.net) || e2e_fail "$1: submission failed"
    out=$(e2e_wait_delivered "$qid") || e2e_fail "$1: $qid not delivered"
    e2e_cms_verify "$out" || e2e_fail "$1: not signed: $(cat "$E2E_T/cms-verify.err")"
}

# refused WHAT PATTERN: alice's next submission gets 4xx and the milter
# logs a tempfail line matching PATTERN.
refused() {
    n=$((n + 1))
    e2e_msg_plain "$E2E_T/m$n.eml" alice@example.org bob@example.net \
        "keystore fault $n" "Message $n."
    mid=$(e2e_header "$E2E_T/m$n.eml" Message-ID)
    off=$(e2e_milter_log_size)
    reply=$(e2e_send_expect_4xx "$E2E_SUBMIT_PORT" "$E2E_T/m$n.eml" \
        alice@example.org bob@example.net --auth PLAIN --auth-user alice@example.org \
        --auth-password "$(e2e_password alice@example.org)") ||
        e2e_fail "$1: no 4xx"
    line=$(e2e_milter_log_since "$off" | grep 'event=message dir=out .* result=tempfail' | tail -n 1)
    printf '%s\n' "$line" | grep -q -- "$2" ||
        e2e_fail "$1: no tempfail log line matching \"$2\": $(e2e_milter_log_since "$off" | tail -n 3)"
    [ "$(e2e_delivered_count "$mid")" -eq 0 ] || e2e_fail "$1: delivered anyway"
    echo "$1: $reply; log: $(printf '%s\n' "$line" | sed 's/.*reason=//')"
}

signed_ok "before"
rm -f "$KS"
refused deleted "cannot open keystore" >"$E2E_T/r1" || exit 1
rebuild || e2e_fail "rebuild failed"
signed_ok "after deleted"
truncate -s 3000 "$KS"
refused truncated "keystore" >"$E2E_T/r2" || exit 1
rebuild || e2e_fail "rebuild failed"
signed_ok "after truncated"
head -c 8192 /dev/urandom | dd of="$KS" conv=notrunc status=none
refused garbage "keystore" >"$E2E_T/r3" || exit 1
rebuild || e2e_fail "rebuild failed"
signed_ok "after garbage"
while read -r line; do e2e_pass "$line"; done <"$E2E_T/r1"
while read -r line; do e2e_pass "$line"; done <"$E2E_T/r2"
while read -r line; do e2e_pass "$line"; done <"$E2E_T/r3"
e2e_pass "signed before, and again after each rebuild"
