"""Multiplex mode (ACEXY_MULTIPLEX=true): many viewers on one engine session,
across worker loops; slow viewers dropped without slowing the rest; the
grace period; late joiners on packet boundaries; one end per session."""
import json
import socket
import subprocess
import threading
import time

import acexytest as t
from acexytest import http_get, metric, tscheck, wait_until


class MultiplexTest(t.TestCase):
    def stack(self, env=None, workers=2, engine_args=None):
        e = {"ACEXY_MULTIPLEX": "true"}
        e.update(env or {})
        st = t.Stack(self, env=e, workers=workers, engine_args=engine_args or ["--bitrate", "8000000"])
        st.start()
        return st


    def test_20_viewers_one_engine_session_across_loops(self):
        st = self.stack(workers=2)
        res = [None] * 20

        def one(i):
            res[i] = tscheck(st.url("id=mux"), nbytes=400000)
        th = [threading.Thread(target=one, args=(i,)) for i in range(20)]
        [x.start() for x in th]
        [x.join() for x in th]
        for r in res:
            self.assertEqual(r["status"], 200, r)
            self.assertGreaterEqual(r["bytes"], 400000)
            self.assertEqual(r["sync_errors"] + r["cc_errors"], 0, r)
        self.assertEqual(len(st.sessions()), 1)  # one engine session for all
        # with two loops, some viewers were accepted by the loop that does not
        # own the session and were handed over
        self.assertGreater(metric(st.port, "acexy_viewer_handoffs_total"), 0)

    def test_viewers_shown_per_session(self):
        st = self.stack(workers=1)
        socks = [self.hold_stream(st.port, "mux") for _ in range(3)]
        wait_until(lambda: json.loads(subprocess.run(
            [t.binpath("acexyctl"), "--run-dir", st.run_dir, "--json", "streams"],
            capture_output=True, text=True).stdout)["streams"][0]["viewers"] == 3, 4,
            what="3 viewers on one stream")
        out = json.loads(subprocess.run([t.binpath("acexyctl"), "--run-dir", st.run_dir, "--json", "streams"],
                                        capture_output=True, text=True).stdout)
        self.assertEqual(len(out["streams"]), 1)  # leases count sessions
        # /ace/status: the top-level viewers are viewers, not streams (issue 22 item 11)
        code, status = t.http_json(st.port, "/ace/status")
        self.assertEqual(code, 200)
        self.assertEqual(len(status["streams"]), 1)
        self.assertEqual(status["streams"][0]["viewers"], 3)
        self.assertEqual(status["viewers"], 3)
        socks.append(self.hold_stream(st.port, "mux2"))
        wait_until(lambda: t.http_json(st.port, "/ace/status")[1]["viewers"] == 4, 4, what="4 viewers")
        for s in socks:
            s.close()

    def test_stalled_viewer_dropped_others_unaffected(self):
        st = self.stack(env={"ACEXY_BUFFER": "1MiB", "ACEXY_WRITE_TIMEOUT": "60s"}, workers=1)
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", st.port))
        slow.sendall(b"GET /ace/getstream?id=mux HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.3)  # it reads nothing more
        r = tscheck(st.url("id=mux"), seconds=4)
        self.assertEqual(r["status"], 200)
        self.assertEqual(r["sync_errors"] + r["cc_errors"], 0)
        self.assertLess(r["max_gap_ms"], 1000, r)
        self.assertGreater(r["bytes"], 3000000)
        wait_until(lambda: metric(st.port, "acexy_viewers_dropped_total") >= 1, 4, what="slow viewer dropped")
        self.assertIn("viewer_dropped", st.dp.log())
        self.assertEqual(len(st.sessions()), 1)
        slow.close()

    def test_grace_reuses_session_then_a_new_one(self):
        st = self.stack(env={"ACEXY_MULTIPLEX_GRACE": "1500ms"}, workers=1)
        r = tscheck(st.url("id=grace"), nbytes=200000)
        self.assertEqual(r["status"], 200)
        time.sleep(0.3)
        r = tscheck(st.url("id=grace"), nbytes=200000)  # probe-close-reopen
        self.assertEqual(r["status"], 200)
        self.assertEqual(r["sync_errors"] + r["cc_errors"], 0)
        self.assertEqual(len(st.sessions()), 1)
        self.assertEqual(st.stops(), [])
        # after the grace: engine stop once, stream ended once
        wait_until(lambda: len(st.stops()) == 1, 4, what="engine stop after the grace")
        wait_until(lambda: st.dp.log().count("event=stream_ended") == 1, 2, what="one stream_ended")
        r = tscheck(st.url("id=grace"), nbytes=200000)
        self.assertEqual(r["status"], 200)
        self.assertEqual(len(st.sessions()), 2)

    def test_late_joiner_starts_on_a_packet_boundary(self):
        st = self.stack(env={"ACEXY_MULTIPLEX_JOIN_BEHIND": "100000"}, workers=1)
        first = self.hold_stream(st.port, "late")
        time.sleep(1.0)  # the stream runs ahead
        r = tscheck(st.url("id=late"), nbytes=300000)
        self.assertEqual(r["status"], 200)
        self.assertEqual(r["sync_errors"], 0)  # first byte 0x47, every 188 bytes after
        first.close()

    def test_different_parameters_different_sessions(self):
        # the fake engine ends a content's session when another pid asks for
        # it (as engines do): no failover back and forth here
        st = self.stack(workers=2, env={"ACEXY_FAILOVER": "false"})
        a = self.hold_stream(st.port, "same")
        c = self.hold_stream(st.port, "same")
        self.assertEqual(len(st.sessions()), 1)
        # a parameter that changes the bytes: its own engine session
        b = self.hold_stream(st.port, "same&transcode_audio=1")
        self.assertEqual(len(st.sessions()), 2)
        api = [r["path"] for r in st.engine_state()["requests"] if "format=json" in r["path"]]
        self.assertEqual(len(api), 2)
        self.assertIn("transcode_audio=1", api[-1])
        for s in (a, b, c):
            s.close()


if __name__ == "__main__":
    t.main()
