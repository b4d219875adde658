"""GET /ace/probe: is a content live? The answer, and that every probe stops
the engine session it started and releases its lease — also when the
client hangs up — within ACEXY_PROBE_CONCURRENCY."""
import json
import socket
import time

from acexytest import Stack, TestCase, http_get, http_json, main, wait_until


def ctl_streams(st):
    """The controlplane's leases (acexyctl --json streams)."""
    return st.ctl_json("streams")["streams"]


def session(st, content):
    return [s for s in st.sessions() if s["content"] == content]


def start_viewer(port, path):
    """A viewer's request, sent; its answer is left to read."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
    return s


def send_probe(port, content, extra=""):
    return start_viewer(port, "/ace/probe?id=%s%s" % (content, extra))


class ProbeTest(TestCase):
    def probe(self, st, content):
        """GET /ace/probe?id=content answered 200: its JSON."""
        code, _, body = http_get(st.port, "/ace/probe?id=" + content, timeout=30)
        self.assertEqual(code, 200, body)
        return json.loads(body)

    def probe_follows(self, st, path, content):
        """A viewer's request (path + content) whose engine session has
        begun, then a probe of the content: live, through that one session,
        which goes on. Returns the viewer's socket."""
        viewer = start_viewer(st.port, path + content)
        wait_until(lambda: session(st, content), 10, what="the viewers' engine session")
        j = self.probe(st, content)
        self.assertIs(j["live"], True, j)
        self.assertEqual(len(session(st, content)), 1)  # one engine session
        self.assertIsNone(session(st, content)[0]["stop"])
        return viewer

    def test_live_content(self):
        st = Stack(self).start()
        code, hdrs, body = http_get(st.port, "/ace/probe?id=livechannel", timeout=30)
        answered = time.monotonic()
        self.assertEqual(code, 200, body)
        self.assertIn("application/json", hdrs["content-type"])
        j = json.loads(body)
        self.assertEqual(set(j), {"live", "status", "peers", "speed_down", "engine", "took_ms", "error"})
        self.assertIs(j["live"], True)
        self.assertEqual(j["status"], "dl")
        self.assertEqual(j["peers"], 7)
        self.assertEqual(j["speed_down"], 512)
        self.assertIn("127.0.0.1:%d" % st.engine_port, j["engine"])
        self.assertIsNone(j["error"])
        self.assertLess(j["took_ms"], 10000)
        # the engine session is stopped within a second of the answer
        wait_until(lambda: session(st, "livechannel") and session(st, "livechannel")[0]["stop"] is not None,
                   1.0, what="engine session stopped")
        self.assertLess(time.monotonic() - answered, 1.0)
        self.assertEqual(session(st, "livechannel")[0]["stop_reason"], "stop_command")
        self.assertEqual(session(st, "livechannel")[0]["bytes"], 0)  # nothing was played
        wait_until(lambda: ctl_streams(st) == [], 3, what="lease released")
        self.assertIn("probe_done", st.dp.log())
        # the probe is no viewer stream
        self.assertEqual(http_json(st.port, "/ace/status")[1]["streams"], [])

    def test_dead_content(self):
        st = Stack(self).start()
        j = self.probe(st, "fail-load-channel")
        self.assertIs(j["live"], False)
        self.assertIn("failed to load content", j["error"])
        wait_until(lambda: ctl_streams(st) == [], 3, what="lease released")

    def test_not_playing_in_time(self):
        st = Stack(self, env={"ACEXY_PROBE_TIMEOUT": "2s"}).start()
        t0 = time.monotonic()
        code, _, body = http_get(st.port, "/ace/probe?id=slowfb-60000", timeout=30)
        took = time.monotonic() - t0
        self.assertEqual(code, 200, body)
        j = json.loads(body)
        self.assertIs(j["live"], False)
        self.assertEqual(j["status"], "prebuf")
        self.assertIn("not playing after 2.0s", j["error"])
        self.assertGreater(took, 1.8)
        self.assertLess(took, 6)
        wait_until(lambda: session(st, "slowfb-60000")[0]["stop"] is not None, 1.0,
                   what="engine session stopped")

    def test_client_hangs_up_mid_probe(self):
        st = Stack(self).start()
        s = send_probe(st.port, "slowfb-60000")
        wait_until(lambda: session(st, "slowfb-60000"), 10, what="engine session started")
        wait_until(lambda: len(ctl_streams(st)) == 1, 5, what="lease taken")
        s.close()
        wait_until(lambda: session(st, "slowfb-60000")[0]["stop"] is not None, 2,
                   what="engine session stopped after the hang-up")
        wait_until(lambda: ctl_streams(st) == [], 3, what="lease released")
        self.assertIn("probe_abandoned", st.dp.log())

    def test_concurrency_cap(self):
        st = Stack(self, env={"ACEXY_PROBE_CONCURRENCY": "2"}).start()
        held = [send_probe(st.port, "slowfb-60000-%d" % i) for i in range(2)]
        wait_until(lambda: len(st.sessions()) == 2, 10, what="two probes running")
        code, hdrs, body = http_get(st.port, "/ace/probe?id=third", timeout=10)
        self.assertEqual(code, 503, body)
        self.assertIn("ACEXY_PROBE_CONCURRENCY", body.decode())
        self.assertIn("retry-after", hdrs)
        self.assertFalse(session(st, "third"))  # no engine session for the refused one
        for s in held:
            s.close()
        wait_until(lambda: all(x["stop"] is not None for x in st.sessions()), 3,
                   what="both stopped")
        # the slots are free again
        code, _, body = http_get(st.port, "/ace/probe?id=fourth", timeout=30)
        self.assertEqual(code, 200, body)
        self.assertIs(json.loads(body)["live"], True)

    def test_access_rules(self):
        st = Stack(self, env={"ACEXY_ACCESS_TOKEN": "tok"}).start()
        code, _, _ = http_get(st.port, "/ace/probe?id=abc", timeout=10)
        self.assertEqual(code, 401)
        code, _, _ = http_get(st.port, "/ace/probe?id=abc&token=nope", timeout=10)
        self.assertEqual(code, 403)
        self.assertEqual(st.sessions(), [])
        code, _, body = http_get(st.port, "/ace/probe?id=abc&token=tok", timeout=30)
        self.assertEqual(code, 200, body)
        code, _, body = http_get(st.port, "/ace/probe?token=tok", timeout=10)
        self.assertEqual(code, 400)

    def test_multiplex_looks_at_the_running_session(self):
        st = Stack(self, env={"ACEXY_MULTIPLEX": "true"}).start()
        viewer = self.hold_stream(st.port, "shared1")
        self.assertEqual(len(st.sessions()), 1)
        j = self.probe(st, "shared1")
        self.assertIs(j["live"], True)
        self.assertIsNone(j["error"])
        self.assertEqual(len(st.sessions()), 1)  # no second engine session
        self.assertIsNone(st.sessions()[0]["stop"])  # nor was the viewers' one stopped
        viewer.close()
        # a content nobody watches gets its own short session
        code, _, body = http_get(st.port, "/ace/probe?id=other", timeout=30)
        self.assertIs(json.loads(body)["live"], True)
        wait_until(lambda: session(st, "other")[0]["stop"] is not None, 1.0, what="stopped")

    def test_multiplex_probe_waits_for_the_prebuffering_session(self):
        # a viewer's shared session still prebuffering: the probe follows it
        # until it plays instead of answering live:false at once
        st = Stack(self, env={"ACEXY_MULTIPLEX": "true"}, workers=2).start()
        viewer = start_viewer(st.port, "/ace/getstream?id=slowfb-3500")
        wait_until(lambda: session(st, "slowfb-3500"), 10, what="the viewers' engine session")
        time.sleep(0.5)
        t0 = time.monotonic()
        code, _, body = http_get(st.port, "/ace/probe?id=slowfb-3500", timeout=30)
        took = time.monotonic() - t0
        self.assertEqual(code, 200, body)
        j = json.loads(body)
        self.assertIs(j["live"], True, j)
        self.assertIsNone(j["error"])
        self.assertGreater(took, 1.5)  # it waited for the session to play
        self.assertGreater(j["took_ms"], 1500)
        self.assertLess(took, 15)
        self.assertEqual(len(session(st, "slowfb-3500")), 1)  # no session of its own
        self.assertIsNone(session(st, "slowfb-3500")[0]["stop"])
        head = viewer.recv(4096)
        self.assertIn(b" 200 ", head.split(b"\r\n", 1)[0])  # the viewer plays
        viewer.close()

    def test_multiplex_probe_joins_a_session_waiting_for_the_engine(self):
        # the shared stream waits for the engine's API answer (no registry
        # record yet): the probe must not open a second lease and session
        st = Stack(self, env={"ACEXY_MULTIPLEX": "true"}, workers=2).start()
        viewer = self.probe_follows(st, "/ace/getstream?id=", "slowapi-2000")
        self.assertEqual(st.cp.log().count("lease_granted"), 1)  # one lease
        head = viewer.recv(4096)
        self.assertIn(b" 200 ", head.split(b"\r\n", 1)[0])
        viewer.close()

    def test_multiplex_probe_of_a_session_not_playing_in_time(self):
        # timeout and hang-up of probes watching a shared session leave it alone
        st = Stack(self, env={"ACEXY_MULTIPLEX": "true", "ACEXY_PROBE_TIMEOUT": "2s",
                              "ACEXY_PROBE_CONCURRENCY": "1"}, workers=2).start()
        viewer = start_viewer(st.port, "/ace/getstream?id=slowfb-60000")
        wait_until(lambda: session(st, "slowfb-60000"), 10, what="the viewers' engine session")
        gone = send_probe(st.port, "slowfb-60000")
        time.sleep(0.5)
        # the watching probe counts toward ACEXY_PROBE_CONCURRENCY
        code, _, body = http_get(st.port, "/ace/probe?id=other", timeout=10)
        self.assertEqual(code, 503, body)
        gone.close()
        time.sleep(0.5)
        t0 = time.monotonic()
        code, _, body = http_get(st.port, "/ace/probe?id=slowfb-60000", timeout=30)
        took = time.monotonic() - t0
        self.assertEqual(code, 200, body)
        j = json.loads(body)
        self.assertIs(j["live"], False)
        self.assertIn("not playing after 2.0s", j["error"])
        self.assertEqual(j["status"], "prebuf")
        self.assertGreater(took, 1.8)
        self.assertLess(took, 8)
        self.assertEqual(len(session(st, "slowfb-60000")), 1)
        self.assertIsNone(session(st, "slowfb-60000")[0]["stop"])  # the viewers' goes on
        self.assertEqual(len(ctl_streams(st)), 1)
        viewer.close()

    def read_answer(self, sock):
        """The JSON answer of a probe sent with send_probe."""
        data = b""
        while True:
            b = sock.recv(65536)
            if not b:
                break
            data += b
            head, _, body = data.partition(b"\r\n\r\n")
            n = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
            if n and len(body) >= n[0]:
                break
        head, _, body = data.partition(b"\r\n\r\n")
        return int(head.split(b" ")[1]), json.loads(body)

    def test_multiplex_viewer_joins_the_probes_session(self):
        # a probe of a content nobody watches opens a shared session; a
        # viewer arriving while it prebuffers joins it instead of opening a
        # second one (whose new pid would supersede the probe's)
        # 4 workers: this content's TS and HLS streams have different
        # loops (TS 2, HLS 0), and the probe's stream must be on the TS one
        st = Stack(self, env={"ACEXY_MULTIPLEX": "true"}, workers=4).start()
        probe = send_probe(st.port, "slowfb-3000")
        wait_until(lambda: session(st, "slowfb-3000"), 10, what="the probe's engine session")
        viewer = start_viewer(st.port, "/ace/getstream?id=slowfb-3000")
        code, j = self.read_answer(probe)
        self.assertEqual(code, 200, j)
        self.assertIs(j["live"], True, j)
        head = viewer.recv(4096)
        self.assertIn(b" 200 ", head.split(b"\r\n", 1)[0])  # the viewer plays
        got = 0
        until = time.time() + 1.5
        while time.time() < until:
            got += len(viewer.recv(65536))
        self.assertGreater(got, 10000)
        self.assertEqual(len(session(st, "slowfb-3000")), 1)  # one engine session
        self.assertIsNone(session(st, "slowfb-3000")[0]["stop"])  # still the viewer's
        self.assertEqual(st.cp.log().count("lease_granted"), 1)
        viewer.close()
        probe.close()

    def test_multiplex_two_probes_one_session_stopped_after(self):
        st = Stack(self, env={"ACEXY_MULTIPLEX": "true"}, workers=4).start()  # TS loop 3, HLS 1
        a = send_probe(st.port, "slowfb-2000")
        wait_until(lambda: session(st, "slowfb-2000"), 10, what="the first probe's session")
        b = send_probe(st.port, "slowfb-2000")
        for sock in (a, b):
            code, j = self.read_answer(sock)
            self.assertEqual(code, 200, j)
            self.assertIs(j["live"], True, j)
        answered = time.monotonic()
        self.assertEqual(len(session(st, "slowfb-2000")), 1)
        # no viewer came: stopped at once, not after ACEXY_MULTIPLEX_GRACE
        wait_until(lambda: session(st, "slowfb-2000")[0]["stop"] is not None, 2.0,
                   what="engine session stopped")
        self.assertLess(time.monotonic() - answered, 2.0)
        wait_until(lambda: ctl_streams(st) == [], 3, what="lease released")
        self.assertEqual(http_json(st.port, "/ace/status")[1]["streams"], [])
        a.close()
        b.close()

    def test_multiplex_probe_with_no_engine_session_in_time(self):
        # the engine's API answers after the probe's timeout: 504 as for a
        # probe's own session, and the session that comes later is stopped
        st = Stack(self, env={"ACEXY_MULTIPLEX": "true", "ACEXY_PROBE_TIMEOUT": "1s"},
                   workers=2).start()
        code, _, body = http_get(st.port, "/ace/probe?id=slowapi-2500", timeout=30)
        self.assertEqual(code, 504, body)
        j = json.loads(body)
        self.assertIs(j["live"], False)
        self.assertIn("no engine session within 1.0s", j["error"])
        wait_until(lambda: session(st, "slowapi-2500") and session(st, "slowapi-2500")[0]["stop"] is not None,
                   8, what="the late session stopped")
        wait_until(lambda: ctl_streams(st) == [], 3, what="lease released")

    def test_multiplex_probe_waits_for_a_shared_hls_session(self):
        # no shared TS stream: the probe looks for the content's HLS one
        st = Stack(self, env={"ACEXY_MULTIPLEX": "true"}, workers=2).start()
        self.probe_follows(st, "/ace/manifest.m3u8?id=", "slowhls-3000").close()


if __name__ == "__main__":
    main()
