#!/usr/bin/env python3
"""Soak: mixed load against both daemons for a while, sampling the
dataplane's RssAnon and open descriptors and the controlplane's leases, then
checking that everything returns to its baseline once the load stops.
Not part of the suite.

    python3 tests/bench/soak.py [--bin build/bin] [--minutes 10] [--out soak.json]

Load, in cycles: paced TS viewers that come and go (short and long), a
multiplex-free fan of probes, HLS sessions fetched for a while and left to
expire, engine failures (fail-load, reset, stall), bad requests, and a
controlplane kill -9 + restart every few minutes."""
import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import free_port, rss_anon, wait_http  # noqa: E402


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read(65536)
    except urllib.error.HTTPError as e:
        return e.code, b""
    except OSError:
        return 0, b""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--out", default="soak.json")
    args = ap.parse_args()
    b = os.path.abspath(args.bin)
    tmp = tempfile.mkdtemp(prefix="acexy-soak-")
    ep, port, cport = free_port(), free_port(), free_port()
    env = dict(os.environ, ACEXY_RUN_DIR=tmp + "/run", ACEXY_STATE_DIR=tmp + "/state", ACEXY_HOST="127.0.0.1",
               ACEXY_PORT=str(ep), ACEXY_LISTEN_ADDR="127.0.0.1:%d" % port,
               ACEXY_CP_LISTEN_ADDR="127.0.0.1:%d" % cport, ACEXY_LOG_LEVEL="warn",
               ACEXY_M3U8_STREAM_TIMEOUT="5s", ACEXY_EMPTY_TIMEOUT="3s")
    logs = open(tmp + "/soak.log", "w")
    procs = {}

    def start(name, argv):
        procs[name] = subprocess.Popen(argv, env=env, stdout=logs, stderr=subprocess.STDOUT)

    start("engine", [b + "/acexy-fake-engine", "--listen", "127.0.0.1:%d" % ep, "--bitrate", "2000000"])
    wait_http("http://127.0.0.1:%d/webui/api/service?method=get_version" % ep)
    start("cp", [b + "/acexy-controlplane"])
    start("dp", [b + "/acexy-dataplane"])
    wait_http("http://127.0.0.1:%d/readyz" % port)
    dp = procs["dp"].pid
    time.sleep(1)
    base = {"rss_kib": rss_anon(dp) // 1024, "fds": fds(dp)}
    stop = time.monotonic() + args.minutes * 60
    samples, errors = [], {"unexpected_status": 0}
    lock = threading.Lock()

    def viewer(i):
        rnd = random.Random(i)
        while time.monotonic() < stop:
            content = rnd.choice(["soak%d" % rnd.randint(0, 50), "reset-300000", "stall-200000",
                                  "fail-load", "soakhls%d" % rnd.randint(0, 5)])
            if content.startswith("soakhls"):
                st, body = get("http://127.0.0.1:%d/ace/manifest.m3u8?id=%s" % (port, content))
                if st == 200:
                    variant = body.decode().strip().splitlines()[-1]
                    for _ in range(rnd.randint(1, 4)):
                        get("http://127.0.0.1:%d/ace/%s" % (port, variant))
                        time.sleep(1)
                continue
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                s.sendall(("GET /ace/getstream?id=%s HTTP/1.1\r\nHost: x\r\n\r\n" % content).encode())
                head = s.recv(4096)
                code = int(head.split()[1]) if head.startswith(b"HTTP/1.1") else 0
                if code not in (200, 502, 503, 504):
                    with lock:
                        errors["unexpected_status"] += 1
                end = time.monotonic() + rnd.choice([0.2, 1, 3, 8])
                while code == 200 and time.monotonic() < end:
                    if not s.recv(65536):
                        break
                s.close()
            except OSError:
                pass
            if rnd.random() < 0.1:
                get("http://127.0.0.1:%d/ace/getstream?pid=1&id=x" % port)  # 400

    threads = [threading.Thread(target=viewer, args=(i,)) for i in range(40)]
    [t.start() for t in threads]
    next_kill = time.monotonic() + 120
    while time.monotonic() < stop:
        time.sleep(10)
        st, body = get("http://127.0.0.1:%d/metrics" % cport)
        leases = [l for l in body.decode().splitlines() if l.startswith("acexy_cp_leases ")]
        samples.append({"t": round(args.minutes * 60 - (stop - time.monotonic())), "rss_kib": rss_anon(dp) // 1024,
                        "fds": fds(dp), "cp_leases": int(float(leases[0].split()[1])) if leases else None})
        print(json.dumps(samples[-1]), flush=True)
        if time.monotonic() > next_kill:
            procs["cp"].send_signal(signal.SIGKILL)
            procs["cp"].wait()
            start("cp", [b + "/acexy-controlplane"])
            next_kill += 120
    [t.join() for t in threads]
    time.sleep(8)  # HLS idle, empty timeouts, stop commands
    end = {"rss_kib": rss_anon(dp) // 1024, "fds": fds(dp)}
    st, body = get("http://127.0.0.1:%d/metrics" % cport)
    leases = [l for l in body.decode().splitlines() if l.startswith("acexy_cp_leases ")]
    end["cp_leases"] = int(float(leases[0].split()[1])) if leases else None
    alive = {k: p.poll() is None for k, p in procs.items()}
    result = {"minutes": args.minutes, "baseline": base, "end": end, "samples": samples, "errors": errors,
              "alive": alive, "peak_rss_kib": max(s["rss_kib"] for s in samples) if samples else None,
              "peak_fds": max(s["fds"] for s in samples) if samples else None}
    for p in procs.values():
        p.send_signal(signal.SIGTERM)
    for p in procs.values():
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
    result["dp_exit"] = procs["dp"].returncode
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}))


if __name__ == "__main__":
    main()
