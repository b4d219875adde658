"""Fault injection (issue 12): a misbehaving engine, oversized messages, an
unusable state directory, too few file descriptors, thousands of idle or
slow connections, a request flood. Every case: no crash, no hang past its
deadline, other viewers unaffected, the engine session stopped, the lease
released."""
import json
import os
import resource
import socket
import subprocess
import threading
import time

import acexytest as t
from acexytest import http_get, http_json, tscheck, wait_until



def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


class FaultsTest(t.TestCase):
    def stack(self, env=None, **kw):
        e = {"ACEXY_FIRST_BYTE_TIMEOUT": "2s", "ACEXY_NO_RESPONSE_TIMEOUT": "3s"}
        e.update(env or {})
        return t.Stack(self, env=e, **kw).start()

    def small_disk(self):
        """A 64 KiB tmpfs of this test's own (skips without root)."""
        mnt = os.path.join(self.tmpdir(), "small")
        os.makedirs(mnt)
        if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt],
                                               capture_output=True).returncode != 0:
            self.skipTest("needs root and tmpfs mounts")
        self.addCleanup(lambda: subprocess.run(["umount", "-l", mnt], capture_output=True))
        return mnt

    def released(self, st, n):
        wait_until(lambda: st.cp.log().count("event=lease_released") >= n, 4, what="%d leases released" % n)

    def test_misbehaving_engine(self):
        # how each fault ends a stream, so no failover (test_failover.py)
        st = self.stack(engine_args=["--bitrate", "8000000"], env={"ACEXY_FAILOVER": "false"})
        good = {}
        th = threading.Thread(target=lambda: good.update(r=tscheck(st.url("id=steady"), seconds=6)))
        th.start()
        time.sleep(0.5)
        # a chunk that announces more than it sends, then the connection ends
        r = tscheck(st.url("id=truncchunk-400000"), nbytes=10000000)
        self.assertEqual(r["status"], 200)
        self.assertLessEqual(r["bytes"], 400000 + 188)
        self.assertEqual(r["sync_errors"], 0)
        # header lines that never end: 504 within the first-byte timeout
        t0 = time.monotonic()
        code, _, body = http_get(st.port, "/ace/getstream?id=endlesshdr", timeout=10)
        self.assertEqual(code, 504, body)
        self.assertLess(time.monotonic() - t0, 4)
        # a redirect loop
        code, _, body = http_get(st.port, "/ace/getstream?id=loop302", timeout=10)
        self.assertEqual(code, 502)
        self.assertIn(b"redirect", body)
        # a huge and a deeply nested engine answer
        code, _, body = http_get(st.port, "/ace/getstream?id=hugejson", timeout=10)
        self.assertEqual(code, 502)
        self.assertIn(b"too large", body)
        code, _, body = http_get(st.port, "/ace/getstream?id=deepjson", timeout=10)
        self.assertEqual(code, 502)
        th.join()
        # the steady viewer never noticed
        self.assertEqual(good["r"]["status"], 200)
        self.assertEqual(good["r"]["sync_errors"] + good["r"]["cc_errors"], 0)
        self.assertLess(good["r"]["max_gap_ms"], 1000)
        # every engine session whose answer was understood was stopped (an
        # unreadable answer names no command URL to stop it with), every
        # lease released
        self.released(st, 6)
        sessions = st.engine_state()["sessions"]
        try:
            wait_until(lambda: all(s.get("stop_reason") for s in st.engine_state()["sessions"]
                                   if s["content"] not in ("hugejson", "deepjson")), 4,
                       what="every engine session stopped")
        except AssertionError:
            print(json.dumps(st.engine_state()["sessions"], indent=1))
            raise
        self.assertGreaterEqual(len(sessions), 4)
        self.assertTrue(st.cp.alive() and st.dp.alive())

    def test_oversized_and_garbage_messages(self):
        st = self.stack()
        poke = t.binpath("ipc_poke")
        for payload in (os.urandom(2 * 1024 * 1024), b"\x94\x01\x0c\x01" + b"\xdf\xff\xff\xff\xff"):
            for sock in ("control.sock", "admin.sock"):
                subprocess.run([poke, "ipc://" + os.path.join(st.run_dir, sock), "-"], input=payload,
                               capture_output=True, timeout=10)
        time.sleep(0.5)
        self.assertTrue(st.cp.alive() and st.dp.alive())
        self.assertEqual(http_get(st.port, "/readyz")[0], 200)
        self.assertEqual(tscheck(st.url("id=after"), nbytes=100000)["status"], 200)
        # the oversized ones were dropped by the servers, and counted
        body = http_get(st.cp_port, "/metrics")[2].decode()
        dropped = [ln for ln in body.splitlines() if ln.startswith("acexy_cp_control_peers_dropped_total ")]
        self.assertEqual(len(dropped), 1, body)
        self.assertGreaterEqual(int(dropped[0].split()[1]), 2)

    def test_unusable_state_dir(self):
        d = self.tmpdir()
        blocker = os.path.join(d, "file")
        open(blocker, "w").close()
        eport = t.free_port()
        env = dict(os.environ, ACEXY_RUN_DIR=os.path.join(d, "run"),
                   ACEXY_STATE_DIR=os.path.join(blocker, "state"),
                   ACEXY_ORCH_URL="http://127.0.0.1:%d" % eport,
                   ACEXY_CP_LISTEN_ADDR="127.0.0.1:%d" % t.free_port())
        r = subprocess.run([t.binpath("acexy-controlplane")], env=env, capture_output=True, text=True,
                           timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("ACEXY_STATE_DIR", r.stderr)
        self.assertIn("cannot use the event spool (ACEXY_STATE_DIR)", r.stderr)

    def test_full_disk_under_state_and_debug_dirs(self):
        mnt = self.small_disk()
        os.makedirs(os.path.join(mnt, "state"))
        with open(os.path.join(mnt, "filler"), "wb") as f:  # leave almost nothing
            try:
                f.write(b"x" * (64 * 1024))
            except OSError:
                pass
        oport = t.start_fake_orchestrator(self, "--engines", "1")
        st = self.stack(env={"ACEXY_ORCH_URL": "http://127.0.0.1:%d" % oport,
                             "ACEXY_STATE_DIR": os.path.join(mnt, "state"), "DEBUG_MODE": "true",
                             "DEBUG_LOG_DIR": os.path.join(mnt, "debug"),
                             "ACEXY_MAX_STREAMS_PER_ENGINE": "5"})
        for i in range(3):
            r = tscheck(st.url("id=full%d" % i), nbytes=200000)
            self.assertEqual(r["status"], 200)
            self.assertEqual(r["sync_errors"], 0)
        # the events still reached the orchestrator (kept in memory), the
        # failures were counted and logged, once for the debug logs
        wait_until(lambda: len([e for e in http_json(oport, "/__fake/state")[1]["events"]
                                if e["type"] == "stream_ended"]) == 3, 8, what="3 ends delivered")
        status = json.loads(subprocess.run([t.binpath("acexyctl"), "--run-dir", st.run_dir, "--json",
                                            "status"], capture_output=True, text=True).stdout)
        self.assertGreater(status["events"]["spool_errors"], 0)
        self.assertIn("spool_write_failed", st.cp.log())
        wait_until(lambda: st.cp.log().count("debug_log_unwritable") == 1, 3, what="one unwritable line")
        self.assertTrue(st.cp.alive() and st.dp.alive())

    def test_spool_keeps_every_event_through_a_full_disk(self):
        """Issue 22 item 6: a write cut short by a full disk leaves no torn
        record for the next one to be glued to; events kept in memory are
        spooled once space returns; a restart reloads every one of them."""
        mnt = self.small_disk()
        oport = t.start_fake_orchestrator(self, "--engines", "1")
        t.orch_script(oport, events_fail=503)  # every event stays pending
        st = self.stack(env={"ACEXY_ORCH_URL": "http://127.0.0.1:%d" % oport,
                             "ACEXY_STATE_DIR": os.path.join(mnt, "state"),
                             "ACEXY_MAX_STREAMS_PER_ENGINE": "5"})

        def play(i):
            self.assertEqual(tscheck(st.url("id=disk%d" % i), nbytes=50000)["status"], 200)

        def cp_metric(name):
            return t.metric(st.cp_port, name)
        play(0)
        wait_until(lambda: cp_metric("acexy_cp_events_pending") == 2, 5, what="2 events pending")
        filler = os.path.join(mnt, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:  # the rest of the disk, to the last byte
            while os.write(fd, b"x" * 512) > 0:
                pass
        except OSError:
            pass
        os.close(fd)
        for i in range(1, 5):
            play(i)
        wait_until(lambda: cp_metric("acexy_cp_events_pending") == 10, 5, what="10 events pending")
        self.assertGreater(cp_metric("acexy_cp_events_not_spooled"), 0)
        os.unlink(filler)  # space is back
        play(5)
        wait_until(lambda: cp_metric("acexy_cp_events_not_spooled") == 0, 5, what="memory events spooled")
        self.assertIn("spool_caught_up", st.cp.log())
        self.assertEqual(cp_metric("acexy_cp_events_pending"), 12)
        st.cp.kill()
        st.start_cp()
        wait_until(lambda: "event=spool_loaded" in st.cp.log(), 10, what="spool loaded")
        line = [l for l in st.cp.log().splitlines() if "event=spool_loaded" in l][0]
        self.assertIn("pending=12", line)
        self.assertIn("bad=0", line)
        t.orch_script(oport, events_fail=0)
        wait_until(lambda: len([e for e in t.orch_state(oport)["events"] if e["type"] == "stream_ended"]) == 6,
                   15, what="6 ends delivered")
        streams = t.orch_state(oport)["streams"]
        self.assertEqual(len(streams), 6)
        self.assertEqual([s["status"] for s in streams], ["ended"] * 6)
        self.assertEqual(cp_metric('acexy_cp_events_total{outcome="skipped_unknown"}'), 0)

    def test_few_descriptors_many_attempts(self):
        raise_nofile(4096)
        st = t.Stack(self)
        st.start_cp()
        st.dp = self.start(["prlimit", "--nofile=256:256", t.binpath("acexy-dataplane")], env=st.env,
                           name="dataplane")
        st.wait_ready()
        socks, answered, refused = [], 0, 0
        for _ in range(1000):
            s = socket.socket()
            s.settimeout(5)
            try:
                s.connect(("127.0.0.1", st.port))
                s.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
                socks.append(s)
            except OSError:
                refused += 1
                s.close()
        for s in socks:
            try:
                data = s.recv(256)
                if data.startswith(b"HTTP/1.1 200") or data.startswith(b"HTTP/1.1 503"):
                    answered += 1
                else:
                    refused += 1
            except OSError:
                refused += 1
            s.close()
        self.assertGreater(answered, 100)
        self.assertTrue(st.dp.alive())
        # recovery once the load is gone
        wait_until(lambda: http_get(st.port, "/livez")[0] == 200, 5, what="serving again")
        self.assertEqual(tscheck(st.url("id=recovered"), nbytes=100000)["status"], 200)

    def test_5000_idle_connections_and_slowloris(self):
        raise_nofile(12000)
        st = self.stack(env={"ACEXY_REQUEST_TIMEOUT": "2s"})
        idle = []
        for _ in range(5000):
            s = socket.socket()
            s.connect(("127.0.0.1", st.port))
            idle.append(s)
        slow = []
        for _ in range(100):
            s = socket.socket()
            s.connect(("127.0.0.1", st.port))
            s.sendall(b"GET /ace/getstream?id=x HTTP/1.1\r\n")
            slow.append(s)
        # a real viewer meanwhile: served, and fast
        t0 = time.monotonic()
        self.assertEqual(http_get(st.port, "/livez")[0], 200)
        self.assertLess(time.monotonic() - t0, 1.0)
        r = tscheck(st.url("id=realviewer"), nbytes=300000)
        self.assertEqual(r["status"], 200)
        # idle ones closed after the request deadline (2 s), slow ones answered 408
        for s in slow[:10]:
            s.settimeout(5)
            self.assertIn(b"408", s.recv(1024))
        idle[0].settimeout(5)
        self.assertEqual(idle[0].recv(16), b"")
        for s in idle + slow:
            s.close()
        self.assertTrue(st.dp.alive())
        with open("/proc/%d/status" % st.dp.pid) as f:
            rss = [int(l.split()[1]) for l in f if l.startswith("RssAnon")][0]
        if "asan" not in t.BIN_DIR:
            self.assertLess(rss, 128 * 1024)  # KiB

    def test_request_flood(self):
        st = self.stack()
        codes = []
        lock = threading.Lock()

        def flood():
            c = __import__("http.client").client.HTTPConnection("127.0.0.1", st.port, timeout=10)
            mine = []
            for _ in range(200):
                c.request("GET", "/livez")
                r = c.getresponse()
                r.read()
                mine.append(r.status)
            c.close()
            with lock:
                codes.extend(mine)
        th = [threading.Thread(target=flood) for _ in range(20)]
        t0 = time.monotonic()
        [x.start() for x in th]
        [x.join() for x in th]
        self.assertEqual(codes.count(200), 4000)
        self.assertLess(time.monotonic() - t0, 30)
        self.assertEqual(tscheck(st.url("id=afterflood"), nbytes=100000)["status"], 200)


if __name__ == "__main__":
    t.main()
