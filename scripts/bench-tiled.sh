#!/usr/bin/env bash
# Full-resolution runs on the CPU with tiled stages: for each result size, the wall time, the
# objective evaluations and the peak resident memory (VmHWM, from GNU time) of `nstyle run`.
#
#   scripts/bench-tiled.sh                       1024, 2048 and 4000 (a 4000×3000 result)
#   SIZES="1024" ITERATIONS=30 TILE=512 scripts/bench-tiled.sh
#
# CONTENT and STYLE default to the demo pair (a 4:3 photo, so --size 4000 is 4000×3000);
# ITERATIONS is the planned total per run (ITERATIONS_4000 for the largest, which is slow on a
# small CPU); TILE is the tile's long side (auto tiles only what does not fit the memory budget).
# Results go to OUT (default /tmp/nstyle-bench-tiled) so they can be looked at at 100 %.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
nstyle="${NSTYLE:-$root/target/release/nstyle}"
images="${IMAGES:-$root/../shared/images}"
content="${CONTENT:-$images/tubingen.jpg}"
style="${STYLE:-$images/starry_night.jpg}"
sizes="${SIZES:-1024 2048 4000}"
iterations="${ITERATIONS:-30}"
iterations_4000="${ITERATIONS_4000:-12}"
tile="${TILE:-512}"
out="${OUT:-/tmp/nstyle-bench-tiled}"
mkdir -p "$out"

for tool in "$nstyle" /usr/bin/time; do
    [[ -x "$tool" ]] || { echo "bench-tiled: $tool not found (cargo build --release?)" >&2; exit 1; }
done

printf '%-10s %-6s %-10s %-10s %-12s %-12s %s\n' size tile iterations wall_s evaluations peak_MiB scales
for size in $sizes; do
    n="$iterations"
    [[ "$size" -ge 4000 ]] && n="$iterations_4000"
    log="$out/run-$size.log"
    /usr/bin/time -f 'TIME %e %M' "$nstyle" run --content "$content" --style "$style" \
        --output "$out/result-$size.png" --size "$size" --tile "$tile" --iterations "$n" \
        >"$log" 2>&1 || { echo "bench-tiled: size $size failed, see $log" >&2; exit 1; }
    wall=$(awk '/^TIME/ {print $2}' "$log")
    peak_kib=$(awk '/^TIME/ {print $3}' "$log")
    evaluations=$(sed -n 's/.*iterations (\([0-9]*\) evaluations).*/\1/p' "$log")
    scales=$(sed -n 's/.*evaluations per scale \(.*\), peak memory.*/\1/p' "$log")
    printf '%-10s %-6s %-10s %-10s %-12s %-12s %s\n' "$size" "$tile" "$n" "$wall" "$evaluations" \
        "$((peak_kib / 1024))" "$scales"
done
