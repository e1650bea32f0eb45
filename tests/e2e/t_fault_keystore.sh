#!/bin/sh
# t_fault_keystore - the keystore is deleted, truncated in place and
# overwritten with garbage in place while the milter runs (SPEC,
# smime-keystore(8): damage never stops signing).  Each time alice's mail
# is still signed, with the last good keystore; a sender without an entry
# is delivered unsigned as always (never 4xx); the milter logs one
# warning per change, not one per message.  A rebuilt keystore is taken
# at once, without a restart: one with alice only leaves bob's mail
# unsigned.
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter
e2e_need_signing

KS=$E2E_KEYSTORE
e2e_keystore_keep
rebuild() { e2e_keystore_use "${1:-$E2E_DIR/keystore.src}"; }

n=0
# send LOGIN FROM WHAT: submit a new message; print the delivered file.
send() {
    n=$((n + 1))
    e2e_msg_plain "$E2E_T/m$n.eml" "$2" erin@example.net \
        "keystore fault $n" "Message $n."
    qid=$(e2e_send_submit "$1" "$E2E_T/m$n.eml" "$2" erin@example.net) ||
        e2e_fail "$3: submission failed (4xx?)"
    e2e_wait_delivered "$qid" || e2e_fail "$3: $qid not delivered"
}
# signed LOGIN FROM WHAT: the next message from FROM arrives signed.
signed() {
    out=$(send "$@") || exit 1
    e2e_cms_verify "$out" ||
        e2e_fail "$3: not signed: $(cat "$E2E_T/cms-verify.err")"
}
# unsigned LOGIN FROM WHAT: ... arrives unchanged, unsigned.
unsigned() {
    out=$(send "$@") || exit 1
    e2e_assert_unsigned "$out" "$3"
}
# logged SINCE COUNT PATTERN WHAT: COUNT event=keystore lines since the
# log offset SINCE, each matching PATTERN.
logged() {
    lines=$(e2e_milter_log_since "$1" | grep 'event=keystore')
    got=$(printf '%s\n' "$lines" | grep -c 'event=keystore')
    [ "$got" -eq "$2" ] ||
        e2e_fail "$4: $got event=keystore lines, expected $2: $lines"
    if [ "$2" -gt 0 ] && printf '%s\n' "$lines" | grep -v -q -- "$3"; then
        e2e_fail "$4: a line does not match \"$3\": $lines"
    fi
}

# damaged WHAT PATTERN: the keystore was just damaged: alice's mail is
# still signed (twice), a sender without an entry is delivered
# unsigned, and exactly one warning matching PATTERN is logged.
damaged() {
    off=$(e2e_milter_log_size)
    signed alice@example.org alice@example.org "$1, first"
    unsigned bob@example.org nobody@example.org "$1, no entry"
    signed alice@example.org alice@example.org "$1, second"
    logged "$off" 1 "status=unusable .*$2" "$1"
    e2e_pass "$1: still signing; one warning: $(e2e_milter_log_since "$off" |
        grep 'event=keystore' | sed 's/.*error=//')"
}
# repaired WHAT: rebuilt: one reload line, alice signed.
repaired() {
    rebuild || e2e_fail "rebuild failed"
    off=$(e2e_milter_log_size)
    signed alice@example.org alice@example.org "after $1"
    logged "$off" 1 "status=reloaded" "after $1"
}

signed alice@example.org alice@example.org "before"
rm -f "$KS"
damaged deleted "cannot open keystore"
repaired deleted
truncate -s 3000 "$KS"
damaged "truncated in place" "keystore"
repaired truncated
head -c 8192 /dev/urandom | dd of="$KS" conv=notrunc status=none
damaged "garbage in place" "keystore"
repaired garbage

# a good keystore without bob: used at once
grep -v '^bob@' "$E2E_DIR/keystore.src" >"$E2E_T/alice-only.src"
rebuild "$E2E_T/alice-only.src" || e2e_fail "rebuild (alice only) failed"
off=$(e2e_milter_log_size)
unsigned bob@example.org bob@example.org "bob, keystore without him"
signed alice@example.org alice@example.org "alice, keystore without bob"
logged "$off" 1 "status=reloaded" "keystore without bob"
rebuild || e2e_fail "rebuild failed"
signed bob@example.org bob@example.org "bob, keystore with him again"
e2e_pass "a rebuilt keystore is used at once: bob unsigned without an entry, signed with one"
