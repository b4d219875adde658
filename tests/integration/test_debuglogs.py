"""JSON Lines debug logs (DEBUG_MODE): every record valid JSON with the
fields doc/DEBUG_MODE.md documents, the decisions explained; an unwritable
DEBUG_LOG_DIR does not disturb streaming."""
import json
import os
import re
import signal
import subprocess
import time

import acexytest as t
from acexytest import http_get, wait_until

DOC = os.path.join(t.SOURCE_DIR, "doc", "DEBUG_MODE.md")
COMMON = {"ts", "category", "event"}


def documented():
    """category -> (events, fields) from doc/DEBUG_MODE.md."""
    out, cur = {}, None
    with open(DOC) as f:
        for line in f:
            m = re.match(r"^## (\w+)\s*$", line)
            if m:
                cur = m.group(1)
                out[cur] = (set(), set())
                continue
            if cur is None or cur == "Categories":
                continue
            m = re.match(r"^Events: (.*)\.$", line)
            if m:
                out[cur][0].update(re.findall(r"`([^`]+)`", m.group(1)))
            m = re.match(r"^\| `([^`]+)` \| (\w+) \|", line)
            if m:
                out[cur][1].add(m.group(1))
    return out


class DebugLogTest(t.TestCase):
    def orch(self, engines):
        self.oport = t.start_fake_orchestrator(self, "--engines", str(engines))
        return "http://127.0.0.1:%d" % self.oport


    def test_records_valid_and_documented(self):
        logdir = os.path.join(self.tmpdir(), "dl", "nested")
        url = self.orch(engines=0)
        st = t.Stack(self, env={"ACEXY_ORCH_URL": url, "DEBUG_MODE": "true", "DEBUG_LOG_DIR": logdir,
                                "ACEXY_ORCH_POLL_INTERVAL": "1s"},
                     engine_args=["--first-byte-delay", "2200"])
        st.start()
        s = self.hold_stream(st.port, "dbg1")  # provisions an engine
        time.sleep(0.3)
        s.close()
        # the fallback engine (slow first byte) while the orchestrator is away
        c = __import__("http.client").client.HTTPConnection("127.0.0.1", self.oport, timeout=5)
        c.request("POST", "/__fake/script", body=json.dumps({"down": True}))
        c.getresponse().read()
        wait_until(lambda: "unreachable" in subprocess.run(
            [t.binpath("acexyctl"), "--run-dir", st.run_dir, "--json", "status"],
            capture_output=True, text=True).stdout, 6, what="unreachable")
        s = self.hold_stream(st.port, "dbg2")
        s.close()

        def logged(name, text):
            try:
                with open(os.path.join(logdir, name)) as f:
                    return f.read().count(text)
            except OSError:
                return 0
        # the dataplane's records of the second stream, forwarded and written
        # (0.5 s flushes)
        wait_until(lambda: logged("disconnects.jsonl", "viewer_gone") >= 2 and
                   logged("stress.jsonl", "slow_first_byte") >= 1, 5, what="the dataplane's records")
        st.cp.signal(signal.SIGTERM)
        self.assertEqual(st.cp.wait(10), 0)
        doc = documented()
        seen = {}
        for name in sorted(os.listdir(logdir)):
            cat = name[:-len(".jsonl")]
            self.assertIn(cat, doc, name)
            with open(os.path.join(logdir, name)) as f:
                for n, line in enumerate(f, 1):
                    rec = json.loads(line)  # each line one JSON object
                    where = "%s:%d" % (name, n)
                    self.assertEqual(rec["category"], cat, where)
                    self.assertRegex(rec["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", where)
                    events, fields = doc[cat]
                    if events:
                        self.assertIn(rec["event"], events, where)
                    extra = set(rec) - COMMON - fields
                    self.assertEqual(extra, set(), "%s: undocumented fields" % where)
                    seen.setdefault(cat, []).append(rec)
        ev = {c: {r["event"] for r in recs} for c, recs in seen.items()}
        self.assertEqual(ev["session"], {"controlplane_started", "controlplane_stopped"})
        self.assertIn("lease", {r["outcome"] for r in seen["requests"]})
        self.assertIn("waiting", {r["outcome"] for r in seen["requests"]})
        self.assertTrue({"attempt", "success", "engine_ready"} <= ev["provisioning"])
        self.assertIn("fallback", ev["engine_selection"])
        sel = [r for r in seen["engine_selection"] if r["event"] == "selected"]
        self.assertTrue(sel)
        self.assertTrue(sel[0]["candidates"] and sel[0]["winner"] and sel[0]["why"])
        self.assertEqual(set(sel[0]["candidates"][0]) - doc["engine_selection"][1] - {
            "container_id", "host", "port", "health", "load", "forwarded", "last_usage", "eligible", "why"}, set())
        self.assertIn("state_change", ev["orchestrator_health"])
        self.assertTrue({"started", "ended", "event_sent"} <= ev["streams"])
        ended = [r for r in seen["streams"] if r["event"] == "ended"]
        self.assertTrue(all("bytes" in r and "duration_ms" in r and "reason" in r for r in ended))
        self.assertIn("viewer_gone", ev["disconnects"])  # forwarded from the dataplane
        self.assertIn("slow_first_byte", ev["stress"])

    def test_unwritable_dir_streaming_unaffected(self):
        d = self.tmpdir()
        blocker = os.path.join(d, "file")
        open(blocker, "w").close()  # a regular file where a directory should be
        st = t.Stack(self, env={"DEBUG_MODE": "true", "DEBUG_LOG_DIR": os.path.join(blocker, "logs")})
        st.start()
        for i in range(3):
            r = subprocess.run([t.binpath("acexy-tscheck"), "--url", st.url("id=ro%d" % i), "--bytes", "300000",
                                "--json"], capture_output=True, text=True, timeout=60)
            res = json.loads(r.stdout)
            self.assertEqual(res["status"], 200)
            self.assertEqual(res["sync_errors"] + res["cc_errors"], 0)
        time.sleep(1)
        self.assertTrue(st.cp.alive())
        self.assertEqual(st.cp.log().count("debug_log_unwritable"), 1)


if __name__ == "__main__":
    t.main()
