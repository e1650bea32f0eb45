#!/usr/bin/python3
"""burst.py - many SMTP sessions held open at once, then judged delivered.

SYNOPSIS
    burst.py send JOBS MILTER-PID
    burst.py wait SENT MAILLOG OUTDIR SECONDS
    burst.py check SENT OUTDIR PKI AUTHSERV

DESCRIPTION
    send: JOBS has one line per session, "ID PORT LOGIN FROM TO FILE MID"
    (LOGIN "-": no AUTH; otherwise SASL with the password LOCAL-e2e-secret,
    as lib.sh's e2e_password).  One thread per line connects to
    127.0.0.1:PORT, says EHLO and logs in, then waits at a barrier until
    every session has got that far: all of them are open at the same time,
    each with its smtpd and, because Postfix asks its milters at connect
    time before the greeting, its milter connection.  When they all are,
    the number of sockets the milter (MILTER-PID) holds is printed
    ("sockets N"); then each sends its message.  Prints "ID QID FROM TO
    MID" per session (SENT), QID "FAILED:REASON" when it was not accepted;
    exit 1 when the barrier breaks (not all sessions open within 60 s).

    wait: polls (bounded by SECONDS) until Postfix has logged "QID:
    removed" for every queue id of SENT and OUTDIR/QID exists; exit 1
    naming the missing ones, or one that was deferred or bounced.

    check: judges each delivered message by its job's ID prefix:
      in-NAME-N    inbound, signed by NAME: our Authentication-Results says
                   smime=pass with identifier FROM;
      out-NAME-N   outbound to NAME@example.org: enveloped-data that
                   `openssl cms -decrypt` opens with PKI/NAME.key, inside a
                   message that `openssl cms -verify` verifies (the signer
                   certificate PKI/LOCAL.crt of FROM),
                   whose text names the job's ID.
    Every job's Message-ID must be delivered exactly once in OUTDIR, to the
    file of its own queue id.  Prints the count per recipient; exit 1 with
    a line per problem.
"""
import concurrent.futures
import email.parser
import email.policy
import os
import re
import smtplib
import subprocess
import sys
import threading
import time


def send(jobs_file, milter_pid):
    jobs = [line.split() for line in open(jobs_file) if line.strip()]
    out = [None] * len(jobs)

    def count_sockets():
        fd_dir = "/proc/%s/fd" % milter_pid
        n = 0
        for fd in os.listdir(fd_dir):
            try:
                n += os.readlink(os.path.join(fd_dir, fd)).startswith("socket:")
            except OSError:
                pass
        print("sockets %d" % n, flush=True)

    barrier = threading.Barrier(len(jobs), action=count_sockets, timeout=60)
    broken = []

    def one(i, job):
        jid, port, login, frm, to, path, mid = job
        data = open(path, "rb").read()
        try:
            s = smtplib.SMTP("127.0.0.1", int(port), "client.test.example",
                             timeout=300)
            s.ehlo()
            if login != "-":
                s.login(login, login.split("@")[0] + "-e2e-secret")
        except Exception as e:
            out[i] = "%s FAILED:before-mail:%s" % (jid, str(e).replace(" ", "_"))
            out[i] += " %s %s %s" % (frm, to, mid)
            barrier.abort()
            return
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            broken.append(jid)
            out[i] = out[i] or "%s FAILED:barrier %s %s %s" % (jid, frm, to, mid)
            s.close()
            return
        try:
            s.mail(frm)
            s.rcpt(to)
            code, resp = s.data(data)
            s.quit()
            m = re.search(rb"queued as (\w+)", resp)
            qid = m.group(1).decode() if code == 250 and m else "FAILED:%d" % code
        except Exception as e:
            qid = "FAILED:%s" % str(e).replace(" ", "_")
        out[i] = "%s %s %s %s %s" % (jid, qid, frm, to, mid)

    threads = [threading.Thread(target=one, args=(i, j))
               for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("\n".join(out))
    return 1 if broken else 0


def wait(sent_file, maillog, outdir, seconds):
    want = {}
    for line in open(sent_file):
        jid, qid = line.split()[:2]
        if not qid.startswith("FAILED"):
            want[qid] = jid
    end = time.monotonic() + float(seconds)
    while True:
        log = open(maillog, errors="replace").read()
        bad = set(re.findall(r" (\w+): .*status=(?:deferred|bounced|expired)",
                             log)) & set(want)
        if bad:
            for q in sorted(bad):
                print("%s (%s) not delivered: %s" % (q, want[q], " | ".join(
                    l for l in log.splitlines() if " %s: " % q in l)))
            return 1
        done = set(re.findall(r" (\w+): removed", log))
        missing = [q for q in want
                   if q not in done or not os.path.exists(os.path.join(outdir, q))]
        if not missing:
            return 0
        if time.monotonic() > end:
            print("not delivered within %s s: %s" % (
                seconds, " ".join("%s(%s)" % (q, want[q]) for q in missing)))
            return 1
        time.sleep(0.2)


def header_block(path):
    with open(path, "rb") as f:
        head = f.read(65536).split(b"\n\n", 1)[0].replace(b"\r\n", b"\n")
    return email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(
        head + b"\n\n")


def pem_body(pem):
    """The base64 of the first PEM certificate in pem, without line ends."""
    m = re.search(rb"-----BEGIN CERTIFICATE-----(.*?)-----END", pem, re.S)
    return b"".join(m.group(1).split()) if m else None


def openssl(args, data=None):
    return subprocess.run(["openssl"] + args, input=data, capture_output=True)


def judge(jid, frm, path, pki, authserv):
    """The problems with the delivered copy of job jid (a list)."""
    kind, name, _ = jid.split("-", 2)
    h = header_block(path)
    if kind == "in":
        ours = [v for v in h.get_all("Authentication-Results", [])
                if re.match(r"\s*%s\s*;" % re.escape(authserv), v)]
        ar = " ".join(" ".join(ours).split())
        if len(ours) != 1 or "smime=pass" not in ar or \
                "body.smime-identifier=%s" % frm not in ar:
            return ["%s: inbound from %s: not one smime=pass for it: %s"
                    % (jid, frm, ar or "no Authentication-Results of ours")]
        return []
    ct = " ".join((h.get("Content-Type") or "").split()).lower()
    if "application/pkcs7-mime" not in ct or "smime-type=enveloped-data" not in ct:
        return ["%s: to %s not encrypted: Content-Type: %s" % (jid, name, ct)]
    dec = openssl(["cms", "-decrypt", "-in", path,
                   "-recip", "%s/%s.crt" % (pki, name),
                   "-inkey", "%s/%s.key" % (pki, name)])
    if dec.returncode != 0:
        return ["%s: %s's key does not decrypt it: %s"
                % (jid, name, dec.stderr.decode(errors="replace").strip())]
    ver = openssl(["cms", "-verify", "-CAfile", "%s/roots.pem" % pki,
                   "-purpose", "smimesign", "-signer", "/dev/stdout",
                   "-out", "/dev/null"], dec.stdout)
    if ver.returncode != 0 or pem_body(ver.stdout) != pem_body(
            open("%s/%s.crt" % (pki, frm.split("@")[0]), "rb").read()):
        return ["%s: the signature inside does not verify as %s: %s"
                % (jid, frm, ver.stderr.decode(errors="replace").strip())]
    if ("burst job %s." % jid).encode() not in dec.stdout:
        return ["%s: the decrypted text is not the job's" % jid]
    return []


def check(sent_file, outdir, pki, authserv):
    jobs = {}
    problems = []
    for line in open(sent_file):
        jid, qid, frm, to, mid = line.split()
        jobs[mid] = (jid, qid, frm, to)
        if qid.startswith("FAILED"):
            problems.append("%s (%s): not accepted: %s" % (jid, mid, qid))
    seen = {}
    for f in os.listdir(outdir):
        if f.startswith("."):
            continue
        mid = header_block(os.path.join(outdir, f)).get("Message-ID", "").strip()
        if mid in jobs:
            seen.setdefault(mid, []).append(f)
    per_rcpt = {}
    todo = []
    for mid, (jid, qid, frm, to) in sorted(jobs.items()):
        files = seen.get(mid, [])
        if qid.startswith("FAILED"):
            continue
        if files != [qid]:
            problems.append("%s (%s, %s): delivered as %s" % (
                jid, mid, qid, ",".join(files) or "nothing"))
            continue
        per_rcpt[to] = per_rcpt.get(to, 0) + 1
        todo.append((jid, frm, os.path.join(outdir, qid)))
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for p in pool.map(lambda a: judge(*a, pki, authserv), todo):
            problems += p
    print("delivered: " + ", ".join("%s %d" % kv for kv in sorted(per_rcpt.items())))
    for p in problems[:10]:
        print("problem: " + p.replace("\n", " | "))
    if len(problems) > 10:
        print("... and %d more problems" % (len(problems) - 10))
    return 1 if problems else 0


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    sys.exit({"send": send, "wait": wait, "check": check}[cmd](*args))
