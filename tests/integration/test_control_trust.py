"""The control connection under stress and attack (issue 22 items 2 and 5):
a paused controlplane does not declare healthy dataplanes lost; control.sock
accepts only peers of the daemon's uid (or root); an instance name belongs
to the connection that said hello first; lease ids, URLs and counts a
dataplane declares are checked."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import acexytest as t


def mp(o):
    """A minimal msgpack encoder (nil, bool, int, str, list, dict)."""
    if o is None:
        return b"\xc0"
    if o is True:
        return b"\xc3"
    if o is False:
        return b"\xc2"
    if isinstance(o, int):
        if 0 <= o < 128:
            return bytes([o])
        if 0 <= o < 2 ** 32:
            return b"\xce" + o.to_bytes(4, "big")
        if 0 <= o:
            return b"\xcf" + o.to_bytes(8, "big")
        return b"\xd3" + o.to_bytes(8, "big", signed=True)
    if isinstance(o, str):
        b = o.encode()
        if len(b) < 32:
            return bytes([0xa0 | len(b)]) + b
        return b"\xdb" + len(b).to_bytes(4, "big") + b
    if isinstance(o, (list, tuple)):
        return b"\xdd" + len(o).to_bytes(4, "big") + b"".join(mp(x) for x in o)
    if isinstance(o, dict) and len(o) < 16:
        return bytes([0x80 | len(o)]) + b"".join(mp(k) + mp(v) for k, v in o.items())
    if isinstance(o, dict):
        return b"\xdf" + len(o).to_bytes(4, "big") + b"".join(mp(k) + mp(v) for k, v in o.items())
    raise TypeError(o)


TYPES = {"hello": 10, "assign": 12, "session_started": 15, "stream_ended": 16, "heartbeat": 17}


class RawPeer:
    """Speaks the control protocol by hand (SP REQ over a Unix or TCP
    socket), as a hostile local process would."""

    def __init__(self, path=None, tcp=None):
        # nng's ipc framing: a 1-byte message type before the length
        self.pre = b"\x01" if path else b""
        if path:
            self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.s.connect(path)
        else:
            self.s = socket.create_connection(tcp)
        self.s.settimeout(10)
        self.s.sendall(b"\x00SP\x00\x00\x30\x00\x00")  # REQ v0
        self.head = self._read(8)
        self.n = 0

    def _read(self, n):
        b = b""
        while len(b) < n:
            c = self.s.recv(n - len(b))
            if not c:
                raise ConnectionError("closed by the controlplane")
            b += c
        return b

    def call(self, mtype, body):
        """Returns (type code, raw reply bytes)."""
        self.n += 1
        payload = (0x80000000 | self.n).to_bytes(4, "big") + mp([1, TYPES[mtype], self.n, body])
        self.s.sendall(self.pre + len(payload).to_bytes(8, "big") + payload)
        ln = int.from_bytes(self._read(len(self.pre) + 8)[len(self.pre):], "big")
        rep = self._read(ln)[4:]
        return rep[2], rep

    def close(self):
        self.s.close()


def hello(instance, streams=(), ended=()):
    return {"instance": instance, "software": "evil", "streams": list(streams), "ended": list(ended)}


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


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
        t.wait_until(lambda: "controlplane_stalled" in st.cp.log(), 5, what="stall logged")
        self.assertNotIn("dataplane_lost", st.cp.log())
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
        libnng 1.5.2's listener stopped accepting for good once a peer hung
        up before the controlplane wrote its SP header (EPIPE ->
        NNG_ECLOSED); the servers now speak the wire format themselves. Here
        peers connect to control.sock while the controlplane is paused and
        hang up; after SIGCONT a new dataplane must still get in at once."""
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
        s = self.hold_stream(st.port, "afterhangup")
        s.close()


class TrustTest(t.TestCase):
    def ctl(self, st, *args):
        r = subprocess.run([t.binpath("acexyctl"), "--run-dir", st.run_dir, "--json"] + list(args),
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        import json
        return json.loads(r.stdout)

    def sock(self, st):
        return os.path.join(st.run_dir, "control.sock")

    def test_control_sock_refuses_other_uids(self):
        if os.geteuid() != 0 or not shutil.which("setpriv"):
            self.skipTest("needs root and setpriv to act as another user")
        st = t.Stack(self).start()
        for d in (os.path.dirname(st.run_dir), st.run_dir):
            os.chmod(d, 0o755)
        # uid 65534 with group 0: the socket file (0660, group root) lets it
        # connect; the controlplane must not talk to it
        code = ("import sys; sys.path.insert(0, %r); import test_control_trust as c\n"
                "try:\n    p = c.RawPeer(path=%r)\n"
                "    print(p.call('hello', c.hello('intruder'))[0])\n"
                "except (ConnectionError, OSError) as e:\n    print('closed')\n") % (
                    os.path.dirname(os.path.abspath(__file__)), self.sock(st))
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=0", "--clear-groups",
                            sys.executable, "-c", code], capture_output=True, text=True, timeout=20,
                           env=dict(os.environ, PYTHONPATH=os.environ.get("PYTHONPATH", "")))
        self.assertEqual(r.stdout.strip(), "closed", r.stdout + r.stderr)
        self.assertNotIn("intruder", [d["instance"] for d in self.ctl(st, "status")["dataplanes"]])

    def test_instance_bound_to_first_connection(self):
        st = t.Stack(self, env={"ACEXY_INSTANCE": "victim"}).start()
        s = self.hold_stream(st.port, "victimstream")
        lease = self.ctl(st, "streams")["streams"][0]["id"]
        p = RawPeer(path=self.sock(st))
        # a hello under the victim's name with its lease "ended": refused
        typ, rep = p.call("hello", hello("victim", ended=[{"lease": lease, "reason": "client_gone",
                                                            "bytes": 0, "duration_ms": 0}]))
        self.assertEqual(typ, 1)  # error
        self.assertIn(b"instance_in_use", rep)
        # heartbeats under its name do not swallow its commands
        typ, rep = p.call("heartbeat", {"instance": "victim", "streams": []})
        self.assertEqual(typ, 1)
        self.assertEqual([x["id"] for x in self.ctl(st, "streams")["streams"]], [lease])
        self.ctl(st, "stop", str(lease))
        s.settimeout(10)
        t.wait_until(lambda: "reason=stopped" in st.dp.log(), 5, what="the victim got its stop")
        p.close()
        s.close()

    def test_lease_ids_are_the_controlplanes_own(self):
        st = t.Stack(self, env={"ACEXY_INSTANCE": "honest"}).start()
        s = self.hold_stream(st.port, "realone")
        real = self.ctl(st, "streams")["streams"][0]["id"]
        p = RawPeer(path=self.sock(st))
        typ, _ = p.call("hello", hello("liar", streams=[
            {"lease": 2 ** 63 - 1, "bytes": 0, "viewers": 1, "key_type": "content_id", "key": "x",
             "host": "127.0.0.1", "port": st.engine_port, "scheme": "http"},
            {"lease": real, "bytes": 0, "viewers": 1, "key_type": "content_id", "key": "y",
             "host": "127.0.0.1", "port": st.engine_port, "scheme": "http"}]))
        self.assertEqual(typ, 11)  # hello_reply: the dataplane is let in, its claims are not
        streams = self.ctl(st, "streams")["streams"]
        self.assertEqual([(x["id"], x["instance"]) for x in streams], [(real, "honest")])
        s2 = self.hold_stream(st.port, "nextone")
        ids = sorted(x["id"] for x in self.ctl(st, "streams")["streams"])
        self.assertEqual(len(ids), 2)
        self.assertTrue(all(0 < i < 2 ** 53 for i in ids), ids)
        t.wait_until(lambda: "lease_claim_refused" in st.cp.log(), 5, what="claims refused, logged")
        p.close()
        s.close()
        s2.close()

    def test_urls_are_checked_against_the_assigned_engine(self):
        st = t.Stack(self, env={"ACEXY_DATAPLANE_LOST_AFTER": "1s"}).start()
        # a listener that must never be called
        trap = socket.socket()
        trap.bind(("127.0.0.1", 0))
        trap.listen(16)
        trap.settimeout(0.2)
        tport = trap.getsockname()[1]
        p = RawPeer(path=self.sock(st))
        self.assertEqual(p.call("hello", hello("forger"))[0], 11)
        typ, rep = p.call("assign", {"instance": "forger", "key_type": "content_id", "key": "f",
                                     "params": ""})
        self.assertEqual(typ, 13, rep)
        lease = self.ctl(st, "streams")["streams"][0]["id"]
        evil = "http://127.0.0.1:%d/forged" % tport
        typ, _ = p.call("session_started", {"instance": "forger", "lease": lease,
                                            "playback_session_id": "p", "stat_url": evil,
                                            "command_url": evil})
        t.wait_until(lambda: "url_refused" in st.cp.log(), 5, what="url_refused logged")
        p.close()  # goes silent: declared lost, its "engine session" stopped
        t.wait_until(lambda: "dataplane_lost" in st.cp.log(), 6, what="forger lost")
        time.sleep(1)
        try:
            c, _ = trap.accept()
            c.close()
            self.fail("the controlplane called a URL the dataplane made up")
        except socket.timeout:
            pass
        trap.close()

    def test_silent_holder_yields_its_name(self):
        """A connection that said hello and then went silent (a dead host
        behind a half-open connection) does not keep its name from the
        dataplane that comes back with it."""
        st = t.Stack(self, env={"ACEXY_INSTANCE": "ghost", "ACEXY_DATAPLANE_LOST_AFTER": "30s"})
        st.start_cp()
        t.wait_until(lambda: os.path.exists(self.sock(st)), 10, what="control.sock")
        p = RawPeer(path=self.sock(st))
        self.assertEqual(p.call("hello", hello("ghost"))[0], 11)
        time.sleep(3.5)
        st.start_dp()  # waits until ready: its hello was taken
        t.wait_until(lambda: "instance_taken_over" in st.cp.log(), 5, what="takeover logged")
        p.close()

    def test_silent_peer_is_closed(self):
        """A connection that completes the transport handshake but never
        says a valid hello holds nothing for long (10 s)."""
        st = t.Stack(self).start()
        p = RawPeer(path=self.sock(st))
        p.s.settimeout(16)
        t0 = time.monotonic()
        self.assertEqual(p.s.recv(1), b"")  # closed by the controlplane
        self.assertLess(time.monotonic() - t0, 14)

        def conns():
            body = t.http_get(st.cp_port, "/metrics")[2].decode()
            return [ln for ln in body.splitlines() if ln.startswith("acexy_cp_control_connections ")]
        t.wait_until(lambda: conns() == ["acexy_cp_control_connections 1"], 3,
                     what="only the dataplane's connection left")
        p.close()

    def test_huge_hello_is_cheap(self):
        st = t.Stack(self).start()
        before = rss_kb(st.cp.pid)
        p = RawPeer(path=self.sock(st))
        # 32,000 leases in about 400 KB, as in the attack
        streams = [{"lease": 100000 + i} for i in range(32000)]
        t0 = time.monotonic()
        typ, rep = p.call("hello", hello("bulk", streams=streams))
        took = time.monotonic() - t0
        self.assertLess(took, 1.0)
        self.assertEqual(typ, 1, rep)  # refused: beyond the per-message cap
        self.assertIn(b"too many", rep)
        self.assertLess(rss_kb(st.cp.pid) - before, 30000)
        # the controlplane still answers its real dataplane at once
        s = self.hold_stream(st.port, "stillfine")
        s.close()
        p.close()


if __name__ == "__main__":
    t.main()
