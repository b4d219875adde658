"""Stream events to the orchestrator (issue 7): started once then ended with
matching ids and the engine's container id, delivered after outages and
controlplane restarts, never ending another viewer's stream, spool
corruption tolerated, fallback streams not reported."""
import json
import os
import subprocess
import threading
import time

import acexytest as t
from acexytest import http_get, http_json, wait_until

KEY = "ev-key-123"


def fnv1a64(b):
    h = 0xcbf29ce484222325
    for c in b:
        h ^= c
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def spool_line(obj):
    js = json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()
    return b"%016x %s\n" % (fnv1a64(js), js)


class EventsTest(t.TestCase):
    def setup_orch(self, engines=1, per_engine=2, env=None, state_dir=None, script=None):
        self.oport = t.start_fake_orchestrator(self, "--apikey", KEY, "--engines", str(engines))
        if script:
            self.script(**script)
        e = {"ACEXY_ORCH_URL": "http://127.0.0.1:%d" % self.oport, "ACEXY_ORCH_APIKEY": KEY,
             "ACEXY_MAX_STREAMS_PER_ENGINE": str(per_engine), "ACEXY_ORCH_POLL_INTERVAL": "1s"}
        e.update(env or {})
        self.st = t.Stack(self, env=e)
        if state_dir:
            self.st.env["ACEXY_STATE_DIR"] = state_dir
        self.st.start()
        return self.st

    def ostate(self):
        return t.orch_state(self.oport)

    def script(self, **kw):
        t.orch_script(self.oport, **kw)

    def events(self, kind=None):
        ev = self.ostate()["events"]
        return [e for e in ev if kind is None or e["type"] == kind]

    def ctl_status(self):
        r = subprocess.run([t.binpath("acexyctl"), "--run-dir", self.st.run_dir, "--json", "status"],
                           capture_output=True, text=True, timeout=10)
        return json.loads(r.stdout)


    def started_id(self, content):
        wait_until(lambda: [e for e in self.events("stream_started")
                            if e["body"]["stream"]["key"] == content], 5, what="stream_started " + content)
        ev = [e for e in self.events("stream_started") if e["body"]["stream"]["key"] == content]
        return ev[0]["body"]["labels"]["stream_id"], ev

    def test_started_then_ended_with_matching_ids(self):
        self.setup_orch()
        s = self.hold_stream(self.st.port, "evone")
        sid, started = self.started_id("evone")
        self.assertEqual(len({e["body"]["labels"]["stream_id"] for e in started}), 1)
        b = started[0]["body"]
        eng = self.ostate()["engines"][0]
        self.assertEqual(b["container_id"], eng["container_id"])  # the engine's, not ours
        self.assertEqual(b["engine"], {"host": "127.0.0.1", "port": eng["port"]})
        self.assertEqual(b["stream"]["key_type"], "content_id")
        self.assertTrue(b["session"]["stat_url"].startswith("http://"))
        self.assertTrue(b["session"]["command_url"].startswith("http://"))
        self.assertIn(b["session"]["is_live"], (0, 1))
        self.assertEqual(started[0]["authorization"], "Bearer " + KEY)
        s.close()
        wait_until(lambda: self.events("stream_ended"), 5, what="stream_ended")
        time.sleep(0.5)
        ended = self.events("stream_ended")
        self.assertEqual(len(ended), 1)
        self.assertEqual(ended[0]["body"]["stream_id"], sid)
        self.assertEqual(ended[0]["body"]["container_id"], eng["container_id"])
        self.assertEqual(ended[0]["authorization"], "Bearer " + KEY)
        rec = [x for x in self.ostate()["streams"] if x["id"] == sid]
        self.assertEqual(rec[0]["status"], "ended")
        self.assertEqual(rec[0]["ended_by"], sid)
        self.assertEqual(len(self.events("stream_started")), 1)
        self.assertEqual(self.ctl_status()["events"]["delivered"], 2)

    def test_failover_end_retried_holds_back_only_its_own_start(self):
        # a failover's end is refused (retried with backoff): its own
        # replacement's start waits for it, another stream's start does not
        self.setup_orch(engines=2, per_engine=4, env={"ACEXY_ASSIGN_TIMEOUT": "10s"})
        self.script(ended_fail=503)
        out = {}
        content = "once-reset-300000"
        th = threading.Thread(target=lambda: out.update(
            r=t.tscheck(self.st.url("id=" + content), nbytes=900000, timeout=30)))
        th.start()
        wait_until(lambda: [e for e in self.events("stream_ended_refused")
                            if e["body"]["reason"] == "failover"], 10, what="failover end refused")
        th.join()
        self.assertEqual(out["r"]["bytes"], 900000, out["r"])
        s = self.hold_stream(self.st.port, "evother")
        t0 = time.monotonic()
        self.started_id("evother")
        self.assertLess(time.monotonic() - t0, 3)
        mine = [e for e in self.events("stream_started") if e["body"]["stream"]["key"] == content]
        self.assertEqual(len(mine), 1, "the replacement's start waits for the failover end")
        self.script(ended_fail=0)
        wait_until(lambda: len([e for e in self.events("stream_started")
                                if e["body"]["stream"]["key"] == content]) == 2, 15,
                   what="the replacement's start, after the end")
        ev = [(e["type"], e["body"].get("reason")) for e in self.events()
              if e["type"] in ("stream_started", "stream_ended") and
              (e["type"] == "stream_ended" or e["body"]["stream"]["key"] == content)]
        self.assertEqual(ev[:3], [("stream_started", None), ("stream_ended", "failover"),
                                  ("stream_started", None)], ev)
        s.close()

    def test_orchestrator_down_while_stream_ends(self):
        self.setup_orch()
        s = self.hold_stream(self.st.port, "evdown")
        sid, _ = self.started_id("evdown")
        self.script(down=True)
        s.close()
        time.sleep(2)
        self.assertEqual(self.events("stream_ended"), [])
        self.assertGreaterEqual(self.ctl_status()["events"]["pending"], 1)
        self.script(down=False)
        wait_until(lambda: self.events("stream_ended"), 12, what="stream_ended after the outage")
        self.assertEqual(self.events("stream_ended")[0]["body"]["stream_id"], sid)

    def test_controlplane_kill9_with_pending_events(self):
        sd = os.path.join(self.tmpdir(), "state")
        self.setup_orch(state_dir=sd)
        s = self.hold_stream(self.st.port, "evkill")
        sid, _ = self.started_id("evkill")
        self.script(down=True)
        s.close()
        wait_until(lambda: self.ctl_status()["events"]["pending"] >= 1, 5, what="ended pending")
        self.st.cp.kill()
        self.assertTrue(os.path.getsize(os.path.join(sd, "events.spool")) > 0)
        self.script(down=False)
        self.st.start_cp()
        wait_until(lambda: self.events("stream_ended"), 15, what="stream_ended after the restart")
        self.assertEqual(self.events("stream_ended")[0]["body"]["stream_id"], sid)

    def test_orchestrator_lost_state_never_ends_another_stream(self):
        self.setup_orch(engines=1, per_engine=3)
        a = self.hold_stream(self.st.port, "viewera")
        sid_a, _ = self.started_id("viewera")
        self.script(forget_streams=True)  # the orchestrator restarted and forgot
        b = self.hold_stream(self.st.port, "viewerb")
        sid_b, _ = self.started_id("viewerb")
        a.close()
        wait_until(lambda: self.ctl_status()["events"]["skipped_unknown"] >= 1, 8,
                   what="the unknown stream's end skipped")
        time.sleep(0.5)
        recs = {x["id"]: x for x in self.ostate()["streams"]}
        self.assertEqual(recs[sid_b]["status"], "started")  # B untouched
        self.assertNotIn(sid_a, [e["body"]["stream_id"] for e in self.events("stream_ended")])
        self.assertIn("stream_ended_skipped", self.st.cp.log())
        b.close()
        wait_until(lambda: [e for e in self.events("stream_ended") if e["body"]["stream_id"] == sid_b],
                   8, what="B's end")

    def test_corrupted_spool_tail_skipped_rest_delivered(self):
        sd = os.path.join(self.tmpdir(), "state")
        os.makedirs(sd)
        ev = {"kind": "started", "stream_id": "acexy-old-stream", "container_id": "c0ffee",
              "reason": "", "queued": 1.0,
              "body": {"container_id": "c0ffee", "engine": {"host": "127.0.0.1", "port": 1},
                       "stream": {"key_type": "content_id", "key": "old"},
                       "session": {"playback_session_id": "p", "stat_url": "http://127.0.0.1:1/s",
                                   "command_url": "http://127.0.0.1:1/c", "is_live": 1},
                       "labels": {"stream_id": "acexy-old-stream"}}}
        with open(os.path.join(sd, "events.spool"), "wb") as f:
            f.write(spool_line({"op": "add", "seq": 1, "event": ev}))
            f.write(b"0123456789abcdef {\"op\":\"add\",\"seq\":2,\"ev")  # torn write
        self.setup_orch(state_dir=sd)
        wait_until(lambda: [e for e in self.events("stream_started")
                            if e["body"]["labels"]["stream_id"] == "acexy-old-stream"], 8,
                   what="the spooled event delivered")
        self.assertIn("spool_records_skipped", self.st.cp.log())
        self.assertEqual(self.ctl_status()["events"]["spool_bad_records"], 1)

    def test_fallback_streams_not_reported(self):
        self.setup_orch()
        self.script(down=True)
        wait_until(lambda: self.ctl_status()["orchestrator"]["state"] == "unreachable", 6,
                   what="unreachable")
        s = self.hold_stream(self.st.port, "onfallback")
        s.close()
        time.sleep(1)
        self.script(down=False)
        time.sleep(1.5)
        self.assertEqual(self.events(), [])
        self.assertEqual(self.ctl_status()["events"]["pending"], 0)

    def test_spool_full_drops_counted(self):
        # the spool (64 KiB, its smallest) already holds undeliverable events
        sd = os.path.join(self.tmpdir(), "state")
        os.makedirs(sd)
        total, seq = 0, 0
        with open(os.path.join(sd, "events.spool"), "wb") as f:
            while total < 65536 - 300:
                seq += 1
                ev = {"kind": "started", "stream_id": "acexy-fill-%d" % seq, "container_id": "c0ffee",
                      "reason": "", "queued": 1.0, "body": {"pad": "x" * 200}}
                line = spool_line({"op": "add", "seq": seq, "event": ev})
                if total + len(line) > 65536 - 100:
                    seq -= 1
                    break
                f.write(line)
                total += len(line)
        self.setup_orch(env={"ACEXY_SPOOL_MAX": "64KiB"}, state_dir=sd, script={"events_fail": 503})
        s = self.hold_stream(self.st.port, "nospace")
        wait_until(lambda: self.ctl_status()["events"]["dropped"] >= 1, 5, what="dropped event")
        self.assertIn("stream_event_dropped", self.st.cp.log())
        self.assertIn("spool full", self.st.cp.log())
        st = self.ctl_status()["events"]
        self.assertEqual(st["pending"], seq)  # the spooled ones are kept, retried
        wait_until(lambda: self.ctl_status()["events"]["retries"] > 0, 5, what="failed attempts retried")
        s.close()


    def engine_stops(self, port):
        return http_json(port, "/__fake/state")[1]["stops"]

    def test_dataplane_lost_stops_engine_and_ends_stream(self):
        self.setup_orch(env={"ACEXY_DATAPLANE_LOST_AFTER": "2s"})
        s = self.hold_stream(self.st.port, "evlost")
        sid, _ = self.started_id("evlost")
        port = self.ostate()["engines"][0]["port"]
        self.assertEqual(self.engine_stops(port), [])
        t0 = time.monotonic()
        self.st.dp.kill()
        wait_until(lambda: self.engine_stops(port), 2 + 2, what="engine stop command")
        wait_until(lambda: self.events("stream_ended"), 2 + 2.5, what="stream_ended")
        self.assertLess(time.monotonic() - t0, 4.5)
        ended = self.events("stream_ended")[0]["body"]
        self.assertEqual((ended["stream_id"], ended["reason"]), (sid, "dataplane_lost"))
        self.assertEqual(self.ctl_status()["leases"], 0)
        s.close()
        # a new dataplane (new instance) serves at once
        self.st.start_dp()
        s2 = self.hold_stream(self.st.port, "evnewdp")
        s2.close()

    def test_stream_ends_while_controlplane_down(self):
        self.setup_orch()
        s = self.hold_stream(self.st.port, "evaway")
        sid, _ = self.started_id("evaway")
        keep = self.hold_stream(self.st.port, "evstays")
        sid2, _ = self.started_id("evstays")
        self.st.cp.kill()
        s.close()
        wait_until(lambda: "content=content_id:evaway" in self.st.dp.log() and
                   "reason=client_gone" in self.st.dp.log(), 3, what="the stream ended while away")
        self.st.start_cp()
        wait_until(lambda: self.events("stream_ended"), 10, what="stream_ended after the restart")
        ended = self.events("stream_ended")
        self.assertEqual([e["body"]["stream_id"] for e in ended], [sid])
        # the surviving stream's lease was rebuilt, and not announced twice
        wait_until(lambda: self.ctl_status()["leases"] == 1, 5, what="lease rebuilt")
        time.sleep(0.5)
        ids = [x["id"] for x in self.ostate()["streams"]]  # resends are idempotent
        self.assertEqual(sorted(ids), sorted([sid, sid2]))
        keep.close()
        wait_until(lambda: [e for e in self.events("stream_ended") if e["body"]["stream_id"] == sid2],
                   8, what="the rebuilt stream's end")


if __name__ == "__main__":
    t.main()
