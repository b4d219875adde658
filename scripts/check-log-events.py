#!/usr/bin/env python3
"""Every log event the code names is in the table, and every event in the
table is logged somewhere (include/acexy/log_events.h):
    scripts/check-log-events.py [SOURCE_DIR]
The event is the second argument of ALOG(level, event, fields...): a string
literal, or an expression choosing between literals (a ? "x" : "y")."""
import glob
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
table = open(os.path.join(root, "include/acexy/log_events.h")).read()
listed = set(re.findall(r"^X\((\w+),", table, re.M))


def alog_calls(text):
    """The argument lists of every ALOG( call, split at top-level commas."""
    i = 0
    while True:
        i = text.find("ALOG(", i)
        if i < 0:
            return
        if i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_"):
            i += 5
            continue
        j, depth, args, cur, quoted = i + 5, 1, [], "", False
        while j < len(text) and depth:
            c = text[j]
            if quoted:
                cur += c
                if c == "\\":
                    cur += text[j + 1]
                    j += 1
                elif c == '"':
                    quoted = False
            elif c == '"':
                quoted = True
                cur += c
            elif c in "([{":
                depth += 1
                cur += c
            elif c in ")]}":
                depth -= 1
                if depth:
                    cur += c
            elif c == "," and depth == 1:
                args.append(cur)
                cur = ""
            else:
                cur += c
            j += 1
        args.append(cur)
        yield text.count("\n", 0, i) + 1, args
        i = j


problems, used = [], set()
for d in ("common", "proto", "controlplane", "dataplane"):
    for path in sorted(glob.glob(os.path.join(root, d, "*.c"))):
        rel = os.path.relpath(path, root)
        for line, args in alog_calls(open(path).read()):
            if len(args) < 2:
                continue
            names = re.findall(r'"([^"\\]*)"', args[1])
            if not names:
                problems.append("%s:%d: the event is not a string literal: %s" % (rel, line, args[1].strip()))
            for n in names:
                used.add(n)
                if n not in listed:
                    problems.append("%s:%d: log event '%s' is not in include/acexy/log_events.h" % (rel, line, n))
for n in sorted(listed - used):
    problems.append("include/acexy/log_events.h: '%s' is listed but never logged" % n)
for p in problems:
    print(p, file=sys.stderr)
if problems:
    print("add or remove the table's lines, then run scripts/gen-log-doc.sh", file=sys.stderr)
    sys.exit(1)
print("%d log events, all listed" % len(used))
