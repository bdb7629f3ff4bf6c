#!/usr/bin/env python3
"""Builds the nstyle wheel (`make wheel`): the ctypes binding, libnstyle.so and the weights.

    make-wheel.py VERSION LIBNSTYLE_SO BINDING_DIR OUT_DIR WEIGHTS...

libnstyle.so is the ordinary build (linked against the PyPI torch 2.11 of the venv); here its
RUNPATH becomes $ORIGIN/../torch/lib, so that installed in site-packages/nstyle/ it loads the
libtorch of the `torch==2.11.0` the wheel requires, as torch extensions do. The weights and their
SHA256SUMS go beside it, where the library looks first. The platform tag is manylinux_2_N for the
newest glibc symbol version the library uses, so pip refuses it on an older system instead of
failing at import. Needs patchelf, objdump and strip.
"""

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile



def project_requirements():
    """(torch requirement, the `batch` extra) from plugins/python/pyproject.toml, the metadata
    the clone's editable install (`make setup`) also uses, so that the two agree."""
    import tomllib

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "plugins", "python", "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    (torch,) = project["dependencies"]
    # `pip install nstyle[batch]`: what nstyle.batch and nstyle.video need.
    return torch, project["optional-dependencies"]["batch"]


TORCH_REQUIREMENT, BATCH_EXTRA = project_requirements()


def glibc_floor(path):
    """The newest GLIBC_2.N symbol version `path` needs, as (2, N)."""
    out = subprocess.run(["objdump", "-T", path], check=True, capture_output=True,
                         text=True).stdout
    versions = {tuple(int(p) for p in v.split(".")) for v in re.findall(r"GLIBC_(2\.\d+)", out)}
    return max(versions) if versions else (2, 17)


def record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (arcname, digest, len(data))


def main():
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    version, lib, binding, out_dir = sys.argv[1:5]
    weights = sys.argv[5:]
    with tempfile.TemporaryDirectory() as tmp:
        staged_lib = os.path.join(tmp, "libnstyle.so")
        shutil.copyfile(lib, staged_lib)
        subprocess.run(["strip", "--strip-unneeded", staged_lib], check=True)
        subprocess.run(["patchelf", "--set-rpath", "$ORIGIN/../torch/lib", staged_lib],
                       check=True)
        major, minor = glibc_floor(staged_lib)
        tag = "py3-none-manylinux_%d_%d_x86_64" % (major, minor)

        files = {}  # arcname -> bytes
        for folder, dirs, names in os.walk(binding):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(n for n in names if n.endswith(".py")):
                path = os.path.join(folder, name)
                arcname = "nstyle/" + os.path.relpath(path, binding).replace(os.sep, "/")
                with open(path, "rb") as f:
                    files[arcname] = f.read()
        with open(staged_lib, "rb") as f:
            files["nstyle/libnstyle.so"] = f.read()
        sums = []
        for path in weights:
            with open(path, "rb") as f:
                data = f.read()
            files["nstyle/" + os.path.basename(path)] = data
            sums.append("%s  %s\n" % (hashlib.sha256(data).hexdigest(), os.path.basename(path)))
        files["nstyle/SHA256SUMS"] = "".join(sums).encode()

        dist_info = "nstyle-%s.dist-info" % version
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        with open(os.path.join(root, "LICENSE"), "rb") as f:
            files[dist_info + "/LICENSE"] = f.read()
        with open(os.path.join(root, "scripts", "dist", "PROVENANCE.md"), "rb") as f:
            files[dist_info + "/PROVENANCE.md"] = f.read()
        files[dist_info + "/METADATA"] = (
            "Metadata-Version: 2.1\n"
            "Name: nstyle\n"
            "Version: %s\n"
            "Summary: Neural style transfer (Gatys et al.) with the original VGG-19, on libtorch\n"
            "License: MIT\n"
            "Requires-Python: >=3.9\n"
            "Requires-Dist: %s\n"
            "Provides-Extra: batch\n"
            "%s"
            "\n"
            "The nstyle library (libnstyle.so, built for libtorch 2.11) with its Python binding\n"
            "and weights. `import nstyle; nstyle.Model()` needs nothing else; print\n"
            "`nstyle.diagnostics()` for a self-check. `pip install nstyle[batch]` adds what\n"
            "`python -m nstyle batch|video` needs (Ray, OpenCV, imageio-ffmpeg).\n"
            % (version, TORCH_REQUIREMENT,
               "".join('Requires-Dist: %s; extra == "batch"\n' % r for r in BATCH_EXTRA))
        ).encode()
        files[dist_info + "/WHEEL"] = (
            "Wheel-Version: 1.0\nGenerator: nstyle make-wheel.py\nRoot-Is-Purelib: false\n"
            "Tag: %s\n" % tag).encode()
        record_name = dist_info + "/RECORD"
        record = [record_line(n, d) for n, d in files.items()] + [record_name + ",,"]

        os.makedirs(out_dir, exist_ok=True)
        wheel = os.path.join(out_dir, "nstyle-%s-%s.whl" % (version, tag))
        partial = wheel + ".tmp"
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in files.items():
                info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, data)
            z.writestr(zipfile.ZipInfo(record_name, date_time=(2026, 1, 1, 0, 0, 0)),
                       "\n".join(record) + "\n")
        os.replace(partial, wheel)
    print("make-wheel: %s (%.1f MiB)" % (wheel, os.path.getsize(wheel) / 2**20))


if __name__ == "__main__":
    main()
