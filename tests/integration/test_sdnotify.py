"""systemd notification (Type=notify units, deploy/systemd): each daemon
sends READY=1 once it serves, WATCHDOG=1 at half of WATCHDOG_USEC, and
STOPPING=1 on SIGTERM, to the socket NOTIFY_SOCKET names (a path or an
abstract '@name'), as systemd would receive them."""
import os
import signal
import socket
import time
import unittest

import acexytest as t


class Notify:
    def __init__(self, tc, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            self.name = "@acexy-test-notify-%d-%d" % (os.getpid(), id(self))
            self.sock.bind("\0" + self.name[1:])
        else:
            self.name = os.path.join(tc.tmpdir(), "notify.sock")
            self.sock.bind(self.name)
        tc.addCleanup(self.sock.close)
        self.got = []

    def wait_for(self, text, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                msg = self.sock.recv(4096).decode()
            except socket.timeout:
                break
            self.got.append((time.monotonic(), msg))
            if text in msg.split("\n"):
                return msg
        raise AssertionError("no %s within %ss; got %r" % (text, timeout, [m for _, m in self.got]))

    def count(self, text, seconds):
        end = time.monotonic() + seconds
        n = 0
        while time.monotonic() < end:
            self.sock.settimeout(max(0.01, end - time.monotonic()))
            try:
                if text in self.sock.recv(4096).decode().split("\n"):
                    n += 1
            except socket.timeout:
                break
        return n


class SdNotifyTest(t.TestCase):
    def check_daemon(self, which, abstract):
        st = t.Stack(self)
        n = Notify(self, abstract)
        env = {"NOTIFY_SOCKET": n.name, "WATCHDOG_USEC": "400000"}
        if which == "controlplane":
            proc = st.start_cp(env)
            port = st.cp_port
        else:
            st.start_cp()
            t.wait_until(lambda: t.http_get(st.cp_port, "/readyz")[0] == 200, 10, what="controlplane")
            proc = st.start_dp(env, wait_ready=False)
            port = st.port
        msg = n.wait_for("READY=1")
        self.assertIn("STATUS=", msg)
        # ready means serving: the HTTP side answers at once
        self.assertEqual(t.http_get(port, "/livez")[0], 200)
        # WATCHDOG=1 every 0.2 s (half of 0.4 s): about 7 in 1.5 s
        pings = n.count("WATCHDOG=1", 1.5)
        self.assertGreaterEqual(pings, 4, "%s: %d watchdog pings in 1.5 s" % (which, pings))
        self.assertLessEqual(pings, 12)
        os.kill(proc.pid, signal.SIGTERM)
        n.wait_for("STOPPING=1")
        self.assertEqual(proc.wait(15), 0)

    def test_controlplane_ready_watchdog_stopping(self):
        self.check_daemon("controlplane", abstract=False)

    def test_dataplane_ready_watchdog_stopping_abstract_socket(self):
        self.check_daemon("dataplane", abstract=True)

    def test_watchdog_meant_for_another_process(self):
        st = t.Stack(self)
        n = Notify(self)
        st.start_cp({"NOTIFY_SOCKET": n.name, "WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"})
        n.wait_for("READY=1")
        self.assertEqual(n.count("WATCHDOG=1", 1.0), 0)


if __name__ == "__main__":
    t.main()
