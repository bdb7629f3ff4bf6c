#!/bin/bash
# Installs a built plug-in folder into a GIMP profile:
#   plugins/gimp/install.sh 2.10|3.0 [BUILT_DIR]
# into $GIMP2_DIRECTORY (default $XDG_CONFIG_HOME/GIMP/2.10) or $GIMP3_DIRECTORY (default
# $XDG_CONFIG_HOME/GIMP/3.0), as plug-ins/nstyle/{nstyle, libnstyle.so, weights}; without the
# variable also into Flathub's GIMP (org.gimp.GIMP) when its profile,
# ~/.var/app/org.gimp.GIMP/config/GIMP/<version>, exists.
#
# Flatpak GIMP runs its plug-ins inside its sandbox, which has the host's home (Flathub's GIMP
# has --filesystem=host) but its own /usr, /lib, /etc and /app: a library the plug-in needs from
# /usr/local or /usr/lib of the host is not found there. The plug-in finds libnstyle.so beside
# itself ($ORIGIN), and libnstyle.so finds libtorch through its own RUNPATH (this build's
# venv); after installing into the Flatpak profile this says so when that RUNPATH leads into a
# folder the sandbox replaces (the release bundle's install.sh --gimp copies libtorch into the
# plug-in's folder instead).
set -euo pipefail
version=$1
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
src=${2:-$root/target/gimp/$version/nstyle}
config=${XDG_CONFIG_HOME:-$HOME/.config}
flatpak=$HOME/.var/app/org.gimp.GIMP/config/GIMP/$version
case $version in
2.10) override=${GIMP2_DIRECTORY:-} ;;
3.0) override=${GIMP3_DIRECTORY:-} ;;
*) echo "usage: $0 2.10|3.0 [BUILT_DIR]" >&2; exit 2 ;;
esac
if [ ! -x "$src/nstyle" ]; then
  echo "install.sh: $src/nstyle is not built (make gimp-plugin)" >&2
  exit 1
fi
profiles=("${override:-$config/GIMP/$version}")
[ -z "$override" ] && [ -d "$flatpak" ] && profiles+=("$flatpak")

# flatpak_visible DEST: warns about each library the installed plug-in loads from a folder that
# Flatpak's sandbox replaces with its runtime's (the GIMP libraries and the C library are the
# runtime's own there; ours are not).
flatpak_visible() {
  local dest=$1 name path ok=0
  while read -r name path; do
    case $name in libnstyle.so | libtorch* | libc10* | libgomp* | libcudart* | libcupti*) ;; *) continue ;; esac
    case $path in
    /usr/* | /lib/* | /lib64/* | /bin/* | /sbin/* | /etc/* | /app/*)
      echo "install.sh: Flatpak GIMP cannot load $name from $path (its sandbox has its own $(cut -d/ -f2 <<<"$path")/); install the release bundle with its install.sh --gimp, which puts libtorch in the plug-in's folder" >&2
      ok=1 ;;
    esac
  done < <(env -u LD_LIBRARY_PATH ldd "$dest/nstyle" 2>/dev/null | awk '$2 == "=>" { print $1, $3 }')
  return $ok
}

for profile in "${profiles[@]}"; do
  dest=$profile/plug-ins/nstyle
  mkdir -p "$dest"
  install -m 755 "$src/nstyle" "$dest/nstyle"
  install -m 644 "$src/libnstyle.so" "$dest/libnstyle.so"
  for w in "$src"/*.safetensors; do
    [ -e "$w" ] || continue
    cmp -s "$w" "$dest/$(basename "$w")" || install -m 644 "$w" "$dest/"
  done
  if [ "$profile" = "$flatpak" ]; then
    flatpak_visible "$dest" || true
    echo "installed the GIMP $version plug-in into $dest (Flathub's GIMP)"
  else
    echo "installed the GIMP $version plug-in into $dest"
  fi
done
