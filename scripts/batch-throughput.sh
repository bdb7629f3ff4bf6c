#!/usr/bin/env bash
# Batch throughput on this machine, same run, same images and options: shell loops of
# `nstyle run` (a new process and model per image) against `python -m nstyle batch` with
# --engine local and --engine ray (a local Ray on loopback started for the run), each as
# 2 workers x 1 thread and 1 worker x 2 threads. The loops are the fair peers of those: one
# after the other with 2 threads, one after the other with 1 thread, and two at a time with
# 1 thread each (xargs -P 2). Every run has OMP_WAIT_POLICY=PASSIVE, which the batch workers
# set themselves (nstyle.batch.use_passive_openmp_waits), so the loops get it too.
#
#   scripts/batch-throughput.sh [IMAGES=8] [SIZE=96] [ITERATIONS=10] [ROUNDS=1]
#
# Prints images per minute for each, its ratio to the 2-thread loop and to the two-at-a-time
# loop, and the load average before each run (other work on the machine skews the figures: on
# a shared machine compare ratios within one round, and run several rounds). Needs `make setup`.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-8}
size=${2:-96}
iterations=${3:-10}
rounds=${4:-1}
python=.venv/bin/python
work=$(mktemp -d /tmp/nstyle-throughput.XXXXXX)
trap 'rm -rf "$work"' EXIT
export NSTYLE_LIBRARY=$PWD/target/release/libnstyle.so RAY_USAGE_STATS_ENABLED=0 \
    OMP_WAIT_POLICY=PASSIVE
run_options=(--size "$size" --iterations "$iterations" --scales 1 --device cpu)

# Synthetic photos (different phases) and a striped style, made here.
$python - "$work" "$count" <<'PY'
import sys
import numpy as np
sys.path.insert(0, "plugins/python")
from nstyle.imagefiles import write_image_atomically
work, count = sys.argv[1], int(sys.argv[2])
import os
os.makedirs(work + "/in")
ys, xs = np.mgrid[0:192, 0:256].astype(np.float32)
for i in range(count):
    rgb = np.stack([0.5 + 0.4 * np.sin(xs / 9 + i), 0.5 + 0.4 * np.cos(ys / 7 + xs / 13),
                    ((xs // 16 + ys // 16 + i) % 2) * 0.6 + 0.2], axis=2)
    write_image_atomically("%s/in/photo%02d.png" % (work, i), (rgb * 255).astype(np.uint8))
s = np.mgrid[0:96, 0:96]
stripe = ((s[1] + 2 * s[0]) // 4) % 3
colours = np.array([[15, 25, 160], [230, 200, 80], [25, 100, 200]], dtype=np.uint8)
write_image_atomically(work + "/style.png", colours[stripe])
PY

load() { cut -d' ' -f1 /proc/loadavg; }
declare -A seconds
timed() { # key label command...
    local key=$1 label=$2; shift 2
    local start end before
    before=$(load)
    rm -rf "$work/out"
    mkdir -p "$work/out"
    start=$(date +%s.%N)
    "$@" > "$work/log" 2>&1 || { cat "$work/log"; exit 1; }
    end=$(date +%s.%N)
    [ "$(ls "$work/out" | grep -c png)" = "$count" ] || { echo "$label: not $count outputs"; exit 1; }
    seconds[$key]=$(echo "$end - $start" | bc)
    printf '%-40s %7.1f s  %6.1f img/min  (load before %s)\n' "$label" "${seconds[$key]}" \
        "$(echo "$count * 60 / ${seconds[$key]}" | bc -l)" "$before"
}

one() { # threads image
    target/release/nstyle run --content "$2" --style "$work/style.png" \
        --output "$work/out/$(basename "$2")" "${run_options[@]}" --set threads="$1"
}
loop() { # threads
    for f in "$work"/in/*.png; do one "$1" "$f"; done
}
loop_two_at_a_time() {
    export -f one
    export work
    export run_options_text="${run_options[*]}"
    ls "$work"/in/*.png | xargs -P 2 -I{} bash -c \
        'run_options=($run_options_text); one 1 "$1"' _ {}
}
batch() { # options...
    $python -m nstyle batch --style "$work/style.png" --input "$work/in" --output "$work/out" \
        "${run_options[@]}" "$@"
}

echo "$count images, ${size} px, $iterations iterations, one scale; $(nproc) cores;" \
    "OMP_WAIT_POLICY=$OMP_WAIT_POLICY"
for round in $(seq "$rounds"); do
    echo "round $round"
    timed loop2 "loop of nstyle run, 2 threads" loop 2
    timed loop1 "loop of nstyle run, 1 thread" loop 1
    timed loopP "2 loops at a time, 1 thread each" loop_two_at_a_time
    timed local21 "batch local, 2 workers x 1 thread" batch --workers 2 --threads 1
    timed local12 "batch local, 1 worker x 2 threads" batch --workers 1 --threads 2
    timed ray21 "batch ray, 2 workers x 1 thread" batch --engine ray --workers 2
    timed ray12 "batch ray, 1 worker x 2 threads" batch --engine ray --workers 1
    echo "ratios (images per minute, against the 2-thread loop | the 2-at-a-time loop):"
    for key in loop2 loop1 loopP local21 local12 ray21 ray12; do
        printf '  %-8s %5.2fx | %5.2fx\n' "$key" \
            "$(echo "${seconds[loop2]} / ${seconds[$key]}" | bc -l)" \
            "$(echo "${seconds[loopP]} / ${seconds[$key]}" | bc -l)"
    done
done
