#!/usr/bin/python3
"""promparse.py - read a Prometheus textfile as node_exporter would.

SYNOPSIS
    promparse.py FILE

DESCRIPTION
    Parses FILE with prometheus_client's text-format parser (Debian
    package python3-prometheus-client), the reference implementation of
    the exposition format's rules, and checks what node_exporter's
    textfile collector needs besides: every family has HELP and TYPE
    (the parser makes a family without TYPE "unknown"), counters are
    named *_total, no family or sample appears twice, and the file ends
    in a newline.  Prints one line per sample, "NAME{L1="V1",...} VALUE"
    with the labels sorted and the value as an integer, and exits 0; on
    a violation prints it on stderr and exits 1.
"""
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    sys.exit("promparse.py: needs the Debian package python3-prometheus-client")


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    if not text.endswith("\n"):
        sys.exit("no newline at the end")
    helps = [l.split()[2] for l in text.splitlines() if l.startswith("# HELP ")]
    types = [l.split()[2] for l in text.splitlines() if l.startswith("# TYPE ")]
    if sorted(helps) != sorted(types) or len(set(types)) != len(types):
        sys.exit("HELP/TYPE lines do not match one to one: %s / %s"
                 % (helps, types))
    seen = set()
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:                       # the parser's verdict
        sys.exit("not the Prometheus text format: %s" % e)
    for fam in families:
        if fam.type not in ("counter", "gauge"):
            sys.exit("%s: type %s" % (fam.name, fam.type))
        if not fam.documentation:
            sys.exit("%s: no HELP text" % fam.name)
        for s in fam.samples:
            if fam.type == "counter" and not s.name.endswith("_total"):
                sys.exit("counter sample %s does not end in _total" % s.name)
            if s.value != int(s.value) or s.value < 0:
                sys.exit("%s: value %r" % (s.name, s.value))
            labels = ",".join('%s="%s"' % kv for kv in sorted(s.labels.items()))
            key = s.name + ("{%s}" % labels if labels else "")
            if key in seen:
                sys.exit("%s twice" % key)
            seen.add(key)
            print(key, int(s.value))


if __name__ == "__main__":
    main()
