#!/usr/bin/env python3
"""Prints the machine's own Debian apt sources for one suite family, read at
run time from /etc/apt/sources.list and /etc/apt/sources.list.d (one-line and
deb822 formats), so no mirror host is ever written into the repository.

  host-apt-sources.py SUITE --mirror     the URI that serves SUITE itself
  host-apt-sources.py SUITE --sources    deb822 entries for SUITE, SUITE-updates
                                         and SUITE-security (main only), signed
                                         by the Debian archive keyring
Exit 1 with a message when the machine has no source for SUITE.
"""
import glob
import os
import sys

ROOT = os.environ.get("APT_SOURCES_ROOT", "/etc/apt")


def one_line(path):
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            words = line.split()
            if words[0] != "deb":
                continue
            words = words[1:]
            if words and words[0].startswith("["):  # [ options ]
                while words and not words[0].endswith("]"):
                    words.pop(0)
                words.pop(0)
            if len(words) >= 3:
                out.append((words[0], [words[1]], words[2:]))
    return out


def deb822(path):
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    for stanza in text.split("\n\n"):
        fields, key = {}, None
        for line in stanza.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line[0] in " \t" and key:
                fields[key] += " " + line.strip()
                continue
            if ":" in line:
                key, value = line.split(":", 1)
                key = key.strip().lower()
                fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        for uri in fields.get("uris", "").split():
            out.append((uri, fields.get("suites", "").split(), fields.get("components", "").split()))
    return out


def entries():
    out = []
    main = os.path.join(ROOT, "sources.list")
    if os.path.isfile(main):
        out += one_line(main)
    for p in sorted(glob.glob(os.path.join(ROOT, "sources.list.d", "*"))):
        if p.endswith(".list"):
            out += one_line(p)
        elif p.endswith(".sources"):
            out += deb822(p)
    return out


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in ("--mirror", "--sources"):
        sys.stderr.write(__doc__)
        return 2
    suite = sys.argv[1]
    wanted = {suite, suite + "-updates", suite + "-security"}
    found = {}
    for uri, suites, comps in entries():
        if "main" not in comps:
            continue
        for s in suites:
            if s in wanted:
                found.setdefault(s, uri.rstrip("/"))
    if suite not in found:
        sys.stderr.write(f"no apt source for suite {suite} (main) in {ROOT}/sources.list*\n")
        return 1
    if sys.argv[2] == "--mirror":
        print(found[suite])
        return 0
    for s in (suite, suite + "-updates", suite + "-security"):
        if s in found:
            print(f"Types: deb\nURIs: {found[s]}\nSuites: {s}\nComponents: main\n"
                  "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
