#!/bin/sh
# t_fault_kill - smime-milter is killed (SIGKILL) while Postfix streams a
# 30 MiB message to it: with milter_default_action = tempfail the client
# gets 4xx and Postfix keeps nothing; after a restart the client sends it
# again and it is delivered exactly once, verified.
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter

m=$E2E_T/in.eml
size=$((30 * 1024 * 1024))
e2e_entity_large "$E2E_T/content" "$size"
{
    e2e_msg_head carol@example.net dave@example.com "killed in the middle"
    printf 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="k"\n\n--k\n'
    cat "$E2E_T/content"
    printf -- '--k--\n'
} >"$m"
mid=$(e2e_header "$m" Message-ID)

# Send in the background; kill the milter as soon as it has read 1 MiB
# more than before (the body is streaming in), well before the end.
r0=$(e2e_milter_rchar)
e2e_send_expect_4xx "$E2E_INBOUND_PORT" "$m" carol@example.net dave@example.com \
    >"$E2E_T/reply" &
sender=$!
read_at_kill=$("$E2E_PY" - "$E2E_MILTER_PID" "$r0" $((1024 * 1024)) <<'PY'
import os, signal, sys, time
pid, r0, want = map(int, sys.argv[1:])
def rchar():
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            if line.startswith("rchar:"):
                return int(line.split()[1])
end = time.monotonic() + 60
while time.monotonic() < end:
    got = rchar() - r0
    if got >= want:
        os.kill(pid, signal.SIGKILL)
        print(got)
        sys.exit(0)
    time.sleep(0.001)
sys.exit(1)
PY
) || { kill "$sender"; e2e_milter_restart; e2e_fail "milter read no body in 60 s"; }
wait "$sender"
rc=$?
e2e_milter_restart || e2e_fail "smime-milter did not restart"
[ "$rc" -eq 0 ] || e2e_fail "no 4xx reply to the client while the milter died"
[ "$read_at_kill" -lt "$size" ] || e2e_fail "killed too late: the milter had read $read_at_kill bytes"
[ "$(e2e_delivered_count "$mid")" -eq 0 ] || e2e_fail "delivered although the client got 4xx"

# The client retries.
qid=$(e2e_send_inbound "$m" carol@example.net dave@example.com) || e2e_fail "resend failed"
out=$(e2e_wait_delivered "$qid" 120) || e2e_fail "$qid not delivered"
ar=$(e2e_assert_ar "$out" none) || exit 1
sleep 1    # any stray copy of the first attempt would be delivered by now
n=$(e2e_delivered_count "$mid")
[ "$n" -eq 1 ] || e2e_fail "delivered $n times"
postqueue -c "$E2E_ETC" -p | grep -q 'Mail queue is empty' ||
    e2e_fail "something left in the queue: $(postqueue -c "$E2E_ETC" -p | head -5)"
e2e_pass "killed after $read_at_kill bytes: client got $(cat "$E2E_T/reply"); resent: delivered once, $ar"
