#!/usr/bin/env bash
# How good the run-time estimate is: for each case, `nstyle run --estimate` (the probe and the
# priced plan) and then the run itself, and the ratio of the engine time to the estimate.
#
#   scripts/estimate-vs-actual.sh
#   CASES="256:300:auto 1024:20:256" STOP=0.005 scripts/estimate-vs-actual.sh
#
# A case is SIZE:ITERATIONS:TILE. STOP is stop_tolerance: 0 (the default here) runs every planned
# iteration, which is what the estimate prices; with the library's default (0.005) scales end
# early and the estimate is an upper bound. CONTENT and STYLE default to tubingen × starry night.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
nstyle="${NSTYLE:-${CARGO_TARGET_DIR:-$root/target}/release/nstyle}"
images="${IMAGES:-$root/../shared/images}"
content="${CONTENT:-$images/tubingen.jpg}"
style="${STYLE:-$images/starry_night.jpg}"
cases="${CASES:-128:300:auto 256:300:auto 512:300:auto 1024:20:256}"
stop="${STOP:-0}"
out="${OUT:-/tmp/nstyle-estimate}"
mkdir -p "$out"
[[ -x "$nstyle" ]] || { echo "estimate-vs-actual: $nstyle not found (cargo build --release?)" >&2; exit 1; }

printf '%-6s %-6s %-5s %-12s %-10s %-11s %-9s %s\n' size iters tile estimate_s actual_s evaluations ratio estimate
for spec in $cases; do
    IFS=: read -r size iterations tile <<<"$spec"
    common=(--content "$content" --style "$style" --size "$size" --iterations "$iterations"
            --tile "$tile" --set "stop_tolerance=$stop")
    line=$("$nstyle" run "${common[@]}" --estimate 2>/dev/null)
    estimate=$(sed -n 's/.*(\([0-9.]*\) s) for.*/\1/p' <<<"$line")
    planned=$(sed -n 's/.*, \([0-9]*\) evaluations at most/\1/p' <<<"$line")
    log="$out/run-$size-$iterations-$tile.log"
    "$nstyle" run "${common[@]}" --output "$out/result-$size.png" >"$log" 2>&1 \
        || { echo "estimate-vs-actual: $spec failed, see $log" >&2; exit 1; }
    actual=$(sed -n 's/.* evaluations) in \([0-9.]*\) s .*/\1/p' "$log")
    evaluations=$(sed -n 's/.*iterations (\([0-9]*\) evaluations).*/\1/p' "$log")
    ratio=$(awk -v a="$actual" -v e="$estimate" 'BEGIN { printf "%.2f", a / e }')
    printf '%-6s %-6s %-5s %-12s %-10s %-11s %-9s %s\n' "$size" "$iterations" "$tile" "$estimate" \
        "$actual" "$evaluations/$planned" "$ratio" "${line%% (*}"
done
