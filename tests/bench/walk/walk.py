#!/usr/bin/env python3
"""The walk of one viewer's connection through the dataplane's code.

Builds the dataplane of SOURCE (default: this tree) with -finstrument-functions
(every function entry recorded by trace_hook.c, inlined static functions
included), runs it with the controlplane and the fake engine of BIN (a normal
build), sends one TS request in per-request mode, reads 2 MB, closes, and waits
for the engine stop command. From the worker thread's function entries between
the connect and the stop it prints:

  stops        distinct functions of this tree entered, in first-entry order
  files        the files they are in
  returns      how often that first-entry order comes back into stream.c
               from another file (and into the stream modules as a group)
  calls        all entries (the dynamic path, loops included)

once for all code and once without the pure modules and libraries (common/,
proto/, include/, the parsers, the ring), i.e. the dataplane's own modules.

  python3 tests/bench/walk/walk.py [--source DIR] [--bin build/bin] [--list]
"""
import argparse
import collections
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
PURE = ("common/", "proto/", "include/", "dataplane/http_request.c", "dataplane/http_response.c",
        "dataplane/query.c", "dataplane/ring.c", "dataplane/engine_answer.c",
        "dataplane/access_pure.c", "dataplane/hls_playlist.c", "dataplane/ts_inspect.c",
        "dataplane/hex.h")
STREAM_MODULES = ("dataplane/stream.c", "dataplane/playback.c", "dataplane/relay.c",
                  "dataplane/viewer.c", "dataplane/stream_int.h")


def build(source, work):
    hook = os.path.join(work, "trace_hook.o")
    subprocess.run(["gcc", "-O2", "-c", os.path.join(HERE, "trace_hook.c"), "-o", hook], check=True)
    bdir = os.path.join(work, "build")
    subprocess.run(["cmake", "-S", source, "-B", bdir, "-DCMAKE_C_COMPILER=gcc", "-DACEXY_TESTS=OFF",
                    "-DCMAKE_C_FLAGS=-finstrument-functions -fno-pie",
                    "-DCMAKE_EXE_LINKER_FLAGS=%s -no-pie" % hook],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", bdir, "-j2", "--target", "acexy-dataplane"], check=True,
                   stdout=subprocess.DEVNULL)
    return os.path.join(bdir, "bin", "acexy-dataplane")


def run_once(dp_bin, bin_dir, trace):
    sys.path.insert(0, os.path.join(ROOT, "tests", "integration", "lib"))
    bins = tempfile.mkdtemp(prefix="acexy-walk-bin-")
    for b in ("acexy-controlplane", "acexy-fake-engine", "acexy-tscheck"):
        os.symlink(os.path.abspath(os.path.join(bin_dir, b)), os.path.join(bins, b))
    os.symlink(dp_bin, os.path.join(bins, "acexy-dataplane"))
    os.environ["ACEXY_BIN_DIR"] = bins
    os.environ["ACEXY_SOURCE_DIR"] = ROOT
    import acexytest as t
    window = {}

    class Walk(t.TestCase):
        def test_walk(self):
            st = t.Stack(self, env={"ACEXY_LOG_LEVEL": "info", "ACEXY_FAILOVER": "false"})
            st.start_cp()
            st.start_dp(env={"ACEXY_WALK_OUT": trace})
            time.sleep(0.5)
            window["t0"] = time.monotonic_ns()
            s = socket.create_connection(("127.0.0.1", st.port))
            s.sendall(b"GET /ace/getstream?id=walk1 HTTP/1.1\r\nHost: x\r\n\r\n")
            got = 0
            while got < 2_000_000:
                d = s.recv(65536)
                if not d:
                    break
                got += len(d)
            s.close()
            t.wait_until(lambda: len(st.stops()) >= 1, 5, what="engine stop")
            time.sleep(0.3)
            window["t1"] = time.monotonic_ns()
            window["bytes"] = got

    import unittest
    r = unittest.TextTestRunner(stream=open(os.devnull, "w")).run(Walk("test_walk"))
    shutil.rmtree(bins, ignore_errors=True)
    if not r.wasSuccessful():
        sys.exit("walk: the request did not run: %s" % (r.failures or r.errors))
    return window


def analyse(dp_bin, source, trace, window, listing):
    data = open(trace, "rb").read()
    recs = [struct.unpack_from("<QQQ", data, i) for i in range(0, len(data) - 23, 24)]
    recs = [r for r in recs if window["t0"] <= r[2] <= window["t1"]]
    addrs = sorted({r[1] for r in recs})
    out = subprocess.run(["addr2line", "-f", "-e", dp_bin] + ["%x" % a for a in addrs],
                         capture_output=True, text=True, check=True).stdout.split("\n")
    sym = {a: (out[2 * i], out[2 * i + 1].split(":")[0]) for i, a in enumerate(addrs)}
    threads = collections.defaultdict(list)
    for tid, a, _ in recs:
        fn, f = sym[a]
        if f.startswith(source + "/"):
            threads[tid].append((fn, os.path.relpath(f, source)))
    seq = max(threads.values(), key=len)  # the worker that served the viewer
    print("walk of one viewer (2 MB read, %d bytes), per-request mode, %s" % (window["bytes"], source))
    for label, keep in (("all code", lambda f: True),
                        ("dataplane modules only", lambda f: not f.startswith(PURE))):
        first, seen = [], set()
        for x in seq:
            if keep(x[1]) and x not in seen:
                seen.add(x)
                first.append(x)
        files = collections.Counter(f for _, f in first)
        back = sum(1 for a, b in zip(first, first[1:])
                   if b[1] == "dataplane/stream.c" and a[1] != b[1])
        back_group = sum(1 for a, b in zip(first, first[1:])
                         if b[1] in STREAM_MODULES and a[1] not in STREAM_MODULES)
        calls = [x for x in seq if keep(x[1])]
        into = sum(1 for a, b in zip(calls, calls[1:])
                   if b[1] == "dataplane/stream.c" and a[1] != b[1])
        print("  %-24s %3d stops in %2d files; returns into stream.c %2d (into the stream "
              "modules %2d); calls %d, of them entering stream.c from elsewhere %d"
              % (label + ":", len(first), len(files), back, back_group, len(calls), into))
        if listing:
            for f, n in sorted(files.items(), key=lambda x: -x[1]):
                print("      %3d %s" % (n, f))
    if listing:
        for fn, f in first:
            print("    %s %s" % (f, fn))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", default=ROOT, help="the tree to build and measure")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"),
                    help="a normal build's bin dir (controlplane, fake engine)")
    ap.add_argument("--list", action="store_true", help="list the files and the stops")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="acexy-walk-")
    try:
        dp_bin = build(os.path.abspath(a.source), work)
        trace = os.path.join(work, "trace")
        window = run_once(dp_bin, a.bin, trace)
        analyse(dp_bin, os.path.abspath(a.source), trace, window, a.list)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
