"""Independent restarts and operations (issue 8): streams survive a
controlplane restart, drain by SIGTERM and by acexyctl, several dataplanes
on one controlplane, /metrics parsed and checked against what the test did,
acexyctl --json shapes pinned by golden files."""
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time

import acexytest as t
from acexytest import http_get, tscheck, wait_until

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")


def ctl(st, *args):
    r = subprocess.run([t.binpath("acexyctl"), "--run-dir", st.run_dir] + list(args),
                       capture_output=True, text=True, timeout=10)
    return r.returncode, r.stdout, r.stderr


def parse_metrics(text):
    """Prometheus text: every line a comment or `name{labels} value`."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_]+="[^"]*"(,[a-zA-Z_]+="[^"]*")*\})? '
                     r'(-?[0-9.e+]+|NaN|\+Inf)$', line)
        if not m:
            raise AssertionError("not Prometheus text: %r" % line)
        out[m.group(1) + (m.group(2) or "")] = float(m.group(4))
    return out


def shape(v):
    """The JSON shape: keys and types, arrays by their first element."""
    if isinstance(v, dict):
        return {k: shape(x) for k, x in sorted(v.items())}
    if isinstance(v, list):
        return [shape(v[0])] if v else []
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if v is None:
        return "null"
    return "string"


def same_shape(golden, got, path="$"):
    """Every golden key is there with the golden type (null in either side
    matches anything: a value not known yet)."""
    if golden in ("null",) or got in ("null",):
        return []
    if isinstance(golden, dict):
        if not isinstance(got, dict):
            return ["%s: expected an object" % path]
        errs = []
        for k, g in golden.items():
            if k not in got:
                errs.append("%s.%s: missing" % (path, k))
            else:
                errs += same_shape(g, got[k], path + "." + k)
        return errs
    if isinstance(golden, list):
        if not isinstance(got, list):
            return ["%s: expected an array" % path]
        if golden and got:
            return same_shape(golden[0], got[0], path + "[0]")
        return []
    return [] if golden == got else ["%s: expected %s, got %s" % (path, golden, got)]


class OperationsTest(t.TestCase):

    def test_stream_survives_controlplane_restart(self):
        st = t.Stack(self, engine_args=["--bitrate", "4000000"]).start()
        res = {}
        th = threading.Thread(target=lambda: res.update(r=tscheck(st.url("id=survive"), seconds=6)))
        th.start()
        time.sleep(1.0)
        st.cp.kill()
        time.sleep(1.5)
        st.start_cp()
        th.join()
        r = res["r"]
        self.assertEqual(r["status"], 200)
        self.assertEqual(r["sync_errors"] + r["cc_errors"], 0)
        self.assertLess(r["max_gap_ms"], 1000, r)
        self.assertGreater(r["bytes"], 2000000)
        # the lease was rebuilt from the hello, and ended once the viewer left
        wait_until(lambda: "lease_rebuilt" in st.cp.log(), 3, what="lease rebuilt")
        wait_until(lambda: "event=lease_released" in st.cp.log(), 3, what="lease released")

    def test_drain_by_sigterm(self):
        st = t.Stack(self, env={"ACEXY_DRAIN_TIMEOUT": "2s"}, engine_args=["--bitrate", "4000000"]).start()
        s = self.hold_stream(st.port, "draining")
        t0 = time.monotonic()
        st.dp.signal(signal.SIGTERM)
        wait_until(lambda: http_get(st.port, "/readyz")[0] == 503, 0.5, what="readyz 503 at once")
        code, hdrs, _ = http_get(st.port, "/ace/getstream?id=new", timeout=5)
        self.assertEqual(code, 503)
        self.assertIn("retry-after", hdrs)
        # the running stream goes on until the drain timeout, then ends properly
        got, end = 0, None
        s.settimeout(5)
        while True:
            b = s.recv(65536)
            if not b:
                end = time.monotonic() - t0
                break
            got += len(b)
        s.close()
        self.assertGreater(got, 500000)
        self.assertGreater(end, 1.7)
        self.assertLess(end, 4.0)
        self.assertEqual(st.dp.wait(10), 0)
        self.assertEqual(len(st.engine_state()["stops"]), 1)
        wait_until(lambda: "reason=drain_timeout" in st.cp.log(), 3, what="lease released: drain_timeout")

    def test_acexyctl_drain_and_resume(self):
        st = t.Stack(self).start()
        s = self.hold_stream(st.port, "keep")
        rc, out, _ = ctl(st, "drain")
        self.assertEqual(rc, 0, out)
        wait_until(lambda: http_get(st.port, "/readyz")[0] == 503, 3, what="drained")
        self.assertEqual(http_get(st.port, "/ace/getstream?id=new", timeout=5)[0], 503)
        self.assertTrue(s.recv(65536))  # the running stream continues
        self.assertTrue(st.dp.alive())
        rc, out, _ = ctl(st, "resume")
        self.assertEqual(rc, 0, out)
        wait_until(lambda: http_get(st.port, "/readyz")[0] == 200, 3, what="resumed")
        r = tscheck(st.url("id=after"), nbytes=100000)
        self.assertEqual(r["status"], 200)
        # by instance name
        inst = json.loads(ctl(st, "--json", "status")[1])["dataplanes"][0]["instance"]
        rc, _, _ = ctl(st, "--instance", inst, "drain")
        self.assertEqual(rc, 0)
        wait_until(lambda: http_get(st.port, "/readyz")[0] == 503, 3, what="instance drained")
        ctl(st, "--instance", inst, "resume")
        wait_until(lambda: http_get(st.port, "/readyz")[0] == 200, 3, what="instance resumed")
        s.close()

    def test_two_dataplanes_one_controlplane(self):
        st = t.Stack(self, env={"ACEXY_DATAPLANE_LOST_AFTER": "2s"}).start()
        port2 = t.free_port()
        dp2 = self.start([t.binpath("acexy-dataplane")],
                         env=dict(st.env, ACEXY_LISTEN_ADDR="127.0.0.1:%d" % port2, ACEXY_INSTANCE="second"),
                         name="dataplane-2")
        wait_until(lambda: http_get(port2, "/readyz")[0] == 200, 5, what="second dataplane ready")
        a = self.hold_stream(st.port, "one")
        b = self.hold_stream(port2, "two")
        wait_until(lambda: len(json.loads(ctl(st, "--json", "status")[1])["dataplanes"]) == 2, 3,
                   what="two dataplanes")
        streams = json.loads(ctl(st, "--json", "streams")[1])["streams"]
        by = {x["content"]: x["instance"] for x in streams}
        self.assertEqual(by["two"], "second")
        self.assertNotEqual(by["one"], "second")
        rc, out, _ = ctl(st, "--dataplane", "--instance", "second", "--json", "streams")
        self.assertEqual([x["content"] for x in json.loads(out)["streams"]], ["content_id:two"])
        dp2.kill()
        wait_until(lambda: [x["content"] for x in json.loads(ctl(st, "--json", "streams")[1])["streams"]]
                   == ["one"], 5, what="only the lost dataplane's lease freed")
        a.close()
        b.close()

    def test_metrics_count_what_happened(self):
        st = t.Stack(self).start()
        for i in range(3):
            self.assertEqual(tscheck(st.url("id=m%d" % i), nbytes=50000)["status"], 200)
        self.assertEqual(http_get(st.port, "/ace/getstream?id=%FF")[0], 400)  # not UTF-8
        self.assertEqual(http_get(st.port, "/ace/getstream?id=fail-load")[0], 502)
        # the ends reach the controlplane
        wait_until(lambda: parse_metrics(http_get(st.cp_port, "/metrics")[2].decode())["acexy_cp_leases"] == 0,
                   5, what="leases released")
        dp = parse_metrics(http_get(st.port, "/metrics")[2].decode())
        self.assertEqual(dp["acexy_streams_started_total"], 3)
        self.assertEqual(dp['acexy_streams_ended_total{reason="client_gone"}'], 3)
        self.assertEqual(dp["acexy_streams"], 0)
        self.assertGreaterEqual(dp['acexy_responses_total{class="4xx"}'], 1)
        self.assertGreaterEqual(dp["acexy_upstream_errors_total"], 1)
        self.assertGreaterEqual(dp["acexy_bytes_relayed_total"], 150000)
        self.assertEqual(dp["acexy_time_to_first_byte_seconds_count"], 3)
        self.assertEqual(dp["acexy_viewers_dropped_total"], 0)
        cp = parse_metrics(http_get(st.cp_port, "/metrics")[2].decode())
        self.assertEqual(cp["acexy_cp_assignments_total"], 4)  # 3 streams + the failed one
        self.assertEqual(cp["acexy_cp_leases"], 0)
        self.assertEqual(cp["acexy_cp_dataplanes"], 1)
        self.assertEqual(cp["acexy_cp_fallback_engine_healthy"], 1)

    def test_admin_sockets_refuse_other_users(self):
        st = t.Stack(self).start()
        for name in ("admin.sock", "control.sock"):
            mode = os.stat(os.path.join(st.run_dir, name)).st_mode & 0o777
            self.assertEqual(mode, 0o660, name)
        self.assertEqual(ctl(st, "ping")[0], 0)  # the daemons' own user (root here)
        if os.geteuid() != 0 or not shutil.which("setpriv"):
            self.skipTest("needs root and setpriv to act as another user")
        for d in (os.path.dirname(st.run_dir), st.run_dir):
            os.chmod(d, 0o755)  # let the other user reach the socket files themselves
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            t.binpath("acexyctl"), "--run-dir", st.run_dir, "ping"],
                           capture_output=True, text=True, timeout=10)
        self.assertNotEqual(r.returncode, 0, r.stdout)

    def test_json_shapes_match_golden_files(self):
        st = t.Stack(self).start()
        s = self.hold_stream(st.port, "golden")
        # a stream whose engine view was read, so every field has its value
        wait_until(lambda: [x for x in json.loads(ctl(st, "--json", "streams")[1])["streams"]
                            if x["engine_status"] is not None], 5, what="a stream with its engine view")
        cases = [("status", []), ("engines", []), ("streams", []), ("config", []), ("ping", []),
                 ("dataplanes", []), ("dp-status", ["--dataplane"]),
                 ("dp-streams", ["--dataplane"])]
        for name, extra in cases:
            cmd = name.replace("dp-", "")
            rc, out, err = ctl(st, *(extra + ["--json", cmd]))
            self.assertEqual(rc, 0, err)
            got = shape(json.loads(out))
            path = os.path.join(GOLDEN, "acexyctl-%s.json" % name)
            if os.environ.get("ACEXY_UPDATE_GOLDEN"):
                with open(path, "w") as f:
                    json.dump(got, f, indent=1, sort_keys=True)
                    f.write("\n")
                continue
            with open(path) as f:
                golden = json.load(f)
            self.assertEqual(same_shape(golden, got), [], name)
        s.close()


if __name__ == "__main__":
    t.main()
