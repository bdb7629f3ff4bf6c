#!/usr/bin/env bash
# Installs the Neural Style plug-in into a Krita resource folder and enables it.
#
#   plugins/krita/install.sh KRITA_DATA_DIR KRITARC LIBNSTYLE_SO [WEIGHTS...]
#
# KRITA_DATA_DIR is Krita's resource folder (~/.local/share/krita), KRITARC its settings file
# (~/.config/kritarc). Into KRITA_DATA_DIR/pykrita go: nstyle.desktop, the plug-in package
# nstyle_krita/, the binding package nstyle/, and beside them libnstyle.so and the weights files
# (VGG-19 and EfficientNet-Lite0 for the fast backbone and the preview: the library looks for
# them next to itself, the binding for the library next to its package). The
# library keeps its RUNPATH to libtorch; this checks that it resolves.
set -euo pipefail

if [ $# -lt 3 ]; then
    sed -n '2,10p' "$0" >&2
    exit 2
fi
data=$1 kritarc=$2 lib=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
pykrita=$data/pykrita

mkdir -p "$pykrita"
rm -rf "$pykrita/nstyle_krita" "$pykrita/nstyle"
cp -r "$here/nstyle_krita" "$pykrita/nstyle_krita"
cp -r "$root/plugins/python/nstyle" "$pykrita/nstyle"
find "$pykrita/nstyle_krita" "$pykrita/nstyle" -name __pycache__ -prune -exec rm -rf {} +
install -m 644 "$here/nstyle.desktop" "$pykrita/nstyle.desktop"
install -m 755 "$lib" "$pykrita/libnstyle.so"
for weights in "$@"; do
    install -m 644 "$weights" "$pykrita/$(basename "$weights")"
done

# Enable it: [python] enable_nstyle_krita=true in kritarc (other lines kept as they are).
mkdir -p "$(dirname "$kritarc")"
python3 - "$kritarc" <<'EOF'
import os, sys
path = sys.argv[1]
key = "enable_nstyle_krita"
lines = open(path, encoding="utf-8").read().splitlines() if os.path.exists(path) else []
out, section, done = [], None, False
for line in lines:
    stripped = line.strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        if section == "[python]" and not done:
            out.append(key + "=true")
            done = True
        section = stripped
    elif section == "[python]" and stripped.split("=", 1)[0].strip() == key:
        if not done:
            out.append(key + "=true")
            done = True
        continue
    out.append(line)
if not done:
    if section != "[python]":
        if out and out[-1].strip():
            out.append("")
        out.append("[python]")
    out.append(key + "=true")
tmp = path + ".nstyle-tmp"
with open(tmp, "w", encoding="utf-8") as f:
    f.write("\n".join(out) + "\n")
os.replace(tmp, path)
EOF

# libtorch through the library's own RUNPATH
runpath=$(readelf -d "$pykrita/libnstyle.so" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p')
echo "installed into $pykrita (enabled in $kritarc); libnstyle.so RUNPATH: ${runpath:-none}"
deps=$(LD_LIBRARY_PATH= ldd "$pykrita/libnstyle.so" 2>&1 || true)
if ! grep -q 'libtorch_cpu.so => /' <<<"$deps"; then
    echo "warning: libnstyle.so does not find libtorch through its RUNPATH ($runpath);" \
         "Krita will fail to load it" >&2
fi
