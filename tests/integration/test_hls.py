"""HLS through the proxy: playlists rewritten to relative proxy paths,
segments fetched through the dataplane, ffmpeg plays it, the engine session
ends after the idle timeout, shared in multiplex mode, mixed with TS."""
import json
import re
import socket
import subprocess
import threading
import time

import acexytest as t
from acexytest import http_get, wait_until


def uris(playlist):
    out = []
    for line in playlist.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            out += re.findall(r'URI="([^"]*)"', line)
        else:
            out.append(line)
    return out


class Answers:
    """Reads HTTP/1.1 answers off one keep-alive socket, framed by
    Content-Length (HEAD answers: no body, whatever the header says)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def next(self, head=False):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        hdr, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = hdr.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
        n = 0 if head else int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return int(lines[0].split()[1]), headers, body

    def nothing_more(self, wait=0.5):
        """True when no byte follows within wait seconds."""
        if self.buf:
            return False
        self.sock.settimeout(wait)
        try:
            return self.sock.recv(1, socket.MSG_PEEK) in (b"",)
        except socket.timeout:
            return True
        finally:
            self.sock.settimeout(10)


def req(method, path, extra=""):
    return ("%s %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (method, path, extra)).encode()


class HlsTest(t.TestCase):
    def stack(self, env=None, workers=1):
        st = t.Stack(self, env=env or {}, workers=workers)
        st.start()
        return st

    def get(self, st, path, **kw):
        return http_get(st.port, path, timeout=15, **kw)

    def master(self, st, content):
        code, hdrs, body = self.get(st, "/ace/manifest.m3u8?id=%s" % content)
        self.assertEqual(code, 200, body)
        self.assertEqual(hdrs["content-type"], "application/vnd.apple.mpegurl")
        us = uris(body.decode())
        self.assertEqual(len(us), 1)
        return us[0]

    def test_every_uri_points_at_the_proxy(self):
        st = self.stack()
        variant = self.master(st, "hls1")
        self.assertRegex(variant, r"^hls/[0-9]+-[0-9a-f]+/index\.m3u8$")  # relative to /ace/
        base = "/ace/" + variant.rsplit("/", 1)[0] + "/"
        code, hdrs, body = self.get(st, "/ace/" + variant)
        self.assertEqual(code, 200)
        media = body.decode()
        self.assertTrue(media.startswith("#EXTM3U"))
        segs = uris(media)
        self.assertGreaterEqual(len(segs), 3)
        for u in segs:
            self.assertNotIn("://", u)
            self.assertFalse(u.startswith("/"), u)
        code, hdrs, seg = self.get(st, base + segs[0])
        self.assertEqual(code, 200)
        self.assertEqual(hdrs["content-type"], "video/mp2t")
        self.assertGreater(len(seg), 1000)
        self.assertEqual(seg[0], 0x47)
        self.assertEqual(len(seg) % 188, 0)
        # only what a playlist named can be fetched
        self.assertEqual(self.get(st, base + "999999.ts")[0], 404)
        self.assertEqual(self.get(st, "/ace/hls/0-deadbeef/index.m3u8")[0], 404)
        self.assertEqual(self.get(st, "/ace/hls/zz/index.m3u8")[0], 404)
        self.assertEqual(len(st.engine_state()["sessions"]), 1)

    def test_ffmpeg_reads_5s_through_the_proxy(self):
        st = self.stack(workers=2)
        r = subprocess.run(["ffmpeg", "-v", "error", "-i",
                            "http://127.0.0.1:%d/ace/manifest.m3u8?id=hlsff" % st.port,
                            "-t", "5", "-f", "null", "-"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr.strip(), "")
        # every request went through the proxy: the engine saw no segment
        # request from anyone else, and one session
        self.assertEqual(len(st.engine_state()["sessions"]), 1)

    def test_idle_timeout_ends_the_engine_session(self):
        st = self.stack(env={"ACEXY_M3U8_STREAM_TIMEOUT": "1500ms"})
        variant = self.master(st, "hlsidle")
        self.assertEqual(self.get(st, "/ace/" + variant)[0], 200)
        time.sleep(0.8)
        self.assertEqual(self.get(st, "/ace/" + variant)[0], 200)  # a request keeps it
        self.assertEqual(st.engine_state()["stops"], [])
        wait_until(lambda: len(st.engine_state()["stops"]) == 1, 4, what="engine stop after idle")
        wait_until(lambda: "reason=hls_idle" in st.dp.log(), 2, what="hls_idle end")
        self.assertEqual(self.get(st, "/ace/" + variant)[0], 404)

    def test_getstream_serves_hls_when_m3u8(self):
        st = self.stack(env={"ACEXY_M3U8": "true"})
        code, hdrs, body = self.get(st, "/ace/getstream?id=hlsget")
        self.assertEqual(code, 200)
        self.assertEqual(hdrs["content-type"], "application/vnd.apple.mpegurl")
        self.assertIn(b"hls/", body)

    def test_head_never_has_a_body_on_any_worker(self):
        """Issue 22 item 7: HEAD on /ace/hls/… is answered without a body and
        without an engine fetch, also when the connection lands on the
        worker that does not own the session and is handed over."""
        st = self.stack(workers=2)
        variant = self.master(st, "hlshead")
        fetches = lambda: len([q for q in st.engine_state()["requests"] if "/ace/m/" in q["path"]])
        before = fetches()
        for _ in range(16):
            s = socket.create_connection(("127.0.0.1", st.port), timeout=10)
            s.sendall(req("HEAD", "/ace/" + variant))
            a = Answers(s)
            code, hdrs, _ = a.next(head=True)
            self.assertEqual(code, 200)
            self.assertTrue(a.nothing_more(0.3), "HEAD answer followed by %r" % a.buf[:60])
            s.close()
        self.assertGreater(t.metric(st.port, "acexy_viewer_handoffs_total"), 0)  # some were handed over
        self.assertEqual(fetches(), before)

    def test_pipelined_requests_answered_in_order(self):
        """Issue 22 item 8: requests sent together in one packet, also when
        the connection is handed to the worker that owns the session, and a
        request sent while the first one's engine fetch is in flight, are
        all answered, in order."""
        st = self.stack(workers=2)
        variant = self.master(st, "slowhls-600")
        for _ in range(12):
            s = socket.create_connection(("127.0.0.1", st.port), timeout=10)
            s.sendall(req("GET", "/ace/" + variant) + req("HEAD", "/ace/" + variant) + req("GET", "/livez"))
            a = Answers(s)
            code, hdrs, body = a.next()
            self.assertEqual(code, 200)
            self.assertTrue(body.startswith(b"#EXTM3U"), body[:40])
            self.assertEqual(a.next(head=True)[0], 200)
            code, _, body = a.next()
            self.assertEqual((code, body), (200, b"ok\n"))
            s.close()
        self.assertGreater(t.metric(st.port, "acexy_viewer_handoffs_total"), 0)
        # the second request arrives while the engine takes 0.6 s to answer the first
        s = socket.create_connection(("127.0.0.1", st.port), timeout=10)
        s.sendall(req("GET", "/ace/" + variant))
        time.sleep(0.25)
        s.sendall(req("GET", "/livez"))
        a = Answers(s)
        code, _, body = a.next()
        self.assertEqual(code, 200)
        self.assertTrue(body.startswith(b"#EXTM3U"), body[:40])
        code, hdrs, body = a.next()
        self.assertEqual((code, body), (200, b"ok\n"))
        self.assertEqual(hdrs["connection"], "keep-alive")
        s.close()
        # more than the request buffer while a fetch is in flight: what is
        # dropped is said, with Connection: close on the answer
        s = socket.create_connection(("127.0.0.1", st.port), timeout=10)
        s.sendall(req("GET", "/ace/" + variant))
        time.sleep(0.2)
        try:
            s.sendall(req("GET", "/livez", "X-Pad: " + "a" * 8000 + "\r\n") * 4)
        except OSError:
            pass
        a = Answers(s)
        code, hdrs, _ = a.next()
        self.assertEqual(code, 200)
        self.assertEqual(hdrs["connection"], "close")
        s.close()

    def test_engine_failure_is_a_status(self):
        st = self.stack()
        code, _, body = self.get(st, "/ace/manifest.m3u8?id=fail-load")
        self.assertEqual(code, 502)
        self.assertIn(b"failed to load content", body)
        code, _, _ = self.get(st, "/ace/manifest.m3u8?id=%FF")
        self.assertEqual(code, 400)
        # a viewer's pid is dropped, not refused: the proxy's own goes to the engine
        code, _, _ = self.get(st, "/ace/manifest.m3u8?PID=1&id=hlspid")
        self.assertEqual(code, 200)
        path = [q["path"] for q in st.engine_state()["requests"] if "hlspid" in q["path"]][0]
        self.assertNotIn("PID=1", path)
        self.assertEqual(path.count("pid="), 1)

    def test_multiplex_viewers_share_one_session(self):
        st = self.stack(env={"ACEXY_MULTIPLEX": "true"}, workers=2)
        got = [None] * 6

        def one(i):
            got[i] = self.master(st, "hlsshared")
        th = [threading.Thread(target=one, args=(i,)) for i in range(6)]
        [x.start() for x in th]
        [x.join() for x in th]
        self.assertEqual(len(set(got)), 1)
        self.assertEqual(len(st.engine_state()["sessions"]), 1)
        self.assertEqual(self.get(st, "/ace/" + got[0])[0], 200)

    def test_ts_and_hls_of_one_content_are_separate_sessions(self):
        # multiplex on one loop: a TS viewer never joins the HLS session of
        # the same content (nor the other way round)
        st = self.stack(env={"ACEXY_MULTIPLEX": "true"}, workers=1)
        variant = self.master(st, "samecontent")
        r = subprocess.run([t.binpath("acexy-tscheck"), "--url", st.url("id=samecontent"), "--bytes",
                            "200000", "--json"], capture_output=True, text=True, timeout=30)
        res = json.loads(r.stdout)
        self.assertEqual(res["status"], 200)
        self.assertGreaterEqual(res["bytes"], 200000)
        self.assertEqual(res["sync_errors"], 0)

    def test_mixed_ts_and_hls_viewers(self):
        st = self.stack(env={"ACEXY_MULTIPLEX": "true"}, workers=2)
        res = {}

        def ts():
            r = subprocess.run([t.binpath("acexy-tscheck"), "--url", st.url("id=mixts"), "--seconds", "4",
                                "--json"], capture_output=True, text=True, timeout=60)
            res["ts"] = json.loads(r.stdout)

        th = threading.Thread(target=ts)
        th.start()
        r = subprocess.run(["ffmpeg", "-v", "error", "-i",
                            "http://127.0.0.1:%d/ace/manifest.m3u8?id=mixhls" % st.port,
                            "-t", "3", "-f", "null", "-"], capture_output=True, text=True, timeout=60)
        th.join()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(res["ts"]["status"], 200)
        self.assertEqual(res["ts"]["sync_errors"] + res["ts"]["cc_errors"], 0)
        self.assertLess(res["ts"]["max_gap_ms"], 1000)
        self.assertEqual(len(st.engine_state()["sessions"]), 2)


if __name__ == "__main__":
    t.main()
