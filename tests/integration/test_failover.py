"""Stream continuity: an engine that fails mid-stream (clean end, reset,
chunk framing error, stall, process killed) is replaced without the viewer
noticing — per-request and multiplex, single-engine and orchestrator mode;
the failover budget; a viewer leaving during a failover; ffmpeg decoding
across two switches; a late joiner of a shared session starting at a
picture."""
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

import acexytest as t
from acexytest import http_get, http_json, metric, tscheck, wait_until

RATE = "8000000"  # 1 MB/s: a failure after 300 KB comes in well under a second


def content_sessions(st, content):
    return [x for x in st.sessions() if x["content"] == content]


def failovers(port, reason):
    _, _, body = http_get(port, "/metrics")
    m = re.search(r'^acexy_failovers_total\{reason="%s"\} (\d+)$' % reason, body.decode(), re.M)
    return int(m.group(1)) if m else None


def ts_packets(data):
    """(pid, pusi, rai) of each whole packet."""
    out = []
    for i in range(0, len(data) - len(data) % 188, 188):
        p = data[i:i + 188]
        afc = (p[3] >> 4) & 3
        rai = bool(afc & 2 and p[4] > 0 and p[5] & 0x40)
        out.append((((p[1] & 0x1f) << 8) | p[2], bool(p[1] & 0x40), rai))
    return out


class FailoverTest(t.TestCase):
    def stack(self, env=None, engine_args=None, workers=1):
        e = {"ACEXY_FAILOVER_STALL": "600ms"}
        e.update(env or {})
        return t.Stack(self, env=e, engine_args=engine_args or ["--bitrate", RATE],
                       workers=workers).start()

    def test_each_failure_per_request(self):
        logdir = os.path.join(self.tmpdir(), "debug")
        st = self.stack(env={"DEBUG_MODE": "true", "DEBUG_LOG_DIR": logdir})
        for kind, reason in (("cut", "eof"), ("reset", "error"), ("trunc", "error"),
                             ("stall", "stall")):
            content = "once-%s-300000" % kind
            before = failovers(st.port, reason)
            r = tscheck(st.url("id=" + content), nbytes=900000, timeout=30)
            self.assertEqual(r["status"], 200, (kind, r))
            self.assertEqual(r["bytes"], 900000, (kind, r))
            self.assertEqual(r["sync_errors"] + r["cc_errors"], 0, (kind, r))
            self.assertGreater(r["discontinuities"], 0, (kind, r))
            if kind == "stall":  # detected at ACEXY_FAILOVER_STALL, not at the empty timeout
                self.assertLess(r["max_gap_ms"], 3000, r)
            sess = content_sessions(st, content)
            self.assertEqual(len(sess), 2, (kind, sess))
            self.assertEqual(failovers(st.port, reason), before + 1, kind)
            # the failed session got its stop command; the second one too, at the end
            wait_until(lambda: len([s for s in st.stops() if s["token"] in
                                    {x["token"] for x in sess}]) == 2, 3,
                       what="both sessions stopped (%s)" % kind)
        log = st.dp.log()
        self.assertEqual(log.count("event=failover "), 4, log[-3000:])
        self.assertIn("reason=failover", log)

        # each decision in the debug logs: a failure detected, a session replaced
        def records():
            try:
                with open(os.path.join(logdir, "failover.jsonl")) as f:
                    return [json.loads(x) for x in f if x.strip()]
            except OSError:
                return []
        wait_until(lambda: len([r for r in records() if r["event"] == "replaced"]) == 4, 5,
                   what="failover debug records")
        rec = records()
        self.assertEqual(len([r for r in rec if r["event"] == "detected"]), 4)
        self.assertEqual({r["reason"] for r in rec}, {"eof", "error", "stall"})

    def test_stop_and_shutdown_never_fail_over(self):
        st = self.stack(env={"ACEXY_DRAIN_TIMEOUT": "1s"})
        s = self.hold_stream(st.port, "stopme")
        wait_until(lambda: len(json.loads(subprocess.run(
            [t.binpath("acexyctl"), "--run-dir", st.run_dir, "--json", "streams"],
            capture_output=True, text=True).stdout)["streams"]) == 1, 4, what="the stream")
        sid = json.loads(subprocess.run([t.binpath("acexyctl"), "--run-dir", st.run_dir, "--json",
                                         "streams"], capture_output=True, text=True).stdout)["streams"][0]["id"]
        subprocess.run([t.binpath("acexyctl"), "--run-dir", st.run_dir, "stop", str(sid)], check=True,
                       capture_output=True)
        s.settimeout(5)
        while s.recv(65536):
            pass  # the stream ends, no new engine session
        s.close()
        s = self.hold_stream(st.port, "shutme")
        time.sleep(0.3)
        st.dp.stop(20)  # SIGTERM: drain, then shutdown
        self.assertEqual(len(content_sessions(st, "stopme")), 1)
        self.assertEqual(len(content_sessions(st, "shutme")), 1)
        self.assertNotIn("event=failover ", st.dp.log())
        s.close()

    def test_failover_off_ends_as_before(self):
        st = self.stack(env={"ACEXY_FAILOVER": "false"})
        r = tscheck(st.url("id=once-cut-300000"), nbytes=900000, timeout=30)
        self.assertEqual(r["status"], 200)
        self.assertLess(r["bytes"], 400000)  # the cut: at a PES start from 300,000 on
        self.assertEqual(len(content_sessions(st, "once-cut-300000")), 1)
        self.assertEqual(failovers(st.port, "eof"), 0)

    def test_each_failure_multiplex_three_viewers(self):
        st = self.stack(env={"ACEXY_MULTIPLEX": "true"}, workers=2)
        for kind in ("cut", "reset", "stall"):
            content = "once-%s-400000" % kind
            res = [None] * 3

            def one(i):
                res[i] = tscheck(st.url("id=" + content), nbytes=1000000, timeout=30)
            th = []
            for i in range(3):
                th.append(threading.Thread(target=one, args=(i,)))
                th[-1].start()
                time.sleep(0.05)
            [x.join() for x in th]
            for r in res:
                self.assertEqual(r["status"], 200, (kind, r))
                self.assertEqual(r["bytes"], 1000000, (kind, r))
                self.assertEqual(r["sync_errors"] + r["cc_errors"], 0, (kind, r))
            self.assertEqual(len(content_sessions(st, content)), 2, kind)  # one failover for all
        self.assertEqual(st.dp.log().count("event=failover "), 3)

    def test_budget_spent_ends_with_the_failure_reason(self):
        st = self.stack(env={"ACEXY_FAILOVER_MAX": "2"})
        r = tscheck(st.url("id=always-reset-200000"), nbytes=5000000, timeout=30)
        self.assertEqual(r["status"], 200)
        self.assertLessEqual(r["bytes"], 3 * 200000)
        self.assertGreater(r["bytes"], 2 * 200000)
        self.assertEqual(len(content_sessions(st, "always-reset-200000")), 3)
        wait_until(lambda: "reason=upstream_error" in st.dp.log(), 3, what="end reason")
        log = st.dp.log()
        self.assertEqual(log.count("event=failover "), 2)
        self.assertIn("event=failover_refused", log)
        wait_until(lambda: len(st.stops()) == 3, 3, what="every session stopped")

    def test_no_engine_within_the_deadline_ends_the_stream(self):
        # the engine process dies: every new session fails to start; after
        # ACEXY_ASSIGN_TIMEOUT + ACEXY_FIRST_BYTE_TIMEOUT the stream ends
        # with the failure's reason
        st = self.stack(env={"ACEXY_ASSIGN_TIMEOUT": "1s", "ACEXY_FIRST_BYTE_TIMEOUT": "1s",
                             "ACEXY_FAILOVER_MAX": "100"},
                        engine_args=["--bitrate", RATE, "--fail-times", "once-die-300000"])
        t0 = time.monotonic()
        r = tscheck(st.url("id=doomed"), nbytes=5000000, timeout=30)
        took = time.monotonic() - t0
        self.assertEqual(r["status"], 200, r)
        self.assertLess(r["bytes"], 400000, r)
        self.assertEqual(r["sync_errors"] + r["cc_errors"], 0, r)
        self.assertLess(took, 8, "ended within the deadline")
        self.assertGreater(took, 2)
        wait_until(lambda: "event=failover_failed" in st.dp.log(), 3, what="the give-up line")
        log = st.dp.log()
        self.assertIn("ACEXY_ASSIGN_TIMEOUT + ACEXY_FIRST_BYTE_TIMEOUT", log)
        self.assertIn("reason=upstream_error", log)  # it died inside a chunk
        wait_until(lambda: json.loads(subprocess.run(
            [t.binpath("acexyctl"), "--run-dir", st.run_dir, "--json", "streams"],
            capture_output=True, text=True).stdout)["streams"] == [], 3, what="leases released")

    def test_engine_back_after_two_seconds_viewer_goes_on(self):
        # single-engine mode: the engine process dies and is back on the same
        # port ~2 s later. The attempts while it is down (connection refused,
        # retried with a growing delay) are one switch of ACEXY_FAILOVER_MAX,
        # not one each: the viewer goes on from the restarted engine.
        st = self.stack(env={"ACEXY_FAILOVER_MAX": "3", "ACEXY_ASSIGN_TIMEOUT": "6s",
                             "ACEXY_FIRST_BYTE_TIMEOUT": "6s"},
                        engine_args=["--bitrate", RATE, "--fail-times", "once-die-300000"])
        out = {}
        th = threading.Thread(target=lambda: out.update(
            r=tscheck(st.url("id=comeback"), nbytes=900000, timeout=30)))
        th.start()
        wait_until(lambda: not st.engine.alive(), 10, what="the engine died")
        time.sleep(2)
        st.engine_args = ["--bitrate", RATE]
        st.start_engine()
        th.join()
        r = out["r"]
        self.assertEqual(r["status"], 200, r)
        self.assertEqual(r["bytes"], 900000, (r, st.dp.log()[-3000:]))
        self.assertEqual(r["sync_errors"] + r["cc_errors"], 0, r)
        log = st.dp.log()
        self.assertEqual(log.count("event=failover "), 1, log[-3000:])
        self.assertNotIn("event=failover_failed", log)
        self.assertIn("failovers=1", log.split("event=failover ")[1].split("\n")[0])

    def test_replacement_without_bytes_is_given_up_at_first_byte_timeout(self):
        # the replacement session answers but sends nothing: it is dropped at
        # ACEXY_FIRST_BYTE_TIMEOUT and another one is asked for within the
        # switch's deadline, so the viewer goes on
        st = self.stack(env={"ACEXY_ASSIGN_TIMEOUT": "4s", "ACEXY_FIRST_BYTE_TIMEOUT": "1s"},
                        engine_args=["--bitrate", RATE, "--mute-session", "2"])
        t0 = time.monotonic()
        r = tscheck(st.url("id=once-cut-200000"), nbytes=900000, timeout=30)
        self.assertEqual(r["status"], 200, r)
        self.assertEqual(r["bytes"], 900000, (r, st.dp.log()[-3000:]))
        self.assertEqual(r["sync_errors"] + r["cc_errors"], 0, r)
        self.assertLess(time.monotonic() - t0, 15)
        self.assertEqual(len(content_sessions(st, "once-cut-200000")), 3)
        # the mute one got its stop command
        wait_until(lambda: len(st.stops()) == 3, 3, what="every session stopped")

    def test_stream_visible_and_stoppable_during_a_switch(self):
        # the engine is gone and the switch goes on (attempts refused): the
        # stream stays in `acexyctl streams` and `acexyctl stop` ends it at
        # once, not at the switch's deadline
        st = self.stack(env={"ACEXY_ASSIGN_TIMEOUT": "8s", "ACEXY_FIRST_BYTE_TIMEOUT": "8s"},
                        engine_args=["--bitrate", RATE, "--fail-times", "once-die-300000"])
        s, _ = t.stream_bytes(st.port, "id=switching", 250000, keep_open=True)
        wait_until(lambda: not st.engine.alive(), 10, what="the engine died")
        wait_until(lambda: "reason=failover" in st.dp.log(), 5, what="the failover began")

        def rows():
            return json.loads(subprocess.run(
                [t.binpath("acexyctl"), "--run-dir", st.run_dir, "--json", "streams"],
                capture_output=True, text=True).stdout)["streams"]
        seen = []
        t_end = time.monotonic() + 1.5
        while time.monotonic() < t_end:
            seen.append(len(rows()))
            time.sleep(0.05)
        self.assertEqual(set(seen), {1}, seen)
        sid = rows()[0]["id"]
        t0 = time.monotonic()
        subprocess.run([t.binpath("acexyctl"), "--run-dir", st.run_dir, "stop", str(sid)],
                       check=True, capture_output=True)
        s.settimeout(5)
        while s.recv(65536):
            pass
        self.assertLess(time.monotonic() - t0, 3)
        s.close()
        wait_until(lambda: rows() == [], 3, what="leases released")
        self.assertNotIn("event=failover_failed", st.dp.log())
        self.assertEqual(http_json(st.port, "/ace/status")[1]["streams"], [])

    def test_viewer_leaving_during_failover_leaks_nothing(self):
        # every session's first byte takes 1.5 s: the viewer leaves while the
        # replacement prebuffers
        st = self.stack(engine_args=["--bitrate", RATE, "--first-byte-delay", "1500"])
        s, _ = t.stream_bytes(st.port, "id=once-cut-200000", 200000, keep_open=True)
        wait_until(lambda: len(content_sessions(st, "once-cut-200000")) == 2, 3,
                   what="the replacement session")
        s.close()
        wait_until(lambda: len(st.stops()) == 2, 3, what="both engine sessions stopped")
        wait_until(lambda: json.loads(subprocess.run(
            [t.binpath("acexyctl"), "--run-dir", st.run_dir, "--json", "streams"],
            capture_output=True, text=True).stdout)["streams"] == [], 3, what="leases released")
        self.assertEqual(http_json(st.port, "/ace/status")[1]["streams"], [])
        self.assertEqual(metric(st.port, "acexy_streams"), 0)

    def test_ffmpeg_decodes_across_two_switches(self):
        st = self.stack(engine_args=["--bitrate", "4000000"])
        r = tscheck(st.url("id=twice-reset-300000"), nbytes=1500000, timeout=30)
        self.assertEqual(r["cc_errors"] + r["sync_errors"], 0, r)
        self.assertEqual(r["bytes"], 1500000, r)
        self.assertEqual(len(content_sessions(st, "twice-reset-300000")), 3)
        p = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i",
                            st.url("id=twice-cut-300000"), "-t", "15", "-f", "null", "-"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        self.assertEqual(p.stderr.strip(), "", p.stderr[-2000:])
        self.assertEqual(len(content_sessions(st, "twice-cut-300000")), 3)

    def orch_stream(self, engines, content, nbytes, timeout):
        """An orchestrator with `engines` engines (one stream each) and a
        viewer of content checking nbytes in a thread, running; returns the
        orchestrator's port, the stack, the thread and its result dict."""
        oport = t.start_fake_orchestrator(self, "--engines", str(engines))
        st = t.Stack(self, start_engine=False, env={
            "ACEXY_ORCH_URL": "http://127.0.0.1:%d" % oport, "ACEXY_ORCH_POLL_INTERVAL": "1s",
            "ACEXY_MAX_STREAMS_PER_ENGINE": "1", "ACEXY_ASSIGN_TIMEOUT": "10s"}).start()
        out = {}
        th = threading.Thread(target=lambda: out.update(
            r=tscheck(st.url("id=" + content), nbytes=nbytes, timeout=timeout)))
        th.start()
        wait_until(lambda: len(http_json(st.port, "/ace/status")[1]["streams"]) == 1, 10,
                   what="the stream runs")
        return oport, st, th, out

    def assert_whole(self, th, out, nbytes):
        """The viewer got all nbytes, with no TS error."""
        th.join()
        r = out["r"]
        self.assertEqual(r["status"], 200, r)
        self.assertEqual(r["bytes"], nbytes, r)
        self.assertEqual(r["sync_errors"] + r["cc_errors"], 0, r)

    def test_orchestrator_engine_killed(self):
        oport, st, th, out = self.orch_stream(2, "killme", 4000000, 60)
        first = http_json(st.port, "/ace/status")[1]["streams"][0]["engine"]
        engines = t.orch_state(oport)["engines"]
        victim = [e for e in engines if "127.0.0.1:%d" % e["port"] in first][0]
        time.sleep(0.5)
        os.kill(victim["pid"], signal.SIGKILL)
        other = [e for e in engines if e is not victim][0]

        def ctl(*args):
            return json.loads(subprocess.run([t.binpath("acexyctl"), "--run-dir", st.run_dir,
                                              "--json"] + list(args),
                                             capture_output=True, text=True).stdout)
        # seen from outside while it plays: the failover and the engine now serving
        wait_until(lambda: [x["failovers"] for x in ctl("streams")["streams"]] == [1], 10,
                   what="acexyctl streams shows the failover: %s" % ctl("streams"))
        row = ctl("streams")["streams"][0]
        self.assertEqual(row["engine_port"], other["port"])
        self.assertEqual(ctl("stream", str(row["id"]))["failovers"], 1)
        dps = http_json(st.port, "/ace/status")[1]["streams"][0]
        self.assertEqual(dps["failovers"], 1)
        self.assertIn("127.0.0.1:%d" % other["port"], dps["engine"])
        self.assert_whole(th, out, 4000000)
        line = st.dp.log().split("event=failover ")[1].split("\n")[0]
        self.assertIn("old_engine=127.0.0.1:%d/" % victim["port"], line)
        self.assertIn(" engine=127.0.0.1:%d/" % other["port"], line)
        # events: the failed session's end (reason failover), then the new start
        wait_until(lambda: len(t.orch_state(oport)["events"]) >= 4, 5, what="four events")
        ev = [(e["type"], e["body"]["container_id"], e["body"].get("reason"))
              for e in t.orch_state(oport)["events"]]
        self.assertEqual(ev[:3], [("stream_started", victim["container_id"], None),
                                  ("stream_ended", victim["container_id"], "failover"),
                                  ("stream_started", other["container_id"], None)], ev)

    def test_orchestrator_only_engine_killed_provisions_another(self):
        # no other engine can serve: the failed one is passed over, a new one
        # is provisioned and the viewer goes on from it
        oport, st, th, out = self.orch_stream(1, "lonely", 2500000, 40)
        victim = t.orch_state(oport)["engines"][0]
        time.sleep(0.5)
        os.kill(victim["pid"], signal.SIGKILL)
        self.assert_whole(th, out, 2500000)
        state = t.orch_state(oport)
        self.assertEqual(len(state["provisions"]), 1, state["provisions"])
        line = st.dp.log().split("event=failover ")[1].split("\n")[0]
        self.assertNotIn(" engine=127.0.0.1:%d/" % victim["port"], line)

    def gop3_ts(self):
        """A TS with a keyframe every 3 s (made with ffmpeg)."""
        ts = os.path.join(self.tmpdir(), "gop3.ts")
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                        "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i",
                        "sine=frequency=440:sample_rate=48000", "-t", "12", "-c:v", "libx264",
                        "-preset", "ultrafast", "-g", "75", "-keyint_min", "75",
                        "-sc_threshold", "0", "-b:v", "800k", "-pix_fmt", "yuv420p", "-c:a",
                        "mp2", "-b:a", "64k", "-f", "mpegts", ts], check=True, timeout=60)
        return ts

    def test_after_a_switch_video_starts_at_a_keyframe(self):
        # the new engine session starts between keyframes: its video is held
        # back until one, so the player's first picture after the switch decodes
        st = self.stack(engine_args=["--bitrate", "4000000", "--ts", self.gop3_ts(),
                                     "--resume-anywhere"])
        data = t.stream_bytes(st.port, "id=once-reset-150000", 1500000)
        self.assertEqual(len(content_sessions(st, "once-reset-150000")), 2)
        pk = [data[i:i + 188] for i in range(0, len(data) - 187, 188)]
        # the switch: the new session's PAT, flagged as a discontinuity
        sw = [i for i, p in enumerate(pk) if i > 0 and ((p[1] & 0x1f) << 8 | p[2]) == 0
              and (p[3] >> 4) & 2 and p[4] > 0 and p[5] & 0x80]
        self.assertEqual(len(sw), 1)
        video = [p for p in pk[sw[0]:] if ((p[1] & 0x1f) << 8 | p[2]) == 256 and (p[3] >> 4) & 1]
        self.assertTrue(video)
        first = video[0]
        self.assertTrue(first[1] & 0x40 and (first[3] >> 4) & 2 and first[4] > 0 and first[5] & 0x40,
                        "the first video packet after the switch starts a keyframe")
        r = tscheck(st.url("id=once-cut-150000"), nbytes=1500000, timeout=30)
        self.assertEqual(r["cc_errors"] + r["sync_errors"], 0, r)

    def test_late_joiner_starts_at_a_picture(self):
        ts = self.gop3_ts()
        st = self.stack(env={"ACEXY_MULTIPLEX": "true", "ACEXY_MULTIPLEX_JOIN_BEHIND": "300000"},
                        engine_args=["--bitrate", "1000000", "--ts", ts])
        first = self.hold_stream(st.port, "gop")
        # ~440 KB later, with keyframes every ~200 KB: a join 300 KB behind at
        # a plain packet boundary would land between two
        time.sleep(3.5)
        data = t.stream_bytes(st.port, "id=gop", 400000)
        first.close()
        pk = ts_packets(data)
        self.assertEqual(pk[0][0], 0, "a late joiner starts at a PAT")
        self.assertTrue(pk[0][1])
        # its first video PES is a keyframe (random_access_indicator), early on
        video = [i for i, p in enumerate(pk) if p[0] == 256 and p[1]]
        self.assertTrue(video)
        self.assertTrue(pk[video[0]][2], "the first picture is a keyframe")
        self.assertLessEqual(video[0] * 188, 64 * 1024)
        cap = os.path.join(self.tmpdir(), "late.ts")
        with open(cap, "wb") as f:
            f.write(data)
        p = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_frames",
                            "-show_entries", "frame=key_frame,pkt_pos", "-of", "csv", cap],
                           capture_output=True, text=True, timeout=30)
        frames = [ln.split(",") for ln in p.stdout.splitlines() if ln.startswith("frame")]
        self.assertTrue(frames, p.stderr)
        self.assertEqual(frames[0][1], "1", frames[:3])  # the first decoded picture is a keyframe
        self.assertLessEqual(int(frames[0][2]), 64 * 1024)


if __name__ == "__main__":
    t.main()
