"""What players and operators see: the engine's own state while a stream
prebuffers and plays (/ace/status, /metrics, acexyctl on both daemons), and
players that send HEAD twice before their GET."""
import re
import socket
import time

from acexytest import Stack, TestCase, http_get, http_json, main, wait_until


def status_stream(st, content):
    for s in http_json(st.port, "/ace/status")[1]["streams"]:
        if s["content"].endswith(":" + content):
            return s
    return None


def metric_labels(port, name):
    _, _, body = http_get(port, "/metrics")
    return {m.group(1): int(m.group(2)) for m in
            re.finditer(r'^%s\{[a-z]+="([a-z_]+)"\} (\d+)$' % re.escape(name), body.decode(), re.M)}


class PlayersTest(TestCase):
    def test_prebuffer_state_visible_during_a_slow_start(self):
        st = Stack(self).start()
        content = "slowfb-5000"
        s = socket.create_connection(("127.0.0.1", st.port), timeout=30)
        s.sendall(("GET /ace/getstream?id=%s HTTP/1.1\r\nHost: x\r\n\r\n" % content).encode())
        # while the engine prebuffers: listed, with what the engine says
        row = wait_until(lambda: (lambda r: r if r and r["engine_state"]
                                  and r["engine_state"].get("status") == "prebuf" else None)(
                                      status_stream(st, content)),
                         4, what="prebuffering stream in /ace/status")
        self.assertEqual(row["state"], "prebuffering")
        self.assertEqual(row["engine_state"]["peers"], 3)
        self.assertEqual(row["engine_state"]["speed_down"], 128)
        self.assertIsNone(row["engine_state"]["error"])
        wait_until(lambda: status_stream(st, content)["engine_state"]["progress"] > 0, 4,
                   what="prebuffer progress")
        self.assertEqual(metric_labels(st.port, "acexy_streams_by_state"),
                         {"prebuffering": 1, "playing": 0})
        self.assertEqual(metric_labels(st.port, "acexy_streams_by_engine_status")["prebuf"], 1)
        self.assertEqual(metric_labels(st.port, "acexy_engine_peers")["prebuffering"], 3)
        dps = st.ctl_json("--dataplane", "streams")["streams"]
        self.assertEqual(dps[0]["state"], "prebuffering")
        self.assertEqual(dps[0]["engine_state"]["status"], "prebuf")
        # the controlplane shows what the dataplane read (no second reader)
        wait_until(lambda: st.ctl_json("streams")["streams"][0]["engine_status"] == "prebuf", 4,
                   what="acexyctl streams shows prebuf")
        one = st.ctl_json("stream", str(st.ctl_json("streams")["streams"][0]["id"]))
        self.assertEqual(one["engine_status"], "prebuf")
        self.assertEqual(one["peers"], 3)
        self.assertIn("stat_url", one)
        # the viewer sees nothing but the wait; then the stream plays
        head = s.recv(4096)
        self.assertIn(b"200 OK", head)
        row = wait_until(lambda: (lambda r: r if r["engine_state"]["status"] == "dl" else None)(
            status_stream(st, content)), 4, what="dl after the start")
        self.assertEqual(row["state"], "playing")
        self.assertEqual(row["engine_state"]["peers"], 7)
        self.assertEqual(metric_labels(st.port, "acexy_streams_by_state"),
                         {"prebuffering": 0, "playing": 1})
        self.assertEqual(metric_labels(st.port, "acexy_engine_speed_down_kbytes")["playing"], 512)
        s.close()
        wait_until(lambda: http_json(st.port, "/ace/status")[1]["streams"] == [], 5,
                   what="stream gone")

    def test_stat_reads_are_modest(self):
        """A playing stream's stat is read about every 10 s, not per byte."""
        st = Stack(self).start()
        s = self.hold_stream(st.port, "steady")
        time.sleep(3)
        reads = [r for r in st.engine_state()["requests"] if "/ace/stat/" in r.get("path", r.get("url", ""))]
        self.assertGreaterEqual(len(reads), 1)
        self.assertLessEqual(len(reads), 4, reads)
        s.close()

    def test_head_twice_then_get_starts_one_engine_session(self):
        st = Stack(self).start()
        url = "/ace/getstream?id=headtwice"
        for _ in range(2):
            code, hdrs, body = http_get(st.port, url, method="HEAD", timeout=10)
            self.assertEqual(code, 200)
            self.assertEqual(body, b"")
        self.assertEqual(st.sessions(), [])  # HEAD starts no engine session
        code, _, body = http_get(st.port, url, timeout=30, max_body=188 * 100)
        self.assertEqual(code, 200)
        self.assertEqual(body[0], 0x47)
        wait_until(lambda: all(x["stop"] is not None for x in st.sessions()), 5, what="stopped")
        self.assertEqual(len(st.sessions()), 1)
        # the same on one keep-alive connection, as players do it
        s = socket.create_connection(("127.0.0.1", st.port), timeout=30)
        req = "HEAD %s HTTP/1.1\r\nHost: x\r\n\r\n" % url.replace("headtwice", "headtwice2")
        s.sendall((req + req).encode())
        got = b""
        while got.count(b"HTTP/1.1 200") < 2:
            got += s.recv(4096)
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % url.replace("headtwice", "headtwice2")).encode())
        got = b""
        while b"\r\n\r\n" not in got:
            got += s.recv(4096)
        self.assertIn(b"200 OK", got)
        s.close()
        wait_until(lambda: len([x for x in st.sessions() if x["content"] == "headtwice2"]) == 1, 5,
                   what="one session")
        time.sleep(0.3)
        self.assertEqual(len([x for x in st.sessions() if x["content"] == "headtwice2"]), 1)


if __name__ == "__main__":
    main()
