#!/bin/sh
# nstyle release bundle installer. No root needed; idempotent (run it again to update).
#
#   ./install.sh --gimp           into every GIMP 2.10 / 3.0 found (profiles in ~/.config/GIMP,
#                                 Flatpak's ~/.var/app/org.gimp.GIMP; GIMP2_DIRECTORY and
#                                 GIMP3_DIRECTORY override), as plug-ins/nstyle/
#   ./install.sh --krita          into Krita's resources (~/.local/share/krita or Flatpak's, or
#                                 KRITA_DATA) as pykrita/nstyle_krita/ + nstyle.desktop, enabled
#                                 in kritarc (KRITA_RC overrides ~/.config/kritarc)
#   ./install.sh --prefix DIR     bin/ lib/ include/ share/ into DIR (pkg-config: DIR/lib/pkgconfig)
#   ./install.sh --uninstall ...  with any of the above: removes exactly what they install
#
# Each install goes to a temporary name first and replaces the old one in one rename, so an
# interrupted install leaves the previous version working.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
config=${XDG_CONFIG_HOME:-$HOME/.config}
data=${XDG_DATA_HOME:-$HOME/.local/share}
marker=.nstyle-release   # written into every folder this script installs; uninstall checks it
version=$(cat "$here/share/nstyle/VERSION" 2>/dev/null || echo unknown)

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "install.sh: $*" >&2; exit 1; }

gimp=0 krita=0 prefix="" uninstall=0
[ $# -gt 0 ] || { usage; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
  --gimp) gimp=1 ;;
  --krita) krita=1 ;;
  --prefix) [ $# -ge 2 ] || die "--prefix needs a folder"; prefix=$2; shift ;;
  --prefix=*) prefix=${1#--prefix=} ;;
  --uninstall) uninstall=1 ;;
  -h | --help) usage; exit 0 ;;
  *) usage >&2; die "unknown argument: $1" ;;
  esac
  shift
done
[ $gimp = 1 ] || [ $krita = 1 ] || [ -n "$prefix" ] || die "say what to install: --gimp, --krita or --prefix DIR"

# The bundle must be whole before anything is touched.
check_bundle() {
  for f in lib/libnstyle.so lib/libtorch_cpu.so share/nstyle/SHA256SUMS; do
    [ -e "$here/$f" ] || die "this bundle is incomplete: $here/$f is missing (unpack the whole tarball again)"
  done
  (cd "$here/share/nstyle" && sha256sum -c --quiet SHA256SUMS >/dev/null 2>&1) ||
    die "a weights file in $here/share/nstyle does not match SHA256SUMS (damaged download? unpack again)"
}

# replace_dir SRC DEST: DEST becomes a copy of SRC (real files), swapped in by one rename.
replace_dir() {
  src=$1 dest=$2
  parent=$(dirname "$dest")
  mkdir -p "$parent"
  if [ -e "$dest" ] && [ ! -e "$dest/$marker" ] && [ ! -e "$dest/libnstyle.so" ] && [ ! -e "$dest/nstyle" ]; then
    die "$dest exists and is not nstyle's; not touching it"
  fi
  tmp=$parent/.$(basename "$dest").installing.$$
  rm -rf "$tmp"
  cp -R "$src" "$tmp"
  echo "$version" >"$tmp/$marker"
  rm -rf "$dest.old.$$"
  [ ! -e "$dest" ] || mv "$dest" "$dest.old.$$"
  mv "$tmp" "$dest"
  rm -rf "$dest.old.$$"
}

remove_dir() { # remove_dir DEST: only a folder this script (or an older nstyle install) made
  dest=$1
  if [ -e "$dest/$marker" ] || [ -e "$dest/libnstyle.so" ]; then
    rm -rf "$dest"
    echo "removed $dest"
  fi
}

# ---------------------------------------------------------------- GIMP

gimp_profiles() { # one "VERSION PROFILE" line per GIMP found
  found=""
  for v in 2.10 3.0; do
    case $v in 2.10) override=${GIMP2_DIRECTORY:-} ;; *) override=${GIMP3_DIRECTORY:-} ;; esac
    if [ -n "$override" ]; then
      echo "$v $override"; found=1; continue
    fi
    for p in "$config/GIMP/$v" "$HOME/.var/app/org.gimp.GIMP/config/GIMP/$v"; do
      if [ -d "$p" ]; then echo "$v $p"; found=1; fi
    done
  done
  [ -n "$found" ] && return 0
  # No profile yet (GIMP never started): the installed program says which version it is.
  for cmd in gimp-3.0 gimp-2.10 gimp; do
    command -v "$cmd" >/dev/null 2>&1 || continue
    case $("$cmd" --version 2>/dev/null) in
    *" 3."*) echo "3.0 $config/GIMP/3.0" ;;
    *" 2.10"*) echo "2.10 $config/GIMP/2.10" ;;
    esac
  done | sort -u
}

do_gimp() {
  profiles=$(gimp_profiles)
  if [ -z "$profiles" ]; then
    [ $uninstall = 1 ] && { echo "GIMP: no profile found, nothing to remove"; return 0; }
    die "GIMP not found: no gimp command on PATH and no profile in $config/GIMP or Flatpak's; install GIMP 2.10 or 3.0 and start it once (or set GIMP2_DIRECTORY / GIMP3_DIRECTORY)"
  fi
  echo "$profiles" | while read -r v profile; do
    dest=$profile/plug-ins/nstyle
    if [ $uninstall = 1 ]; then
      remove_dir "$dest"
      continue
    fi
    src=$here/plugins/gimp-$v/nstyle
    if [ ! -x "$src/nstyle" ]; then
      echo "GIMP $v: this bundle has no GIMP $v plug-in; skipped ($profile)" >&2
      continue
    fi
    replace_dir "$src" "$dest"
    echo "GIMP $v: installed $dest (Filters > Artistic > Neural Style...; restart GIMP)"
  done
}

# ---------------------------------------------------------------- Krita

krita_data() {
  if [ -n "${KRITA_DATA:-}" ]; then echo "$KRITA_DATA"; return; fi
  flatpak=$HOME/.var/app/org.kde.krita/data/krita
  if [ -d "$flatpak" ] && [ ! -d "$data/krita" ]; then echo "$flatpak"; return; fi
  if [ -d "$data/krita" ] || command -v krita >/dev/null 2>&1; then echo "$data/krita"; return; fi
}

# set_kritarc FILE VALUE: [python] enable_nstyle_krita=VALUE, every other line kept.
set_kritarc() {
  file=$1 value=$2
  mkdir -p "$(dirname "$file")"
  [ -e "$file" ] || : >"$file"
  awk -v key=enable_nstyle_krita -v value="$value" '
    /^\[.*\]$/ { if (section == "[python]" && !done) { print key "=" value; done = 1 } section = $0 }
    section == "[python]" && $0 ~ "^" key "=" { if (!done) { print key "=" value; done = 1 } next }
    { print }
    END {
      if (!done) {
        if (section != "[python]") { if (NR > 0) print ""; print "[python]" }
        print key "=" value
      }
    }' "$file" >"$file.nstyle-tmp"
  mv "$file.nstyle-tmp" "$file"
}

do_krita() {
  kdata=$(krita_data)
  kritarc=${KRITA_RC:-$config/kritarc}
  if [ -z "$kdata" ]; then
    [ $uninstall = 1 ] && { echo "Krita: no resource folder found, nothing to remove"; return 0; }
    die "Krita not found: no krita command on PATH and no $data/krita (or Flatpak's); install Krita 5 and start it once (or set KRITA_DATA)"
  fi
  pykrita=$kdata/pykrita
  # An older source install (make install-krita) put the binding, the library and the weights
  # beside the plug-in; they go, so that only one copy is found.
  for old in nstyle libnstyle.so vgg19-caffe-q8-v1.safetensors efficientnet-lite0-v1.safetensors; do
    if [ -e "$pykrita/$old" ]; then rm -rf "${pykrita:?}/$old"; echo "removed an older $pykrita/$old"; fi
  done
  if [ $uninstall = 1 ]; then
    remove_dir "$pykrita/nstyle_krita"
    [ ! -e "$pykrita/nstyle.desktop" ] || { rm -f "$pykrita/nstyle.desktop"; echo "removed $pykrita/nstyle.desktop"; }
    [ ! -e "$kritarc" ] || set_kritarc "$kritarc" false
    return 0
  fi
  zip=$here/plugins/krita/nstyle-krita.zip
  [ -e "$zip" ] || die "this bundle has no $zip"
  stage=$pykrita/.nstyle-unzip.$$
  rm -rf "$stage"
  mkdir -p "$stage"
  # The same files Krita's own importer would take from the zip (unzip, or Python's zipfile).
  if command -v unzip >/dev/null 2>&1; then
    unzip -q "$zip" -d "$stage"
  elif command -v python3 >/dev/null 2>&1; then
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$zip" "$stage"
  else
    rm -rf "$stage"
    die "need unzip or python3 to unpack $zip (or import it in Krita: Tools > Scripts > Import Python Plugin from File)"
  fi
  replace_dir "$stage/nstyle_krita" "$pykrita/nstyle_krita"
  cp "$stage/nstyle.desktop" "$pykrita/.nstyle.desktop.$$" && mv "$pykrita/.nstyle.desktop.$$" "$pykrita/nstyle.desktop"
  rm -rf "$stage"
  set_kritarc "$kritarc" true
  echo "Krita: installed $pykrita/nstyle_krita and nstyle.desktop, enabled in $kritarc (Tools > Scripts > Neural Style...; restart Krita)"
}

# ---------------------------------------------------------------- prefix

do_prefix() {
  manifest=$prefix/share/nstyle/install-manifest.txt
  if [ $uninstall = 1 ]; then
    [ -e "$manifest" ] || { echo "no nstyle install in $prefix"; return 0; }
    while read -r f; do rm -f "$prefix/$f"; done <"$manifest"
    rm -f "$manifest"
    # Folders we made, deepest first, only where now empty.
    for d in share/nstyle share/licenses/nstyle share/licenses/libtorch share/licenses/cuda-runtime \
      share/licenses/weights share/licenses share lib/pkgconfig lib include bin; do
      rmdir "$prefix/$d" 2>/dev/null || true
    done
    echo "removed nstyle from $prefix"
    return 0
  fi
  mkdir -p "$prefix"
  list=$(cd "$here" && find bin lib include share -type f ! -name install-manifest.txt | sort)
  echo "$list" | while read -r f; do
    mkdir -p "$prefix/$(dirname "$f")"
    cp "$here/$f" "$prefix/$f.nstyle-tmp"
    mv "$prefix/$f.nstyle-tmp" "$prefix/$f"
  done
  echo "$list" >"$manifest"
  echo "installed into $prefix: bin/nstyle, lib/libnstyle.so (+ libtorch), include/nstyle.h, lib/pkgconfig/nstyle.pc, share/nstyle/"
  echo "  build with: PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs nstyle"
}

[ $uninstall = 1 ] || check_bundle
[ $gimp = 0 ] || do_gimp
[ $krita = 0 ] || do_krita
[ -z "$prefix" ] || do_prefix
