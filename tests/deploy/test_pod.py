"""The real image in the real pod: deploy/k8s/overlays/podman rendered with
Kustomize and run with `podman kube play`, beside a demo engine from the
-tools image, then checked the way an operator relies on it.

Run by scripts/test-pod.sh, which builds the images and sets
ACEXY_POD_IMAGE / ACEXY_POD_TOOLS_IMAGE (skipped without them):
  ACEXY_POD_IMAGE=... ACEXY_POD_TOOLS_IMAGE=... PYTHONPATH=tests/integration/lib \
    python3 tests/deploy/test_pod.py -v
Everything it creates (pod, containers, volumes) carries a name unique to
the run and is removed at the end; listeners are on 127.0.0.1 only.
"""
import base64
import json
import shutil
import tempfile
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

import acexytest as at

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
IMAGE = os.environ.get("ACEXY_POD_IMAGE")
TOOLS = os.environ.get("ACEXY_POD_TOOLS_IMAGE")
PODMAN = ["podman", "--runtime", "runc"]
MANIFEST_IMAGE = "ghcr.io/acexy/acexy"
CONTENT = "c0ffee" + "0" * 34
DRAIN = 3  # seconds; the ConfigMap says 25s, the test's env makes it short


def pm(*args, timeout=120, check=True):
    r = subprocess.run(PODMAN + list(args), capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError("podman %s: rc=%d %s" % (" ".join(args), r.returncode, r.stderr.strip()[-2000:]))
    return r


def render(overlay):
    r = subprocess.run(["node", os.path.join(HERE, "render.mjs"), "--json", os.path.join(ROOT, overlay)],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("render %s: %s" % (overlay, r.stderr))
    return json.loads(r.stdout)


def containers_of(obj):
    spec = obj["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def for_podman(objs, suffix, env, per_container=None, secrets_dir=None, strip=False):
    """The rendering as this run plays it: what podman takes (ConfigMaps,
    Secrets, Deployments, PersistentVolumeClaims), names made unique to the
    run (Deployments, ConfigMaps, claims, volumes: podman names a pod's
    volumes after them), the images just built, and env overrides (loopback
    ports, short drain; per_container: more for one container by name).
    secrets_dir: Secret volumes become read-only host directories holding
    the Secret's files (podman 4.3 plays no Secret objects). strip: what the
    podman overlay removes (ports, probes; host network), for renderings
    without it."""
    keep = [o for o in objs if o["kind"] in ("ConfigMap", "Secret", "Deployment", "PersistentVolumeClaim")]
    secrets = {o["metadata"]["name"]: o for o in keep if o["kind"] == "Secret"}
    renamed = {}
    for o in keep:
        if o["kind"] in ("ConfigMap", "Secret", "PersistentVolumeClaim"):
            new = "%s-%s" % (o["metadata"]["name"], suffix)
            renamed[(o["kind"], o["metadata"]["name"])] = new
            o["metadata"]["name"] = new
    for o in keep:
        if o["kind"] != "Deployment":
            continue
        o["metadata"]["name"] = "%s-%s" % (o["metadata"]["name"], suffix)
        spec = o["spec"]["template"]["spec"]
        if strip:
            spec["hostNetwork"] = True
        for v in spec.get("volumes", []):
            v["name"] = "%s-%s" % (suffix, v["name"])
            if "configMap" in v:
                v["configMap"]["name"] = renamed[("ConfigMap", v["configMap"]["name"])]
            if "persistentVolumeClaim" in v:
                c = v["persistentVolumeClaim"]
                c["claimName"] = renamed[("PersistentVolumeClaim", c["claimName"])]
            if "secret" in v and secrets_dir:
                sec = secrets[v["secret"]["secretName"]]
                items = v["secret"].get("items") or [{"key": k, "path": k} for k in sec["data"]]
                # one directory per Secret and choice of items (volumes of two
                # pods may share a name and not a Secret)
                d = os.path.join(secrets_dir, "%s-%s" % (sec["metadata"]["name"], "-".join(i["path"] for i in items)))
                os.makedirs(d, exist_ok=True)
                for it in items:
                    path = os.path.join(d, it["path"])
                    with open(path, "wb") as f:
                        f.write(base64.b64decode("".join(sec["data"][it["key"]].split())))
                    os.chmod(path, 0o444)
                del v["secret"]
                v["hostPath"] = {"path": d, "type": "Directory"}
            elif "secret" in v:
                v["secret"]["secretName"] = renamed[("Secret", v["secret"]["secretName"])]
        for c in containers_of(o):
            if c["image"].split(":")[0] == MANIFEST_IMAGE:
                c["image"] = IMAGE
            if strip:
                for k in ("ports", "startupProbe", "livenessProbe", "readinessProbe"):
                    c.pop(k, None)
            for m in c.get("volumeMounts", []):
                m["name"] = "%s-%s" % (suffix, m["name"])
            for e in c.get("env", []):
                for ref in ("secretKeyRef", "configMapKeyRef"):
                    r = e.get("valueFrom", {}).get(ref)
                    if r:  # (an optional reference may name no object here)
                        r["name"] = renamed.get(("Secret" if ref == "secretKeyRef" else "ConfigMap", r["name"]), r["name"])
            over = dict(env)
            over.update((per_container or {}).get(c["name"], {}))
            c["env"] = [e for e in c.get("env", []) if e["name"] not in over]
            c["env"] += [{"name": k, "value": v} for k, v in over.items()]
    if secrets_dir:
        keep = [o for o in keep if o["kind"] != "Secret"]
    return keep


class Reader(threading.Thread):
    """Holds a stream open and counts its bytes, noting the longest gap."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.sock, head = at.open_stream(port, "id=" + CONTENT)
        self.head = head
        self.bytes = len(head)
        self.last = time.monotonic()
        self.max_gap = 0.0
        self.ended_at = None
        self.stop_flag = False
        self.sock.settimeout(30)

    def run(self):
        try:
            while not self.stop_flag:
                d = self.sock.recv(65536)
                now = time.monotonic()
                if not d:
                    break
                self.max_gap = max(self.max_gap, now - self.last)
                self.last = now
                self.bytes += len(d)
        except OSError:
            pass
        self.ended_at = time.monotonic()

    def close(self):
        self.stop_flag = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class PodHelpers:
    """What both pod tests use; cls.cp_port / cls.dp_port are the daemons'
    HTTP ports."""

    @classmethod
    def start_engine(cls):
        """The demo engine (the tools image) on cls.engine_port; returns the
        environment that points the pod at it, on loopback ports, with a
        short drain."""
        pm("run", "-d", "--name", cls.engine, "--network", "host", TOOLS,
           "--listen", "127.0.0.1:%d" % cls.engine_port)
        return {
            "ACEXY_LISTEN_ADDR": "127.0.0.1:%d" % cls.dp_port,
            "ACEXY_CP_LISTEN_ADDR": "127.0.0.1:%d" % cls.cp_port,
            "ACEXY_HOST": "127.0.0.1",
            "ACEXY_PORT": str(cls.engine_port),
            "ACEXY_DRAIN_TIMEOUT": "%ds" % DRAIN,
        }

    @classmethod
    def wait_ready(cls, timeout=30):
        at.wait_until(lambda: at.http_get(cls.cp_port, "/readyz")[0] == 200, timeout, 0.1, "controlplane /readyz 200")
        at.wait_until(lambda: at.http_get(cls.dp_port, "/readyz")[0] == 200, timeout, 0.1, "dataplane /readyz 200")

    def inspect(self, ctr, fmt):
        return pm("inspect", "--format", fmt, ctr).stdout.strip()

    def pid(self, ctr):
        return int(self.inspect(ctr, "{{.State.Pid}}"))

    def exec_(self, ctr, *cmd):
        return pm("exec", ctr, *cmd, check=False)

    def tscheck(self, nbytes=600000):
        r = pm("run", "--rm", "--network", "host", "--entrypoint", "acexy-tscheck", TOOLS,
               "--url", "http://127.0.0.1:%d/ace/getstream?id=%s" % (self.dp_port, CONTENT),
               "--json", "--bytes", str(nbytes), check=False, timeout=90)
        try:
            return json.loads(r.stdout)
        except ValueError:
            self.fail("tscheck printed no JSON: %s %s" % (r.stdout, r.stderr))

    def assertPlays(self):
        rep = self.tscheck()
        self.assertGreaterEqual(rep["bytes"], 600000, rep)
        self.assertEqual(rep["sync_errors"], 0, rep)
        self.assertEqual(rep["cc_errors"], 0, rep)

    def restarted(self, ctr, old_pid, old_count):
        def ok():
            if self.inspect(ctr, "{{.State.Running}}") != "true":
                return False
            return self.pid(ctr) != old_pid and int(self.inspect(ctr, "{{.RestartCount}}")) > old_count
        at.wait_until(ok, 30, 0.2, "%s restarted by podman" % ctr)

    def held_stream(self):
        """A viewer's stream through the dataplane, flowing, held open."""
        rd = Reader(self.dp_port)
        rd.start()
        at.wait_until(lambda: rd.bytes > 200000, 20, 0.1, "stream bytes")
        return rd

    def check_kill_controlplane_keeps_stream(self):
        """kill -9 of the controlplane: podman restarts it alone, the
        dataplane's stream goes on and the new controlplane lists it."""
        rd = self.held_stream()
        try:
            dp_pid, cp_pid = self.pid(self.dp), self.pid(self.cp)
            count = int(self.inspect(self.cp, "{{.RestartCount}}"))
            os.kill(cp_pid, signal.SIGKILL)
            self.restarted(self.cp, cp_pid, count)
            self.wait_ready()
            before = rd.bytes
            time.sleep(1.5)
            # the dataplane was never restarted and its stream went on
            self.assertEqual(self.pid(self.dp), dp_pid)
            self.assertIsNone(rd.ended_at, "the stream ended when the controlplane was killed")
            self.assertGreater(rd.bytes, before + 300000)
            self.assertLess(rd.max_gap, 3.0)
            # the new controlplane knows the stream again (the dataplane's hello)
            at.wait_until(lambda: CONTENT in self.exec_(self.cp, "acexyctl", "--json", "streams").stdout,
                          15, 0.2, "stream listed by the restarted controlplane")
        finally:
            rd.close()

    def check_stop_drains(self, pod, ctrs):
        """podman pod stop: the dataplane turns unready and lets the stream
        run until the drain timeout; ctrs exit 0."""
        rd = self.held_stream()
        t0 = time.monotonic()
        stopper = subprocess.Popen(PODMAN + ["pod", "stop", "-t", "20", pod],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        draining = []

        def saw_draining():
            st = at.http_get(self.dp_port, "/readyz", timeout=1)[0]
            if st == 503:
                draining.append(at.http_get(self.dp_port, "/livez", timeout=1)[0])
            return st == 503
        try:
            at.wait_until(saw_draining, 5, 0.05, "dataplane /readyz 503 while draining")
        except AssertionError:
            pass
        rd.join(DRAIN + 15)
        rd.close()
        _, err = stopper.communicate(timeout=40)
        self.assertEqual(stopper.returncode, 0, err)
        self.assertIsNotNone(rd.ended_at, "the stream did not end")
        took = rd.ended_at - t0
        self.assertGreaterEqual(took, DRAIN - 0.5, "the stream ended before the drain timeout")
        self.assertLess(took, DRAIN + 8, "the stream outlived the drain timeout")
        self.assertTrue(draining, "the dataplane never answered /readyz 503 while draining")
        self.assertEqual(draining[0], 200, "/livez during the drain")
        for ctr in ctrs:
            self.assertEqual(self.inspect(ctr, "{{.State.ExitCode}}"), "0", "%s exit code" % ctr)
        logs = pm("logs", self.dp).stdout + pm("logs", self.dp).stderr
        self.assertIn("drain_timeout", logs)


@unittest.skipUnless(IMAGE and TOOLS, "run by scripts/test-pod.sh (needs the images it builds)")
class PodTest(PodHelpers, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.suffix = "podtest%d" % os.getpid()
        cls.engine_port = at.free_port()
        cls.dp_port = at.free_port()
        cls.cp_port = at.free_port()
        cls.engine = "acexy-%s-engine" % cls.suffix
        cls.tmp = tempfile.mkdtemp(prefix="acexy-podtest-")
        cls.pod = "acexy-%s-pod-0" % cls.suffix
        try:
            cls.play()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def play(cls):
        env = cls.start_engine()
        # The probes as Kubernetes runs them (the podman rendering has none).
        cls.k8s = render("deploy/k8s/overlays/legacy")
        objs = for_podman(render("deploy/k8s/overlays/podman"), cls.suffix, env)
        cls.dep = next(o for o in objs if o["kind"] == "Deployment")
        cls.config = next(o for o in objs if o["kind"] == "ConfigMap")
        cls.pod = cls.dep["metadata"]["name"] + "-pod-0"
        cls.cp = cls.pod + "-controlplane"
        cls.dp = cls.pod + "-dataplane"
        cls.manifest = os.path.join(cls.tmp, "pod.yaml")
        with open(cls.manifest, "w") as f:
            f.write("\n---\n".join(json.dumps(o, indent=1) for o in objs) + "\n")
        pm("kube", "play", "--network", "host", cls.manifest)
        cls.wait_ready()

    @classmethod
    def tearDownClass(cls):
        pm("pod", "rm", "-f", "-t", "0", cls.pod, check=False)
        pm("rm", "-f", "-t", "0", cls.engine, check=False)
        for v in pm("volume", "ls", "-q", check=False).stdout.split():
            if v.startswith(cls.suffix) or v.endswith(cls.suffix):
                pm("volume", "rm", "-f", v, check=False)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # -- the pod as deployed --------------------------------------------
    def test_1_pod_as_the_manifests_say(self):
        for ctr in (self.cp, self.dp):
            self.assertEqual(self.inspect(ctr, "{{.HostConfig.ReadonlyRootfs}}"), "true", ctr)
            self.assertEqual(self.exec_(ctr, "id", "-u").stdout.strip(), "10001", ctr)
            r = self.exec_(ctr, "sh", "-c", "touch /usr/local/bin/x")
            self.assertNotEqual(r.returncode, 0, "%s: root filesystem is writable" % ctr)
            self.assertIn("Read-only file system", r.stderr)
            # the ConfigMap, mounted as a directory
            r = self.exec_(ctr, "cat", "/etc/acexy/acexy.yaml")
            self.assertEqual(r.stdout, self.config["data"]["acexy.yaml"], ctr)
            self.assertEqual(self.inspect(ctr, "{{.HostConfig.RestartPolicy.Name}}"), "always")
        # --check-config with the pod's own file and environment
        for ctr, prog in ((self.cp, "acexy-controlplane"), (self.dp, "acexy-dataplane")):
            r = self.exec_(ctr, prog, "--check-config")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("ACEXY_DRAIN_TIMEOUT=%ds" % DRAIN, r.stdout)
        # the shared emptyDir: the controlplane's sockets seen by the dataplane
        socks = self.exec_(self.dp, "ls", "/run/acexy").stdout.split()
        self.assertIn("control.sock", socks)
        self.assertIn("admin.sock", socks)
        self.assertTrue(any(s.startswith("dataplane-") for s in socks), socks)
        # log_format: json from the ConfigMap is in effect
        logs = pm("logs", self.dp).stderr.strip().splitlines() + pm("logs", self.dp).stdout.strip().splitlines()
        self.assertTrue(logs, "no dataplane log")
        for line in logs[:5]:
            self.assertIsInstance(json.loads(line), dict, line)

    def test_2_probes_answer_as_kubernetes_expects(self):
        dep = next(o for o in self.k8s if o["kind"] == "Deployment")
        ports = {8080: self.dp_port, 8081: self.cp_port}
        seen = 0
        for c in containers_of(dep):
            named = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                g = c.get(probe, {}).get("httpGet")
                if not g:
                    continue
                port = named.get(g["port"], g["port"])
                st, _, body = at.http_get(ports[port], g["path"], timeout=c[probe].get("timeoutSeconds", 1))
                self.assertTrue(200 <= st < 400, "%s %s GET %s: %d %r" % (c["name"], probe, g["path"], st, body))
                seen += 1
        self.assertGreaterEqual(seen, 4)

    def test_3_stream_and_acexyctl(self):
        self.assertPlays()
        r = self.exec_(self.cp, "acexyctl", "status")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.exec_(self.dp, "acexyctl", "--dataplane", "status")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("controlplane_connected true", " ".join(r.stdout.split()))
        rd = self.held_stream()
        try:
            r = self.exec_(self.cp, "acexyctl", "--json", "streams")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(CONTENT, r.stdout)
            r = self.exec_(self.dp, "acexyctl", "--dataplane", "--json", "streams")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(CONTENT, r.stdout)
        finally:
            rd.close()

    def test_4_kill_controlplane_alone(self):
        self.check_kill_controlplane_keeps_stream()

    def test_5_kill_dataplane_alone(self):
        dp_pid, cp_pid = self.pid(self.dp), self.pid(self.cp)
        count = int(self.inspect(self.dp, "{{.RestartCount}}"))
        stop = threading.Event()
        cp_down = []

        def watch_cp():
            while not stop.is_set():
                try:
                    if at.http_get(self.cp_port, "/livez", timeout=5)[0] != 200:
                        cp_down.append(time.monotonic())
                except OSError:
                    cp_down.append(time.monotonic())
                time.sleep(0.1)
        w = threading.Thread(target=watch_cp, daemon=True)
        w.start()
        try:
            os.kill(dp_pid, signal.SIGKILL)
            self.restarted(self.dp, dp_pid, count)
            self.wait_ready()
        finally:
            stop.set()
            w.join()
        self.assertEqual(self.pid(self.cp), cp_pid, "the controlplane was restarted too")
        self.assertEqual(cp_down, [], "the controlplane's /livez failed while the dataplane restarted")
        self.assertPlays()

    def test_6_pod_stop_drains(self):
        self.check_stop_drains(self.pod, (self.cp, self.dp))


@unittest.skipUnless(IMAGE and TOOLS, "run by scripts/test-pod.sh (needs the images it builds)")
class ScaleOutTest(PodHelpers, unittest.TestCase):
    """overlays/scale-out: the controlplane's own pod (spool on a claim) and
    a dataplane pod joined over tls+tcp:// with the token and certificates
    make-secrets.sh writes, the dataplane checking the controlplane's name
    (localhost here, a --san of make-secrets.sh) against its certificate.
    For podman: host network without ports and probes, the Secrets' files
    as read-only host directories."""

    @classmethod
    def setUpClass(cls):
        cls.suffix = "sotest%d" % os.getpid()
        cls.engine_port, cls.dp_port, cls.cp_port, cls.control_port = (at.free_port() for _ in range(4))
        cls.tmp = tempfile.mkdtemp(prefix="acexy-sotest-")
        cls.engine = "acexy-%s-engine" % cls.suffix
        cls.pods = []
        try:
            tree = os.path.join(cls.tmp, "k8s")
            shutil.copytree(os.path.join(ROOT, "deploy", "k8s"), tree)
            for sub in ("secrets.env", "tls"):
                p = os.path.join(tree, "overlays", "scale-out", sub)
                if os.path.isfile(p):
                    os.unlink(p)
                elif os.path.isdir(p):
                    for f in os.listdir(p):
                        if f.endswith(".pem"):
                            os.unlink(os.path.join(p, f))
            # localhost: the name the dataplane dials here (podman keeps the
            # host's /etc/hosts on the host network, so no alias for the
            # Service's name); still checked against the certificate
            r = subprocess.run([os.path.join(tree, "overlays", "scale-out", "make-secrets.sh"),
                                "--san", "localhost", "default"],
                               capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                raise AssertionError("make-secrets.sh: " + r.stderr)
            objs = render(os.path.join(tree, "overlays", "scale-out"))
            cls.rendered = objs
            env = cls.start_engine()
            per = {"controlplane": {"ACEXY_CONTROL_URL": "tls+tcp://127.0.0.1:%d" % cls.control_port},
                   "dataplane": {"ACEXY_CONTROL_URL": "tls+tcp://localhost:%d" % cls.control_port}}
            objs = for_podman(objs, cls.suffix, env, per_container=per, secrets_dir=os.path.join(cls.tmp, "secrets"),
                              strip=True)
            deps = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Deployment"}
            cls.cp_pod = "acexy-controlplane-%s-pod-0" % cls.suffix
            cls.dp_pod = "acexy-%s-pod-0" % cls.suffix
            assert set(deps) == {"acexy-controlplane-" + cls.suffix, "acexy-" + cls.suffix}, set(deps)
            cls.cp = cls.cp_pod + "-controlplane"
            cls.dp = cls.dp_pod + "-dataplane"
            cls.manifest = os.path.join(cls.tmp, "scale-out.yaml")
            with open(cls.manifest, "w") as f:
                f.write("\n---\n".join(json.dumps(o, indent=1) for o in objs) + "\n")
            cls.pods = [cls.cp_pod, cls.dp_pod]
            pm("kube", "play", "--network", "host", cls.manifest)
            cls.wait_ready()
        except BaseException:
            for ctr in (getattr(cls, "cp", None), getattr(cls, "dp", None)):
                if ctr:
                    r = pm("logs", ctr, check=False)
                    sys.stderr.write("---- %s\n%s%s\n" % (ctr, r.stdout[-3000:], r.stderr[-3000:]))
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for p in cls.pods:
            pm("pod", "rm", "-f", "-t", "0", p, check=False)
        pm("rm", "-f", "-t", "0", cls.engine, check=False)
        for v in pm("volume", "ls", "-q", check=False).stdout.split():
            if cls.suffix in v:
                pm("volume", "rm", "-f", v, check=False)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_1_dataplane_joins_over_tls_with_the_token(self):
        r = self.exec_(self.cp, "acexyctl", "--json", "status")
        self.assertEqual(r.returncode, 0, r.stderr)
        st = json.loads(r.stdout)
        self.assertEqual(len(st["dataplanes"]), 1, st["dataplanes"])
        r = self.exec_(self.cp, "acexyctl", "dataplanes")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("acexy-%s-pod-0" % self.suffix, r.stdout)
        r = self.exec_(self.dp, "acexyctl", "--dataplane", "status")
        self.assertIn("controlplane_connected true", " ".join(r.stdout.split()))
        # the spool is on the claim's volume, the token only in a file
        mounts = json.loads(pm("inspect", "--format", "{{json .Mounts}}", self.cp).stdout)
        spool = [m for m in mounts if m["Destination"] == "/var/lib/acexy"]
        self.assertTrue(spool and "acexy-spool-" + self.suffix in spool[0].get("Name", ""), spool)
        for ctr in (self.cp, self.dp):
            env = pm("inspect", "--format", "{{json .Config.Env}}", ctr).stdout
            self.assertNotIn("ACEXY_CONTROL_TOKEN=", env, ctr)
            self.assertIn("ACEXY_CONTROL_TOKEN_FILE=", env, ctr)
            self.assertEqual(self.inspect(ctr, "{{.HostConfig.ReadonlyRootfs}}"), "true", ctr)
            r = self.exec_(ctr, "acexy-controlplane" if ctr == self.cp else "acexy-dataplane", "--check-config")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("ACEXY_CONTROL_TOKEN=<set>", r.stdout.replace(" ", ""))

    def test_2_stream_plays_through_the_dataplane_pod(self):
        self.assertPlays()

    def test_3_controlplane_restart_keeps_the_stream(self):
        self.check_kill_controlplane_keeps_stream()

    def test_4_dataplane_pod_stop_drains(self):
        self.check_stop_drains(self.dp_pod, (self.dp,))
        # the controlplane saw the dataplane leave and stays up
        self.assertEqual(at.http_get(self.cp_port, "/livez")[0], 200)

if __name__ == "__main__":
    at.main()
