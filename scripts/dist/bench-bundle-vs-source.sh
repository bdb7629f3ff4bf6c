#!/usr/bin/env bash
# CPU speed of the release bundle against the source build, same machine, same run:
#
#   scripts/dist/bench-bundle-vs-source.sh BUNDLE_DIR [ROUNDS] [SIZE]
#
# Alternates `nstyle bench` of BUNDLE_DIR/bin/nstyle (CPU build, its own stripped libtorch) and
# target/release/nstyle (the venv's libtorch) ROUNDS times (default 4) at SIZE px (default 256)
# with the same precision (fp32: the bf16 probe's choice could differ between two processes), and
# prints each s/evaluation, the medians and their ratio.
set -euo pipefail
bundle=$1 rounds=${2:-4} size=${3:-256}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bench() { "$1" bench --size "$size" --iterations 10 --device cpu --precision fp32 | awk '/^s\/evaluation/ {print $2}'; }
b=() s=()
for i in $(seq "$rounds"); do
  b+=("$(env -u LD_LIBRARY_PATH "$bundle/bin/nstyle" bench --size "$size" --iterations 10 --device cpu --precision fp32 | awk '/^s\/evaluation/ {print $2}')")
  s+=("$(bench "$root/target/release/nstyle")")
  echo "round $i: bundle ${b[-1]} s/eval, source ${s[-1]} s/eval"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
mb=$(median "${b[@]}") ms=$(median "${s[@]}")
echo "median: bundle $mb s/eval, source $ms s/eval, bundle / source $(awk -v a="$mb" -v b="$ms" 'BEGIN { printf "%.3f", a / b }')"
