"""The two daemons find each other and survive each other (issue 3): both
start orders, kill -9 of either, garbage on the control socket, acexyctl."""
import json
import os
import subprocess
import time

import acexytest as t
from acexytest import http_get, wait_until


def ctl(stack, *args, timeout=10):
    r = subprocess.run([t.binpath("acexyctl"), "--run-dir", stack.run_dir] + list(args),
                       capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def ready(stack):
    return http_get(stack.port, "/readyz", timeout=2)[0]


class DaemonsTest(t.TestCase):
    def stack(self, **env):
        e = {"ACEXY_DATAPLANE_LOST_AFTER": "1s"}
        e.update(env)
        return t.Stack(self, env=e, start_engine=False)

    def test_cp_first_then_dp(self):
        st = self.stack()
        st.start_cp()
        st.start_dp()
        rc, out, _ = ctl(st, "ping")
        self.assertEqual(rc, 0)
        self.assertIn("pong", out)

    def test_dp_first_then_cp(self):
        st = self.stack()
        st.start_dp(wait_ready=False)
        wait_until(lambda: http_get(st.port, "/livez")[0] == 200, 5, what="dataplane up")
        self.assertEqual(ready(st), 503)
        st.start_cp()
        st.wait_ready(5)

    def test_kill_controlplane_and_restart(self):
        st = self.stack()
        st.start_cp()
        st.start_dp()
        st.cp.kill()
        t0 = time.monotonic()
        wait_until(lambda: ready(st) == 503, 2.5, what="readyz 503 after the controlplane died")
        self.assertLess(time.monotonic() - t0, 2.0)
        # new streams: 503 with Retry-After after ACEXY_CONTROL_WAIT
        code, hdrs, body = http_get(st.port, "/ace/getstream?id=x", timeout=10)
        self.assertEqual(code, 503)
        self.assertIn("retry-after", hdrs)
        st.start_cp()
        t0 = time.monotonic()
        wait_until(lambda: ready(st) == 200, 3.5, what="readyz 200 after restart")
        self.assertLess(time.monotonic() - t0, 3.0)
        rc, out, _ = ctl(st, "--json", "status")
        self.assertEqual(rc, 0)
        dps = json.loads(out)["dataplanes"]
        self.assertEqual(len(dps), 1)

    def test_kill_dataplane_declared_lost(self):
        st = self.stack()
        st.start_cp()
        st.start_dp()
        rc, out, _ = ctl(st, "--json", "status")
        self.assertEqual(len(json.loads(out)["dataplanes"]), 1)
        st.dp.kill()
        t0 = time.monotonic()
        wait_until(lambda: "dataplane_lost" in st.cp.log(), 2.5, what="dataplane declared lost")
        self.assertLess(time.monotonic() - t0, 2.0)  # ACEXY_DATAPLANE_LOST_AFTER=1s + 1s
        rc, out, _ = ctl(st, "--json", "status")
        self.assertEqual(json.loads(out)["dataplanes"], [])

    def test_garbage_on_control_socket(self):
        st = self.stack()
        st.start_cp()
        st.start_dp()
        url = "ipc://%s/control.sock" % st.run_dir
        for hexmsg in ("dd0fffffff", "00", "94010c0180", "9409020180", "94" + "01cd03e70580"):
            r = subprocess.run([t.binpath("ipc_poke"), url, hexmsg], capture_output=True, text=True,
                               timeout=10)
            self.assertTrue(r.stdout.startswith("error"), (hexmsg, r.stdout))
        self.assertIn("bad_message", st.cp.log())
        self.assertTrue(st.cp.alive() and st.dp.alive())
        self.assertEqual(ready(st), 200)
        rc, out, _ = ctl(st, "--json", "status")
        self.assertGreaterEqual(json.loads(out)["bad_messages"], 5)

    def test_wrong_direction_refused_and_counted(self):
        """A message that goes the other way (a lease, an admin request on
        control.sock; a hello on the admin socket) is refused as unexpected,
        logged and counted; the daemons go on."""
        st = self.stack()
        st.start_cp()
        st.start_dp()
        control = "ipc://%s/control.sock" % st.run_dir
        admin = "ipc://%s/admin.sock" % st.run_dir
        lease = "94010d0485a56c6561736501a6736368656d65a468747470a4686f7374a168a4706f727401a866616c6c6261636bc2"
        status = "94011e0581a7636f6d6d616e64a6737461747573"
        for url, hexmsg in ((control, lease), (control, status)):
            r = subprocess.run([t.binpath("ipc_poke"), url, hexmsg], capture_output=True, text=True,
                               timeout=10)
            self.assertTrue(r.stdout.startswith("error"), r.stdout)
            self.assertIn("not from", r.stdout)
        # the admin socket takes the admin request, not a lease
        r = subprocess.run([t.binpath("ipc_poke"), admin, status], capture_output=True, text=True, timeout=10)
        self.assertTrue(r.stdout.startswith("admin_reply"), r.stdout)
        r = subprocess.run([t.binpath("ipc_poke"), admin, lease], capture_output=True, text=True, timeout=10)
        self.assertTrue(r.stdout.startswith("error"), r.stdout)
        self.assertIn("lease goes from controlplane to dataplane", st.cp.log())
        rc, out, _ = ctl(st, "--json", "status")
        self.assertEqual(json.loads(out)["bad_messages"], 3)
        self.assertTrue(st.cp.alive() and st.dp.alive())
        self.assertEqual(ready(st), 200)

    def test_second_controlplane_refused(self):
        st = self.stack()
        st.start_cp()
        st.start_dp()
        second = self.start([t.binpath("acexy-controlplane")], env=dict(st.env, ACEXY_CP_LISTEN_ADDR="127.0.0.1:%d" % t.free_port()),
                            name="cp2")
        self.assertEqual(second.wait(10), 1)
        self.assertIn("already running", second.log())
        self.assertEqual(ready(st), 200)

    def test_acexyctl_contract(self):
        st = self.stack()
        rc, _, err = ctl(st, "ping")
        self.assertEqual(rc, 3)  # nobody answers
        st.start_cp()
        st.start_dp()
        rc, out, _ = ctl(st, "--json", "ping")
        self.assertEqual(rc, 0)
        self.assertTrue(json.loads(out)["pong"])
        rc, out, _ = ctl(st, "--dataplane", "--json", "status")
        self.assertEqual(rc, 0)
        self.assertTrue(json.loads(out)["controlplane_connected"])
        rc, _, _ = ctl(st, "bogus")
        self.assertEqual(rc, 2)
        rc, _, _ = ctl(st, "stop")
        self.assertEqual(rc, 2)
        rc, _, err = ctl(st, "stop", "999")
        self.assertEqual(rc, 1)  # the daemon answered with an error
        # the dataplane can be inspected while the controlplane is down
        st.cp.kill()
        rc, out, _ = ctl(st, "--dataplane", "--json", "status")
        self.assertEqual(rc, 0)
        rc, out, _ = ctl(st, "status")
        self.assertEqual(rc, 3)

    def test_sigterm_exits_cleanly(self):
        st = self.stack()
        st.start_cp()
        st.start_dp()
        self.assertEqual(st.dp.stop(), 0)
        self.assertEqual(st.cp.stop(), 0)
        # sockets are removed on exit
        self.assertFalse(os.path.exists(os.path.join(st.run_dir, "control.sock")))


if __name__ == "__main__":
    t.main()
