#!/bin/bash
# The GIMP plug-in's installers and Flathub's GIMP (org.gimp.GIMP, issue 27), for make
# install-check. There is no flatpak on the test machine: the test makes, in scratch homes, the
# profile folder Flathub's GIMP makes when it first starts (~/.var/app/org.gimp.GIMP/config/
# GIMP/<version>) or puts a stand-in `flatpak` command on PATH (GIMP installed, never started),
# and checks that both installers put the plug-in into that profile and that the installed
# plug-in loads libnstyle.so from its own folder inside the home, and nothing of ours from a
# folder the sandbox replaces (/usr, /lib, /etc, /app: the runtime's own there). What it cannot
# check: GIMP itself running the plug-in inside the sandbox.
#
#   plugins/gimp/test/flatpak-install.sh WORK_DIR LIBNSTYLE
#
# Needs GIMP 2.10's development files to build a real plug-in folder (the GIMP 3.0 folder of the
# stand-in bundle is the same build: the installers only copy it). Exits 1 on a failed check.
set -uo pipefail
work=$1 lib=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)

failed=0
check() { # check NAME COMMAND...
  local name=$1
  shift
  if "$@" >"$work/check.log" 2>&1; then
    echo "flatpak-install: ok   $name"
  else
    echo "flatpak-install: FAIL $name"
    sed 's/^/    /' "$work/check.log" | tail -n 8
    failed=1
  fi
}

if ! pkg-config --exists gimp-2.0 gimpui-2.0 gegl-0.4; then
  echo "flatpak-install: FAIL no GIMP 2.10 development files to build the plug-in (apt-get install libgimp2.0-dev)"
  exit 1
fi
built=$work/built/nstyle
"$root/plugins/gimp/build.sh" 2 "$built" "$lib" >"$work/build.log" 2>&1 ||
  { echo "flatpak-install: FAIL the plug-in does not build (see $work/build.log)"; exit 1; }

# loads_from_home NSTYLE HOME: the installed plug-in's RUNPATH is $ORIGIN, ldd finds libnstyle.so
# beside it (inside HOME), and no library of ours in a folder the Flatpak sandbox replaces.
loads_from_home() {
  local bin=$1 home=$2 libs
  readelf -d "$bin" | grep -E 'R(UN)?PATH' | grep -q '\[\$ORIGIN\]' || { echo "RUNPATH: $(readelf -d "$bin" | grep -E 'R(UN)?PATH')"; return 1; }
  libs=$(env -u LD_LIBRARY_PATH ldd "$bin" | awk '$2 == "=>" { print $1, $3 }' |
    grep -E '^(libnstyle|libtorch|libc10|libgomp)')
  echo "$libs"
  grep -qx "libnstyle.so $(dirname "$bin")/libnstyle.so" <<<"$libs" || return 1
  [[ $(dirname "$bin") == "$home"/* ]] || return 1
  ! grep -E ' /(usr|lib|lib64|bin|sbin|etc|app)/' <<<"$libs"
}

# 1. make install-gimp's installer (plugins/gimp/install.sh), Flathub's GIMP 2.10 started once.
home=$work/home-source
fp=$home/.var/app/org.gimp.GIMP/config/GIMP/2.10
mkdir -p "$fp"
env -u XDG_CONFIG_HOME -u GIMP2_DIRECTORY HOME="$home" "$root/plugins/gimp/install.sh" 2.10 "$built" \
  >"$work/source-install.log" 2>&1
check "install.sh 2.10 (make install-gimp) installs into Flathub's GIMP profile and the usual one" \
  test -x "$fp/plug-ins/nstyle/nstyle" -a -f "$fp/plug-ins/nstyle/libnstyle.so" \
  -a -x "$home/.config/GIMP/2.10/plug-ins/nstyle/nstyle"
check "install.sh 2.10: the Flatpak copy loads libnstyle.so from its own folder in the home, nothing of ours from the sandbox's /usr, /lib, /etc" \
  loads_from_home "$fp/plug-ins/nstyle/nstyle" "$home"
check "install.sh 2.10: no warning that the sandbox cannot load a library" \
  bash -c "cat '$work/source-install.log'; ! grep -q 'cannot load' '$work/source-install.log'"
# The warning itself: an ldd that answers that libtorch comes from /usr/local (as it would for a
# libnstyle.so built against a libtorch installed there).
fakeldd=$work/fake-ldd
mkdir -p "$fakeldd"
printf '%s\n' '#!/bin/sh' 'echo "	libnstyle.so => $(dirname "$1")/libnstyle.so (0x1)"' \
  'echo "	libtorch_cpu.so => /usr/local/lib/libtorch_cpu.so (0x2)"' >"$fakeldd/ldd"
chmod +x "$fakeldd/ldd"
check "install.sh 2.10: warns when libtorch would come from /usr/local, which the sandbox replaces" bash -c "
  env -u XDG_CONFIG_HOME -u GIMP2_DIRECTORY HOME='$home' PATH='$fakeldd:$PATH' '$root/plugins/gimp/install.sh' 2.10 '$built' 2>&1 |
    tee /dev/stderr | grep -q 'Flatpak GIMP cannot load libtorch_cpu.so from /usr/local/lib/libtorch_cpu.so'"
check "install.sh 2.10 with GIMP2_DIRECTORY: that profile only" bash -c "
  rm -rf '$fp/plug-ins' && env HOME='$home' GIMP2_DIRECTORY='$work/other' '$root/plugins/gimp/install.sh' 2.10 '$built' &&
  test -x '$work/other/plug-ins/nstyle/nstyle' -a ! -e '$fp/plug-ins'"

# 2. The release bundle's install.sh --gimp, from a stand-in bundle: its check of the bundle
# wants lib/libnstyle.so, lib/libtorch_cpu.so and share/nstyle/SHA256SUMS; its GIMP plug-in
# folders are the build above.
bundle=$work/bundle
mkdir -p "$bundle/lib" "$bundle/share/nstyle" "$bundle/plugins/gimp-2.10" "$bundle/plugins/gimp-3.0"
cp "$lib" "$bundle/lib/libnstyle.so"
: >"$bundle/lib/libtorch_cpu.so"
echo "stand-in" >"$bundle/share/nstyle/stand-in.safetensors"
(cd "$bundle/share/nstyle" && sha256sum stand-in.safetensors >SHA256SUMS)
echo "flatpak-test" >"$bundle/share/nstyle/VERSION"
cp "$root/scripts/dist/install.sh" "$bundle/install.sh"
cp -R "$built" "$bundle/plugins/gimp-2.10/nstyle"
cp -R "$built" "$bundle/plugins/gimp-3.0/nstyle"
# No GIMP of the host's in the way: PATH holds the tools install.sh uses and, where asked, a
# stand-in `flatpak` that knows Flathub's GIMP 3.0.4.
tools=$work/tools
mkdir -p "$tools"
for t in sh bash sed awk cp mv rm mkdir cat sort find dirname basename sha256sum grep cut head tr date id chmod ln stat du df touch; do
  ln -sf "$(command -v $t)" "$tools/$t"
done
stub=$work/stub
mkdir -p "$stub"
printf '%s\n' '#!/bin/sh' '[ "$1 $2" = "info org.gimp.GIMP" ] || exit 1' \
  'printf "\nGNU Image Manipulation Program - Create images and edit photographs\n\n          ID: org.gimp.GIMP\n         Ref: app/org.gimp.GIMP/x86_64/stable\n        Arch: x86_64\n      Branch: stable\n     Version: 3.0.4\n"' \
  >"$stub/flatpak"
chmod +x "$stub/flatpak"

home=$work/home-bundle
fp=$home/.var/app/org.gimp.GIMP/config/GIMP/3.0
mkdir -p "$fp"
env -i HOME="$home" PATH="$tools" "$bundle/install.sh" --gimp >"$work/bundle-install.log" 2>&1
check "install.sh --gimp (bundle) finds Flathub's GIMP 3.0 by its profile and installs there, nowhere else" bash -c "
  cat '$work/bundle-install.log'; test -x '$fp/plug-ins/nstyle/nstyle' -a -e '$fp/plug-ins/nstyle/.nstyle-release' -a ! -e '$home/.config' &&
  grep -q \"Flathub's GIMP runs the plug-in in its sandbox\" '$work/bundle-install.log'"
check "install.sh --gimp (bundle): the Flatpak copy loads libnstyle.so from its own folder in the home" \
  loads_from_home "$fp/plug-ins/nstyle/nstyle" "$home"
check "install.sh --uninstall --gimp (bundle) removes it from Flathub's profile" bash -c "
  env -i HOME='$home' PATH='$tools' '$bundle/install.sh' --uninstall --gimp && test ! -e '$fp/plug-ins/nstyle' -a -d '$fp'"

home=$work/home-never-started
mkdir -p "$home"
env -i HOME="$home" PATH="$stub:$tools" "$bundle/install.sh" --gimp >"$work/bundle-install-2.log" 2>&1
check "install.sh --gimp (bundle), Flathub's GIMP installed but never started: flatpak info says 3.0, the plug-in goes into its profile" bash -c "
  cat '$work/bundle-install-2.log'; test -x '$home/.var/app/org.gimp.GIMP/config/GIMP/3.0/plug-ins/nstyle/nstyle'"
check "install.sh --gimp (bundle), no GIMP at all: refused with a message naming Flatpak" bash -c "
  ! env -i HOME='$work/home-none' PATH='$tools' '$bundle/install.sh' --gimp 2>'$work/none.log'; cat '$work/none.log'; grep -q Flatpak '$work/none.log'"

[ $failed = 0 ] && echo "flatpak-install: ok (simulated Flatpak profiles under $work; GIMP inside a real sandbox not run here)"
exit $failed
