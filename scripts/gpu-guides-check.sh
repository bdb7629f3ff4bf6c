#!/usr/bin/env bash
# Regions, the content mask and video frames on a lent GPU (one short run; .gpu carried, made by
# `make gpu-bundle` plus the region masks of scripts/regions-masks.py copied into .gpu/):
#   1. tubingen at 512 px, sky in Starry Night and houses in Shipwreck, against both styles
#      blended unmasked, alternating twice (time ratio), then `nstyle eval --mask` per region;
#   2. a content mask (the houses, default gain) with mask_softness 3, scored on the houses;
#   3. seconds per video frame and coherence, chained against independent
#      (scripts/gpu-video-frames.py, the binding over .gpu/libnstyle.so).
# Env: PYTHON (python3 with torch, numpy, pillow), OUT (results; default a temporary folder).
set -uo pipefail
python=${PYTHON:-python3}
cd "$(dirname "$0")/.." || exit 1
bundle=$PWD/.gpu
out=${OUT:-$(mktemp -d /tmp/gpu-guides.XXXXXX)}
mkdir -p "$out"
torch_lib=$("$python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
export LD_LIBRARY_PATH="$torch_lib:$bundle${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export NSTYLE_WEIGHTS=$bundle/vgg19-caffe-q8-v1.safetensors
cli=$bundle/nstyle
content=$(ls "$bundle"/content.* | grep -v ppm | head -1)
starry=$(ls "$bundle"/style.* | grep -v ppm | head -1)
shipwreck=$bundle/shipwreck.jpg
common=(--content "$content" --size 512 --device cuda --set stop_tolerance=0)
plain=(--style "$starry" --style "$shipwreck")
masked=(--style "$starry" --style-mask "$bundle/sky_mask.png" --style "$shipwreck"
        --style-mask "$bundle/houses_mask.png")
for round in 1 2; do
    for run in plain masked; do
        declare -n styles=$run
        start=$(date +%s.%N)
        "$cli" run "${common[@]}" "${styles[@]}" --output "$out/$run.png" >"$out/$run-$round.log" 2>&1 \
            || { echo "$run failed:"; tail -3 "$out/$run-$round.log"; }
        echo "$run round $round: $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s wall; $(grep -o 'in [0-9.]* s' "$out/$run-$round.log" | head -1) in the engine"
    done
done
score() { "$cli" eval --output "$1" --content "$content" --style "$2" --mask "$3" --json --device cuda; }
for run in plain masked; do
    echo "== $run"
    echo "sky vs starry:    $(score "$out/$run.png" "$starry" "$bundle/sky_mask.png")"
    echo "sky vs shipwreck: $(score "$out/$run.png" "$shipwreck" "$bundle/sky_mask.png")"
    echo "houses vs ship:   $(score "$out/$run.png" "$shipwreck" "$bundle/houses_mask.png")"
    echo "houses vs starry: $(score "$out/$run.png" "$starry" "$bundle/houses_mask.png")"
done
"$cli" run --content "$content" --style "$starry" --size 512 --device cuda --output "$out/one.png" >/dev/null 2>&1
"$cli" run --content "$content" --style "$starry" --size 512 --device cuda --content-mask "$bundle/houses_mask.png" \
    --set mask_softness=3 --output "$out/content-mask.png" >"$out/content-mask.log" 2>&1 || tail -3 "$out/content-mask.log"
for run in one content-mask; do
    echo "$run, houses: $(score "$out/$run.png" "$starry" "$bundle/houses_mask.png")"
done
NSTYLE_LIBRARY=$bundle/libnstyle.so PYTHONPATH=plugins/python "$python" scripts/gpu-video-frames.py \
    "$content" "$starry" --device cuda --frames 10 --size 512
echo "pictures in $out"
