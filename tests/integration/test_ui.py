"""GET /ace/ (and /ace/ui): the status page, rendered by headless Chromium
against a running dataplane: it shows the test's streams (one playing, one
prebuffering) and links the playlist. A screenshot is left in the build
directory (ui-screenshot.png) for a person to look at."""
import os
import shutil
import socket
import subprocess
import tempfile

from acexytest import BIN_DIR, Stack, TestCase, http_get, http_json, main, wait_until

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(tc, url, *args):
    profile = tempfile.mkdtemp(prefix="acexy-chromium-")
    tc.tmpdirs.append(profile)
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--disable-dev-shm-usage", "--user-data-dir=" + profile,
           "--virtual-time-budget=5000"] + list(args) + [url]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    return r


class UiTest(TestCase):
    def setUp(self):
        super().setUp()
        if not CHROMIUM:
            self.skipTest("chromium is not installed (scripts/deps.sh installs it)")

    def test_page_shows_the_streams(self):
        st = Stack(self, env={"ACEXY_ACCESS_TOKEN": "pagetok"}).start()
        code, hdrs, body = http_get(st.port, "/ace/?token=pagetok")
        self.assertEqual(code, 200)
        self.assertIn("text/html", hdrs["content-type"])
        for outside in (b"http://", b"https://", b"src=", b"@import", b"url("):
            self.assertNotIn(outside, body)  # self-contained: no outside assets
        self.assertEqual(http_get(st.port, "/ace/ui?token=pagetok")[2], body)
        self.assertEqual(http_get(st.port, "/ace/")[0], 401)  # same access rules
        playing = socket.create_connection(("127.0.0.1", st.port), timeout=30)
        playing.sendall(b"GET /ace/getstream?id=channel-one&token=pagetok HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(b"200 OK", playing.recv(4096))
        waiting = socket.create_connection(("127.0.0.1", st.port), timeout=30)
        waiting.sendall(b"GET /ace/getstream?id=slowfb-30000&token=pagetok HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_until(lambda: any((s.get("engine_state") or {}).get("status") == "prebuf"
                               for s in http_json(st.port, "/ace/status?token=pagetok")[1]["streams"]),
                   5, what="the second stream prebuffering")
        url = "http://127.0.0.1:%d/ace/?token=pagetok" % st.port
        r = chromium(self, url, "--dump-dom")
        dom = r.stdout
        self.assertIn("content_id:channel-one", dom, r.stderr[-2000:])
        self.assertIn("content_id:slowfb-30000", dom)
        self.assertRegex(dom, r'class="st-playing">playing<')
        self.assertRegex(dom, r'class="st-prebuffering">prebuffering<')
        self.assertIn(">prebuf<", dom)
        self.assertIn('href="playlist.m3u?token=pagetok"', dom)
        self.assertIn("127.0.0.1:%d" % st.engine_port, dom)
        shot = os.path.join(os.path.dirname(BIN_DIR.rstrip("/")), "ui-screenshot.png")
        r = chromium(self, url, "--screenshot=" + shot, "--window-size=1280,600")
        self.assertTrue(os.path.getsize(shot) > 1000, r.stderr[-2000:])
        print("screenshot: %s" % shot)
        playing.close()
        waiting.close()


if __name__ == "__main__":
    main()
