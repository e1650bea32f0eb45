#!/bin/sh
# t_fault_load - 200 SMTP sessions started at once, one message each,
# mixing signed, unsigned, malformed and over-limit inbound mail with
# signed submissions: every message is delivered exactly once with the
# right result (the submissions S/MIME signed, openssl verifies).  Two
# rounds: after the second the milter's open files are back to what they
# were after the first, and its resident size within 8 MB of it (glibc's
# malloc arenas keep some of what peak concurrency took: measured over 7
# rounds, growth levels off at about +12 MB; valgrind finds no leak).
. "$(dirname "$0")/lib.sh"
e2e_test_begin
e2e_need_milter
e2e_need_signing
N=200

# Templates: Message-ID is replaced per message (outside any signature).
e2e_entity_text "$E2E_T/content" "Signed text of the load test."
e2e_msg_signed "$E2E_T/t-signed" alice alice@example.org bob@example.net \
    "$E2E_T/content" "load: signed" || e2e_fail "openssl cms -sign failed"
e2e_msg_plain "$E2E_T/t-unsigned" carol@example.net dave@example.com "load: unsigned" "Hello."
e2e_msg_plain "$E2E_T/t-outbound" alice@example.org bob@example.net "load: outbound" "To sign."
{
    e2e_msg_head alice@example.org bob@example.net "load: malformed"
    printf 'MIME-Version: 1.0\nContent-Type: multipart/signed; protocol="application/pkcs7-signature";\n'
    printf '\tmicalg=sha-256; boundary="b"\n\n--b\n'
    e2e_entity_text - "Signed text."
    printf '\n--b\nContent-Type: application/pkcs7-signature; name="smime.p7s"\n'
    printf 'Content-Transfer-Encoding: base64\n\n%s\n\n--b--\n' "$(printf 'not a CMS' | base64)"
} >"$E2E_T/t-malformed"
{
    e2e_msg_head carol@example.net dave@example.com "load: 100 nested multiparts"
    printf 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="n0"\n\n'
    i=1
    while [ $i -lt 100 ]; do
        printf -- '--n%d\nContent-Type: multipart/mixed; boundary="n%d"\n\n' $((i - 1)) $i
        i=$((i + 1))
    done
    printf -- '--n99\n\ninnermost\n'
} >"$E2E_T/t-nested"

# The list: KIND FILE, one per message, kinds in turn.
: >"$E2E_T/list"
i=1
for_list() {
    first=$1 last=$2
    i=$first
    while [ "$i" -le "$last" ]; do
        case $((i % 5)) in
            0) k=signed ;; 1) k=unsigned ;; 2) k=outbound ;; 3) k=malformed ;; *) k=nested ;;
        esac
        f=$E2E_T/m$i.eml
        sed "s/^Message-ID: .*/Message-ID: <load.$i.$$@e2e.test.example>/" \
            "$E2E_T/t-$k" >"$f"
        echo "$k $f"
        i=$((i + 1))
    done
}

# send LISTFILE: all at once, one SMTP session each; "KIND FILE QID" out.
send() {
    "$E2E_PY" - "$1" "$E2E_INBOUND_PORT" "$E2E_SUBMIT_PORT" \
        "$(e2e_password alice@example.org)" <<'PY'
import re, smtplib, sys, threading
lst, inport, subport, pw = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
jobs = [l.split() for l in open(lst) if l.strip()]
out = [None] * len(jobs)
go = threading.Barrier(len(jobs))
def one(i, kind, path):
    data = open(path, "rb").read()
    go.wait()
    try:
        s = smtplib.SMTP("127.0.0.1", subport if kind == "outbound" else inport,
                         "client.test.example", timeout=300)
        if kind == "outbound":
            s.login("alice@example.org", pw)
        frm, to = (("alice@example.org", "bob@example.net") if kind in
                   ("signed", "outbound", "malformed") else
                   ("carol@example.net", "dave@example.com"))
        s.mail(frm)
        s.rcpt(to)
        code, resp = s.data(data)
        s.quit()
        m = re.search(rb"queued as (\w+)", resp)
        out[i] = "%s %s %s" % (kind, path, m.group(1).decode() if code == 250 and m
                               else "FAILED:%d" % code)
    except Exception as e:
        out[i] = "%s %s FAILED:%s" % (kind, path, str(e).replace(" ", "_"))
ts = [threading.Thread(target=one, args=(i, k, p)) for i, (k, p) in enumerate(jobs)]
for t in ts: t.start()
for t in ts: t.join()
print("\n".join(out))
PY
}

# check SENTFILE: every message delivered once with the right result.
check() {
    while read -r kind f qid; do
        case $qid in FAILED*) e2e_fail "$kind $f: $qid" ;; esac
        out=$(e2e_wait_delivered "$qid" 120) || e2e_fail "$kind $qid not delivered"
        case $kind in
            signed) e2e_assert_ar "$out" pass "signature verified" >/dev/null || exit 1 ;;
            unsigned) e2e_assert_ar "$out" none >/dev/null || exit 1 ;;
            malformed) e2e_assert_ar "$out" permerror "malformed CMS" >/dev/null || exit 1 ;;
            nested) e2e_assert_ar "$out" permerror "MIME nesting too deep" >/dev/null || exit 1 ;;
            outbound) e2e_cms_verify "$out" || e2e_fail "$qid (outbound) not signed" ;;
        esac
        e2e_header "$f" Message-ID
    done <"$1" >"$1.ids"
    e2e_delivered_ids | sort | uniq -c | awk 'NR == FNR { want[$1] = 1; next }
        ($2 in want) { seen[$2] = $1 } END { for (m in want) if (seen[m] != 1)
        { print m " delivered " seen[m] + 0 " times"; bad = 1 } exit bad }' \
        "$1.ids" - >&2 || e2e_fail "not delivered exactly once (see above)"
}

# fds_settle: wait (bounded) until the milter's fd count stops falling.
fds_settle() {
    _prev=-1 _i=0
    while [ $_i -lt 50 ]; do
        _now=$(e2e_milter_fds)
        [ "$_now" = "$_prev" ] && break
        _prev=$_now; sleep 0.2; _i=$((_i + 1))
    done
    echo "$_now"
}

# Round 1 warms up (thread stacks, malloc arenas, caches); round 2 must
# leave the milter where round 1 did.
for_list 1 $N >"$E2E_T/r1.list"
send "$E2E_T/r1.list" >"$E2E_T/r1.sent"
check "$E2E_T/r1.sent"
fd0=$(fds_settle)
rss0=$(e2e_milter_rss_kb)

for_list $((N + 1)) $((2 * N)) >"$E2E_T/r2.list"
t0=$(date +%s)
send "$E2E_T/r2.list" >"$E2E_T/r2.sent"
t1=$(date +%s)
check "$E2E_T/r2.sent"
fd1=$(fds_settle)
rss1=$(e2e_milter_rss_kb)
hwm=$(e2e_milter_hwm_kb)
n=$(wc -l <"$E2E_T/r2.sent")
[ "$n" -eq "$N" ] || e2e_fail "$n of $N messages sent"
e2e_pass "2 x $N sessions at once ($(cut -d' ' -f1 "$E2E_T/r2.sent" | sort | uniq -c | tr -s ' ' | tr '\n' ','))" \
    "round 2 sent in $((t1 - t0)) s, each delivered once with the right result"
e2e_pass "after round 1 / round 2: milter fds $fd0 / $fd1; RSS $rss0 / $rss1 kB (peak $hwm kB)"
[ "$fd1" -le "$fd0" ] || e2e_fail "open files grew from $fd0 to $fd1"
[ -n "$SMIME_MILTER_WRAPPER" ] ||
    [ "$rss1" -le $((rss0 + 8192)) ] || e2e_fail "RSS grew from $rss0 to $rss1 kB"
