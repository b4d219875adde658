"""Scale-out (issue 19): one controlplane, several dataplanes over tcp:// and
tls+tcp:// (each dataplane with its own run dir, as on its own host).
Leases hold across dataplanes, a wrong token is refused, a lost dataplane's
leases end, a controlplane restart keeps every dataplane's streams, and
dataplanes in other network namespaces reach the controlplane over a veth
pair."""
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import acexytest as t
from acexytest import http_get, http_json, wait_until

TOKEN = "scale-out-token-never-logged"


def make_certs(d, extra_ips=(), deploy_like=False):
    """A CA and one certificate each for the controlplane and dataplanes,
    made with the openssl CLI (P-256, valid 2 days). deploy_like: as
    deploy's make-secrets.sh makes them, DNS names only and one purpose each
    (the controlplane's serverAuth, the dataplane's clientAuth)."""
    def ossl(*a):
        subprocess.run(["openssl"] + list(a), check=True, capture_output=True)
    ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", os.path.join(d, "ca.key"), "-out", os.path.join(d, "ca.pem"), "-days", "2",
         "-subj", "/CN=acexy-test-ca")
    san = "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" + "".join(",IP:" + ip for ip in extra_ips)
    with open(os.path.join(d, "ext"), "w") as f:
        f.write(san + "\n")
    exts = {}
    for n, name, eku in (("cp", "acexy-controlplane", "serverAuth"), ("dp", "acexy-dataplane", "clientAuth")):
        exts[n] = os.path.join(d, "ext")
        if deploy_like:
            exts[n] = os.path.join(d, n + ".ext")
            with open(exts[n], "w") as f:
                f.write("subjectAltName=DNS:%s\nextendedKeyUsage=%s\nbasicConstraints=CA:FALSE\n"
                        % (name, eku))
    for n in ("cp", "dp"):
        ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", os.path.join(d, n + ".key"), "-out", os.path.join(d, n + ".csr"),
             "-subj", "/CN=acexy-" + n)
        ossl("x509", "-req", "-in", os.path.join(d, n + ".csr"), "-CA", os.path.join(d, "ca.pem"),
             "-CAkey", os.path.join(d, "ca.key"), "-CAcreateserial", "-out",
             os.path.join(d, n + ".pem"), "-days", "2", "-extfile", exts[n])
    return d


class Cluster:
    """A fake engine (or the fake orchestrator's engines), one controlplane
    listening on ACEXY_CONTROL_URL and dataplanes dialing it, each with its
    own run dir."""

    def __init__(self, tc, url=None, env=None, cp_env=None):
        self.tc = tc
        self.dir = tc.tmpdir()
        self.engine_port = t.free_port()
        self.cp_port = t.free_port()
        self.control_port = t.free_port()
        self.url = url or "tcp://127.0.0.1:%d" % self.control_port
        self.env = {
            "ACEXY_STATE_DIR": os.path.join(self.dir, "state"),
            "ACEXY_HOST": "127.0.0.1",
            "ACEXY_PORT": str(self.engine_port),
            "ACEXY_CONTROL_URL": self.url,
            "ACEXY_CONTROL_TOKEN": TOKEN,
            "ACEXY_WORKERS": "1",
            "ACEXY_LOG_LEVEL": "debug",
        }
        self.env.update(env or {})
        self.cp_env = cp_env or {}
        self.cp = None
        self.dps = []  # (proc, port, run_dir)
        self.engine = None

    def start_engine(self):
        self.engine = self.tc.start([t.binpath("acexy-fake-engine"), "--listen",
                                     "127.0.0.1:%d" % self.engine_port], name="fake-engine")
        wait_until(lambda: http_get(self.engine_port, "/webui/api/service?method=get_version")[0] == 200,
                   10, what="fake engine up")

    def cp_run_dir(self):
        return os.path.join(self.dir, "cp-run")

    def start_cp(self, env=None, prefix=()):
        e = dict(self.env)
        e.update(self.cp_env)
        e.update({"ACEXY_RUN_DIR": self.cp_run_dir(),
                  "ACEXY_CP_LISTEN_ADDR": "127.0.0.1:%d" % self.cp_port})
        e.update(env or {})
        self.cp = self.tc.start(list(prefix) + [t.binpath("acexy-controlplane")], env=e,
                                name="controlplane")
        return self.cp

    def start_dp(self, env=None, wait_ready=True, prefix=(), listen="127.0.0.1"):
        i = len(self.dps)
        port = t.free_port()
        run_dir = os.path.join(self.dir, "dp%d-run" % i)
        e = dict(self.env)
        e.update({"ACEXY_RUN_DIR": run_dir, "ACEXY_LISTEN_ADDR": "%s:%d" % (listen, port),
                  "ACEXY_INSTANCE": "dp%d" % i})
        e.update(env or {})
        p = self.tc.start(list(prefix) + [t.binpath("acexy-dataplane")], env=e, name="dataplane%d" % i)
        self.dps.append((p, port, run_dir))
        if wait_ready:
            wait_until(lambda: http_get(port, "/readyz")[0] == 200, 15, what="dataplane %d ready" % i)
        return p, port, run_dir

    def ctl(self, *args, run_dir=None):
        r = subprocess.run([t.binpath("acexyctl"), "--run-dir", run_dir or self.cp_run_dir()] +
                           list(args), capture_output=True, text=True, timeout=10)
        return r.returncode, r.stdout, r.stderr

    def ctl_json(self, *args, run_dir=None):
        rc, out, err = self.ctl("--json", *args, run_dir=run_dir)
        if rc != 0:
            raise AssertionError("acexyctl %s: %d %s %s" % (args, rc, out, err))
        return json.loads(out)

    def engine_state(self):
        return http_json(self.engine_port, "/__fake/state")[1]


def recv_for(s, seconds):
    got = 0
    until = time.time() + seconds
    s.settimeout(seconds + 2)
    while time.time() < until:
        b = s.recv(65536)
        if not b:
            break
        got += len(b)
    return got


class ScaleOutTest(t.TestCase):
    def setup_orch(self, engines, per_engine=1, max_replicas=None, env=None):
        args = ["--engines", str(engines)]
        if max_replicas is not None:
            args += ["--max-replicas", str(max_replicas)]
        self.oport = t.start_fake_orchestrator(self, *args)
        e = {"ACEXY_ORCH_URL": "http://127.0.0.1:%d" % self.oport,
             "ACEXY_MAX_STREAMS_PER_ENGINE": str(per_engine), "ACEXY_ORCH_POLL_INTERVAL": "1s",
             "ACEXY_ASSIGN_TIMEOUT": "3s", "ACEXY_FALLBACK": "false"}
        e.update(env or {})
        return Cluster(self, env=e)

    def engine_sessions(self):
        """engine port -> live sessions, over every orchestrator engine."""
        out = {}
        for e in t.orch_state(self.oport)["engines"]:
            st = http_json(e["port"], "/__fake/state")[1]
            out[e["port"]] = [s for s in st["sessions"] if not s.get("stopped")]
        return out

    def test_leases_hold_across_three_dataplanes(self):
        """Three dataplanes over tcp://, 3 engines of two slots each: 12
        simultaneous requests (4 per dataplane) for distinct contents all
        stream, and no engine ever holds more than
        ACEXY_MAX_STREAMS_PER_ENGINE sessions (the rest are provisioned)."""
        c = self.setup_orch(engines=3, per_engine=2, env={"ACEXY_ASSIGN_TIMEOUT": "20s"})
        c.start_cp()
        for _ in range(3):
            c.start_dp()
        codes = {}
        socks = []
        lock = threading.Lock()

        def one(dpi, k):
            port = c.dps[dpi][1]
            s, head = t.open_stream(port, "id=lease%d_%d" % (dpi, k))
            with lock:
                codes[(dpi, k)] = head.split(b" ")[1] if head else b"?"
                socks.append(s)
        th = [threading.Thread(target=one, args=(d, k)) for d in range(3) for k in range(4)]
        [x.start() for x in th]
        [x.join() for x in th]
        self.assertEqual(sorted(set(codes.values())), [b"200"], codes)
        per_engine = {p: len(v) for p, v in self.engine_sessions().items()}
        self.assertEqual(sum(per_engine.values()), 12, per_engine)
        self.assertLessEqual(max(per_engine.values()), 2, per_engine)
        self.assertGreaterEqual(len(t.orch_state(self.oport)["provisions"]), 3)
        # the controlplane knows all three dataplanes and their streams
        wait_until(lambda: sum(d["viewers"] for d in c.ctl_json("dataplanes")["dataplanes"]) == 12,
                   5, what="viewers reported by heartbeats")
        dps = c.ctl_json("dataplanes")["dataplanes"]
        self.assertEqual(sorted(d["instance"] for d in dps), ["dp0", "dp1", "dp2"])
        self.assertEqual(sum(d["streams"] for d in dps), 12)
        for d in dps:
            self.assertTrue(d["address"].startswith("127.0.0.1:"), d)
            self.assertEqual(d["version"], dps[0]["version"])
            self.assertEqual(d["viewers"], 4)
            self.assertLess(d["last_heartbeat_s"], 3)
        for s in socks:
            s.close()

    def test_wrong_token_refused(self):
        c = Cluster(self)
        c.start_engine()
        c.start_cp()
        c.start_dp()
        p, port, run_dir = c.start_dp(env={"ACEXY_CONTROL_TOKEN": "wrong-token"}, wait_ready=False)
        wait_until(lambda: "controlplane_refused" in p.log(), 10, what="refusal logged")
        time.sleep(2.5)  # a few more refused hellos: logged once
        self.assertEqual(p.log().count("controlplane_refused"), 1, p.log())
        self.assertEqual(http_get(port, "/readyz")[0], 503)
        st = c.ctl_json("--dataplane", "status", run_dir=run_dir)
        self.assertFalse(st["controlplane_connected"])
        self.assertIn("TOKEN", st["controlplane_refused"])
        code, _, body = http_get(c.cp_port, "/metrics")
        m = [ln for ln in body.decode().splitlines() if ln.startswith("acexy_cp_hello_refused_total ")]
        self.assertTrue(m and int(m[0].split()[1]) >= 1, body)
        for text in (c.cp.log(), p.log(), c.ctl("config")[1], c.ctl("--dataplane", "config", run_dir=run_dir)[1]):
            self.assertNotIn(TOKEN, text)
            self.assertNotIn("wrong-token", text)
        # the good dataplane is unaffected
        self.assertEqual(http_get(c.dps[0][1], "/readyz")[0], 200)
        dps = c.ctl_json("dataplanes")["dataplanes"]
        self.assertEqual([d["instance"] for d in dps], ["dp0"])

    def test_no_token_is_a_configuration_error(self):
        for prog in ("acexy-controlplane", "acexy-dataplane"):
            env = dict(os.environ, ACEXY_CONTROL_URL="tcp://127.0.0.1:9")
            env.pop("ACEXY_CONTROL_TOKEN", None)
            r = subprocess.run([t.binpath(prog)], env=env, capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("ACEXY_CONTROL_TOKEN", r.stderr)
            r = subprocess.run([t.binpath(prog), "--check-config"], capture_output=True, text=True,
                               timeout=10, env=dict(env, ACEXY_CONTROL_TOKEN=TOKEN))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("ACEXY_CONTROL_TOKEN=<set>", r.stdout)
            self.assertNotIn(TOKEN, r.stdout)

    def test_secrets_from_files(self):
        """ACEXY_CONTROL_TOKEN_FILE and ACEXY_ACCESS_TOKEN_FILE (as a mounted
        Kubernetes Secret: one trailing newline) work end to end."""
        d = self.tmpdir()
        with open(os.path.join(d, "control-token"), "w") as f:
            f.write(TOKEN + "\n")
        with open(os.path.join(d, "access-token"), "w") as f:
            f.write("viewer-secret\n")
        c = Cluster(self, env={"ACEXY_CONTROL_TOKEN": "", "ACEXY_CONTROL_TOKEN_FILE":
                               os.path.join(d, "control-token")})
        c.env.pop("ACEXY_CONTROL_TOKEN")
        c.start_engine()
        c.start_cp()
        _, port, _ = c.start_dp(env={"ACEXY_ACCESS_TOKEN_FILE": os.path.join(d, "access-token")})
        self.assertEqual(http_get(port, "/ace/getstream?id=nofile", max_body=1880)[0], 401)
        r = t.tscheck("http://127.0.0.1:%d/ace/getstream?id=file&token=viewer-secret" % port,
                      nbytes=188 * 500)
        self.assertEqual(r["status"], 200, r)
        for text in (c.cp.log(), c.dps[0][0].log()):
            self.assertNotIn("viewer-secret", text)
            self.assertNotIn(TOKEN, text)

    def test_killed_dataplane_ends_its_leases_and_events(self):
        c = self.setup_orch(engines=2, per_engine=1, env={"ACEXY_DATAPLANE_LOST_AFTER": "2s"})
        c.start_cp()
        c.start_dp()
        c.start_dp()
        s0 = self.hold_stream(c.dps[0][1], "killdp0")
        s1 = self.hold_stream(c.dps[1][1], "keepdp1")
        wait_until(lambda: len([e for e in t.orch_state(self.oport)["events"]
                                if e["type"] == "stream_started"]) == 2, 5, what="two stream_started")
        c.dps[0][0].kill()
        wait_until(lambda: any(e["type"] == "stream_ended" for e in t.orch_state(self.oport)["events"]),
                   8, what="stream_ended of the lost dataplane's stream")
        ended = [e["body"] for e in t.orch_state(self.oport)["events"] if e["type"] == "stream_ended"]
        self.assertEqual(len(ended), 1)
        self.assertEqual(ended[0]["reason"], "dataplane_lost")
        # its engine session got the stop command; the other dataplane's did not
        stops = {}
        for e in t.orch_state(self.oport)["engines"]:
            stops[e["port"]] = http_json(e["port"], "/__fake/state")[1]["stops"]
        self.assertEqual(sorted(len(v) for v in stops.values()), [0, 1], stops)
        leases = c.ctl_json("streams")["streams"]
        self.assertEqual([l["instance"] for l in leases], ["dp1"])
        self.assertGreater(recv_for(s1, 1), 10000)
        s0.close()
        s1.close()

    def test_controlplane_kill_and_restart_keeps_every_dataplane(self):
        c = self.setup_orch(engines=3, per_engine=1, max_replicas=3)
        c.start_cp()
        for _ in range(3):
            c.start_dp()
        socks = [self.hold_stream(c.dps[i][1], "keep%d" % i) for i in range(3)]
        before = sorted((l["instance"], l["id"]) for l in c.ctl_json("streams")["streams"])
        self.assertEqual(len(before), 3)

        def leases():
            rc, out, _ = c.ctl("--json", "streams")
            return sorted((l["instance"], l["id"]) for l in json.loads(out)["streams"]) if rc == 0 else None
        for round_ in range(2):
            c.cp.kill()
            c.start_cp()
            wait_until(lambda: leases() == before, 10,
                       what="every dataplane's lease rebuilt (round %d)" % round_)
            for s in socks:
                self.assertGreater(recv_for(s, 0.5), 10000)
            # every dataplane is ready again within a few seconds
            for _, port, _ in c.dps:
                wait_until(lambda: http_get(port, "/readyz")[0] == 200, 5, what="ready after restart")
        self.assertEqual(t.orch_state(self.oport)["provisions"], [])
        # the rebuilt leases still count: a fourth stream needs a new engine
        s4 = self.hold_stream(c.dps[0][1], "fourth")
        self.assertEqual(len(t.orch_state(self.oport)["provisions"]), 1)
        per_engine = {p: len(v) for p, v in self.engine_sessions().items()}
        self.assertEqual(sorted(per_engine.values()), [1, 1, 1, 1], per_engine)
        for s in socks + [s4]:
            s.close()

    def test_hello_in_pieces_rebuilds_every_lease(self):
        # a hello budget smaller than one stream record (test-only knob): after
        # a controlplane restart the streams are re-announced one per hello, and
        # every lease comes back
        c = self.setup_orch(engines=3, per_engine=1, max_replicas=3)
        c.start_cp()
        c.start_dp(env={"ACEXY_TEST_HELLO_BUDGET": "100"})
        socks = [self.hold_stream(c.dps[0][1], "piece%d" % i) for i in range(3)]
        before = sorted(l["id"] for l in c.ctl_json("streams")["streams"])
        self.assertEqual(len(before), 3)

        def leases():
            rc, out, _ = c.ctl("--json", "streams")
            return sorted(l["id"] for l in json.loads(out)["streams"]) if rc == 0 else None
        c.cp.kill()
        c.start_cp()
        wait_until(lambda: leases() == before, 10, what="every lease rebuilt from hello pieces")
        wait_until(lambda: http_get(c.dps[0][1], "/readyz")[0] == 200, 5, what="ready after restart")
        for s in socks:
            self.assertGreater(recv_for(s, 0.5), 10000)
            s.close()

    def tls_cluster(self, deploy_like=False):
        """An engine, a controlplane on tls+tcp:// and one dataplane with
        certificates made now; returns the cluster, the dataplanes' TLS
        settings and the control port."""
        d = make_certs(self.tmpdir(), deploy_like=deploy_like)
        port = t.free_port()
        c = Cluster(self, url="tls+tcp://127.0.0.1:%d" % port,
                    env={"ACEXY_CONTROL_TLS_CA": os.path.join(d, "ca.pem")})
        c.start_engine()
        c.start_cp(env={"ACEXY_CONTROL_TLS_CERT": os.path.join(d, "cp.pem"),
                        "ACEXY_CONTROL_TLS_KEY": os.path.join(d, "cp.key")})
        dp_tls = {"ACEXY_CONTROL_TLS_CERT": os.path.join(d, "dp.pem"),
                  "ACEXY_CONTROL_TLS_KEY": os.path.join(d, "dp.key")}
        c.start_dp(env=dp_tls)
        return c, dp_tls, port

    def test_tls(self):
        c, _, _ = self.tls_cluster()
        r = t.tscheck("http://127.0.0.1:%d/ace/getstream?id=overtls" % c.dps[0][1], nbytes=188 * 2000)
        self.assertEqual(r["status"], 200, r)
        # a dataplane whose certificate another CA signed is not let in
        other = make_certs(self.tmpdir())
        p, port, _ = c.start_dp(env={"ACEXY_CONTROL_TLS_CA": os.path.join(other, "ca.pem"),
                                     "ACEXY_CONTROL_TLS_CERT": os.path.join(other, "dp.pem"),
                                     "ACEXY_CONTROL_TLS_KEY": os.path.join(other, "dp.key")},
                                wait_ready=False)
        # its TLS handshake fails at the controlplane: dropped and logged
        t.wait_until(lambda: "control_peer_refused" in c.cp.log(), 10, what="the refusal logged")
        self.assertIn("TLS handshake", c.cp.log())
        self.assertEqual(http_get(port, "/readyz")[0], 503)
        self.assertEqual([d["instance"] for d in c.ctl_json("dataplanes")["dataplanes"]], ["dp0"])

    def test_tls_listener_keeps_dataplanes_when_peers_misbehave(self):
        # deploy-like certificates (no IP SAN; the controlplane's is no client
        # certificate): peers that hang up mid-handshake or send garbage are
        # dropped (logged, at most a line per 10 s) without touching the
        # connected dataplanes, and the listener keeps accepting
        c, dp_tls, port = self.tls_cluster(deploy_like=True)
        s = self.hold_stream(c.dps[0][1], "misbehave")
        for payload in (b"GET / HTTP/1.0\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", b"",
                        b"\x00" * 300):
            p = socket.create_connection(("127.0.0.1", port))
            if payload:
                p.sendall(payload)
            time.sleep(0.2)
            p.close()
        time.sleep(4)
        self.assertIn("control_peer_refused", c.cp.log())
        self.assertEqual(c.dps[0][0].log().count("controlplane_connected"), 1)
        self.assertGreater(recv_for(s, 0.5), 10000)
        # and a new dataplane still gets in
        c.start_dp(env=dp_tls)
        self.assertEqual(sorted(x["instance"] for x in c.ctl_json("dataplanes")["dataplanes"]),
                         ["dp0", "dp1"])
        s.close()

    def test_ipv6_loopback(self):
        try:
            s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            s.bind(("::1", 0))
            s.close()
        except OSError:
            self.skipTest("no IPv6 loopback here")
        c = Cluster(self, url="tcp://[::1]:%d" % t.free_port())
        c.start_engine()
        c.start_cp()
        c.start_dp()
        r = t.tscheck("http://127.0.0.1:%d/ace/getstream?id=v6" % c.dps[0][1], nbytes=188 * 1000)
        self.assertEqual(r["status"], 200, r)
        self.assertTrue(c.ctl_json("dataplanes")["dataplanes"][0]["address"].startswith("[::1]:"))

    def test_garbage_peers_cost_nothing(self):
        """Peers that are not dataplanes: garbage, an oversized frame, one
        that says nothing. The controlplane answers the real dataplane."""
        c = Cluster(self)
        c.start_engine()
        c.start_cp()
        c.start_dp()
        port = c.control_port
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
        for payload in (b"GET / HTTP/1.1\r\n\r\n", b"\x00SP\x00\x00\x31\x00\x00" +
                        (2 ** 31).to_bytes(8, "big") + b"x" * 1000, os.urandom(4096)):
            g = socket.create_connection(("127.0.0.1", port))
            try:
                g.sendall(payload)
            except OSError:
                pass
            g.close()
        r = t.tscheck("http://127.0.0.1:%d/ace/getstream?id=afterjunk" % c.dps[0][1], nbytes=188 * 1000)
        self.assertEqual(r["status"], 200, r)
        self.assertTrue(c.cp.alive())
        for s in idle:
            s.close()


NS_NET = "10.213.97.%d"  # a private /30 used only inside the test's namespaces


class NamespaceTest(t.TestCase):
    """A controlplane and an engine in one network namespace, a dataplane in
    another, joined only by a veth pair: as on separate hosts."""

    def setUp(self):
        super().setUp()
        tag = "%d" % (os.getpid() % 100000)
        self.ns = ["acexy-cp-" + tag, "acexy-dp-" + tag]
        self.made = []
        if os.geteuid() != 0 or not shutil.which("ip"):
            self.skipTest("network namespaces need root and iproute2")
        for n in self.ns:
            r = subprocess.run(["ip", "netns", "add", n], capture_output=True, text=True)
            if r.returncode != 0:
                self.skipTest("cannot create network namespaces here: %s" % r.stderr.strip())
            self.made.append(n)
        va, vb = "acx%sa" % tag, "acx%sb" % tag
        cmds = [["ip", "link", "add", va, "netns", self.ns[0], "type", "veth", "peer", "name", vb,
                 "netns", self.ns[1]],
                ["ip", "-n", self.ns[0], "addr", "add", NS_NET % 1 + "/30", "dev", va],
                ["ip", "-n", self.ns[1], "addr", "add", NS_NET % 2 + "/30", "dev", vb],
                ["ip", "-n", self.ns[0], "link", "set", va, "up"],
                ["ip", "-n", self.ns[1], "link", "set", vb, "up"],
                ["ip", "-n", self.ns[0], "link", "set", "lo", "up"],
                ["ip", "-n", self.ns[1], "link", "set", "lo", "up"]]
        for cmd in cmds:
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                self.skipTest("cannot set up the veth pair: %s: %s" % (" ".join(cmd), r.stderr.strip()))

    def tearDown(self):
        super().tearDown()
        for n in self.made:
            subprocess.run(["ip", "netns", "del", n], capture_output=True)

    def netns(self, i):
        return ["ip", "netns", "exec", self.ns[i]]

    def test_dataplane_in_another_namespace(self):
        cp_addr = NS_NET % 1
        c = Cluster(self, url="tcp://%s:%d" % (cp_addr, 7123), env={"ACEXY_HOST": cp_addr})
        c.engine = self.start(self.netns(0) + [t.binpath("acexy-fake-engine"), "--listen",
                                               "%s:%d" % (cp_addr, c.engine_port)], name="fake-engine")
        c.start_cp(prefix=self.netns(0))
        p, port, run_dir = c.start_dp(prefix=self.netns(1), wait_ready=False, listen="127.0.0.1")

        def in_dp_ns(path):
            r = subprocess.run(self.netns(1) + ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                                "-m", "3", "http://127.0.0.1:%d%s" % (port, path)],
                               capture_output=True, text=True)
            return r.stdout.strip()
        wait_until(lambda: in_dp_ns("/readyz") == "200", 15, what="dataplane in its namespace ready")
        viewer = subprocess.Popen(self.netns(1) + ["curl", "-s", "-m", "10",
                                                   "http://127.0.0.1:%d/ace/getstream?id=netns" % port],
                                  stdout=subprocess.PIPE)
        try:
            data = viewer.stdout.read(200000)
        finally:
            viewer.kill()
            viewer.wait()
        self.assertEqual(len(data), 200000)
        self.assertEqual(data[0], 0x47)
        dps = c.ctl_json("dataplanes")["dataplanes"]
        self.assertEqual(len(dps), 1)
        self.assertTrue(dps[0]["address"].startswith(NS_NET % 2 + ":"), dps)


if __name__ == "__main__":
    t.main()
