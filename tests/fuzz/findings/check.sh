#!/usr/bin/env bash
# Plain reproductions of the fuzzers' findings, without any fuzzing tool: each input under
# tests/fuzz/findings/ is fed to the real program and its contract checked.
#
#   images/*   `target/release/nstyle run --content FILE --style FILE` must fail with exit
#              status 1 and exactly one printable line on stderr of at most 4096 bytes (README:
#              "Bad input ... is one line on stderr"), write no output file, and (where
#              /usr/bin/time exists) use at most 10 s of CPU time and 1.5 GiB of memory (the CLI
#              itself, libtorch loaded, takes ~0.5 GiB) for a file of a few KB. Each run is
#              limited to a 4 GiB address space (ulimit -v: a smaller machine, and a bomb cannot
#              take this one down) and 60 s.
#   abi/*      inputs of tests/fuzz/fuzz_abi.c, run through target/fuzz/fuzz_abi (none so far).
#
# A finding whose id is listed in tests/fuzz/known-issues is expected to reproduce: it prints
# OPEN and does not fail. One that no longer reproduces prints FIXED (delete its line there).
# An unlisted one that reproduces fails. Exit status: the number of failures.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
cd "$root"
cli=target/release/nstyle
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# finding file -> id in tests/fuzz/known-issues
declare -A ids=(
    [images/truncated-jpeg-newline.jpg]=image-error-newline
    [images/tiff-huge-error-message.tif]=image-error-length
    [images/jpeg-bomb-4gb.jpg]=image-dimension-bomb
    [images/jpeg-bomb-22gb.jpg]=image-dimension-bomb
    [images/jpeg-to-rgba32f-panic.jpg]=image-load-panic
)

known=" $(sed -e 's/#.*//' tests/fuzz/known-issues | awk 'NF { printf "%s ", $1 }')"
failures=0 open=0 fixed=0 passed=0

# check_cli FILE -> prints what is wrong, or nothing
check_cli() {
    local file=$1 err=$scratch/err out=$scratch/out.png ext
    ext=${file##*.}
    cp "$file" "$scratch/input.$ext"
    rm -f "$out"
    local timer=() usage=$scratch/usage
    if [[ -x /usr/bin/time ]]; then timer=(/usr/bin/time -o "$usage" -f '%M %U %S'); fi
    local status=0
    (
        ulimit -v $((4 * 1024 * 1024))
        exec env NSTYLE_DEVICE=cpu "${timer[@]}" timeout 60 "$cli" run \
            --content "$scratch/input.$ext" --style "$scratch/input.$ext" --output "$out" \
            --size 16 --iterations 1 --device cpu
    ) 2>"$err" >/dev/null || status=$?
    if ((status == 0)); then
        echo "the run succeeded"
        return
    fi
    if ((status != 1)); then echo "exit status $status"; fi
    if ((${#timer[@]})); then
        local kb cpu
        read -r kb cpu < <(awk 'END { printf "%d %.1f", $1, $2 + $3 }' "$usage")
        if ((kb > 1536 * 1024)); then echo "peak memory $((kb / 1024)) MiB"; fi
        if awk -v c="$cpu" 'BEGIN { exit !(c > 10) }'; then echo "$cpu s of CPU"; fi
    fi
    local lines bytes
    lines=$(wc -l <"$err")
    bytes=$(wc -c <"$err")
    if [[ -e $out ]]; then echo "an output file was written"; fi
    if ((lines != 1)); then echo "stderr has $lines lines"; fi
    if ((bytes > 4096)); then echo "stderr has $bytes bytes"; fi
    if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$err"; then echo "stderr has control characters"; fi
}

shopt -s nullglob
for file in tests/fuzz/findings/images/*; do
    rel=${file#tests/fuzz/findings/}
    id=${ids[$rel]:-}
    problem=$(check_cli "$file" | paste -sd ';' -)
    if [[ -n $problem ]]; then
        if [[ -n $id && $known == *" $id "* ]]; then
            echo "OPEN   $rel ($id): $problem"
            open=$((open + 1))
        else
            echo "FAIL   $rel${id:+ ($id)}: $problem"
            failures=$((failures + 1))
        fi
    else
        if [[ -n $id && $known == *" $id "* ]]; then
            echo "FIXED  $rel ($id): no longer reproduces; delete '$id' from tests/fuzz/known-issues"
            fixed=$((fixed + 1))
        else
            echo "ok     $rel"
            passed=$((passed + 1))
        fi
    fi
done

abi=(tests/fuzz/findings/abi/*)
if ((${#abi[@]})); then
    for file in "${abi[@]}"; do
        rel=${file#tests/fuzz/findings/}
        if OMP_NUM_THREADS=1 target/fuzz/fuzz_abi "$file" >"$scratch/abi.log" 2>&1; then
            echo "ok     $rel"
            passed=$((passed + 1))
        else
            echo "FAIL   $rel: $(grep -m1 -E 'CONTRACT|ERROR' "$scratch/abi.log")"
            failures=$((failures + 1))
        fi
    done
fi

echo "findings: $passed passed, $failures failed ($open open and known, $fixed fixed)"
exit $failures
