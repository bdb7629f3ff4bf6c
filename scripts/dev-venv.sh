#!/usr/bin/env bash
# Makes the project's .venv (`make venv`, part of `make setup`): a small venv of this clone layered
# over the shared one, with the nstyle package installed editable from this clone.
#
#   scripts/dev-venv.sh SHARED_VENV DEST STAMP
#
# The shared venv (torch, the batch extras; ~5 GB in the per-user cache) serves every clone of
# the project, CI's short-lived ones included, so it must never point at one clone. DEST is this
# clone's own venv instead: made with the shared venv's python (same interpreter), it sees the
# shared site-packages through a .pth file (site.addsitedir, so their own .pth files work too),
# its own site-packages first, and holds only `pip install -e plugins/python` (no dependencies,
# no build isolation, no index: setuptools and wheel come from the shared venv, nothing is
# downloaded). DEST/shared-venv names the shared venv for scripts that need its real path
# (the chroots bind it: libnstyle.so's RUNPATH points into its torch).
#
# An old clone's .venv, a symlink to the shared venv, is replaced (the link only; the shared venv
# is left alone). Anything else without STAMP is remade from scratch; STAMP is written last.
set -euo pipefail
shared=$1
dest=$2
stamp=$3
root=$(cd "$(dirname "$0")/.." && pwd)

if [ -L "$dest" ]; then
    rm -f "$dest"
elif [ -e "$dest" ]; then
    rm -rf "$dest"
fi
"$shared/bin/python" -m venv --without-pip "$dest"
# The shared venv's site-packages (purelib and platlib, once each), read from its interpreter.
"$shared/bin/python" - "$dest" <<'PY'
import os, site, sys, sysconfig
dest = sys.argv[1]
shared = []
for key in ("purelib", "platlib"):
    path = os.path.realpath(sysconfig.get_path(key))
    if path not in shared:
        shared.append(path)
ours = os.path.join(dest, os.path.relpath(sysconfig.get_path("purelib"), sys.prefix))
with open(os.path.join(ours, "_nstyle_shared_venv.pth"), "w") as f:
    f.write("import site; " + "; ".join("site.addsitedir(%r)" % p for p in shared) + "\n")
with open(os.path.join(dest, "shared-venv"), "w") as f:
    f.write(os.path.realpath(sys.prefix) + "\n")
PY
"$dest/bin/python" -m pip install --quiet --disable-pip-version-check --no-index --no-deps \
    --no-build-isolation -e "$root/plugins/python"
touch "$stamp"
