#!/usr/bin/env bash
# The release bundle on systems that have never seen a build (`make dist-test`):
#
#   scripts/dist/clean-system-test.sh dist/nstyle-VERSION-linux-x86_64.tar.xz
#
# Debian 12 with GIMP 2.10: a minimal root made once with debootstrap and cached in
# $NSTYLE_DIST_ROOT (default ~/.cache/nstyle/dist-bookworm-v1): only Debian's base, GIMP, gcc,
# pkg-config and xz from apt. No Rust, no Python venv, no ~/.cache/nstyle, an empty HOME, an
# environment with nothing but PATH, HOME and LANG. GIMP 3.0: the Debian 13 root of the GIMP 3
# tests, the same way (nothing of the build is mounted into it). In each, a scratch folder gets
# the tarball and three small test images, and scripts/dist/inside-clean-system.sh does what a
# user does: unpack, run, build against it, install into GIMP, run the filter, uninstall. The
# scratch folder goes afterwards: the roots stay as clean as they were. Needs root (chroot).
#
# With NSTYLE_DIST_TORCH_SITE (the venv's site-packages; `make dist-test` sets it) the scratch
# folder also gets the CUDA half of that torch 2.11.0 (torch/lib's CUDA libraries and nvidia/*/lib,
# hard links where the file system allows, else a 3 GB copy) as an "installed torch", and the
# steps inside install the GPU add-on from it with `install.sh --gpu --torch`.
set -euo pipefail
tarball=$(readlink -f "$1")
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/nstyle
bookworm=${NSTYLE_DIST_ROOT:-$cache/dist-bookworm-v1}
mirror=${NSTYLE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
python=${PYTHON:-python3}
[ "$(id -u)" = 0 ] || { echo "clean-system-test: needs root (chroot)" >&2; exit 1; }

umount_under() { # every mount under $1, deepest first
  local m
  for m in $(awk -v r="$(readlink -f "$1")" '$2 ~ "^"r"/" {print $2}' /proc/self/mounts | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m"
  done
}

ensure_bookworm() {
  [ -e "$bookworm/.complete" ] && return 0
  command -v debootstrap >/dev/null ||
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap; }
  local tmp=$bookworm.tmp
  umount_under "$tmp" 2>/dev/null || true
  rm -rf "$tmp"
  mkdir -p "$(dirname "$tmp")"
  echo "making the clean Debian 12 root in $bookworm (once; a few minutes)"
  debootstrap --variant=minbase bookworm "$tmp" "$mirror"
  mount -t proc proc "$tmp/proc"
  local rc=0
  chroot "$tmp" apt-get update -q &&
    DEBIAN_FRONTEND=noninteractive chroot "$tmp" apt-get install -y -q --no-install-recommends \
      gimp gcc libc6-dev pkg-config xz-utils || rc=$?
  umount "$tmp/proc"
  [ $rc = 0 ] || return 1
  chroot "$tmp" apt-get clean
  touch "$tmp/.complete"
  mv "$tmp" "$bookworm"
}

# run_in ROOT GIMP_VERSION: the user's steps in ROOT, from a scratch folder inside it.
run_in() {
  local system=$1 gimp=$2 scratch=$1/scratch-nstyle
  umount_under "$system"
  rm -rf "$scratch"
  mkdir -p "$scratch/home"
  cp "$tarball" "$root/scripts/dist/inside-clean-system.sh" "$root/plugins/c/nstyle_cli.c" "$scratch/"
  "$python" "$root/scripts/dist/test-images.py" "$scratch"
  if [ -n "${NSTYLE_DIST_TORCH_SITE:-}" ]; then
    local site=$NSTYLE_DIST_TORCH_SITE t=$scratch/torch-site f p
    mkdir -p "$t/torch/lib" "$t/nvidia"
    cp "$site/torch/version.py" "$t/torch/"
    for f in libtorch_cpu.so libc10_cuda.so libtorch_cuda.so libtorch_cuda_linalg.so libtorch_nvshmem.so libcaffe2_nvrtc.so; do
      ln "$site/torch/lib/$f" "$t/torch/lib/$f" 2>/dev/null || cp "$site/torch/lib/$f" "$t/torch/lib/$f"
    done
    for p in cu13 cudnn cusparselt nccl nvshmem; do
      mkdir -p "$t/nvidia/$p"
      cp -R -l "$site/nvidia/$p/lib" "$t/nvidia/$p/lib" 2>/dev/null || { rm -rf "$t/nvidia/$p/lib"; cp -R "$site/nvidia/$p/lib" "$t/nvidia/$p/lib"; }
    done
  fi
  mount -t proc proc "$system/proc"
  mount --bind /dev "$system/dev"
  local rc=0
  chroot "$system" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/scratch-nstyle/home \
    LANG=C.UTF-8 bash /scratch-nstyle/inside-clean-system.sh "$gimp" || rc=$?
  umount_under "$system"
  rm -rf "$scratch"
  return $rc
}

ensure_bookworm
rc=0
echo "== Debian 12 (bookworm), GIMP 2.10: $bookworm"
run_in "$bookworm" 2.10 || rc=1
if [ "${NSTYLE_DIST_GIMP3:-1}" != 0 ]; then
  # shellcheck source=../../plugins/gimp/test/gimp3-chroot.sh
  source "$root/plugins/gimp/test/gimp3-chroot.sh"
  gimp3_chroot_ensure
  # A user unpacks a .tar.xz with xz: the GIMP 3 root made before that was asked for lacks it.
  if [ ! -x "$GIMP3_CHROOT/usr/bin/xz" ]; then
    mount -t proc proc "$GIMP3_CHROOT/proc"
    chroot "$GIMP3_CHROOT" apt-get update -q >/dev/null &&
      DEBIAN_FRONTEND=noninteractive chroot "$GIMP3_CHROOT" apt-get install -y -q --no-install-recommends xz-utils >/dev/null
    chroot "$GIMP3_CHROOT" apt-get clean
    umount "$GIMP3_CHROOT/proc"
  fi
  echo "== Debian 13 (trixie), GIMP 3.0: $GIMP3_CHROOT"
  run_in "$GIMP3_CHROOT" 3.0 || rc=1
fi
[ $rc = 0 ] && echo "clean-system-test: ok" || echo "clean-system-test: FAILED" >&2
exit $rc
