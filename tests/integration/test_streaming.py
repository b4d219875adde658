"""/ace/getstream end to end through the dataplane (issue 5), single-engine
mode: real daemons, the fake engine and the TS checker on every viewer byte."""
import json
import re
import socket
import subprocess
import threading
import time

import acexytest as t
from acexytest import http_get, tscheck, wait_until



def raw_request(port, request, timeout=10):
    """Sends raw bytes, returns (status, headers, first body bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
        hdrs = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        return status, hdrs, body
    finally:
        s.close()


class StreamingTest(t.TestCase):
    def stack(self, env=None, engine_args=None, workers=1):
        st = t.Stack(self, env=env, engine_args=engine_args, workers=workers)
        st.start()
        return st

    def test_stream_20mb_valid_and_stopped(self):
        st = self.stack(engine_args=["--bitrate", "0"])
        r = tscheck(st.url("id=abc123"), nbytes=20 * 1000 * 1000)
        self.assertEqual(r["status"], 200, r)
        self.assertGreaterEqual(r["bytes"], 20 * 1000 * 1000)
        self.assertEqual(r["sync_errors"], 0, r)
        self.assertEqual(r["cc_errors"], 0, r)
        # the viewer left: the engine session is stopped within a second
        wait_until(lambda: len(st.stops()) >= 1, 1.5, what="engine stop command")
        sess = st.sessions()
        self.assertEqual(len(sess), 1)
        self.assertTrue(sess[0]["pid"])

    def test_ffprobe_finds_video(self):
        st = self.stack()
        r = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json",
                            "-rw_timeout", "10000000", st.url("id=probe")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        kinds = [s["codec_type"] for s in json.loads(r.stdout)["streams"]]
        self.assertIn("video", kinds)

    def test_bad_requests_reach_no_engine(self):
        st = self.stack()
        cases = [
            ("/ace/getstream", 400, "missing"),
            ("/ace/getstream?id=a&infohash=b", 400, None),
            ("/ace/getstream?id=", 400, None),
            ("/ace/getstream?id=%FF%FE", 400, "parameter 'id' is not valid utf-8"),
            ("/ace/getstream?infohash=%C0%AF", 400, "parameter 'infohash' is not valid utf-8"),
            ("/nope", 404, None),
        ]
        for path, status, word in cases:
            code, _, body = http_get(st.port, path)
            self.assertEqual(code, status, (path, body))
            if word:
                self.assertIn(word, body.decode().lower())
        code, _, _ = http_get(st.port, "/ace/getstream?id=a", method="POST")
        self.assertEqual(code, 405)
        big = b"GET /ace/getstream?id=a HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
        code, _, _ = raw_request(st.port, big)
        self.assertEqual(code, 431)
        self.assertEqual(st.sessions(), [])
        reqs = [r for r in st.engine_state()["requests"] if "/ace/" in r["path"]]
        self.assertEqual(reqs, [])

    def test_invalid_utf8_id_json_logs(self):
        """Issue 22 item 9: an id that is not UTF-8 is the viewer's error
        (400 naming it), reaches no engine nor controlplane, and the JSON
        log lines about it stay valid JSON."""
        st = self.stack(env={"ACEXY_LOG_FORMAT": "json"})
        code, hdrs, body = http_get(st.port, "/ace/getstream?id=%FF%FE")
        self.assertEqual(code, 400, body)
        self.assertNotIn("retry-after", hdrs)
        self.assertIn(b"parameter 'id' is not valid UTF-8", body)
        # bytes that are not UTF-8 in a logged value (the raw name of a
        # badly encoded parameter) still give valid JSON lines
        code, _, body = raw_request(st.port, b"GET /ace/getstream?id=a&\xff\xfe%zz=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(code, 400, body)
        self.assertEqual(st.sessions(), [])
        t.wait_until(lambda: "\\\\xff\\\\xfe" in st.dp.log(), 3, what="the escaped bytes logged")
        for p in (st.dp, st.cp):
            for line in p.log().splitlines():
                json.loads(line)
        self.assertNotIn("bad_message", st.cp.log())

    def test_viewer_pid_sid_dropped(self):
        """Issue 20 item 4 / issue 22 item 10: a viewer's pid and sid, spelled
        any way an engine might read them, are accepted and dropped; the
        engine only ever sees the proxy's own pid."""
        st = self.stack()
        theirs = ["id=ps1&pid=v1", "id=ps2&sid=v2", "id=ps3&PID=v3&SID=v4", "id=ps4&pid%20=v5&+sid=v6",
                  "id=ps5&x=1;pid=v7", "id=ps6;sid=v8", "id=ps7&p%69d=v9&Pid+=v10"]
        for q in theirs:
            r = tscheck(st.url(q), nbytes=50000)
            self.assertEqual(r["status"], 200, q)
        reqs = [q["path"] for q in st.engine_state()["requests"] if q["path"].startswith("/ace/getstream")]
        self.assertEqual(len(reqs), len(theirs))
        import urllib.parse
        for path in reqs:
            query = path.split("?", 1)[1]
            # every reading: '&' and ';' separators, decoded, any case, trimmed
            ids = []
            for piece in re.split("[&;]", query):
                name, _, value = piece.partition("=")
                if urllib.parse.unquote_plus(name).strip().lower() in ("pid", "sid"):
                    ids.append(value)
            self.assertEqual(len(ids), 1, path)
            self.assertNotRegex(ids[0], "^v[0-9]+$", path)
        self.assertIn("x=1%3Bpid=v7", reqs[4])
        self.assertEqual(len({s["pid"] for s in st.sessions()}), len(theirs))

    def test_viewer_gone_during_engine_call_session_stopped(self):
        """Issue 22 item 4: viewers that hang up while the engine API call is
        in flight (answer delayed 1 s) leave no engine session behind: each
        session the proxy opened gets its stop command, TS and HLS alike."""
        st = self.stack(engine_args=["--api-delay", "1000"])
        socks = []
        for i in range(10):
            for path in ("/ace/getstream", "/ace/manifest.m3u8"):
                s = socket.create_connection(("127.0.0.1", st.port), timeout=10)
                s.sendall(("GET %s?id=gone%d HTTP/1.1\r\nHost: x\r\n\r\n" % (path, i)).encode())
                socks.append(s)
        time.sleep(0.3)
        for s in socks:
            s.close()
        wait_until(lambda: len(st.sessions()) == 20, 5, what="20 engine sessions opened")
        wait_until(lambda: all(x["stop"] is not None for x in st.sessions()), 5,
                   what="every engine session stopped")
        tokens = {x["token"] for x in st.sessions()}
        self.assertEqual({x["token"] for x in st.stops() if "method=stop" in x["method"]}, tokens)
        self.assertEqual(st.dp.log().count("engine_session_stopped_late"), 20)
        wait_until(lambda: t.metric(st.cp_port, "acexy_cp_leases") == 0, 5, what="leases released")

    def test_request_timeout_408(self):
        st = self.stack(env={"ACEXY_REQUEST_TIMEOUT": "300ms"})
        s = socket.create_connection(("127.0.0.1", st.port), timeout=5)
        s.sendall(b"GET /ace/getstream?id=a HTTP/1.1\r\n")
        t0 = time.monotonic()
        data = s.recv(1000)
        self.assertIn(b" 408 ", data)
        self.assertLess(time.monotonic() - t0, 2)
        s.close()

    def test_head_no_engine_session(self):
        st = self.stack()
        code, hdrs, body = http_get(st.port, "/ace/getstream?id=a", method="HEAD")
        self.assertEqual(code, 200)
        self.assertEqual(hdrs["content-type"], "video/mp2t")
        self.assertEqual(st.sessions(), [])

    def test_params_forwarded_and_pid_fresh(self):
        st = self.stack()
        r = tscheck(st.url("id=fw1&transcode_audio=1&x%20y=a%2Bb"), nbytes=200000)
        self.assertEqual(r["status"], 200)
        r = tscheck(st.url("id=fw1"), nbytes=200000)
        reqs = [q for q in st.engine_state()["requests"] if q["path"].startswith("/ace/getstream")]
        self.assertEqual(len(reqs), 2)
        self.assertIn("transcode_audio=1", reqs[0]["path"])
        self.assertIn("x%20y=a%2Bb", reqs[0]["path"])
        self.assertIn("format=json", reqs[0]["path"])
        pids = [p.split("pid=")[1].split("&")[0] for p in (q["path"] for q in reqs)]
        self.assertNotEqual(pids[0], pids[1])

    def test_viewer_disconnect_stops_engine_within_1s(self):
        st = self.stack()
        s = socket.create_connection(("127.0.0.1", st.port), timeout=10)
        s.sendall(b"GET /ace/getstream?id=disc HTTP/1.1\r\nHost: x\r\n\r\n")
        got = s.recv(4096)
        self.assertIn(b"200 OK", got)
        time.sleep(0.3)
        t0 = time.monotonic()
        s.close()
        wait_until(lambda: len(st.stops()) >= 1, 1.0, what="stop within 1 s")
        self.assertLess(time.monotonic() - t0, 1.0)

    def test_50_concurrent_distinct(self):
        st = self.stack(workers=2)
        results = [None] * 50

        def one(i):
            results[i] = tscheck(st.url("id=conc%d" % i), nbytes=500000, timeout=90)

        th = [threading.Thread(target=one, args=(i,)) for i in range(50)]
        for x in th:
            x.start()
        for x in th:
            x.join()
        for r in results:
            self.assertEqual(r["status"], 200, r)
            self.assertEqual(r["sync_errors"] + r["cc_errors"], 0, r)
        wait_until(lambda: len(st.stops()) >= 50, 5, what="50 stops")

    def test_engine_failures_give_status_in_time(self):
        st = self.stack(env={"ACEXY_NO_RESPONSE_TIMEOUT": "1s", "ACEXY_FIRST_BYTE_TIMEOUT": "1s"})
        cases = [
            ("fail-load", 502, "failed to load content", 3),
            ("fail-loadobj", 502, "failed to load content", 3),
            ("http500", 502, "HTTP 500", 3),
            ("nonts", 502, "non-stream", 3),
            ("slowapi-3000", 504, "did not answer", 2.5),
            ("slowfb-3000", 504, "no stream data", 2.5),
        ]
        for content, status, word, bound in cases:
            t0 = time.monotonic()
            code, hdrs, body = http_get(st.port, "/ace/getstream?id=%s" % content, timeout=15)
            took = time.monotonic() - t0
            self.assertEqual(code, status, (content, body))
            self.assertIn(word, body.decode(), content)
            self.assertLess(took, bound, content)
        # every engine session that was started got its stop command
        started = [s for s in st.sessions() if s["content"] in ("nonts", "slowfb-3000")]
        wait_until(lambda: len(st.stops()) >= len(started), 3, what="stop commands")

    def test_engine_unreachable_502(self):
        st = t.Stack(self, start_engine=False)
        st.start()
        code, _, body = http_get(st.port, "/ace/getstream?id=x", timeout=15)
        self.assertEqual(code, 502)
        self.assertIn(b"unreachable", body)

    def test_trickling_302_does_not_delay(self):
        st = self.stack(engine_args=["--trickle-302"])
        r = tscheck(st.url("id=tr"), nbytes=100000)
        self.assertEqual(r["status"], 200)
        self.assertLess(r["first_byte_ms"], 1000)

    def test_reset_mid_stream_ends_and_stops(self):
        # the end itself, so no failover (test_failover.py)
        st = self.stack(engine_args=["--bitrate", "0"], env={"ACEXY_FAILOVER": "false"})
        r = tscheck(st.url("id=reset-1880000"), nbytes=10000000)
        self.assertEqual(r["status"], 200)
        self.assertLessEqual(r["bytes"], 1880000)
        self.assertEqual(r["sync_errors"] + r["cc_errors"], 0)
        wait_until(lambda: len(st.stops()) == 1, 2, what="stop after upstream error")
        wait_until(lambda: "reason=upstream_error" in st.dp.log(), 2, what="end reason logged")

    def test_empty_timeout(self):
        st = self.stack(env={"ACEXY_EMPTY_TIMEOUT": "700ms"}, engine_args=["--bitrate", "0"])
        t0 = time.monotonic()
        r = tscheck(st.url("id=stall-188000"), seconds=10)
        took = time.monotonic() - t0
        self.assertEqual(r["bytes"], 188000)
        self.assertLess(took, 3)
        wait_until(lambda: "reason=empty_timeout" in st.dp.log(), 2, what="empty_timeout")
        wait_until(lambda: len(st.stops()) == 1, 2, what="stop command")

    def test_stop_from_acexyctl(self):
        st = self.stack()
        s = socket.create_connection(("127.0.0.1", st.port), timeout=10)
        s.sendall(b"GET /ace/getstream?id=ctl HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(b"200 OK", s.recv(4096))
        r = subprocess.run([t.binpath("acexyctl"), "--run-dir", st.run_dir, "--json", "streams"],
                           capture_output=True, text=True, timeout=10)
        streams = json.loads(r.stdout)["streams"]
        self.assertEqual(len(streams), 1)
        r = subprocess.run([t.binpath("acexyctl"), "--run-dir", st.run_dir, "stop", str(streams[0]["id"])],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_until(lambda: "reason=stopped" in st.dp.log(), 3, what="stream stopped")
        wait_until(lambda: len(st.stops()) == 1, 2, what="engine stop")
        s.close()

    def test_slow_viewer_does_not_slow_fast_one(self):
        st = self.stack(env={"ACEXY_BUFFER": "1MiB", "ACEXY_WRITE_TIMEOUT": "5s"},
                        engine_args=["--bitrate", "8000000"])
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", st.port))
        slow.sendall(b"GET /ace/getstream?id=slow HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.5)  # it reads nothing more
        r = tscheck(st.url("id=fast"), seconds=3)
        self.assertEqual(r["status"], 200)
        self.assertEqual(r["sync_errors"] + r["cc_errors"], 0)
        self.assertLess(r["max_gap_ms"], 1000, r)
        self.assertGreater(r["bytes"], 2000000)
        with open("/proc/%d/status" % st.dp.pid) as f:
            rss = [int(l.split()[1]) for l in f if l.startswith("RssAnon")][0] * 1024
        if "asan" not in t.BIN_DIR:  # sanitizers hold freed memory
            self.assertLess(rss, 2 * 1024 * 1024 + 16 * 1024 * 1024)
        # the stalled viewer is dropped after ACEXY_WRITE_TIMEOUT
        wait_until(lambda: "reason=write_timeout" in st.dp.log(), 8, what="write_timeout")
        slow.close()

    def test_two_workers_share_streams(self):
        st = self.stack(workers=2)
        socks = []
        for i in range(12):
            s = socket.create_connection(("127.0.0.1", st.port), timeout=10)
            s.sendall(("GET /ace/getstream?id=w%d HTTP/1.1\r\nHost: x\r\n\r\n" % i).encode())
            socks.append(s)
        for s in socks:
            self.assertIn(b"200 OK", s.recv(4096))
        code, _, body = http_get(st.port, "/ace/status")
        workers = {s["worker"] for s in json.loads(body)["streams"]}
        self.assertEqual(workers, {0, 1})
        for s in socks:
            s.close()


if __name__ == "__main__":
    t.main()
