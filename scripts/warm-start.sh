#!/usr/bin/env bash
# The warm start (init=fast) against the default start, on the same machine in one run: the
# default 512 px run from the photo, then from the fast network's picture with 300, 150 and 100
# iterations, and the fast picture alone; each with its wall time, evaluations and both quality
# numbers (SSIM against the photo, style distance to the painting). Runs alternate per pair.
#
#   scripts/warm-start.sh [CONTENT STYLE]...   (default: tubingen × starry_night and × the_scream)
set -euo pipefail
cd "$(dirname "$0")/.."
nstyle=target/release/nstyle
out=${OUT:-target/warm-start}
mkdir -p "$out"
shared=../shared/images
pairs=("$@")
if [[ ${#pairs[@]} -eq 0 ]]; then
    pairs=("$shared/tubingen.jpg" "$shared/starry_night.jpg" "$shared/tubingen.jpg" "$shared/the_scream.jpg")
fi
printf '%-28s %-16s %8s %6s %7s %7s\n' pair variant wall_s evals ssim style
for ((i = 0; i < ${#pairs[@]}; i += 2)); do
    content=${pairs[i]} style=${pairs[i + 1]}
    name=$(basename "${content%.*}")-$(basename "${style%.*}")
    for variant in default fast-300 fast-150 fast-100 fast-only; do
        case $variant in
        default) flags=() ;;
        fast-only) flags=(--method fast) ;;
        *) flags=(--init fast --iterations "${variant#fast-}") ;;
        esac
        png=$out/$name-$variant.png
        start=$(date +%s.%N)
        log=$("$nstyle" run --content "$content" --style "$style" --output "$png" --size 512 \
            "${flags[@]}" 2>&1)
        wall=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
        evals=$(sed -n 's/.*(\([0-9]*\) evaluations).*/\1/p' <<<"$log" | tail -n 1)
        scores=$("$nstyle" eval --output "$png" --content "$content" --style "$style")
        ssim=$(awk '/^ssim/ { print $3 }' <<<"$scores")
        dist=$(awk '/^style distance/ { print $3 }' <<<"$scores")
        printf '%-28s %-16s %8s %6s %7s %7s\n' "$name" "$variant" "$wall" "$evals" "$ssim" "$dist"
    done
done
