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
#   ./install.sh --gpu            the GPU add-on: the CUDA half of torch 2.11.0 (pip downloads the
#                                 pinned, hash-checked wheels, about 2.5 GB) into lib/cuda-2.11.0/,
#                                 or ~/.local/share/nstyle/cuda-2.11.0/ when lib/ is not writable
#   ./install.sh --gpu --torch DIR  the same from an installed torch 2.11.0 (a site-packages folder
#                                 or the torch package folder), nothing downloaded
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

usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "install.sh: $*" >&2; exit 1; }

gimp=0 krita=0 prefix="" uninstall=0 gpu=0 torch_from=""
[ $# -gt 0 ] || { usage; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
  --gimp) gimp=1 ;;
  --krita) krita=1 ;;
  --prefix) [ $# -ge 2 ] || die "--prefix needs a folder"; prefix=$2; shift ;;
  --prefix=*) prefix=${1#--prefix=} ;;
  --uninstall) uninstall=1 ;;
  --gpu) gpu=1 ;;
  --torch) [ $# -ge 2 ] || die "--torch needs a folder"; torch_from=$2; shift ;;
  --torch=*) torch_from=${1#--torch=} ;;
  -h | --help) usage; exit 0 ;;
  *) usage >&2; die "unknown argument: $1" ;;
  esac
  shift
done
[ $gimp = 1 ] || [ $krita = 1 ] || [ -n "$prefix" ] || [ $gpu = 1 ] || die "say what to install: --gimp, --krita, --prefix DIR or --gpu"
[ -z "$torch_from" ] || [ $gpu = 1 ] || die "--torch goes with --gpu"

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
  for old in nstyle libnstyle.so vgg19-caffe-q8-v1.safetensors efficientnet-lite0-v1.safetensors \
    magenta-arbitrary-v1.safetensors; do
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
  # The GPU add-on (lib/cuda-2.11.0) stays in the bundle: the installed library finds it in
  # ~/.local/share/nstyle/cuda-2.11.0 (install.sh --gpu puts it there when lib/ is not writable).
  list=$(cd "$here" && find bin lib include share -path lib/cuda-2.11.0 -prune -o -type f ! -name install-manifest.txt -print | sort)
  echo "$list" | while read -r f; do
    mkdir -p "$prefix/$(dirname "$f")"
    cp "$here/$f" "$prefix/$f.nstyle-tmp"
    mv "$prefix/$f.nstyle-tmp" "$prefix/$f"
  done
  echo "$list" >"$manifest"
  echo "installed into $prefix: bin/nstyle, lib/libnstyle.so (+ libtorch), include/nstyle.h, lib/pkgconfig/nstyle.pc, share/nstyle/"
  echo "  build with: PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs nstyle"
}

# ---------------------------------------------------------------- GPU add-on

# The CUDA half of torch 2.11.0 laid out as in the wheels (torch/lib/ and nvidia/*/lib/), so that
# libtorch_cuda.so's own RPATH ($ORIGIN/../../nvidia/...) finds its CUDA libraries. BUILD says
# which libtorch_cpu.so it belongs with; the library checks it before loading (src/cuda_loader.rs).
addon=cuda-2.11.0
torch_version=2.11.0
cuda_libs="libtorch_cuda.so libc10_cuda.so libtorch_cuda_linalg.so libtorch_nvshmem.so libcaffe2_nvrtc.so"
nvidia_pkgs="cu13 cudnn cusparselt nccl nvshmem"

pin() { sed -n "s/^# nstyle-$1: //p" "$here/share/nstyle/gpu-pins.txt"; }
mib() { echo $((($1 + 1048575) / 1048576)); }
free_bytes() { echo $(($(df -Pk "$1" | awk 'NR == 2 { print $4 }') * 1024)); }
need_space() { # need_space DIR BYTES WHAT
  free=$(free_bytes "$1")
  [ "$free" -ge "$2" ] || die "not enough free space in $1 for $3: $(mib "$2") MiB needed, $(mib "$free") MiB free"
}

# The torch package folder inside DIR (a site-packages folder or the torch folder itself).
torch_site() {
  if [ -e "$1/torch/version.py" ]; then (cd "$1" && pwd)
  elif [ -e "$1/version.py" ] && [ -d "$1/lib" ]; then (cd "$1/.." && pwd)
  else return 1
  fi
}

# copy_tree SRC DEST: hard links when SRC is on the same file system (no space taken), else a copy.
copy_tree() {
  mkdir -p "$(dirname "$2")"
  cp -R -l "$1" "$2" 2>/dev/null || { rm -rf "$2"; cp -R "$1" "$2"; }
}

do_gpu() {
  dests="$here/lib/$addon $data/nstyle/$addon"
  if [ $uninstall = 1 ]; then
    for d in $dests; do
      if [ -e "$d/$marker" ] && [ -e "$d/BUILD" ]; then rm -rf "$d"; echo "removed the GPU add-on $d"; fi
    done
    return 0
  fi
  [ -e "$here/share/nstyle/gpu-pins.txt" ] || die "this bundle has no share/nstyle/gpu-pins.txt (too old for --gpu)"
  ours=$("$here/bin/nstyle" build-id "$here/lib/libtorch_cpu.so") || die "cannot read the build ID of $here/lib/libtorch_cpu.so"
  [ "$(pin libtorch-cpu-build-id)" = "$ours" ] ||
    die "share/nstyle/gpu-pins.txt is for another libtorch build ($(pin libtorch-cpu-build-id), this bundle's is $ours)"
  if [ -w "$here/lib" ]; then dest=$here/lib/$addon; else dest=$data/nstyle/$addon; fi
  parent=$(dirname "$dest")
  mkdir -p "$parent"
  stage=$parent/.$addon.installing
  downloads=$parent/.$addon.downloads # kept until an install succeeds: a re-run resumes
  rm -rf "$stage"
  mkdir -p "$stage/torch/lib" "$stage/nvidia" "$stage/licenses"
  trap 'rm -rf "$stage"' EXIT
  downloaded=0
  if [ -n "$torch_from" ]; then
    site=$(torch_site "$torch_from") || die "--torch $torch_from: no torch package there (give a site-packages folder or the torch folder)"
    v=$(sed -n "s/^__version__ *= *['\"]\([^'\"+]*\).*/\1/p" "$site/torch/version.py")
    [ "$v" = "$torch_version" ] || die "--torch $site/torch is torch ${v:-?}; the add-on needs torch $torch_version"
    theirs=$("$here/bin/nstyle" build-id "$site/torch/lib/libtorch_cpu.so") || die "cannot read $site/torch/lib/libtorch_cpu.so"
    [ "$theirs" = "$ours" ] ||
      die "--torch $site/torch is another torch $torch_version build (libtorch_cpu build ID $theirs, this bundle's $ours): install.sh --gpu without --torch downloads the right one"
    need=0
    for lib in $cuda_libs; do
      [ -e "$site/torch/lib/$lib" ] || die "--torch $site/torch has no lib/$lib: not the CUDA build of torch"
      need=$((need + $(stat -L -c %s "$site/torch/lib/$lib")))
    done
    for p in $nvidia_pkgs; do
      [ -d "$site/nvidia/$p/lib" ] || die "--torch: $site/nvidia/$p/lib is missing (torch's CUDA libraries)"
      need=$((need + $(du -s -L --block-size=1 "$site/nvidia/$p/lib" | cut -f1)))
    done
    # Hard links take no room; a copy needs it all.
    linked=" (copied)"
    if ln "$site/torch/lib/libc10_cuda.so" "$stage/.linktest" 2>/dev/null; then
      rm -f "$stage/.linktest"
      linked=" (hard links to $site: no extra room taken)"
    else need_space "$parent" "$need" "the GPU add-on"
    fi
    echo "GPU add-on: taking torch $torch_version's CUDA half from $site ($(mib "$need") MiB)"
    for lib in $cuda_libs; do
      ln "$site/torch/lib/$lib" "$stage/torch/lib/$lib" 2>/dev/null || cp "$site/torch/lib/$lib" "$stage/torch/lib/$lib"
    done
    for p in $nvidia_pkgs; do copy_tree "$site/nvidia/$p/lib" "$stage/nvidia/$p/lib"; done
    for d in "$site"/torch-"$torch_version".dist-info "$site"/nvidia_*.dist-info; do
      [ -d "$d" ] || continue
      mkdir -p "$stage/licenses/$(basename "$d")"
      find "$d" -maxdepth 2 -type f -iname '*licen[cs]e*' -exec cp {} "$stage/licenses/$(basename "$d")/" \;
    done
  else
    python3 -m pip --version >/dev/null 2>&1 ||
      die "--gpu downloads with pip: install python3-pip (Debian/Ubuntu: apt install python3-pip), or give --torch DIR with an installed torch $torch_version"
    total=$(pin download-bytes)
    mkdir -p "$downloads"
    have=$(du -s --block-size=1 "$downloads" | cut -f1)
    # The wheels still to come, then the installed files (about 1.3 times the wheels).
    need_space "$parent" $((total - have + total * 13 / 10)) "the GPU add-on's download and install"
    echo "GPU add-on: downloading torch $torch_version's CUDA half, $(mib "$total") MiB in all ($(mib "$have") MiB already in $downloads)"
    grep -v '^#' "$here/share/nstyle/gpu-pins.txt" >"$downloads/requirements.txt"
    tries=0
    until python3 -m pip download --no-deps --require-hashes --only-binary=:all: \
      --implementation cp --python-version 3.11 --abi cp311 \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_25_x86_64 \
      --platform manylinux_2_24_x86_64 --platform manylinux_2_18_x86_64 --platform manylinux_2_17_x86_64 \
      --platform manylinux2014_x86_64 --platform manylinux_2_12_x86_64 --platform manylinux2010_x86_64 \
      --platform manylinux_2_5_x86_64 --platform manylinux1_x86_64 \
      --progress-bar off -q -d "$downloads" -r "$downloads/requirements.txt"; do
      tries=$((tries + 1))
      [ $tries -lt 3 ] || die "the download failed 3 times; run install.sh --gpu again to resume ($downloads is kept)"
      echo "GPU add-on: download interrupted; retrying (what arrived is kept)" >&2
      sleep 5
    done
    downloaded=$(du -s --block-size=1 "$downloads" | cut -f1)
    echo "GPU add-on: unpacking"
    python3 - "$downloads" "$stage" "$cuda_libs" "$nvidia_pkgs" <<'PY' || die "unpacking the wheels failed"
import glob, os, shutil, sys, zipfile
downloads, stage, libs, pkgs = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4].split()
for wheel in sorted(glob.glob(os.path.join(downloads, "*.whl"))):
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            parts = info.filename.split("/")
            keep = (
                (parts[:2] == ["torch", "lib"] and len(parts) == 3 and parts[2] in libs)
                or (len(parts) >= 4 and parts[0] == "nvidia" and parts[1] in pkgs and parts[2] == "lib"
                    and not info.is_dir())
            )
            if parts[0].endswith(".dist-info") and "licen" in info.filename.lower() and not info.is_dir():
                target = os.path.join(stage, "licenses", parts[0], parts[-1])
            elif keep:
                target = os.path.join(stage, *parts)
            else:
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with z.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
PY
  fi
  for lib in libtorch_cuda.so libc10_cuda.so; do
    [ -e "$stage/torch/lib/$lib" ] || die "the GPU add-on lacks torch/lib/$lib"
  done
  # What it is and what it belongs with; the library checks this before loading it.
  {
    echo "# nstyle GPU add-on: the CUDA half of torch $torch_version (install.sh --gpu)"
    echo "torch $torch_version"
    echo "libtorch_cpu-build-id $ours"
    (cd "$stage" && find torch nvidia -type f | sort | while read -r f; do
      echo "file $(stat -c %s "$f") $(sha256sum "$f" | cut -d' ' -f1) $f"
    done)
  } >"$stage/BUILD"
  echo "$version" >"$stage/$marker"
  # The bundle's own library must accept and load it before it replaces anything.
  check=$(NSTYLE_CUDA_DIR=$stage "$here/bin/nstyle" doctor 2>&1 | grep '^CUDA add-on' || true)
  case $check in
  *"loaded from"*) ;;
  *) die "the staged add-on does not load: ${check:-no answer from bin/nstyle doctor}" ;;
  esac
  installed=$(du -s --block-size=1 "$stage" | cut -f1)
  rm -rf "$dest.old"
  [ ! -e "$dest" ] || mv "$dest" "$dest.old"
  mv "$stage" "$dest"
  trap - EXIT
  rm -rf "$dest.old" "$downloads"
  [ "$downloaded" = 0 ] || echo "GPU add-on: downloaded $(mib "$downloaded") MiB"
  echo "GPU add-on: installed $dest, $(mib "$installed") MiB${linked:-}"
  "$here/bin/nstyle" doctor 2>/dev/null | grep -E '^(CUDA|NVIDIA driver|GPU)' | sed 's/^/  /' || true
}

[ $uninstall = 1 ] || check_bundle
[ $gimp = 0 ] || do_gimp
[ $krita = 0 ] || do_krita
[ -z "$prefix" ] || do_prefix
[ $gpu = 0 ] || do_gpu
