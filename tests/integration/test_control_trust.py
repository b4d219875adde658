"""The control connection under stress and attack (issue 22 items 2 and 5):
a paused controlplane does not declare healthy dataplanes lost; control.sock
accepts only peers of the daemon's uid (or root); an instance name belongs
to the connection that said hello first; lease ids, URLs and counts a
dataplane declares are checked."""
import os
import signal
import socket
import subprocess
import sys
import time

import acexytest as t


class PauseTest(t.TestCase):
    def test_paused_controlplane_keeps_streams(self):
        """kill -STOP the controlplane for 7 s (longer than
        ACEXY_DATAPLANE_LOST_AFTER, 5 s), then -CONT: the healthy dataplane
        is not declared lost, the viewer keeps streaming, no engine stop."""
        st = t.Stack(self).start()
        s = self.hold_stream(st.port, "pausedcp")
        s.settimeout(10)
        st.cp.signal(signal.SIGSTOP)
        try:
            time.sleep(7)
        finally:
            st.cp.signal(signal.SIGCONT)
        # the controlplane reads what queued up; give it a few turns
        time.sleep(3)
        self.assertNotIn("dataplane_lost", st.cp.log())
        self.assertIn("controlplane_stalled", st.cp.log())
        self.assertEqual(st.stops(), [])
        # the viewer's bytes still flow
        got = 0
        until = time.time() + 3
        while time.time() < until:
            got += len(s.recv(65536))
        self.assertGreater(got, 100000)
        s.close()
        # and the dataplane still counts as connected
        t.wait_until(lambda: t.http_get(st.port, "/readyz")[0] == 200, 10, what="ready")


    def test_listener_survives_peer_hanging_up_mid_handshake(self):
        """Root cause of "a dataplane did not redial a restarted controlplane":
        libnng 1.5.2 stops accepting for good once a peer hangs up before
        the controlplane wrote its SP header (EPIPE -> NNG_ECLOSED). Here a
        peer connects to control.sock while the controlplane is paused and
        hangs up; after SIGCONT a new dataplane must still get in."""
        st = t.Stack(self)
        st.start_cp()
        sock = os.path.join(st.run_dir, "control.sock")
        t.wait_until(lambda: os.path.exists(sock), 10, what="control.sock")
        st.cp.signal(signal.SIGSTOP)
        try:
            for _ in range(3):
                c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                c.connect(sock)
                c.close()
        finally:
            st.cp.signal(signal.SIGCONT)
        time.sleep(0.5)
        t0 = time.time()
        st.start_dp(wait_ready=False)
        st.wait_ready(timeout=8)
        self.assertLess(time.time() - t0, 6)
        self.assertIn("listener_restarted", st.cp.log())
        s = self.hold_stream(st.port, "afterhangup")
        s.close()


if __name__ == "__main__":
    t.main()
