#!/usr/bin/env bash
# Batch throughput on this machine, same run, same images and options: a shell loop of
# `nstyle run` (a new process and model per image) against `python -m nstyle batch` with
# --engine local (1 worker with all cores, 2 workers × 1 thread) and --engine ray (2 workers × 1 thread, 1 worker × 2
# threads; a local Ray on loopback started for the run).
#
#   scripts/batch-throughput.sh [IMAGES=8] [SIZE=96] [ITERATIONS=10]
#
# Prints images per minute for each and the ratio to the shell loop. Needs `make setup`.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-8}
size=${2:-96}
iterations=${3:-10}
python=.venv/bin/python
work=$(mktemp -d /tmp/nstyle-throughput.XXXXXX)
trap 'rm -rf "$work"' EXIT
export NSTYLE_LIBRARY=$PWD/target/release/libnstyle.so PYTHONPATH=$PWD/plugins/python \
    RAY_USAGE_STATS_ENABLED=0
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

rate() { # label seconds
    $python -c "import sys; l, s, n = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]); print('%-34s %6.1f s  %5.1f img/min' % (l, s, n / s * 60))" "$1" "$2" "$count"
}
timed() { # label command...
    local label=$1; shift
    local start end
    start=$(date +%s.%N)
    "$@" > "$work/log" 2>&1 || { cat "$work/log"; exit 1; }
    end=$(date +%s.%N)
    rate "$label" "$(echo "$end - $start" | bc)"
}

loop() {
    mkdir -p "$work/out-loop"
    for f in "$work"/in/*.png; do
        target/release/nstyle run --content "$f" --style "$work/style.png" \
            --output "$work/out-loop/$(basename "$f")" "${run_options[@]}"
    done
}
batch() { # output-dir options...
    local out=$1; shift
    $python -m nstyle batch --style "$work/style.png" --input "$work/in" --output "$out" \
        "${run_options[@]}" "$@"
}

echo "$count images, ${size} px, $iterations iterations, one scale; $(nproc) cores"
timed "shell loop of nstyle run" loop
timed "batch --engine local, 1 worker x 2" batch "$work/out-local"
timed "batch --engine local, 2 workers x 1" batch "$work/out-local2" --workers 2
timed "batch --engine ray, 2 workers x 1" batch "$work/out-ray2" --engine ray --workers 2
timed "batch --engine ray, 1 worker x 2" batch "$work/out-ray1" --engine ray --workers 1
