#!/usr/bin/env bash
# Regions against the same run without masks (issue 19's measurement): tubingen with its sky in
# Starry Night and its houses in Shipwreck, the river kept as the photo, against both styles
# blended over the whole image. Same settings, alternating runs (so load hits both alike), one
# thread each with every iteration run (stop_tolerance 0), so that the time ratio is the
# regions' own cost. Then `nstyle eval --mask` scores each region against its style and the
# other one, and the river against the photo.
#
#   scripts/regions-vs-unmasked.sh [SIZE=512] [ROUNDS=2] [OUT=/tmp/nstyle-regions]
#
# Needs ../shared/images, a release build and the set-up venv (numpy, OpenCV) for the masks.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-512} rounds=${2:-2} out=${3:-/tmp/nstyle-regions}
images=../shared/images
cli=target/release/nstyle
mkdir -p "$out"
.venv/bin/python scripts/regions-masks.py "$images/tubingen.jpg" "$out"
# The river: neither sky nor houses.
.venv/bin/python - "$out" <<'PY'
import sys, cv2
out = sys.argv[1]
sky, houses = (cv2.imread(f"{out}/{n}_mask.png", 0) for n in ("sky", "houses"))
cv2.imwrite(f"{out}/river_mask.png", 255 - cv2.max(sky, houses))
PY
common=(--content "$images/tubingen.jpg" --size "$size" --set threads=1 --set stop_tolerance=0)
plain=(--style "$images/starry_night.jpg" --style "$images/shipwreck.jpg")
masked=(--style "$images/starry_night.jpg" --style-mask "$out/sky_mask.png"
        --style "$images/shipwreck.jpg" --style-mask "$out/houses_mask.png")
for round in $(seq "$rounds"); do
    for run in plain masked; do
        declare -n styles=$run
        start=$(date +%s.%N)
        "$cli" run "${common[@]}" "${styles[@]}" --output "$out/$run.png" >"$out/$run.log" 2>&1
        end=$(date +%s.%N)
        printf '%s round %s: %.1f s wall, load %s\n' "$run" "$round" "$(awk -v s="$start" -v e="$end" 'BEGIN { print e - s }')" \
            "$(cut -d' ' -f1 /proc/loadavg)"
    done
done
score() { # result, style, mask
    "$cli" eval --output "$1" --content "$images/tubingen.jpg" --style "$images/$2" --mask "$3" --json
}
for run in plain masked; do
    echo "== $run"
    echo "sky vs starry_night:    $(score "$out/$run.png" starry_night.jpg "$out/sky_mask.png")"
    echo "sky vs shipwreck:       $(score "$out/$run.png" shipwreck.jpg "$out/sky_mask.png")"
    echo "houses vs shipwreck:    $(score "$out/$run.png" shipwreck.jpg "$out/houses_mask.png")"
    echo "houses vs starry_night: $(score "$out/$run.png" starry_night.jpg "$out/houses_mask.png")"
    echo "river (photo kept):     $(score "$out/$run.png" starry_night.jpg "$out/river_mask.png")"
done
