#!/usr/bin/env bash
# The Krita tests (run-tests.sh) inside Krita 5.2, where the plug-in shows a selection's result
# through a transparency mask (Document.createTransparencyMask; Debian 12's Krita 5.1 has no such
# call and takes the alpha fallback). Krita 5.2 runs in a Debian 13 chroot made once with
# debootstrap (a few minutes, about 2 GB) and cached in $NSTYLE_KRITA52_CHROOT (default
# ~/.cache/nstyle/krita52-trixie-v1). Needs root (debootstrap, chroot, bind mounts).
#
#   plugins/krita/test/krita52-chroot.sh LIBNSTYLE_SO WEIGHTS LITE_WEIGHTS
#
# The repository, the venv holding libtorch (libnstyle.so's RUNPATH), both weights files (VGG-19;
# EfficientNet-Lite0, which the dialog's preview runs on), /proc and /dev are bound at the same
# paths inside; results go to target/krita52-test.
set -uo pipefail

if [ $# -ne 3 ]; then
    sed -n '2,13p' "$0" >&2
    exit 2
fi
lib=$(realpath "$1")
weights=$(realpath "$2")
lite=$(realpath "$3")
for f in "$lib" "$weights" "$lite"; do
    [ -f "$f" ] || { echo "FAIL krita52_chroot: $f is missing (make build weights lite-weights)"; exit 1; }
done
root=$(cd "$(dirname "$0")/../../.." && pwd)
chroot_dir=${NSTYLE_KRITA52_CHROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/nstyle/krita52-trixie-v1}
mirror=${NSTYLE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages="krita python3-pyqt5 xvfb xauth binutils"  # binutils: readelf for install.sh

if [ "$(id -u)" != 0 ]; then
    echo "FAIL krita52_chroot: needs root (debootstrap, chroot, bind mounts)"
    exit 1
fi

unmount_under() { # every mount under $1, deepest first
    local m
    for m in $(awk -v r="$(readlink -f "$1")/" 'index($2, r) == 1 {print $2}' /proc/self/mounts |
               sort -r); do
        umount "$m" 2>/dev/null || umount -l "$m"
    done
}

if [ ! -e "$chroot_dir/.complete" ]; then
    command -v debootstrap >/dev/null ||
        { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap; } ||
        { echo "FAIL krita52_chroot: cannot install debootstrap"; exit 1; }
    tmp=$chroot_dir.tmp
    unmount_under "$tmp"
    rm -rf "$tmp"
    mkdir -p "$(dirname "$tmp")"
    echo "making the Debian 13 chroot for Krita 5.2 in $chroot_dir (a few minutes, ~2 GB)"
    debootstrap --variant=minbase trixie "$tmp" "$mirror" >"$tmp.log" 2>&1 &&
        mount -t proc proc "$tmp/proc" &&
        chroot "$tmp" apt-get update -q >>"$tmp.log" 2>&1 &&
        DEBIAN_FRONTEND=noninteractive chroot "$tmp" apt-get install -y -q \
            --no-install-recommends $packages >>"$tmp.log" 2>&1
    rc=$?
    unmount_under "$tmp"
    if [ $rc != 0 ]; then
        tail -n 20 "$tmp.log"
        echo "FAIL krita52_chroot: debootstrap or apt-get failed (log: $tmp.log)"
        exit 1
    fi
    chroot "$tmp" apt-get clean
    touch "$tmp/.complete"
    mv "$tmp" "$chroot_dir"
    rm -f "$tmp.log"
fi

# a chroot made when the list was shorter gets what is missing
installed() {
    local p
    for p in $packages; do
        chroot "$chroot_dir" dpkg-query -W -f '${Status}' "$p" 2>/dev/null |
            grep -q 'install ok installed' || return 1
    done
}
if ! installed; then
    mount -t proc proc "$chroot_dir/proc" &&
        chroot "$chroot_dir" apt-get update -q >/dev/null &&
        DEBIAN_FRONTEND=noninteractive chroot "$chroot_dir" apt-get install -y -q \
            --no-install-recommends $packages >/dev/null &&
        chroot "$chroot_dir" apt-get clean
    rc=$?
    unmount_under "$chroot_dir"
    [ $rc = 0 ] || { echo "FAIL krita52_chroot: apt-get install $packages failed"; exit 1; }
fi

bind() { # bind a file or folder at the same path inside the chroot
    local dst=$chroot_dir$1
    if [ -d "$1" ]; then mkdir -p "$dst"; else mkdir -p "$(dirname "$dst")"; touch "$dst"; fi
    mount --bind "$1" "$dst"
}

# The shared venv (libnstyle.so's RUNPATH points into its torch); .venv names it (an old clone's
# .venv is a link to it).
venv=$(cat "$root/.venv/shared-venv" 2>/dev/null || readlink -f "$root/.venv" 2>/dev/null || true)
unmount_under "$chroot_dir"
trap 'unmount_under "$chroot_dir"' EXIT
mount -t proc proc "$chroot_dir/proc" && bind /dev && mount -t tmpfs tmpfs "$chroot_dir/dev/shm" &&
    bind "$root" && bind "$weights" && bind "$lite" &&
    { [ -z "$venv" ] || [ ! -d "$venv" ] || bind "$venv"; } ||
    { echo "FAIL krita52_chroot: cannot bind the repository, venv and weights"; exit 1; }
echo "Krita $(chroot "$chroot_dir" dpkg-query -W -f '${Version}' krita) in $chroot_dir"
chroot "$chroot_dir" /usr/bin/env -C "$root" PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    NSTYLE_KRITA_TEST_OUT="$root/target/krita52-test" \
    bash plugins/krita/test/run-tests.sh "$lib" "$weights" "$lite"
