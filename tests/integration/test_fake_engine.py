"""The fake AceStream engine itself (issue 4): every endpoint and failure mode
of CONTRACTS.md §1, concurrency, and a stream ffprobe recognises."""
import json
import socket
import subprocess
import threading
import time

import acexytest as t
from acexytest import http_get, http_json, wait_until


class FakeEngineTest(t.TestCase):
    def engine(self, *args):
        self.port = t.free_port()
        self.start([t.binpath("acexy-fake-engine"), "--listen", "127.0.0.1:%d" % self.port] + list(args))
        wait_until(lambda: http_get(self.port, "/webui/api/service?method=get_version")[0] == 200, 5,
                   what="fake engine")
        return self.port

    def start_json(self, content, pid="p1", path="/ace/getstream", extra=""):
        st, j = http_json(self.port, "%s?id=%s&format=json&pid=%s%s" % (path, content, pid, extra),
                          timeout=15)
        self.assertEqual(st, 200)
        return j

    def state(self):
        return http_json(self.port, "/__fake/state")[1]

    def tscheck(self, url, nbytes):
        r = subprocess.run([t.binpath("acexy-tscheck"), "--url", url, "--bytes", str(nbytes), "--json"],
                           capture_output=True, text=True, timeout=60)
        return json.loads(r.stdout)

    def test_answer_shape_and_host(self):
        self.engine()
        j = self.start_json("abc")
        self.assertIsNone(j["error"])
        r = j["response"]
        for k in ("playback_url", "stat_url", "command_url", "infohash", "playback_session_id",
                  "is_live", "is_encrypted", "client_session_id"):
            self.assertIn(k, r)
        self.assertTrue(r["playback_url"].startswith("http://127.0.0.1:%d/ace/r/" % self.port))
        self.assertEqual(len(r["infohash"]), 40)
        # URLs follow the Host header the request used
        st, _, body = http_get(self.port, "/ace/getstream?id=abc&format=json&pid=2",
                               headers={"Host": "engine.example:6878"})
        self.assertIn("http://engine.example:6878/ace/r/", body.decode())
        # the same content always has the same infohash
        self.assertEqual(json.loads(body)["response"]["infohash"], r["infohash"])

    def test_content_params_and_500(self):
        self.engine()
        for p in ("id", "content_id", "infohash", "url", "magnet"):
            st, j = http_json(self.port, "/ace/getstream?%s=x1&format=json&pid=a" % p)
            self.assertEqual(st, 200)
            self.assertIsNone(j["error"])
        st, _, _ = http_get(self.port, "/ace/getstream?format=json")
        self.assertEqual(st, 500)

    def test_redirect_form_and_playback_302(self):
        self.engine()
        st, hdrs, _ = http_get(self.port, "/ace/getstream?id=abc&pid=1")
        self.assertEqual(st, 302)
        loc = hdrs["location"]
        self.assertIn("/ace/r/", loc)
        st, hdrs, _ = http_get(self.port, loc.split(str(self.port), 1)[1])
        self.assertEqual(st, 302)
        self.assertIn("/content/", hdrs["location"])

    def test_stream_valid_over_loops(self):
        self.engine("--bitrate", "0")
        j = self.start_json("loop")
        # 3 MB is several loops of the 350 KB sample
        r = self.tscheck(j["response"]["playback_url"], 3000000)
        self.assertEqual(r["status"], 200)
        self.assertEqual(r["sync_errors"] + r["cc_errors"], 0, r)
        self.assertGreaterEqual(r["pids"], 3)

    def test_ffprobe_video_and_audio(self):
        self.engine()
        j = self.start_json("probe")
        r = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json",
                            j["response"]["playback_url"]], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        kinds = {s["codec_type"] for s in json.loads(r.stdout)["streams"]}
        self.assertEqual(kinds, {"video", "audio"})

    def test_stat_and_stop(self):
        self.engine()
        j = self.start_json("stat")["response"]
        path = lambda u: u.split(str(self.port), 1)[1]
        self.assertEqual(http_json(self.port, path(j["stat_url"]))[1], {"response": {}})
        s2 = http_json(self.port, path(j["stat_url"]))[1]["response"]
        self.assertEqual(s2["status"], "prebuf")
        s3 = http_json(self.port, path(j["stat_url"]))[1]["response"]
        self.assertEqual(s3["status"], "dl")
        for k in ("peers", "speed_down", "speed_up", "downloaded", "uploaded", "total_progress"):
            self.assertIn(k, s3)
        st, r = http_json(self.port, path(j["command_url"]) + "?method=stop")
        self.assertEqual(r, {"response": "ok", "error": None})
        after = http_json(self.port, path(j["stat_url"]))[1]
        self.assertEqual(after, {"response": None, "error": "unknown playback session id"})
        state = self.state()
        self.assertEqual(state["sessions"][0]["stop_reason"], "stop_command")
        self.assertEqual(len(state["stops"]), 1)

    def test_health_endpoints(self):
        self.engine()
        st, j = http_json(self.port, "/webui/api/service?method=get_version")
        self.assertIn("version", j["result"])
        st, j = http_json(self.port, "/server/api?api_version=3&method=get_status")
        self.assertIn("result", j)
        st, _, body = http_get(self.port, "/server/api?method=get_status")
        self.assertEqual(body, b"access denied")

    def test_failure_modes(self):
        self.engine()
        t0 = time.monotonic()
        j = self.start_json("fail-load-300")
        self.assertIsNone(j["response"])
        self.assertEqual(j["error"], "failed to load content")
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        j = self.start_json("fail-loadobj")
        self.assertEqual(j["error"]["message"], "failed to load content")
        st, _, _ = http_get(self.port, "/ace/getstream?id=http500&format=json&pid=1")
        self.assertEqual(st, 500)
        t0 = time.monotonic()
        self.start_json("slowapi-400")
        self.assertGreaterEqual(time.monotonic() - t0, 0.4)
        # non-TS body
        j = self.start_json("nonts")["response"]
        st, hdrs, body = http_get(self.port, "/content/%s" % j["playback_url"].split("/ace/r/")[1])
        self.assertEqual(st, 200)
        self.assertTrue(body.startswith(b"<html>"))

    def test_stall_and_reset(self):
        self.engine("--bitrate", "0")
        j = self.start_json("stall-18800")["response"]
        r = subprocess.run([t.binpath("acexy-tscheck"), "--url", j["playback_url"], "--seconds", "1.5",
                            "--json"], capture_output=True, text=True, timeout=30)
        out = json.loads(r.stdout)
        self.assertEqual(out["bytes"], 18800)  # and the connection stayed open until our deadline
        self.assertGreaterEqual(out["duration_ms"], 1400)
        j = self.start_json("reset-188000")["response"]
        out = self.tscheck(j["playback_url"], 10000000)
        self.assertLessEqual(out["bytes"], 188000)
        self.assertTrue(out["error"])

    def test_slow_first_byte(self):
        self.engine()
        j = self.start_json("slowfb-700")["response"]
        out = self.tscheck(j["playback_url"], 100000)
        self.assertGreaterEqual(out["first_byte_ms"], 650)

    def test_new_pid_supersedes(self):
        self.engine()
        a = self.start_json("same", pid="A")["response"]
        self.start_json("same", pid="B")
        path = a["playback_url"].split(str(self.port), 1)[1]
        st, _, _ = http_get(self.port, path)
        self.assertEqual(st, 404)
        reasons = [s["stop_reason"] for s in self.state()["sessions"]]
        self.assertIn("superseded", reasons)

    def test_expiry_when_unread(self):
        self.engine()
        self.start_json("expire-300")
        wait_until(lambda: self.state()["sessions"][0]["stop_reason"] == "expired", 3,
                   what="session expiry")

    def test_trickling_302(self):
        self.engine("--trickle-302")
        j = self.start_json("tr")["response"]
        s = socket.create_connection(("127.0.0.1", self.port), timeout=3)
        path = j["playback_url"].split(str(self.port), 1)[1]
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
        data = s.recv(4096)
        self.assertIn(b"302 Found", data)
        self.assertIn(b"Content-Length: 1000", data)
        s.settimeout(0.5)
        with self.assertRaises(socket.timeout):
            s.recv(4096)  # the body never completes
        s.close()

    def test_hls_playlist_and_segment(self):
        self.engine()
        j = self.start_json("hls", path="/ace/manifest.m3u8")["response"]
        self.assertTrue(j["playback_url"].endswith(".m3u8"))
        st, _, body = http_get(self.port, j["playback_url"].split(str(self.port), 1)[1])
        self.assertEqual(st, 200)
        lines = body.decode().splitlines()
        self.assertEqual(lines[0], "#EXTM3U")
        seg = [l for l in lines if l.startswith("/ace/c/")][0]
        st, hdrs, data = http_get(self.port, seg)
        self.assertEqual(st, 200)
        self.assertEqual(data[0], 0x47)
        self.assertEqual(len(data) % 188, 0)

    def test_200_concurrent_readers(self):
        self.engine("--bitrate", "2000000")
        urls = [self.start_json("c%d" % i, pid="p%d" % i)["response"]["playback_url"] for i in range(200)]
        results = [None] * 200

        def one(i):
            results[i] = self.tscheck(urls[i], 100000)

        th = [threading.Thread(target=one, args=(i,)) for i in range(200)]
        for x in th:
            x.start()
        for x in th:
            x.join()
        for r in results:
            self.assertEqual(r["status"], 200)
            self.assertGreaterEqual(r["bytes"], 100000)
            self.assertEqual(r["sync_errors"] + r["cc_errors"], 0)


if __name__ == "__main__":
    t.main()
