#!/bin/bash
# Builds the nstyle GIMP plug-in folder: OUTDIR/nstyle (the binary, rpath $ORIGIN),
# OUTDIR/libnstyle.so and the weights beside it (VGG-19 and EfficientNet-Lite0: the library
# looks next to itself for both), so the folder is what gets installed into a GIMP profile's
# plug-ins/ (GIMP 3 wants the folder and the binary to share a name).
#
#   plugins/gimp/build.sh 2|3 OUTDIR LIBNSTYLE [WEIGHTS...]
#
# Compiles against libgimp-2.0 (front end nstyle-gimp2.c) or libgimp-3.0 (nstyle-gimp3.c), both
# with the shared core nstyle-core.c and the shared UI helpers nstyle-ui.c. Needs pkg-config and
# the libgimp development files. LDFLAGS is added to the link (the release bundle passes
# -rpath-link to its libtorch).
set -euo pipefail
version=$1 out=$2 lib=$3
shift 3 2>/dev/null || set --
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
case $version in
2) pkgs="gimp-2.0 gimpui-2.0 gegl-0.4" front=nstyle-gimp2.c ;;
3) pkgs="gimp-3.0 gimpui-3.0 gegl-0.4" front=nstyle-gimp3.c ;;
*) echo "usage: $0 2|3 OUTDIR LIBNSTYLE [WEIGHTS...]" >&2; exit 2 ;;
esac
if ! pkg-config --exists $pkgs; then
  echo "build.sh: the GIMP $version development files are missing (pkg-config: $pkgs)" >&2
  exit 1
fi
mkdir -p "$out"
# -Wno-deprecated-declarations: GIMP 2.10's GTK 2 API is deprecated as a whole. The GIMP headers
# are system headers (-isystem): GIMP 3.0.4's own do not pass -Wextra.
cflags=$(pkg-config --cflags $pkgs | sed 's/-I/-isystem /g')
${CC:-cc} -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-deprecated-declarations \
  -I"$root/include" $cflags \
  "$here/nstyle-core.c" "$here/nstyle-ui.c" "$here/$front" -o "$out/nstyle.tmp" \
  -L"$(dirname "$lib")" -lnstyle $(pkg-config --libs $pkgs) -lm \
  -Wl,-rpath,'$ORIGIN' -Wl,--enable-new-dtags ${LDFLAGS:-}
mv "$out/nstyle.tmp" "$out/nstyle"
# The library keeps its own RUNPATH (libtorch in the build's venv); the weights beside it are one
# of the places it looks with no configuration.
install -m 644 "$lib" "$out/libnstyle.so"
for weights in "$@"; do
  if ! cmp -s "$weights" "$out/$(basename "$weights")"; then
    install -m 644 "$weights" "$out/$(basename "$weights")"
  fi
done
echo "built $out/nstyle (GIMP $version)"
