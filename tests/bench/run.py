#!/usr/bin/env python3
"""acexy's benchmark (DESIGN.md "Performance targets"): every figure measured
in one run on this machine, against baselines measured in the same run.

    tests/bench/run.sh [--quick] [--runs N] [--out FILE] [--only NAME,...]

Figures (NAME): throughput, ttfb, concurrent, memory (with concurrent),
fanout, assign, failover (engines failing mid-stream: gap, stall
detection), join (a late joiner's first picture; tests/bench/bench_failover.py). Each repeated figure is the median of its runs with min/max.
Results are printed as a table and written as JSON (default
bench-results.json) for comparison between commits. Not part of the test
suite: nothing here passes or fails."""
import argparse
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration", "lib"))
from acexytest import free_port  # noqa: E402  (ports below the ephemeral range)
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid, children=False):
    """user+sys seconds of a process (all its threads), with children=True
    also those of its reaped children (socat forks one per connection)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    t = int(fields[11]) + int(fields[12])
    if children:
        t += int(fields[13]) + int(fields[14])
    return t / TICK


def thread_sums(pid):
    """(CPU ns, voluntary context switches) of all of a process's threads so
    far. A voluntary switch is a thread going to sleep to wait for another:
    the count of hand-offs, which other load on the machine hardly moves
    (preemptions are the involuntary ones, not counted)."""
    ns = vol = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                ns += int(f.read().split()[0])
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                vol += sum(int(line.split()[1]) for line in f if line.startswith("voluntary_ctxt"))
        except OSError:
            pass  # a thread that ended meanwhile
    return ns, vol


def rss_anon(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return 0


def wait_http(url, timeout=10):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("%s did not answer" % url)


def metric(port, name):
    body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5).read().decode()
    for line in body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


class Bench:
    free_port = staticmethod(free_port)
    wait_http = staticmethod(wait_http)

    def __init__(self, args):
        self.args = args
        self.bin = os.path.abspath(args.bin)
        self.tmp = tempfile.mkdtemp(prefix="acexy-bench-")
        self.procs = []
        self.results = {"machine": {"cpus": os.cpu_count(), "kernel": os.uname().release},
                        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "figures": {}}
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = min(hard, 65536)
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    # ---- processes ----
    def start(self, args, env=None, name="proc"):
        log = open(os.path.join(self.tmp, "%s-%d.log" % (name, len(self.procs))), "w")
        p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                             env=dict(os.environ, **(env or {})))
        p.logpath = log.name
        self.procs.append(p)
        return p

    def stop(self, p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def cleanup(self):
        for p in reversed(self.procs):
            self.stop(p)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def engine(self, *extra):
        port = free_port()
        p = self.start([os.path.join(self.bin, "acexy-fake-engine"), "--listen", "127.0.0.1:%d" % port]
                       + list(extra), name="engine")
        wait_http("http://127.0.0.1:%d/webui/api/service?method=get_version" % port)
        return p, port

    def acexy(self, engine_port, env=None):
        run = tempfile.mkdtemp(dir=self.tmp)
        port, cport = free_port(), free_port()
        e = {"ACEXY_RUN_DIR": run + "/run", "ACEXY_STATE_DIR": run + "/state", "ACEXY_HOST": "127.0.0.1",
             "ACEXY_PORT": str(engine_port), "ACEXY_LISTEN_ADDR": "127.0.0.1:%d" % port,
             "ACEXY_CP_LISTEN_ADDR": "127.0.0.1:%d" % cport, "ACEXY_LOG_LEVEL": "warn",
             "ACEXY_MAX_STREAMS": "5000", "ACEXY_MAX_VIEWERS": "20000"}
        e.update(env or {})
        cp = self.start([os.path.join(self.bin, "acexy-controlplane")], env=e, name="cp")
        dp = self.start([os.path.join(self.bin, "acexy-dataplane")], env=e, name="dp")
        t0 = time.monotonic()
        while time.monotonic() - t0 < 10:
            try:
                if urllib.request.urlopen("http://127.0.0.1:%d/readyz" % port, timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.05)
        return cp, dp, port, run + "/run"

    def loadgen(self, url, *extra, timeout=300):
        r = subprocess.run([os.path.join(self.bin, "acexy-loadgen"), "--url", url] + list(extra),
                           capture_output=True, text=True, timeout=timeout)
        if r.returncode not in (0, 1) or not r.stdout.strip():
            raise RuntimeError("loadgen failed: %s %s" % (r.stdout, r.stderr))
        return json.loads(r.stdout)

    def runs(self, n_default):
        return 1 if self.args.quick else (self.args.runs or n_default)

    @staticmethod
    def summary(values):
        return {"median": statistics.median(values), "min": min(values), "max": max(values),
                "runs": len(values)}

    def record(self, name, data):
        self.results["figures"][name] = data
        print("%-12s %s" % (name, json.dumps(data)), flush=True)

    # ---- proxies to compare with ----
    def socat(self, engine_port):
        port = free_port()
        p = self.start(["socat", "TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork,rcvbuf=262144,sndbuf=262144" % port,
                        "TCP:127.0.0.1:%d,rcvbuf=262144,sndbuf=262144" % engine_port], name="socat")
        time.sleep(0.3)
        return p, port

    def splice_relay(self, engine_port):
        """The ceiling: tests/bench/splice_relay.c, a bare splice(2) relay."""
        port = free_port()
        p = self.start([os.path.join(self.bin, "acexy-splice-relay"), str(port), str(engine_port)],
                       name="splice-relay")
        time.sleep(0.3)
        return p, port

    def nginx(self, engine_port, buffers):
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"  # scripts/deps.sh --bench
        if not os.path.exists(nginx):
            print("nginx missing (scripts/deps.sh --bench installs it): no nginx baseline", flush=True)
            return None, None
        port = free_port()
        d = tempfile.mkdtemp(dir=self.tmp)
        buf = ("proxy_buffer_size 64k; proxy_buffers 8 64k; proxy_busy_buffers_size 128k;"
               if buffers == "64k" else "")
        conf = """worker_processes 1; daemon off; pid %s/nginx.pid; error_log %s/error.log;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path %s; proxy_temp_path %s;
  server { listen 127.0.0.1:%d;
    location / { proxy_pass http://127.0.0.1:%d; proxy_buffering off; proxy_http_version 1.1;
      proxy_set_header Host $http_host; %s } } }
""" % (d, d, d, d, port, engine_port, buf)
        with open(d + "/nginx.conf", "w") as f:
            f.write(conf)
        p = self.start([nginx, "-c", d + "/nginx.conf", "-p", d], name="nginx")
        time.sleep(0.5)
        return p, port

    # ---- figures ----
    def fig_throughput(self):
        secs = 2 if self.args.quick else 5
        eng, ep = self.engine("--bitrate", "0")
        cp, dp, port, _ = self.acexy(ep)
        sp, sport = self.socat(ep)
        rp, rport = self.splice_relay(ep)
        variants = {"direct": ("http://127.0.0.1:%d/ace/getstream?id=tp{}%%d&format=json" % ep, True, None),
                    "acexy": ("http://127.0.0.1:%d/ace/getstream?id=tp{}%%d" % port, False, dp.pid),
                    "socat": ("http://127.0.0.1:%d/ace/getstream?id=tp{}%%d&format=json" % sport, True, sp.pid),
                    "splice_relay": ("http://127.0.0.1:%d/ace/getstream?id=tp{}%%d&format=json" % rport, True,
                                     rp.pid)}
        ng = {}
        for b in ("default", "64k"):
            p, nport = self.nginx(ep, b)
            if p:
                ng[b] = p
                variants["nginx_" + b] = ("http://127.0.0.1:%d/ace/getstream?id=tp{}%%d&format=json" % nport,
                                          True, p.pid)
        res = {k: [] for k in variants}
        cpu_per_gib = {k: [] for k in variants}
        for r in range(self.runs(3)):
            for name, (url, direct, pid) in variants.items():
                pids = [pid] if pid else []
                if name.startswith("nginx"):  # the worker does the relaying
                    pids = [int(x) for x in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                                           text=True).stdout.split()] + [pid]
                kids = name in ("socat", "splice_relay")  # one child per connection
                c0 = sum(cpu_s(x, kids) for x in pids)
                out = self.loadgen(url.format(r), "--seconds", str(secs), *(["--direct"] if direct else []))
                if kids:
                    time.sleep(0.3)  # the per-connection child exits and is reaped
                c1 = sum(cpu_s(x, kids) for x in pids)
                res[name].append(out["gib_per_s"])
                if pids and out["bytes"]:
                    cpu_per_gib[name].append((c1 - c0) / (out["bytes"] / 2 ** 30))
        base = statistics.median(res["direct"])
        fig = {}
        for name in variants:
            fig[name] = dict(self.summary(res[name]), ratio_to_direct=statistics.median(res[name]) / base)
            if cpu_per_gib[name]:
                fig[name]["cpu_s_per_gib"] = self.summary(cpu_per_gib[name])
        if "cpu_s_per_gib" in fig["splice_relay"]:
            fig["acexy"]["ratio_to_splice_relay"] = (statistics.median(res["acexy"]) /
                                                     statistics.median(res["splice_relay"]))
        if "nginx_64k" in fig and "cpu_s_per_gib" in fig["nginx_64k"]:
            fig["acexy"]["cpu_per_gib_ratio_to_nginx_64k"] = (
                fig["acexy"]["cpu_s_per_gib"]["median"] / fig["nginx_64k"]["cpu_s_per_gib"]["median"])
        self.record("throughput", fig)
        for p in [dp, cp, sp, rp, eng] + list(ng.values()):
            self.stop(p)

    def fig_ttfb(self):
        n = 100 if self.args.quick else 500
        eng, ep = self.engine("--bitrate", "0")
        cp, dp, port, _ = self.acexy(ep)
        acexy, direct = [], []
        for r in range(self.runs(3)):
            d = self.loadgen("http://127.0.0.1:%d/ace/getstream?id=tt%d_%%d&format=json" % (ep, r),
                             "--mode", "ttfb", "--conns", str(n), "--direct")
            a = self.loadgen("http://127.0.0.1:%d/ace/getstream?id=ta%d_%%d" % (port, r),
                             "--mode", "ttfb", "--conns", str(n))
            direct.append(d)
            acexy.append(a)
        fig = {"starts": n,
               "direct_p50_ms": self.summary([x["p50_ms"] for x in direct]),
               "direct_p99_ms": self.summary([x["p99_ms"] for x in direct]),
               "acexy_p50_ms": self.summary([x["p50_ms"] for x in acexy]),
               "acexy_p99_ms": self.summary([x["p99_ms"] for x in acexy]),
               "added_p50_ms": self.summary([a["p50_ms"] - d["p50_ms"] for a, d in zip(acexy, direct)]),
               "added_p99_ms": self.summary([a["p99_ms"] - d["p99_ms"] for a, d in zip(acexy, direct)])}
        self.record("ttfb", fig)
        for p in (dp, cp, eng):
            self.stop(p)

    def fig_concurrent(self):
        n = 200 if self.args.quick else 1000
        secs = 8 if self.args.quick else 20
        eng, ep = self.engine("--bitrate", "4000000")
        cp, dp, port, _ = self.acexy(ep, {"ACEXY_WORKERS": "2"})
        time.sleep(0.5)
        idle = rss_anon(dp.pid)
        lg = subprocess.Popen([os.path.join(self.bin, "acexy-loadgen"), "--url",
                               "http://127.0.0.1:%d/ace/getstream?id=cc%%d" % port, "--conns", str(n),
                               "--seconds", str(secs), "--ramp-ms", "100", "--ramp-batch", "50"],
                              stdout=subprocess.PIPE, text=True)
        ramp = n / 50 * 0.1 + 2
        time.sleep(ramp)
        c0, e0, t0 = cpu_s(dp.pid), cpu_s(eng.pid), time.monotonic()
        rss = []
        while time.monotonic() - t0 < secs - ramp - 1:
            rss.append(rss_anon(dp.pid))
            time.sleep(0.5)
        c1, e1, t1 = cpu_s(dp.pid), cpu_s(eng.pid), time.monotonic()
        ring = metric(port, "acexy_ring_memory_bytes")
        live = metric(port, "acexy_streams")
        out, _ = lg.communicate(timeout=60)
        lgr = json.loads(out)
        peak = max(rss) if rss else 0
        fig = {"streams": n, "live_at_steady": live, "ok": lgr["ok"], "failed": lgr["failed"],
               "ts_errors": lgr["ts_errors"], "max_gap_ms": lgr["max_gap_ms"],
               "dataplane_core_share": (c1 - c0) / (t1 - t0), "engine_core_share": (e1 - e0) / (t1 - t0),
               "loadgen_core_share": lgr["cpu_s"] / lgr["wall_s"], "loadgen_bottleneck": lgr["bottleneck"],
               "dataplane_rss_anon_mib": peak / 2 ** 20, "ring_bytes_mib": ring / 2 ** 20}
        self.record("concurrent", fig)
        per_stream = (peak - idle - ring) / max(live, 1)
        self.record("memory", {"idle_rss_anon_mib": idle / 2 ** 20,
                               "per_stream_beyond_buffered_kib": per_stream / 1024,
                               "streams": live})
        for p in (dp, cp, eng):
            self.stop(p)

    def fig_fanout(self):
        fig = {}
        for n in ((100, 300) if self.args.quick else (500, 2000)):
            secs = 8 if self.args.quick else 15
            eng, ep = self.engine("--bitrate", "4000000")
            cp, dp, port, _ = self.acexy(ep, {"ACEXY_MULTIPLEX": "true", "ACEXY_WORKERS": "1"})
            lg = subprocess.Popen([os.path.join(self.bin, "acexy-loadgen"), "--url",
                                   "http://127.0.0.1:%d/ace/getstream?id=fan" % port, "--conns", str(n),
                                   "--seconds", str(secs), "--ramp-ms", "100", "--ramp-batch", "100"],
                                  stdout=subprocess.PIPE, text=True)
            ramp = n / 100 * 0.1 + 2
            time.sleep(ramp)
            c0, t0 = cpu_s(dp.pid), time.monotonic()
            time.sleep(max(1, secs - ramp - 1))
            c1, t1 = cpu_s(dp.pid), time.monotonic()
            rss = rss_anon(dp.pid)
            dropped = metric(port, "acexy_viewers_dropped_total")
            sessions = len(json.loads(urllib.request.urlopen(
                "http://127.0.0.1:%d/__fake/state" % ep, timeout=5).read())["sessions"])
            out, _ = lg.communicate(timeout=60)
            lgr = json.loads(out)
            fig["viewers_%d" % n] = {
                "ok": lgr["ok"], "failed": lgr["failed"], "ts_errors": lgr["ts_errors"],
                "max_gap_ms": lgr["max_gap_ms"], "dataplane_core_share": (c1 - c0) / (t1 - t0),
                "dataplane_rss_anon_mib": rss / 2 ** 20, "dropped": dropped, "engine_sessions": sessions,
                "loadgen_core_share": lgr["cpu_s"] / lgr["wall_s"], "loadgen_bottleneck": lgr["bottleneck"]}
            for p in (dp, cp, eng):
                self.stop(p)
        self.record("fanout", fig)

    def fig_failover(self):
        import bench_failover
        bench_failover.fig_failover(self)

    def fig_join(self):
        import bench_failover
        bench_failover.fig_join(self)

    def fig_assign(self):
        n = 1000 if self.args.quick else 5000
        fig = {}
        # single-engine mode
        eng, ep = self.engine()
        cp, dp, port, run = self.acexy(ep)
        self.stop(dp)
        runs = [json.loads(subprocess.run([os.path.join(self.bin, "acexy-bench-assign"), run, str(n)],
                                          capture_output=True, text=True, timeout=120).stdout)
                for _ in range(self.runs(3))]
        fig["single_engine"] = {"per_s": self.summary([r["per_s"] for r in runs]),
                                "p50_us": self.summary([r["p50_us"] for r in runs]),
                                "p99_us": self.summary([r["p99_us"] for r in runs])}
        self.stop(cp)
        # orchestrator mode, 500 engines known
        oport = free_port()
        orch = self.start([sys.executable, os.path.join(ROOT, "tests", "fixtures", "fake_orchestrator.py"),
                           "--listen", "127.0.0.1:%d" % oport, "--phantom", "500",
                           "--engine-bin", os.path.join(self.bin, "acexy-fake-engine")], name="orch")
        wait_http("http://127.0.0.1:%d/__fake/state" % oport)
        cp, dp, port, run = self.acexy(ep, {"ACEXY_ORCH_URL": "http://127.0.0.1:%d" % oport,
                                            "ACEXY_ORCH_POLL_INTERVAL": "5s"})
        self.stop(dp)
        time.sleep(1.0)
        runs = [json.loads(subprocess.run([os.path.join(self.bin, "acexy-bench-assign"), run, str(n)],
                                          capture_output=True, text=True, timeout=120).stdout)
                for _ in range(self.runs(3))]
        fig["orchestrator_500_engines"] = {"per_s": self.summary([r["per_s"] for r in runs]),
                                           "p50_us": self.summary([r["p50_us"] for r in runs]),
                                           "p99_us": self.summary([r["p99_us"] for r in runs])}
        for p in (cp, orch):
            self.stop(p)
        # scale-out: 8 dataplane connections at once over tcp:// and tls+tcp://
        certs = make_certs(tempfile.mkdtemp(dir=self.tmp))
        for scheme in ("ipc", "tcp", "tls+tcp"):
            cport = free_port()
            url = "" if scheme == "ipc" else "%s://127.0.0.1:%d" % (scheme, cport)
            env = {"ACEXY_CONTROL_TOKEN": "bench-token"}
            if url:
                env["ACEXY_CONTROL_URL"] = url
            if scheme == "tls+tcp":
                env.update({"ACEXY_CONTROL_TLS_CA": certs + "/ca.pem",
                            "ACEXY_CONTROL_TLS_CERT": certs + "/cp.pem",
                            "ACEXY_CONTROL_TLS_KEY": certs + "/cp.key"})
            cp, dp, port, run = self.acexy(ep, env)
            self.stop(dp)
            benv = dict(os.environ, **env)
            if scheme == "tls+tcp":
                benv.update({"ACEXY_CONTROL_TLS_CERT": certs + "/dp.pem",
                             "ACEXY_CONTROL_TLS_KEY": certs + "/dp.key"})
            # the client: libnng (as a dataplane), and "light" (the wire
            # format over a blocking socket, in TLS over tls+tcp://: less of
            # the client on the controlplane's two cores)
            # and "pinned": the controlplane on core 0 and the client on core
            # 1 (taskset), as when the dataplanes run on other hosts: each
            # side's CPU stays its own
            ncpu = len(os.sched_getaffinity(0))
            for pinned in (False, True) if ncpu >= 2 and shutil.which("taskset") else (False,):
                if pinned:
                    subprocess.run(["taskset", "-a", "-p", "-c", "0", str(cp.pid)],
                                   capture_output=True, check=True)
                for client in ("libnng", "light"):
                    runs = []
                    for _ in range(self.runs(3)):
                        c0, x0 = thread_sums(cp.pid)
                        cmd = [os.path.join(self.bin, "acexy-bench-assign"), url or run, str(n // 4), "8", client]
                        if pinned:
                            cmd = ["taskset", "-c", "1"] + cmd
                        r = json.loads(subprocess.run(cmd, env=benv, capture_output=True, text=True,
                                                      timeout=120).stdout)
                        # the controlplane's CPU and hand-offs per assignment (an
                        # assignment is two requests: assign and stream_ended)
                        c1, x1 = thread_sums(cp.pid)
                        r["cp_cpu_us"] = (c1 - c0) / 1e3 / max(r["assignments"], 1)
                        r["cp_switches"] = (x1 - x0) / max(r["assignments"], 1)
                        runs.append(r)
                    name = "%s_8_connections" % scheme.replace("+", "_")
                    name += "_light_client" if client == "light" else ""
                    name += "_pinned" if pinned else ""
                    fig[name] = {
                        "per_s": self.summary([r["per_s"] for r in runs]),
                        "p50_us": self.summary([r["p50_us"] for r in runs]),
                        "p99_us": self.summary([r["p99_us"] for r in runs]),
                        "cp_cpu_us_per_assignment": self.summary([r["cp_cpu_us"] for r in runs]),
                        "cp_handoffs_per_assignment": self.summary([r["cp_switches"] for r in runs]),
                        "client_core_share": self.summary([r["client_core_share"] for r in runs])}
            self.stop(cp)
        self.record("assign", fig)
        self.stop(eng)


def make_certs(d):
    """A CA and a certificate each for the controlplane and the bench's
    dataplane connections (openssl CLI), for tls+tcp://."""
    def ossl(*a):
        subprocess.run(["openssl"] + list(a), check=True, capture_output=True)
    ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
         d + "/ca.key", "-out", d + "/ca.pem", "-days", "2", "-subj", "/CN=acexy-bench-ca")
    with open(d + "/ext", "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for n in ("cp", "dp"):
        ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
             d + "/%s.key" % n, "-out", d + "/%s.csr" % n, "-subj", "/CN=acexy-" + n)
        ossl("x509", "-req", "-in", d + "/%s.csr" % n, "-CA", d + "/ca.pem", "-CAkey", d + "/ca.key",
             "-CAcreateserial", "-out", d + "/%s.pem" % n, "-days", "2", "-extfile", d + "/ext")
    return d


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    ap.add_argument("--quick", action="store_true", help="one short run of each figure")
    ap.add_argument("--runs", type=int, default=0)
    ap.add_argument("--out", default="bench-results.json")
    ap.add_argument("--only", default="throughput,ttfb,concurrent,fanout,assign,failover,join")
    args = ap.parse_args()
    b = Bench(args)
    try:
        for name in args.only.split(","):
            getattr(b, "fig_" + name.strip())()
    finally:
        b.cleanup()
    with open(args.out, "w") as f:
        json.dump(b.results, f, indent=1)
    print("written: %s" % args.out)


if __name__ == "__main__":
    main()
