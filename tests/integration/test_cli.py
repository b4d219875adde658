"""Command-line contract of the programs (INTERFACE.md "Programs", "Settings")."""
import os
import re
import subprocess

import acexytest as t

PROGRAMS = ["acexy-dataplane", "acexy-controlplane"]


def run(prog, args, env=None, timeout=10):
    e = {k: v for k, v in os.environ.items() if not k.startswith("ACEXY_") and k not in ("DEBUG_MODE", "DEBUG_LOG_DIR")}
    e.update(env or {})
    return subprocess.run([t.binpath(prog)] + args, env=e, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def interface_settings():
    """Every env name of INTERFACE.md's settings tables."""
    path = os.path.join(t.SOURCE_DIR, "..", "shared", "docs", "INTERFACE.md")
    names = set()
    if os.path.exists(path):
        for line in open(path):
            if line.startswith("| `"):
                names.update(re.findall(r"`((?:ACEXY|DEBUG)_[A-Z0-9_]+)`", line.split("|")[1]))
    return names


class CliTest(t.TestCase):
    def test_help_lists_every_setting(self):
        names = interface_settings() or {"ACEXY_BUFFER", "ACEXY_ORCH_URL", "DEBUG_MODE"}
        for prog in PROGRAMS:
            r = run(prog, ["--help"])
            self.assertEqual(r.returncode, 0, r.stderr)
            for n in names:
                self.assertIn(n, r.stdout, "%s --help lacks %s" % (prog, n))
            self.assertIn("--buffer", r.stdout)
            self.assertIn('default "4.2MiB"', r.stdout)

    def test_version(self):
        for prog in PROGRAMS:
            r = run(prog, ["--version"])
            self.assertEqual(r.returncode, 0)
            self.assertTrue(r.stdout.startswith(prog + " "))

    def test_bad_value_exits_2_with_one_line(self):
        for prog in PROGRAMS:
            r = run(prog, [], env={"ACEXY_BUFFER": "4.2XB"})
            self.assertEqual(r.returncode, 2, r.stderr)
            lines = [l for l in r.stderr.splitlines() if l.strip()]
            self.assertEqual(len(lines), 1, r.stderr)
            self.assertIn("ACEXY_BUFFER", lines[0])
            self.assertIn("4.2XB", lines[0])
            self.assertIn("env ACEXY_BUFFER", lines[0])

    def test_unknown_yaml_key_exits_2(self):
        d = self.tmpdir()
        path = os.path.join(d, "acexy.yaml")
        with open(path, "w") as f:
            f.write("buffer: 4MiB\nbufer: 1\n")
        for prog in PROGRAMS:
            r = run(prog, ["--config", path])
            self.assertEqual(r.returncode, 2)
            self.assertIn(path + ":2", r.stderr)
            self.assertIn("bufer", r.stderr)
            r = run(prog, [], env={"ACEXY_CONFIG": path})
            self.assertEqual(r.returncode, 2)

    def test_unknown_flag_exits_2(self):
        r = run("acexy-dataplane", ["--no-such-flag"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("--no-such-flag", r.stderr)

    def test_sample_config_is_valid(self):
        d = self.tmpdir()
        r = run("acexy-dataplane", ["--print-sample-config"])
        self.assertEqual(r.returncode, 0)
        # uncomment every setting line: the result must load
        lines = [l[1:] for l in r.stdout.splitlines() if l.startswith("#") and not l.startswith("# ") and len(l) > 1]
        path = os.path.join(d, "acexy.yaml")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        # --version after a successful load proves nothing; use a bad flag after
        # the config so that loading the file is the thing that must pass
        r = run("acexy-dataplane", ["--config", path, "--buffer", "4.2XB"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("flag --buffer", r.stderr)  # the file itself was fine

    def test_readme_settings_table_is_current(self):
        r = run("acexy-dataplane", ["--print-settings-markdown"])
        self.assertEqual(r.returncode, 0)
        readme = open(os.path.join(t.SOURCE_DIR, "README.md")).read()
        m = re.search(r"<!-- settings:begin -->\n(.*?)<!-- settings:end -->", readme, re.S)
        self.assertIsNotNone(m)
        self.assertEqual(m.group(1).strip(), r.stdout.strip(),
                         "README settings table is stale: run scripts/gen-readme-settings.sh")


if __name__ == "__main__":
    t.main()
