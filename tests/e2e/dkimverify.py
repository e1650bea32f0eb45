#!/usr/bin/python3
"""dkimverify.py - verify a delivered message's DKIM signature offline.

Usage: dkimverify.py MESSAGE KEYFILE.txt

KEYFILE.txt is the DNS TXT record written by opendkim-genkey (the quoted
strings of "SELECTOR._domainkey IN TXT ( "..." "..." )" are joined).  Every
DNS lookup python3-dkim makes is answered with that record, so no DNS is
needed.  Exit 0 when every DKIM-Signature verifies, 1 when one does not or
there is none, 2 on usage errors.
"""
import re
import sys

import dkim


def txt_record(path):
    with open(path, encoding="ascii") as f:
        text = f.read()
    return "".join(re.findall(r'"([^"]*)"', text)).encode("ascii")


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(argv[1], "rb") as f:
        msg = f.read()
    if b"\r\n" not in msg:  # pipe(8) delivers LF lines; DKIM hashes CRLF
        msg = msg.replace(b"\n", b"\r\n")
    record = txt_record(argv[2])
    count = len(re.findall(rb"(?im)^DKIM-Signature:", msg.split(b"\r\n\r\n", 1)[0]))
    if count == 0:
        print("dkimverify: no DKIM-Signature", file=sys.stderr)
        return 1
    for i in range(count):
        try:
            good = dkim.DKIM(msg).verify(idx=i, dnsfunc=lambda name, timeout=5: record)
            why = "signature does not verify"
        except dkim.DKIMException as e:
            good, why = False, str(e)
        if not good:
            print("dkimverify: signature %d: %s" % (i, why), file=sys.stderr)
            return 1
    print("dkimverify: %d signature(s) verified" % count)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
