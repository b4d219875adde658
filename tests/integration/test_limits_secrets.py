"""Limits with their documented policies (ACEXY_MAX_STREAMS, ACEXY_MAX_VIEWERS)
and secrets (the orchestrator key, the viewer token) absent from every
output: logs, debug logs, metrics, /ace/status, acexyctl, error answers."""
import os
import socket
import subprocess
import threading
import time

import acexytest as t
from acexytest import http_get, open_stream, wait_until

KEY = "orch-key-71c2-SECRET"
TOKEN = "viewer-token-5d1e-SECRET"


class LimitsSecretsTest(t.TestCase):
    def test_stream_and_viewer_limits(self):
        st = t.Stack(self, env={"ACEXY_MAX_STREAMS": "2", "ACEXY_MAX_VIEWERS": "3"}).start()
        a, ha = open_stream(st.port, "id=l1")
        b, hb = open_stream(st.port, "id=l2")
        self.assertIn(b"200 OK", ha)
        self.assertIn(b"200 OK", hb)
        c, hc = open_stream(st.port, "id=l3")
        self.assertIn(b"503", hc)
        self.assertIn(b"stream limit", hc)
        self.assertIn(b"Retry-After", hc)
        c.close()
        a.close()
        def slot():
            s, h = open_stream(st.port, "id=l4")
            s.close()
            return b"200 OK" in h
        wait_until(slot, 3, what="a stream slot freed")
        b.close()
        self.assertTrue(st.dp.alive())

    def test_stream_limit_counts_starting_streams(self):
        """Issue 22 item 3: ACEXY_MAX_STREAMS holds while streams start: 40
        requests for distinct contents at once, first bytes 1.5 s away: 5
        engine sessions, the rest 503."""
        st = t.Stack(self, env={"ACEXY_MAX_STREAMS": "5"},
                     engine_args=["--first-byte-delay", "1500"]).start()
        heads = [None] * 40
        socks = [None] * 40

        def one(i):
            socks[i], heads[i] = open_stream(st.port, "id=start%d" % i)
        th = [threading.Thread(target=one, args=(i,)) for i in range(40)]
        [x.start() for x in th]
        [x.join() for x in th]
        ok = [h for h in heads if b"200 OK" in h]
        refused = [h for h in heads if b" 503 " in h]
        self.assertEqual(len(ok), 5)
        self.assertEqual(len(refused), 35)
        for h in refused:
            self.assertIn(b"stream limit", h)
        self.assertEqual(len(st.sessions()), 5)
        for s in socks:
            s.close()

    def test_viewer_limit_counts_viewers_not_connections(self):
        """Issue 22 item 1: ACEXY_MAX_VIEWERS counts requests being served;
        connections that sent no request hold no seat."""
        st = t.Stack(self, env={"ACEXY_MULTIPLEX": "true", "ACEXY_MAX_VIEWERS": "3"}).start()
        idle = [socket.create_connection(("127.0.0.1", st.port)) for _ in range(10)]
        viewers = [self.hold_stream(st.port, "lv") for _ in range(3)]
        code, hdrs, body = http_get(st.port, "/ace/getstream?id=lv")
        self.assertEqual(code, 503, body)
        self.assertIn(b"viewer limit", body)
        self.assertIn("retry-after", hdrs)
        self.assertEqual(http_get(st.port, "/livez")[0], 200)
        self.assertEqual(t.metric(st.port, "acexy_viewers"), 3)
        viewers.pop().close()
        wait_until(lambda: t.metric(st.port, "acexy_viewers") == 2, 3, what="a seat freed")
        viewers.append(self.hold_stream(st.port, "lv"))
        for s in idle + viewers:
            s.close()

    def test_idle_connections_starve_nobody(self):
        """Issue 22 item 1: more idle connections than ACEXY_MAX_VIEWERS + 64
        from one address: /livez, /readyz and a stream are still answered
        (the oldest idle connections make room)."""
        st = t.Stack(self, env={"ACEXY_MAX_VIEWERS": "40", "ACEXY_REQUEST_TIMEOUT": "30s"}).start()
        idle = []
        for _ in range(300):
            idle.append(socket.create_connection(("127.0.0.1", st.port)))
        t0 = time.monotonic()
        self.assertEqual(http_get(st.port, "/livez")[0], 200)
        self.assertEqual(http_get(st.port, "/readyz")[0], 200)
        self.assertLess(time.monotonic() - t0, 2)
        s, head = open_stream(st.port, "id=starve")
        self.assertIn(b"200 OK", head)
        s.close()
        self.assertGreater(t.metric(st.port, "acexy_connections_reclaimed_total"), 200)
        self.assertLessEqual(t.metric(st.port, "acexy_connections_idle"), 40)
        self.assertIn("idle_connection_reclaimed", st.dp.log())
        for c in idle:
            c.close()

    def test_per_ip_cap_from_accept(self):
        """Issue 22 item 1: ACEXY_MAX_CONNS_PER_IP counts a connection from
        accept, before it sends anything."""
        st = t.Stack(self, env={"ACEXY_MAX_CONNS_PER_IP": "3"}).start()
        time.sleep(0.5)  # the readiness checks' connections are gone
        idle = [socket.create_connection(("127.0.0.1", st.port)) for _ in range(3)]
        time.sleep(0.2)
        extra = socket.create_connection(("127.0.0.1", st.port), timeout=3)
        answer = extra.recv(1024)  # sent at once, without a request
        self.assertIn(b" 503 ", answer)
        self.assertIn(b"Retry-After", answer)
        self.assertIn(b"Connection: close", answer)
        extra.close()
        idle.pop().close()

        def seat():
            s = socket.create_connection(("127.0.0.1", st.port), timeout=3)
            s.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
            ok = s.recv(1024).startswith(b"HTTP/1.1 200")
            s.close()
            return ok
        wait_until(seat, 3, what="a seat freed by a closed connection")
        for c in idle:
            c.close()

    def test_secrets_never_printed(self):
        oport = t.start_fake_orchestrator(self, "--apikey", KEY, "--engines", "1")
        dl = os.path.join(self.tmpdir(), "debug")
        st = t.Stack(self, env={"ACEXY_ORCH_URL": "http://127.0.0.1:%d" % oport, "ACEXY_ORCH_APIKEY": KEY,
                                "ACEXY_ACCESS_TOKEN": TOKEN, "DEBUG_MODE": "true", "DEBUG_LOG_DIR": dl,
                                "ACEXY_LOG_LEVEL": "debug"}).start()
        s, head = open_stream(st.port, "id=sec&token=" + TOKEN)
        self.assertIn(b"200 OK", head)
        s.close()
        outputs = []
        for q in ("id=sec2&token=" + TOKEN + "x", "id=sec3", "id=fail-load&token=" + TOKEN,
                  "pid=1&token=" + TOKEN):
            outputs.append(http_get(st.port, "/ace/getstream?" + q)[2].decode(errors="replace"))
        outputs.append(http_get(st.port, "/ace/status", headers={"Authorization": "Bearer " + TOKEN})[2].decode())
        outputs.append(http_get(st.port, "/metrics")[2].decode())
        outputs.append(http_get(st.cp_port, "/metrics")[2].decode())
        for extra in ([], ["--dataplane"]):
            for cmd in ("status", "config", "streams", "engines"):
                r = subprocess.run([t.binpath("acexyctl"), "--run-dir", st.run_dir] + extra + [cmd],
                                   capture_output=True, text=True)
                outputs += [r.stdout, r.stderr]
                r = subprocess.run([t.binpath("acexyctl"), "--run-dir", st.run_dir] + extra + ["--json", cmd],
                                   capture_output=True, text=True)
                outputs += [r.stdout, r.stderr]
        st.cp.stop()
        st.dp.stop()
        outputs += [st.cp.log(), st.dp.log()]
        for name in os.listdir(dl):
            with open(os.path.join(dl, name)) as f:
                outputs.append(f.read())
        self.assertTrue(any("<set>" in o for o in outputs))
        for o in outputs:
            self.assertNotIn(KEY, o)
            self.assertNotIn(TOKEN, o)
        # the key did go to the orchestrator, the token never to the engine
        calls = http_get(oport, "/__fake/state")[2].decode()
        self.assertIn("Bearer " + KEY, calls)
        self.assertNotIn(TOKEN, calls)


if __name__ == "__main__":
    t.main()
