#!/usr/bin/env bash
# The wheel in a fresh venv, as a user gets it (`make wheel-test`):
#
#   scripts/dist/wheel-test.sh dist/nstyle-VERSION-py3-none-manylinux_*.whl
#
# pip installs the wheel and torch==2.11.0 from the registry into a new venv (pip's cache, in
# PIP_CACHE_DIR or the real HOME, makes a repeat fast); then, with an empty HOME and no NSTYLE_*
# variables (so neither ~/.cache/nstyle nor the source tree can help), the package loads its own
# library and weights, prints its diagnostics and stylises a small picture.
set -euo pipefail
wheel=$(readlink -f "$1")
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=$root/target/wheel-test
rm -rf "$work"
mkdir -p "$work/home"
export PIP_CACHE_DIR=${PIP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pip}

started=$(date +%s)
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$wheel"
installed=$(date +%s)
size=$(du -sm "$work/venv" | cut -f1)
nstyle_size=$(du -sk "$work/venv"/lib/python3*/site-packages/nstyle | cut -f1)
echo "wheel-test: pip install took $((installed - started)) s; venv $size MiB, of which nstyle $((nstyle_size / 1024)) MiB"

cd "$work"
env -i PATH=/usr/bin:/bin HOME="$work/home" "$work/venv/bin/python" - <<'EOF'
import os, sys, time
import nstyle

site = os.path.dirname(os.path.dirname(nstyle.__file__))
assert nstyle.library_path().startswith(site), nstyle.library_path()
print("nstyle %s (ABI %d) from %s" % (nstyle.version(), nstyle.abi_version(), nstyle.library_path()))
report = nstyle.diagnostics()
print(report)
assert "status: ok" in report, report
assert "matches SHA256SUMS" in report, report
assert os.path.join(site, "torch", "lib") in report, report

w, h = 48, 32
content = bytes(v for y in range(h) for x in range(w) for v in (x * 5, y * 7, 128, 255))
style = bytes(v for y in range(32) for x in range(32)
              for v in (((240, 170, 30, 255) if (x + y) // 4 % 2 else (20, 60, 200, 255))))
started = time.time()
with nstyle.Model(device="cpu") as m:
    m.set_content(content, w, h)
    m.add_style(style, 32, 32)
    m.set_options(size=48, iterations=4)
    m.run()
    pixels = m.fetch(w, h)
print("stylised %dx%d in %.1f s" % (w, h, time.time() - started))
assert len(pixels) == w * h * 4 and pixels != content, "the result is the content"
# Nothing in HOME but, on a CPU with bf16, the one small file keeping the CPU's bf16 decision.
written = [os.path.relpath(os.path.join(d, f), os.environ["HOME"])
           for d, _, files in os.walk(os.environ["HOME"]) for f in files]
assert all(p.startswith(os.path.join(".cache", "nstyle", "cpu-bf16") + os.sep) for p in written), \
    "wrote into HOME: %s" % written
print("wheel-test: ok")
EOF
