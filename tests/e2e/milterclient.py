#!/usr/bin/python3
"""milterclient.py - a minimal milter-protocol client for the e2e tests.

SYNOPSIS
    milterclient.py PORT|unix:PATH MESSAGE DIR

DESCRIPTION
    Connects to the milter on 127.0.0.1:PORT (or the unix socket PATH)
    and, on one connection, sends
    MESSAGE twice as an inbound message from 192.0.2.7.  The first time it
    stops after MAIL FROM, creates DIR/mailed and waits (at most 30 s) for
    DIR/go before it sends the recipient, headers, body and end of
    message: a test can change something in the daemon while that message
    is in flight.  The second time runs straight through.  For each
    message it prints one line: the final reply (accept, continue,
    tempfail, reject, discard) and the Authentication-Results value the
    milter inserted ("-" for none), folded lines joined by spaces.

    Postfix hands every event of a message to the milter only at the end
    of DATA, so an SMTP client cannot hold a message in flight inside the
    milter; this client can.  No protocol flags are negotiated: every
    event gets a reply.
"""
import os
import socket
import struct
import sys
import time

REPLIES = {b"a": "accept", b"c": "continue", b"t": "tempfail",
           b"r": "reject", b"d": "discard"}


class Milter:
    def __init__(self, where):
        if where.startswith("unix:"):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(60)
            self.sock.connect(where[5:])
        else:
            self.sock = socket.create_connection(("127.0.0.1", int(where)),
                                                 timeout=60)

    def send(self, cmd, data=b""):
        self.sock.sendall(struct.pack(">I", len(data) + 1) + cmd + data)

    def read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                sys.exit("milter closed the connection")
            buf += chunk
        return buf

    def recv(self):
        n = struct.unpack(">I", self.read(4))[0]
        packet = self.read(n)
        return packet[:1], packet[1:]

    def expect(self, cmd, data=b"", want=(b"c",)):
        self.send(cmd, data)
        reply, _ = self.recv()
        if reply not in want:
            sys.exit("reply %r to command %r" % (reply, cmd))


def split_message(path):
    raw = open(path, "rb").read().replace(b"\r\n", b"\n")
    head, body = raw.split(b"\n\n", 1)
    headers = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            headers[-1][1] += b"\r\n" + line
        else:
            name, value = line.split(b":", 1)
            headers.append([name, value.lstrip(b" ")])
    return headers, body.replace(b"\n", b"\r\n")


def wait_for(path):
    for _ in range(600):
        if os.path.exists(path):
            return
        time.sleep(0.05)
    sys.exit("%s did not appear" % path)


def message(m, path, pause_dir):
    m.expect(b"M", b"<bob@example.org>\0")
    if pause_dir:
        open(os.path.join(pause_dir, "mailed"), "w").close()
        wait_for(os.path.join(pause_dir, "go"))
    m.expect(b"R", b"<dave@example.com>\0")
    headers, body = split_message(path)
    for name, value in headers:
        m.expect(b"L", name + b"\0" + value + b"\0")
    m.expect(b"N")
    m.expect(b"B", body, want=(b"c", b"s"))
    m.send(b"E")
    ar = "-"
    while True:
        reply, data = m.recv()
        if reply == b"i":                  # insert header: index, name, value
            name, value = data[4:].split(b"\0")[:2]
            if name == b"Authentication-Results":
                ar = " ".join(value.decode().split())
        elif reply in REPLIES:
            print(REPLIES[reply], ar, flush=True)
            return


def main():
    where, path, pause_dir = sys.argv[1], sys.argv[2], sys.argv[3]
    m = Milter(where)
    # version 6, every action, no protocol flags
    m.expect(b"O", struct.pack(">III", 6, 0x1FF, 0), want=(b"O",))
    m.expect(b"C", b"client.example.net\0" + b"4" + struct.pack(">H", 25) +
             b"192.0.2.7\0")
    m.expect(b"H", b"client.example.net\0")
    message(m, path, pause_dir)
    message(m, path, None)
    m.send(b"Q")


if __name__ == "__main__":
    main()
