"""Limits with their documented policies (ACEXY_MAX_STREAMS, ACEXY_MAX_VIEWERS)
and secrets (the orchestrator key, the viewer token) absent from every
output: logs, debug logs, metrics, /ace/status, acexyctl, error answers."""
import os
import socket
import subprocess

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
        # viewers: the connection count beyond ACEXY_MAX_VIEWERS
        extra = [socket.create_connection(("127.0.0.1", st.port)) for _ in range(4)]
        code, hdrs, body = http_get(st.port, "/ace/getstream?id=l5")
        self.assertEqual(code, 503)
        self.assertIn("retry-after", hdrs)
        for s in extra:
            s.close()
        b.close()
        self.assertTrue(st.dp.alive())

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
