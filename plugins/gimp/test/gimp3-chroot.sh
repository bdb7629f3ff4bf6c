# GIMP 3.0 for the tests: Debian 12 has only GIMP 2.10, so GIMP 3.0 (and libgimp-3.0-dev) run in
# a Debian 13 chroot, made once with debootstrap (about 3 minutes, 1.7 GB) and cached in
# $NSTYLE_GIMP3_CHROOT (default ~/.cache/nstyle/gimp3-trixie-v1). Sourced by run-tests.sh.
#
#   gimp3_chroot_ensure          create the chroot if missing (as root; apt-get installs debootstrap)
#   gimp3_chroot_run CMD ARGS... run a command in it, in the current directory, with the repository,
#                                the venv holding libtorch and /proc, /dev, /dev/shm bound at the
#                                same paths (so libnstyle.so's RUNPATH resolves there too)

_gimp3_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
GIMP3_CHROOT=${NSTYLE_GIMP3_CHROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/nstyle/gimp3-trixie-v1}
GIMP3_MIRROR=${NSTYLE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
GIMP3_PACKAGES="gimp libgimp-3.0-dev gcc libc6-dev pkg-config xz-utils"

gimp3_chroot_ensure() {
  [ -e "$GIMP3_CHROOT/.complete" ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "the GIMP 3 chroot needs root to be made ($GIMP3_CHROOT)" >&2
    return 1
  fi
  command -v debootstrap >/dev/null ||
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap; } || return 1
  local tmp=$GIMP3_CHROOT.tmp
  _gimp3_umount "$tmp"
  rm -rf "$tmp"
  mkdir -p "$(dirname "$tmp")"
  echo "making the Debian 13 chroot for GIMP 3.0 in $GIMP3_CHROOT (a few minutes, 1.7 GB)"
  debootstrap --variant=minbase trixie "$tmp" "$GIMP3_MIRROR" || return 1
  mount -t proc proc "$tmp/proc" || return 1
  chroot "$tmp" apt-get update -q &&
    DEBIAN_FRONTEND=noninteractive chroot "$tmp" apt-get install -y -q --no-install-recommends $GIMP3_PACKAGES
  local rc=$?
  umount "$tmp/proc"
  [ $rc = 0 ] || return 1
  chroot "$tmp" apt-get clean
  touch "$tmp/.complete"
  mv "$tmp" "$GIMP3_CHROOT"
}

_gimp3_umount() { # unmount whatever is mounted under $1, deepest first
  local r=$1
  [ -d "$r" ] || return 0
  local m
  for m in $(awk -v r="$(readlink -f "$r")" '$2 ~ "^"r"/" {print $2}' /proc/self/mounts | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m"
  done
}

_gimp3_bind() { # _gimp3_bind PATH: bind PATH at the same place inside the chroot
  local src=$1 dst=$GIMP3_CHROOT$1
  mkdir -p "$dst"
  mount --bind "$src" "$dst"
}

gimp3_chroot_run() {
  local venv
  # The shared venv (libnstyle.so's RUNPATH points into its torch); .venv names it (an old
  # clone's .venv is a link to it).
  venv=$(cat "$_gimp3_root/.venv/shared-venv" 2>/dev/null || readlink -f "$_gimp3_root/.venv")
  _gimp3_umount "$GIMP3_CHROOT"
  mount -t proc proc "$GIMP3_CHROOT/proc" &&
    _gimp3_bind /dev && mount -t tmpfs tmpfs "$GIMP3_CHROOT/dev/shm" &&
    _gimp3_bind "$_gimp3_root" && { [ -z "$venv" ] || _gimp3_bind "$venv"; } || {
    _gimp3_umount "$GIMP3_CHROOT"
    return 1
  }
  local rc
  chroot "$GIMP3_CHROOT" /usr/bin/env -C "$PWD" "$@"
  rc=$?
  _gimp3_umount "$GIMP3_CHROOT"
  return $rc
}
