"""Access control (ACEXY_ACCESS_TOKEN, ACEXY_ALLOW_NETS, ACEXY_TRUSTED_PROXIES,
ACEXY_MAX_CONNS_PER_IP): statuses, the token never forwarded or printed."""
import subprocess

import acexytest as t
from acexytest import http_get, open_stream, wait_until

TOKEN = "tok-3f9a-never-print-me"


class AccessTest(t.TestCase):
    def test_token(self):
        st = t.Stack(self, env={"ACEXY_ACCESS_TOKEN": TOKEN}).start()
        code, hdrs, _ = http_get(st.port, "/ace/getstream?id=a")
        self.assertEqual(code, 401)
        self.assertEqual(hdrs["www-authenticate"], "Bearer")
        self.assertEqual(http_get(st.port, "/ace/getstream?id=a&token=wrong")[0], 403)
        self.assertEqual(http_get(st.port, "/ace/status")[0], 401)
        for path in ("/livez", "/readyz", "/metrics"):
            self.assertEqual(http_get(st.port, path)[0], 200, path)
        s, head = open_stream(st.port, "id=a&token=%s&transcode_audio=1" % TOKEN)
        self.assertIn(b"200 OK", head)
        s.close()
        s, head = open_stream(st.port, "id=b", "Authorization: Bearer %s\r\n" % TOKEN)
        self.assertIn(b"200 OK", head)
        s.close()
        self.assertEqual(http_get(st.port, "/ace/status", headers={"Authorization": "Bearer " + TOKEN})[0], 200)
        # never forwarded to the engine, never printed
        paths = [r["path"] for r in st.engine_state()["requests"]]
        self.assertTrue(any("transcode_audio=1" in p for p in paths))
        self.assertFalse(any(TOKEN in p or "token=" in p for p in paths))
        out = subprocess.run([t.binpath("acexyctl"), "--run-dir", st.run_dir, "--dataplane", "config"],
                             capture_output=True, text=True).stdout
        self.assertIn("<set>", out)
        metrics = http_get(st.port, "/metrics")[2].decode()
        for text in (st.dp.log(), st.cp.log(), out, metrics):
            self.assertNotIn(TOKEN, text)

    def test_allow_nets(self):
        st = t.Stack(self, env={"ACEXY_ALLOW_NETS": "10.0.0.0/8"}).start()
        code, _, body = http_get(st.port, "/ace/getstream?id=a")
        self.assertEqual(code, 403)
        self.assertIn(b"not allowed", body)
        self.assertEqual(http_get(st.port, "/readyz")[0], 200)  # probes still answered
        st2 = t.Stack(self, env={"ACEXY_ALLOW_NETS": "10.0.0.0/8, 127.0.0.0/8"}).start()
        s, head = open_stream(st2.port, "id=ok")
        self.assertIn(b"200 OK", head)
        s.close()

    def test_ipv4_mapped_entries(self):
        """Issue 22 item 12: an IPv4-mapped allow-list entry holds IPv4
        clients (one canonical form); per-client counts do not tell the two
        forms apart."""
        st = t.Stack(self, env={"ACEXY_ALLOW_NETS": "::ffff:127.0.0.0/104"}).start()
        s, head = open_stream(st.port, "id=mapped")
        self.assertIn(b"200 OK", head)
        s.close()
        st2 = t.Stack(self, env={"ACEXY_ALLOW_NETS": "::ffff:10.0.0.0/104"}).start()
        self.assertEqual(http_get(st2.port, "/ace/getstream?id=a")[0], 403)
        # a mapped trusted proxy, an X-Forwarded-For hop in the mapped form:
        # the same client as its IPv4 form for the per-client cap
        st3 = t.Stack(self, env={"ACEXY_TRUSTED_PROXIES": "::ffff:127.0.0.1",
                                 "ACEXY_ALLOW_NETS": "10.0.0.0/8", "ACEXY_MAX_CONNS_PER_IP": "1"}).start()
        a, h1 = open_stream(st3.port, "id=m1", "X-Forwarded-For: ::ffff:10.0.0.7\r\n")
        self.assertIn(b"200 OK", h1)
        b, h2 = open_stream(st3.port, "id=m2", "X-Forwarded-For: 10.0.0.7\r\n")
        self.assertIn(b"503", h2)
        a.close()
        b.close()

    def test_forwarded_for_and_per_client_cap(self):
        st = t.Stack(self, env={"ACEXY_TRUSTED_PROXIES": "127.0.0.1", "ACEXY_ALLOW_NETS": "10.0.0.0/8",
                                "ACEXY_MAX_CONNS_PER_IP": "2"}).start()
        # the proxy itself is not allowed; the client it names is
        self.assertEqual(http_get(st.port, "/ace/getstream?id=a")[0], 403)
        xff = "X-Forwarded-For: 203.0.113.50, 10.0.0.1\r\n"
        a, h1 = open_stream(st.port, "id=c1", xff)
        b, h2 = open_stream(st.port, "id=c2", xff)
        self.assertIn(b"200 OK", h1)
        self.assertIn(b"200 OK", h2)
        c, h3 = open_stream(st.port, "id=c3", xff)
        self.assertIn(b"503", h3)
        self.assertIn(b"Retry-After", h3)
        c.close()
        d, h4 = open_stream(st.port, "id=c4", "X-Forwarded-For: 10.0.0.2\r\n")  # another client
        self.assertIn(b"200 OK", h4)
        a.close()

        def again():
            e, h = open_stream(st.port, "id=c5", xff)
            e.close()
            return b"200 OK" in h
        wait_until(again, 3, what="a slot freed when a connection closed")
        b.close()
        d.close()


if __name__ == "__main__":
    t.main()
