"""Multiplex mode (ACEXY_MULTIPLEX=true): many viewers on one engine session,
across worker loops; slow viewers dropped without slowing the rest; the
grace period; late joiners on packet boundaries; one end per session."""
import json
import random
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

    def test_viewer_back_while_starting_joins_that_session(self):
        """Issue 22 (Also): the multiplex run that showed two engine sessions
        for one content. A shared stream whose viewers all left while it was
        starting ended at its grace, with its engine call in flight; the next
        viewer opened a second session for the content while the first was
        still coming up (the engine superseded it; before the orphan stop of
        item 4 it even stayed open). Now the starting session goes on, and
        the viewer who comes back joins it."""
        st = self.stack(env={"ACEXY_MULTIPLEX_GRACE": "100ms"}, workers=2,
                        engine_args=["--bitrate", "4000000", "--api-delay", "800"])
        a = socket.create_connection(("127.0.0.1", st.port), timeout=10)
        a.sendall(b"GET /ace/getstream?id=restart HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        a.close()  # gone during the engine call, and for longer than the grace
        time.sleep(0.3)
        b = self.hold_stream(st.port, "restart")
        self.assertEqual(len(st.sessions()), 1, st.sessions())
        b.close()
        # nobody left: stopped after the grace, once
        wait_until(lambda: len(st.stops()) == 1, 4, what="the engine session stopped")
        self.assertEqual([x["stop_reason"] for x in st.sessions()], ["stop_command"])
        # nobody comes back at all: the session that started is stopped
        c = socket.create_connection(("127.0.0.1", st.port), timeout=10)
        c.sendall(b"GET /ace/getstream?id=nobody HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        c.close()
        wait_until(lambda: len(st.stops()) == 2, 5, what="the unwatched session stopped")
        wait_until(lambda: t.metric(st.cp_port, "acexy_cp_leases") == 0, 3, what="leases released")

    def test_churn_never_opens_a_second_session(self):
        """The stress that reproduces it: viewers of one content that come
        and go (some before their 200) around a short grace, on two loops,
        with a slow engine call: at no time two engine sessions for the
        content (the fake engine ends the older one as 'superseded' when
        another pid asks for a content it is serving)."""
        st = self.stack(env={"ACEXY_MULTIPLEX_GRACE": "50ms"}, workers=2,
                        engine_args=["--bitrate", "4000000", "--api-delay", "300"])
        stop = time.monotonic() + 5

        def churn(seed):
            rnd = random.Random(seed)
            while time.monotonic() < stop:
                try:
                    s = socket.create_connection(("127.0.0.1", st.port), timeout=5)
                    s.sendall(b"GET /ace/getstream?id=churn HTTP/1.1\r\nHost: x\r\n\r\n")
                    if rnd.random() < 0.5:
                        time.sleep(rnd.random() * 0.1)  # gone before its 200
                    else:
                        s.recv(4096)
                        time.sleep(rnd.random() * 0.3)
                    s.close()
                except OSError:
                    pass
                time.sleep(rnd.random() * 0.6)
        th = [threading.Thread(target=churn, args=(i,)) for i in range(3)]
        [x.start() for x in th]
        [x.join() for x in th]
        wait_until(lambda: all(x["stop"] is not None for x in st.sessions()), 5, what="every session stopped")
        reasons = [x["stop_reason"] for x in st.sessions()]
        self.assertNotIn("superseded", reasons)
        self.assertEqual(set(reasons), {"stop_command"})

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
