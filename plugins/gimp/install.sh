#!/bin/bash
# Installs a built plug-in folder into a GIMP profile:
#   plugins/gimp/install.sh 2.10|3.0 [BUILT_DIR]
# into $GIMP2_DIRECTORY (default $XDG_CONFIG_HOME/GIMP/2.10) or $GIMP3_DIRECTORY (default
# $XDG_CONFIG_HOME/GIMP/3.0), as plug-ins/nstyle/{nstyle, libnstyle.so, weights}.
set -euo pipefail
version=$1
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
src=${2:-$root/target/gimp/$version/nstyle}
config=${XDG_CONFIG_HOME:-$HOME/.config}
case $version in
2.10) profile=${GIMP2_DIRECTORY:-$config/GIMP/2.10} ;;
3.0) profile=${GIMP3_DIRECTORY:-$config/GIMP/3.0} ;;
*) echo "usage: $0 2.10|3.0 [BUILT_DIR]" >&2; exit 2 ;;
esac
if [ ! -x "$src/nstyle" ]; then
  echo "install.sh: $src/nstyle is not built (make gimp-plugin)" >&2
  exit 1
fi
dest=$profile/plug-ins/nstyle
mkdir -p "$dest"
install -m 755 "$src/nstyle" "$dest/nstyle"
install -m 644 "$src/libnstyle.so" "$dest/libnstyle.so"
for w in "$src"/*.safetensors; do
  [ -e "$w" ] || continue
  cmp -s "$w" "$dest/$(basename "$w")" || install -m 644 "$w" "$dest/"
done
echo "installed the GIMP $version plug-in into $dest"
