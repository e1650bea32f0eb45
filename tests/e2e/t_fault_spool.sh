#!/bin/sh
# t_fault_spool - the SpoolDirectory.  1. During a 20 MiB outbound
# message the spill file exists only as an open, unlinked file of mode
# 0600 (the directory stays empty).  2. With a 64 KiB tmpfs mounted on
# the SpoolDirectory and filled, and 3. with it read-only, a 2 MiB
# submission (over SpoolThreshold, so it must spill) gets 4xx with a log
# line saying why, while a 2 MiB signed inbound message still verifies
# (verification never spools); with room again the submission is signed.
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter
e2e_need_signing

SP=$E2E_SPOOL
mounted=no
e2e_at_exit '[ $mounted = no ] || umount "$SP" 2>/dev/null'

submit() {    # submit FILE: alice submits FILE, print the queue id
    e2e_send_submit alice@example.org "$1" alice@example.org bob@example.net
}

# 1. The spill file while a big message is signed.
e2e_entity_large "$E2E_T/big.txt" $((20 * 1024 * 1024))
{ e2e_msg_head alice@example.org bob@example.net "20 MiB to sign"; cat "$E2E_T/big.txt"; } >"$E2E_T/big.eml"
submit "$E2E_T/big.eml" >"$E2E_T/big.qid" 2>"$E2E_T/big.err" &
sender=$!
seen=$("$E2E_PY" - "$E2E_MILTER_PID" "$SP" <<'PY'
import os, stat, sys, time
pid, spool = int(sys.argv[1]), sys.argv[2]
end = time.monotonic() + 60
while time.monotonic() < end:
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            if not target.startswith(spool + "/"):
                continue
            st = os.stat("/proc/%d/fd/%s" % (pid, fd))
            entries = os.listdir(spool)
        except OSError:
            continue
        print("%s mode=%04o links=%d size=%d dir-entries=%d" % (
            target, stat.S_IMODE(st.st_mode), st.st_nlink, st.st_size,
            len(entries)))
        sys.exit(0)
    time.sleep(0.002)
sys.exit(1)
PY
) || { wait "$sender"; e2e_fail "no spill file seen during the 20 MiB message"; }
wait "$sender" || e2e_fail "20 MiB submission failed: $(cat "$E2E_T/big.err")"
out=$(e2e_wait_delivered "$(cat "$E2E_T/big.qid")" 120) || e2e_fail "20 MiB message not delivered"
e2e_cms_verify "$out" || e2e_fail "20 MiB message not signed"
case $seen in
    *"mode=0600 links=0 "*"dir-entries=0") ;;
    *) e2e_fail "spill file not private and unlinked: $seen" ;;
esac
e2e_pass "spill file during signing: $seen"

# 2 MiB messages: one to sign, one signed for the inbound side.
e2e_entity_large "$E2E_T/two.txt" $((2 * 1024 * 1024))
{ e2e_msg_head alice@example.org bob@example.net "2 MiB to sign"; cat "$E2E_T/two.txt"; } >"$E2E_T/out.eml"
e2e_msg_signed "$E2E_T/in.eml" alice alice@example.org bob@example.net "$E2E_T/two.txt" \
    "2 MiB signed" || e2e_fail "openssl cms -sign failed"

# broken WHAT PATTERN: the submission gets 4xx with a log line matching
# PATTERN; inbound verification is unaffected.
broken() {
    off=$(e2e_milter_log_size)
    reply=$(e2e_send_expect_4xx "$E2E_SUBMIT_PORT" "$E2E_T/out.eml" \
        alice@example.org bob@example.net --auth PLAIN --auth-user alice@example.org \
        --auth-password "$(e2e_password alice@example.org)") || e2e_fail "$1: no 4xx"
    line=$(e2e_milter_log_since "$off" | grep 'event=message dir=out .* result=tempfail' | tail -n 1)
    printf '%s\n' "$line" | grep -q -- "$2" ||
        e2e_fail "$1: no tempfail log line matching \"$2\": $(e2e_milter_log_since "$off" | tail -n 3)"
    qid=$(e2e_send_inbound "$E2E_T/in.eml" alice@example.org bob@example.net) ||
        e2e_fail "$1: inbound send failed"
    o=$(e2e_wait_delivered "$qid") || e2e_fail "$1: inbound $qid not delivered"
    e2e_assert_ar "$o" pass "signature verified" >/dev/null || exit 1
    e2e_pass "$1: $reply; log: $(printf '%s\n' "$line" | sed 's/.*reason=//'); inbound still pass"
}

recovered() {
    qid=$(submit "$E2E_T/out.eml") || e2e_fail "$1: submission failed"
    o=$(e2e_wait_delivered "$qid") || e2e_fail "$1: $qid not delivered"
    e2e_cms_verify "$o" || e2e_fail "$1: not signed"
}

mount -t tmpfs -o size=64k,mode=0700 smime-e2e-spool "$SP" ||
    e2e_skip "cannot mount a tmpfs on $SP"
mounted=yes
dd if=/dev/zero of="$SP/fill" bs=4k 2>/dev/null
broken "spool full" "No space left on device"
rm -f "$SP/fill"
mount -o remount,size=8m "$SP" || e2e_fail "cannot grow the tmpfs"
recovered "room again"
mount -o remount,ro "$SP" || e2e_fail "cannot make the tmpfs read-only"
broken "spool read-only" "Read-only file system"
mount -o remount,rw "$SP" || e2e_fail "cannot make the tmpfs writable"
recovered "writable again"
# shellcheck disable=SC2034   # read by the exit command
umount "$SP" && mounted=no
e2e_pass "signed again each time the spool had room"
