#!/usr/bin/python3
"""smtpmix.py - mixed SMTP load for `make bench' (tests/bench/run.sh).

  smtpmix.py SESSIONS PER-SESSION INBOUND-PORT SUBMIT-PORT LOGIN PASSWORD \
             UNSIGNED.eml SIGNED.eml OUTBOUND.eml

SESSIONS concurrent SMTP sessions on 127.0.0.1, in turn of three kinds:
unsigned inbound and signed inbound mail on INBOUND-PORT (no login), and
outbound mail on SUBMIT-PORT after AUTH PLAIN as LOGIN (the milter signs
it).  Each session sends PER-SESSION messages, then QUIT; all sessions
are connected before the first message is sent.  Prints one line:
"sent=N unsigned=.. signed=.. outbound=.. errors=.. accept_s=..": the
seconds from the first MAIL to the last accepted message.  Exit 1 if
any message was refused or a session failed.
"""
import smtplib
import sys
import threading
import time


def main():
    (sessions, per, in_port, sub_port, login, password,
     unsigned, signed, outbound) = sys.argv[1:10]
    sessions, per = int(sessions), int(per)
    bodies = [open(f, "rb").read() for f in (unsigned, signed, outbound)]
    kinds = ("unsigned", "signed", "outbound")
    senders = ("someone@example.net", "alice@example.org", login)
    counts = {k: 0 for k in kinds}
    errors = []
    lock = threading.Lock()
    ready = threading.Barrier(sessions + 1)

    def session(i):
        kind = i % 3
        try:
            s = smtplib.SMTP("127.0.0.1", int(sub_port if kind == 2 else in_port),
                             timeout=600)
            s.ehlo("bench.example")
            if kind == 2:
                s.login(login, password)
        except Exception as e:          # counted, the barrier still waits
            s = None
            with lock:
                errors.append(f"session {i}: {e}")
        ready.wait()
        if s is None:
            return
        try:
            for _ in range(per):
                s.sendmail(senders[kind], ["bob@example.org"], bodies[kind])
                with lock:
                    counts[kinds[kind]] += 1
            s.quit()
        except Exception as e:
            with lock:
                errors.append(f"session {i}: {e}")

    threads = [threading.Thread(target=session, args=(i,)) for i in range(sessions)]
    for t in threads:
        t.start()
    ready.wait()
    t0 = time.monotonic()
    for t in threads:
        t.join()
    t1 = time.monotonic()
    for e in errors[:5]:
        print(e, file=sys.stderr)
    print("sent=%d unsigned=%d signed=%d outbound=%d errors=%d accept_s=%.2f" % (
        sum(counts.values()), counts["unsigned"], counts["signed"],
        counts["outbound"], len(errors), t1 - t0))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
