"""Orchestrator mode (issue 6) against the fake orchestrator: selection with
leases, shared provisioning, ETAs, blocking, fallback, auth."""
import json
import subprocess
import threading
import time

import acexytest as t
from acexytest import http_get, http_json, tscheck, wait_until

KEY = "s3cr3t-key-do-not-log"


class OrchTest(t.TestCase):
    def setup_orch(self, engines=2, per_engine=1, env=None, prefix="", extra=()):
        self.oport = t.start_fake_orchestrator(self, "--apikey", KEY, "--engines", str(engines),
                                               *(["--prefix", prefix] if prefix else []),
                                               *extra)
        e = {"ACEXY_ORCH_URL": "http://127.0.0.1:%d%s" % (self.oport, prefix),
             "ACEXY_ORCH_APIKEY": KEY, "ACEXY_MAX_STREAMS_PER_ENGINE": str(per_engine),
             "ACEXY_ORCH_POLL_INTERVAL": "1s", "ACEXY_ASSIGN_TIMEOUT": "10s"}
        e.update(env or {})
        self.st = t.Stack(self, env=e)
        self.st.start()
        return self.st

    def ostate(self):
        return t.orch_state(self.oport)

    def script(self, **kw):
        t.orch_script(self.oport, **kw)

    def engine_sessions(self):
        """content -> engine port, over every orchestrator engine."""
        out = {}
        for e in self.ostate()["engines"]:
            st = http_json(e["port"], "/__fake/state")[1]
            for s in st["sessions"]:
                out.setdefault(s["content"], []).append(e["port"])
        return out

    def fallback_sessions(self):
        return [s["content"] for s in self.st.engine_state()["sessions"]]


    def test_two_viewers_two_engines_then_shared_provisioning(self):
        self.setup_orch(engines=2, per_engine=1)
        socks = [None, None]

        def open_one(i):
            socks[i] = self.hold_stream(self.st.port, "v%d" % i)
        th = [threading.Thread(target=open_one, args=(i,)) for i in range(2)]
        [x.start() for x in th]
        [x.join() for x in th]
        where = self.engine_sessions()
        self.assertNotEqual(where["v0"], where["v1"])  # distinct free slots
        self.assertEqual(self.ostate()["provisions"], [])
        # three at once, capacity 1 each: exactly one provisioning per needed engine
        more = [None] * 3

        def open_more(i):
            more[i] = self.hold_stream(self.st.port, "m%d" % i)
        th = [threading.Thread(target=open_more, args=(i,)) for i in range(3)]
        [x.start() for x in th]
        [x.join() for x in th]
        self.assertEqual(len(self.ostate()["provisions"]), 3)
        where = self.engine_sessions()
        ports = {where["m%d" % i][0] for i in range(3)}
        self.assertEqual(len(ports), 3)
        for s in socks + more:
            s.close()

    def test_three_at_once_one_provisioning(self):
        self.setup_orch(engines=0, per_engine=3)
        res = [None] * 3

        def one(i):
            res[i] = tscheck(self.st.url("id=p%d" % i))
        th = [threading.Thread(target=one, args=(i,)) for i in range(3)]
        [x.start() for x in th]
        [x.join() for x in th]
        for r in res:
            self.assertEqual(r["status"], 200, r)
        self.assertEqual(len(self.ostate()["provisions"]), 1)
        self.assertEqual(self.fallback_sessions(), [])

    def test_provision_503_with_eta_then_success(self):
        self.setup_orch(engines=0)
        self.script(provision_fail=[{"status": 503, "detail": {
            "error": "VPN down", "code": "vpn_disconnected", "message": "VPN is reconnecting",
            "recovery_eta_seconds": 2, "can_retry": True, "should_wait": True}}])
        t0 = time.monotonic()
        r = tscheck(self.st.url("id=eta"))
        self.assertEqual(r["status"], 200, r)
        self.assertGreaterEqual(time.monotonic() - t0, 2.0)
        self.assertEqual(len(self.ostate()["provisions"]), 2)

    def test_blocked_should_wait_gives_retry_after(self):
        self.setup_orch(engines=0)
        self.script(blocked={"code": "circuit_breaker", "message": "too many failures",
                             "recovery_eta_seconds": 37, "can_retry": False, "should_wait": True})
        wait_until(lambda: "circuit_breaker" in subprocess.run(
            [t.binpath("acexyctl"), "--run-dir", self.st.run_dir, "--json", "status"],
            capture_output=True, text=True).stdout, 5, what="block seen by the controlplane")
        t0 = time.monotonic()
        code, hdrs, body = http_get(self.st.port, "/ace/getstream?id=blocked", timeout=15, max_body=1880)
        self.assertEqual(code, 503)
        self.assertEqual(hdrs["retry-after"], "37")
        self.assertLess(time.monotonic() - t0, 2)
        self.assertEqual(self.ostate()["provisions"], [])

    def test_orchestrator_down_fallback_and_back(self):
        self.setup_orch(engines=1)
        r = tscheck(self.st.url("id=before"))
        self.assertEqual(r["status"], 200)
        self.assertNotIn("before", self.fallback_sessions())
        self.script(down=True)
        wait_until(lambda: "unreachable" in subprocess.run(
            [t.binpath("acexyctl"), "--run-dir", self.st.run_dir, "--json", "status"],
            capture_output=True, text=True).stdout, 6, what="orchestrator unreachable")
        r = tscheck(self.st.url("id=during"))
        self.assertEqual(r["status"], 200)
        self.assertIn("during", self.fallback_sessions())
        self.script(down=False)
        wait_until(lambda: '"state": "healthy"' in subprocess.run(
            [t.binpath("acexyctl"), "--run-dir", self.st.run_dir, "--json", "status"],
            capture_output=True, text=True).stdout, 6, what="orchestrator healthy again")
        r = tscheck(self.st.url("id=after"))
        self.assertEqual(r["status"], 200)
        self.assertNotIn("after", self.fallback_sessions())

    def test_no_fallback_503(self):
        self.setup_orch(engines=1, env={"ACEXY_FALLBACK": "false"})
        self.script(down=True)
        wait_until(lambda: "unreachable" in subprocess.run(
            [t.binpath("acexyctl"), "--run-dir", self.st.run_dir, "--json", "status"],
            capture_output=True, text=True).stdout, 6, what="orchestrator unreachable")
        code, hdrs, _ = http_get(self.st.port, "/ace/getstream?id=x", timeout=15, max_body=1880)
        self.assertEqual(code, 503)
        self.assertIn("retry-after", hdrs)

    def test_garbage_and_slow_answers(self):
        self.setup_orch(engines=1, env={"ACEXY_ASSIGN_TIMEOUT": "3s"})
        self.script(garbage=["/engines", "/orchestrator/status"])
        t0 = time.monotonic()
        code, _, _ = http_get(self.st.port, "/ace/getstream?id=g", timeout=20, max_body=1880)
        self.assertIn(code, (200, 503))
        self.assertLess(time.monotonic() - t0, 8)
        self.script(garbage=[], slow={"/engines": 8}, close_mid_body=["/orchestrator/status"])
        t0 = time.monotonic()
        code, _, _ = http_get(self.st.port, "/ace/getstream?id=s", timeout=20, max_body=1880)
        self.assertLess(time.monotonic() - t0, 9)
        self.assertTrue(self.st.cp.alive() and self.st.dp.alive())

    def test_bearer_on_every_call_and_never_logged(self):
        self.setup_orch(engines=1, prefix="/api/v1")
        r = tscheck(self.st.url("id=auth"))
        self.assertEqual(r["status"], 200)
        calls = self.ostate()["calls"]
        self.assertTrue(calls)
        for c in calls:
            self.assertEqual(c["authorization"], "Bearer " + KEY)
            self.assertTrue(c["path"].startswith("/api/v1/"))
        out = subprocess.run([t.binpath("acexyctl"), "--run-dir", self.st.run_dir, "config"],
                             capture_output=True, text=True).stdout
        self.assertIn("<set>", out)
        for text in (self.st.cp.log(), self.st.dp.log(), out):
            self.assertNotIn(KEY, text)

    def ctl(self, *args):
        r = subprocess.run([t.binpath("acexyctl"), "--run-dir", self.st.run_dir] + list(args),
                           capture_output=True, text=True, timeout=10)
        return r.returncode, r.stdout

    def test_slow_provisioning_bounded_by_assign_timeout(self):
        self.setup_orch(engines=0, env={"ACEXY_ASSIGN_TIMEOUT": "3s"})
        self.script(slow={"/provision/acestream": 8})
        t0 = time.monotonic()
        code, hdrs, body = http_get(self.st.port, "/ace/getstream?id=slowprov", timeout=15, max_body=1880)
        took = time.monotonic() - t0
        self.assertEqual(code, 503, body)
        self.assertIn("retry-after", hdrs)
        self.assertGreaterEqual(took, 2.5)
        self.assertLess(took, 6)
        self.assertTrue(self.st.cp.alive() and self.st.dp.alive())

    def test_long_eta_refused_at_once_and_500_string_detail(self):
        self.setup_orch(engines=0)
        self.script(provision_fail=[{"status": 503, "detail": {
            "error": "VPN down", "code": "vpn_disconnected", "message": "VPN is reconnecting",
            "recovery_eta_seconds": 120, "can_retry": True, "should_wait": True}},
            {"status": 500, "detail": "general_error: docker daemon unreachable"}])
        t0 = time.monotonic()
        code, hdrs, _ = http_get(self.st.port, "/ace/getstream?id=e1", timeout=15, max_body=1880)
        self.assertEqual(code, 503)
        self.assertEqual(hdrs["retry-after"], "120")  # the ETA, not a guess
        self.assertLess(time.monotonic() - t0, 3)
        code, hdrs, _ = http_get(self.st.port, "/ace/getstream?id=e2", timeout=15, max_body=1880)
        self.assertEqual(code, 503)  # plain string detail: no retry promised
        self.assertIn("retry-after", hdrs)
        rc, out = self.ctl("--json", "status")
        st = json.loads(out)["orchestrator"]
        self.assertEqual(st["provisions_failed"], 2)
        self.assertNotEqual(st["state"], "unreachable")  # an error answer is not "unreachable"
        r = tscheck(self.st.url("id=e3"))  # the next provisioning succeeds
        self.assertEqual(r["status"], 200, r)
        self.assertEqual(len(self.ostate()["provisions"]), 3)

    def test_engines_listing(self):
        self.setup_orch(engines=2, per_engine=2)
        s = self.hold_stream(self.st.port, "listed")
        rc, out = self.ctl("--json", "engines")
        self.assertEqual(rc, 0)
        engines = json.loads(out)["engines"]
        orch = [e for e in engines if not e["fallback"]]
        fb = [e for e in engines if e["fallback"]]
        self.assertEqual(len(orch), 2)
        self.assertEqual(sorted(e["load"] for e in orch), [0, 1])
        for e in orch:
            self.assertIn(e["health"], ("healthy", "unknown", "unhealthy"))
            self.assertIn("forwarded", e)
            self.assertIn("leases", e)
        self.assertEqual(len(fb), 1)
        wait_until(lambda: json.loads(self.ctl("--json", "engines")[1])["engines"][-1]["health"] == "healthy",
                   5, what="fallback engine probed healthy")
        rc, out = self.ctl("engines")
        self.assertEqual(rc, 0)
        for col in ("HEALTH", "LOAD", "LEASES", "FORWARDED", "FALLBACK"):
            self.assertIn(col, out)
        rc, out = self.ctl("status")
        # nested objects as indented blocks, no "null", values aligned
        self.assertRegex(out, r"\norchestrator:\n  url +http://")
        self.assertRegex(out, r"\n  state +healthy\n")
        self.assertRegex(out, r"\nengines:\n  CONTAINER_ID +HOST ")
        self.assertNotIn("null", out)
        s.close()

    def test_unhealthy_fallback_engine_not_used(self):
        self.oport = t.start_fake_orchestrator(self, "--engines", "1")
        self.st = t.Stack(self, start_engine=False, env={
            "ACEXY_ORCH_URL": "http://127.0.0.1:%d" % self.oport, "ACEXY_ORCH_POLL_INTERVAL": "1s"})
        self.st.start()
        self.script(down=True)
        wait_until(lambda: "unreachable" in self.ctl("--json", "status")[1], 6, what="orchestrator unreachable")
        wait_until(lambda: json.loads(self.ctl("--json", "engines")[1])["engines"][-1]["health"] == "unhealthy",
                   6, what="fallback engine probed unhealthy")
        code, hdrs, body = http_get(self.st.port, "/ace/getstream?id=nofb", timeout=15, max_body=1880)
        self.assertEqual(code, 503, body)
        self.assertIn(b"unhealthy", body)
        self.assertIn("retry-after", hdrs)
        self.st.start_engine()  # the fallback engine comes up: used again
        wait_until(lambda: json.loads(self.ctl("--json", "engines")[1])["engines"][-1]["health"] == "healthy",
                   6, what="fallback engine probed healthy")
        r = tscheck(self.st.url("id=fbok"))
        self.assertEqual(r["status"], 200, r)



    def ctl_status(self):
        r = subprocess.run([t.binpath("acexyctl"), "--run-dir", self.st.run_dir, "--json", "status"],
                           capture_output=True, text=True, timeout=10)
        return json.loads(r.stdout)["orchestrator"] if r.returncode == 0 else {}

    def test_scaled_to_zero_first_viewer_provisions(self):
        """min_replicas 0, no engine: 'unavailable' but can provision is
        reachable; the first viewer gets a new engine, not the fallback."""
        self.setup_orch(engines=0, per_engine=1, extra=("--scale-to-zero",))
        wait_until(lambda: self.ctl_status().get("status") == "unavailable", 5,
                   what="the controlplane read 'unavailable'")
        o = self.ctl_status()
        self.assertNotEqual(o["state"], "unreachable", o)
        self.assertTrue(o["can_provision"], o)
        r = tscheck(self.st.url("id=cold"), nbytes=20000)
        self.assertEqual(r["status"], 200, r)
        self.assertEqual(len(self.ostate()["provisions"]), 1)
        self.assertEqual(self.fallback_sessions(), [])  # streamed by the new engine
        self.assertIn("cold", self.engine_sessions())
        # engines run now: the orchestrator says healthy again
        wait_until(lambda: self.ctl_status().get("state") == "healthy", 6,
                   what="healthy once an engine runs")

    def test_scaled_to_zero_and_blocked_uses_fallback(self):
        """Nothing runs and nothing can start: the fallback engine serves
        (the orchestrator stays reachable: it answered)."""
        self.setup_orch(engines=0, extra=("--scale-to-zero",))
        self.script(blocked={"code": "vpn_disconnected", "message": "VPN down",
                             "recovery_eta_seconds": 0, "can_retry": False, "should_wait": False})
        wait_until(lambda: self.ctl_status().get("can_provision") is False, 5,
                   what="the block seen by the controlplane")
        self.assertEqual(self.ctl_status()["state"], "degraded")
        r = tscheck(self.st.url("id=blockedzero"), nbytes=20000)
        self.assertEqual(r["status"], 200, r)
        self.assertEqual(self.ostate()["provisions"], [])
        self.assertIn("blockedzero", self.fallback_sessions())

    def test_5xx_status_is_unreachable(self):
        """A 5xx answer to /orchestrator/status is unreachable: fallback."""
        self.setup_orch(engines=1)
        self.script(status_http=503)
        wait_until(lambda: self.ctl_status().get("state") == "unreachable", 6,
                   what="unreachable after 503")
        r = tscheck(self.st.url("id=five"), nbytes=20000)
        self.assertEqual(r["status"], 200, r)
        self.assertIn("five", self.fallback_sessions())

if __name__ == "__main__":
    t.main()
