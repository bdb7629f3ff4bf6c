#!/usr/bin/env bash
# CPU speed of the release bundle against the source build, same machine, same run:
#
#   scripts/dist/bench-bundle-vs-source.sh BUNDLE_DIR [ROUNDS] [SIZE]
#
# Alternates `nstyle bench` (fp32: the bf16 probe's choice could differ between two processes)
# of BUNDLE_DIR/bin/nstyle (CPU build, its own stripped libtorch) and target/release/nstyle (the
# venv's libtorch) ROUNDS times (default 6) at SIZE px (default 192), on one thread, and compares
# the CPU time each took (perf stat's task-clock): on a machine shared with other work, CPU time
# of a single thread moves far less than wall time. Prints each round, the medians and the ratio.
set -euo pipefail
bundle=$1 rounds=${2:-6} size=${3:-192}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cpu_ms() {
  env -u LD_LIBRARY_PATH OMP_NUM_THREADS=1 perf stat -x, -e task-clock \
    "$1" bench --size "$size" --iterations 5 --device cpu --precision fp32 2>&1 >/dev/null |
    awk -F, '$3 == "task-clock" { printf "%.0f", $1 }'
}
b=() s=()
for i in $(seq "$rounds"); do
  b+=("$(cpu_ms "$bundle/bin/nstyle")")
  s+=("$(cpu_ms "$root/target/release/nstyle")")
  echo "round $i: bundle ${b[-1]} ms CPU, source ${s[-1]} ms CPU"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
mb=$(median "${b[@]}") ms=$(median "${s[@]}")
echo "median CPU time: bundle $mb ms, source $ms ms, bundle / source $(awk -v a="$mb" -v b="$ms" 'BEGIN { printf "%.3f", a / b }')"
