"""Shared helpers for acexy integration tests (standard library only).

Every server listens on 127.0.0.1 on a free port, uses its own temp dir and
is stopped by pid at the end. Programs are found in $ACEXY_BIN_DIR.
"""
import http.client
import json
import re
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

BIN_DIR = os.environ.get("ACEXY_BIN_DIR", os.path.join(os.getcwd(), "build", "bin"))
SOURCE_DIR = os.environ.get("ACEXY_SOURCE_DIR", os.getcwd())


def binpath(name):
    return os.path.join(BIN_DIR, name)


_PORTS_GIVEN = set()


def free_port():
    """A free loopback port below the kernel's ephemeral range (32768+), so
    that no outgoing connection or bind(0) of a parallel test takes it
    between this check and the server's own bind."""
    import random
    for _ in range(1000):
        port = random.randint(20000, 32000)
        if port in _PORTS_GIVEN:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        _PORTS_GIVEN.add(port)
        return port
    raise RuntimeError("no free port")


def wait_until(pred, timeout, interval=0.02, what="condition"):
    """Polls pred() until it returns a truthy value or timeout (s) passes."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except (OSError, http.client.HTTPException, ValueError):
            pass
        time.sleep(interval)
    raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))


def http_get(port, path, method="GET", headers=None, timeout=5, host="127.0.0.1", max_body=None):
    """Returns (status, headers dict lower-cased, body bytes). max_body: read
    at most that many body bytes (for endless streams)."""
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        body = r.read() if max_body is None else r.read(max_body)
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        c.close()


def tscheck(url, nbytes=None, seconds=None, timeout=90):
    """acexy-tscheck on a URL (every byte checked as MPEG-TS): its JSON report
    (status, bytes, sync_errors, cc_errors, max_gap_ms). Without a bound it
    reads 200,000 bytes."""
    args = [binpath("acexy-tscheck"), "--url", url, "--json"]
    if not nbytes and not seconds:
        nbytes = 200000
    if nbytes:
        args += ["--bytes", str(nbytes)]
    if seconds:
        args += ["--seconds", str(seconds)]
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    try:
        return json.loads(r.stdout)
    except ValueError:
        raise AssertionError("tscheck printed no JSON: rc=%d out=%r err=%r" % (r.returncode, r.stdout, r.stderr))


def metric(port, name):
    """One counter or gauge from the dataplane's /metrics (None if absent)."""
    _, _, body = http_get(port, "/metrics")
    m = re.search(r"^%s (\d+)$" % re.escape(name), body.decode(), re.M)
    return int(m.group(1)) if m else None


def open_stream(port, query, headers="", path="/ace/getstream"):
    """Sends a stream request on a raw socket; returns (socket, first bytes
    of the answer). The caller closes the socket."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(("GET %s?%s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (path, query, headers)).encode())
    return s, s.recv(4096)


def stream_bytes(port, query, nbytes, keep_open=False):
    """The first nbytes of a stream's body (fewer if it ends first); its
    status line must be a 200. With keep_open: (socket, bytes), the socket
    left open for the caller to close."""
    s, head = open_stream(port, query)
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        s.close()
        raise AssertionError("no 200 for %s: %r" % (query, head[:200]))
    data = head.split(b"\r\n\r\n", 1)[1]
    while len(data) < nbytes:
        b = s.recv(65536)
        if not b:
            break
        data += b
    if keep_open:
        return s, data
    s.close()
    return data


def orch_state(port):
    """The fake orchestrator's state (engines, events, requests)."""
    return http_json(port, "/__fake/state")[1]


def orch_script(port, **kw):
    """Scripts the fake orchestrator's next answers (POST /__fake/script)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("POST", "/__fake/script", body=json.dumps(kw), headers={"Content-Type": "application/json"})
    c.getresponse().read()
    c.close()


FAKE_ORCH = os.path.join(SOURCE_DIR, "tests", "fixtures", "fake_orchestrator.py")


def start_fake_orchestrator(tc, *args):
    """Starts tests/fixtures/fake_orchestrator.py (extra args as given) on a
    free port for test case tc; returns the port once it answers."""
    port = free_port()
    tc.start([sys.executable, FAKE_ORCH, "--listen", "127.0.0.1:%d" % port,
              "--engine-bin", binpath("acexy-fake-engine")] + list(args), name="fake-orchestrator")
    wait_until(lambda: http_get(port, "/__fake/state")[0] == 200, 15, what="fake orchestrator")
    return port


def http_json(port, path, **kw):
    st, _, body = http_get(port, path, **kw)
    return st, json.loads(body) if body else None


class Proc:
    """A started program; stopped by pid (SIGTERM, then SIGKILL)."""

    def __init__(self, args, env=None, name=None, cwd=None):
        self.name = name or os.path.basename(args[0])
        self.logdir = tempfile.mkdtemp(prefix="acexy-log-")
        self.logpath = os.path.join(self.logdir, self.name + ".log")
        self.logf = open(self.logpath, "wb")
        full_env = dict(os.environ)
        if env:
            full_env.update({k: str(v) for k, v in env.items()})
        self.p = subprocess.Popen(args, env=full_env, stdout=self.logf,
                                  stderr=subprocess.STDOUT, cwd=cwd,
                                  stdin=subprocess.DEVNULL,
                                  # its own process group: whatever it starts
                                  # (the fake orchestrator's engines) goes too
                                  start_new_session=True)
        self.pid = self.p.pid

    def log(self):
        if not self.logf.closed:
            self.logf.flush()
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self):
        return self.p.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, timeout=10):
        """SIGTERM, wait, SIGKILL. Returns the exit status."""
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.p.wait()
        self.logf.close()
        return self.p.returncode

    def kill(self):
        """SIGKILL to the process and everything in its process group."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.p.poll() is None:
            self.p.wait()
        return self.p.returncode

    def wait(self, timeout):
        return self.p.wait(timeout)

    def cleanup(self):
        self.kill()
        try:
            self.logf.close()
        except Exception:
            pass
        shutil.rmtree(self.logdir, ignore_errors=True)


class TestCase(unittest.TestCase):
    """Base class: tracks processes and temp dirs, dumps logs on failure."""

    def setUp(self):
        self.procs = []
        self.tmpdirs = []

    def hold_stream(self, port, content):
        """Opens /ace/getstream?id=content, asserts its 200; returns the
        socket, left open (the stream goes on until it is closed)."""
        s, head = open_stream(port, "id=" + content)
        self.assertIn(b"200 OK", head, content)
        return s

    def tmpdir(self):
        d = tempfile.mkdtemp(prefix="acexy-test-")
        self.tmpdirs.append(d)
        return d

    def start(self, args, env=None, name=None, cwd=None):
        p = Proc(args, env=env, name=name, cwd=cwd)
        self.procs.append(p)
        return p

    def tearDown(self):
        failed = False
        outcome = getattr(self, "_outcome", None)
        if outcome is not None:
            res = getattr(outcome, "result", None)
            errs = (getattr(res, "errors", []) or []) + (getattr(res, "failures", []) or [])
            failed = any(t is self for t, _ in errs)
        for p in self.procs:
            p.kill()
            if failed:
                sys.stderr.write("---- log of %s (pid %d) ----\n%s\n" % (p.name, p.pid, p.log()[-8000:]))
            p.cleanup()
        for d in self.tmpdirs:
            shutil.rmtree(d, ignore_errors=True)


def main():
    """unittest main that prints an 'N passed, N failed' summary line."""
    prog = unittest.main(exit=False, verbosity=2)
    r = prog.result
    failed = len(r.failures) + len(r.errors)
    passed = r.testsRun - failed - len(r.skipped)
    print("%d passed, %d failed, %d skipped" % (passed, failed, len(r.skipped)))
    sys.exit(0 if failed == 0 and r.testsRun > 0 else 1)


class Stack:
    """A fake engine, a controlplane and a dataplane side by side in one temp
    run dir (as in the pod). Extra env applies to both daemons."""

    def __init__(self, tc, env=None, engine_args=None, workers=1, start_engine=True):
        self.tc = tc
        self.dir = tc.tmpdir()
        self.run_dir = os.path.join(self.dir, "run")
        self.state_dir = os.path.join(self.dir, "state")
        self.engine_port = free_port()
        self.port = free_port()
        self.cp_port = free_port()
        self.env = {
            "ACEXY_RUN_DIR": self.run_dir,
            "ACEXY_STATE_DIR": self.state_dir,
            "ACEXY_HOST": "127.0.0.1",
            "ACEXY_PORT": str(self.engine_port),
            "ACEXY_LISTEN_ADDR": "127.0.0.1:%d" % self.port,
            "ACEXY_CP_LISTEN_ADDR": "127.0.0.1:%d" % self.cp_port,
            "ACEXY_WORKERS": str(workers),
            "ACEXY_LOG_LEVEL": "debug",
        }
        self.env.update(env or {})
        self.engine = None
        self.cp = None
        self.dp = None
        self.engine_args = engine_args or []
        if start_engine:
            self.start_engine()

    def start_engine(self):
        self.engine = self.tc.start([binpath("acexy-fake-engine"), "--listen",
                                     "127.0.0.1:%d" % self.engine_port] + self.engine_args,
                                    name="fake-engine")
        wait_until(lambda: http_get(self.engine_port, "/webui/api/service?method=get_version")[0] == 200,
                   10, what="fake engine up")
        return self.engine

    def start_cp(self, env=None):
        e = dict(self.env)
        e.update(env or {})
        self.cp = self.tc.start([binpath("acexy-controlplane")], env=e, name="controlplane")
        return self.cp

    def start_dp(self, env=None, wait_ready=True):
        e = dict(self.env)
        e.update(env or {})
        self.dp = self.tc.start([binpath("acexy-dataplane")], env=e, name="dataplane")
        if wait_ready:
            self.wait_ready()
        return self.dp

    def start(self):
        self.start_cp()
        self.start_dp()
        return self

    def wait_ready(self, timeout=10):
        wait_until(lambda: http_get(self.port, "/readyz")[0] == 200, timeout, what="dataplane ready")

    def engine_state(self):
        return http_json(self.engine_port, "/__fake/state")[1]

    def sessions(self):
        """The fake engine's playback sessions."""
        return self.engine_state()["sessions"]

    def stops(self):
        """The stop commands the fake engine received."""
        return self.engine_state()["stops"]

    def ctl_json(self, *args):
        """acexyctl --json ARGS against this stack's run dir: the parsed answer."""
        r = subprocess.run([binpath("acexyctl"), "--run-dir", self.run_dir, "--json"] + list(args),
                           capture_output=True, text=True, timeout=10)
        return json.loads(r.stdout)

    def url(self, query):
        return "http://127.0.0.1:%d/ace/getstream?%s" % (self.port, query)
