"""cmake/AcexyDeps.cmake finds the Debian packages under the names their
pkg-config files have had: msgpack-c >= 6 ships msgpack-c.pc (not
msgpack.pc) — issue 22, "Also". Configure only, against a pkg-config
directory that holds every system .pc file but the one under test."""
import glob
import os
import shutil
import subprocess
import unittest

import acexytest as t

PC_DIRS = ["/usr/lib/x86_64-linux-gnu/pkgconfig", "/usr/lib/aarch64-linux-gnu/pkgconfig",
           "/usr/lib/pkgconfig", "/usr/share/pkgconfig"]


class BuildDepsTest(t.TestCase):
    def configure_with(self, keep_msgpack, add_msgpack_c):
        if not shutil.which("cmake") or not shutil.which("pkg-config"):
            self.skipTest("needs cmake and pkg-config")
        d = self.tmpdir()
        pc = os.path.join(d, "pc")
        os.makedirs(pc)
        msgpack = None
        for dd in PC_DIRS:
            for f in glob.glob(os.path.join(dd, "*.pc")):
                name = os.path.basename(f)
                if name == "msgpack.pc":
                    msgpack = f
                    if not keep_msgpack:
                        continue
                if not os.path.exists(os.path.join(pc, name)):
                    os.symlink(f, os.path.join(pc, name))
        if msgpack is None:
            self.skipTest("no msgpack.pc on this system")
        if add_msgpack_c:
            with open(msgpack) as f:
                text = f.read()
            with open(os.path.join(pc, "msgpack-c.pc"), "w") as f:
                f.write(text.replace("Name: MessagePack", "Name: msgpack-c"))
        env = dict(os.environ, PKG_CONFIG_LIBDIR=pc, PKG_CONFIG_PATH="")
        r = subprocess.run(["cmake", "-S", t.SOURCE_DIR, "-B", os.path.join(d, "b"), "-DACEXY_TESTS=OFF",
                            "-DCMAKE_C_COMPILER=gcc"], env=env, capture_output=True, text=True, timeout=120)
        cache = ""
        if os.path.exists(os.path.join(d, "b", "CMakeCache.txt")):
            with open(os.path.join(d, "b", "CMakeCache.txt")) as f:
                cache = f.read()
        return r, cache

    def test_msgpack_c_6_name(self):
        r, cache = self.configure_with(keep_msgpack=False, add_msgpack_c=True)
        self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr[-2000:])

    def test_msgpack_c_preferred(self):
        r, cache = self.configure_with(keep_msgpack=True, add_msgpack_c=True)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.assertIn("MSGPACK_MODULE_NAME:INTERNAL=msgpack-c", cache)

    def test_msgpack_old_name(self):
        r, cache = self.configure_with(keep_msgpack=True, add_msgpack_c=False)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])


if __name__ == "__main__":
    t.main()
