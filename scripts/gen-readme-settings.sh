#!/usr/bin/env bash
# Regenerates README.md's settings table from the settings table in the code:
#   scripts/gen-readme-settings.sh build/bin/acexy-dataplane
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/bin/acexy-dataplane}
table=$("$bin" --print-settings-markdown)
python3 - "$table" <<'PY'
import sys, re
table = sys.argv[1]
s = open("README.md").read()
s = re.sub(r"(<!-- settings:begin -->\n).*?(<!-- settings:end -->)",
           lambda m: m.group(1) + table.rstrip("\n") + "\n" + m.group(2), s, flags=re.S)
open("README.md", "w").write(s)
PY
