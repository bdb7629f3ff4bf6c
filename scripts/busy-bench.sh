#!/usr/bin/env bash
# CPU runs beside other work (issue 25): each run idle, beside one busy core and beside two
# (`yes > /dev/null` per busy core, stopped at the end), for two builds alternated run by run,
# printing each wall time and the ratios (busy / idle per build, new / old per condition).
#
#   scripts/busy-bench.sh OLD_NSTYLE NEW_NSTYLE [ROUNDS]
#   RUNS="default-256 preview" scripts/busy-bench.sh …   (a subset of the runs below)
#
# Runs (tubingen × starry_night from ../shared, else the demo pair): the default at 256 px and at
# 512 px, the dialogs' preview (lite, 256 px, 100 iterations, threads=1 as the hosts set it) and
# a tiled run (2048 px, 256 px tiles, 40 iterations). Both builds see the same conditions; the
# machine must be otherwise quiet (the load average before each run is printed).
set -euo pipefail
old=${1:?old nstyle binary} new=${2:?new nstyle binary} rounds=${3:-1}
shared=$(dirname "$0")/../../shared/images
if [[ -f $shared/tubingen.jpg ]]; then
    content=$shared/tubingen.jpg style=$shared/starry_night.jpg
else
    demo=${NSTYLE_DEMO_DIR:-$HOME/.cache/nstyle/demo-v1}
    content=$demo/content.png style=$demo/style.png
fi
out=$(mktemp -d)
hogs=()
stop_hogs() { for pid in "${hogs[@]}"; do kill "$pid" 2>/dev/null || true; done; hogs=(); }
trap 'stop_hogs; rm -rf "$out"' EXIT
busy() {
    stop_hogs
    for ((i = 0; i < $1; i++)); do
        yes >/dev/null &
        hogs+=($!)
    done
    sleep 1
}
declare -A runs=(
    [default-256]="--size 256"
    [default-512]="--size 512"
    [preview]="--size 256 --backbone lite --iterations 100 --set threads=1"
    [tiled-2048]="--size 2048 --tile 256 --iterations 40"
)
read -r -a order <<<"${RUNS:-default-256 default-512 preview tiled-2048}"
declare -A wall
printf '%-12s %-6s %-4s %8s %6s\n' run busy build wall_s load
for ((round = 0; round < rounds; round++)); do
    for run in "${order[@]}"; do
        for cores in 0 1 2; do
            busy "$cores"
            for build in old new; do
                bin=$old
                [[ $build == new ]] && bin=$new
                load=$(cut -d' ' -f1 /proc/loadavg)
                start=$(date +%s.%N)
                # shellcheck disable=SC2086
                "$bin" run --content "$content" --style "$style" --output "$out/$run.png" \
                    ${runs[$run]} >/dev/null 2>&1
                w=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
                wall[$run,$cores,$build]=$(awk -v s="${wall[$run,$cores,$build]:-0}" -v w="$w" \
                    'BEGIN { print s + w }')
                printf '%-12s %-6s %-4s %8s %6s\n' "$run" "$cores" "$build" "$w" "$load"
            done
        done
        stop_hogs
    done
done
echo
printf '%-12s %-6s %10s %10s %10s\n' run busy old/idle new/idle new/old
for run in "${order[@]}"; do
    for cores in 0 1 2; do
        awk -v r="$run" -v c="$cores" -v o="${wall[$run,$cores,old]}" -v n="${wall[$run,$cores,new]}" \
            -v oi="${wall[$run,0,old]}" -v ni="${wall[$run,0,new]}" \
            'BEGIN { printf "%-12s %-6s %10.2f %10.2f %10.3f\n", r, c, o / oi, n / ni, n / o }'
    done
done
