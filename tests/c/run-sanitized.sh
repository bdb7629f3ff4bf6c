#!/usr/bin/env bash
# Builds tests/c/test_abi.c with AddressSanitizer and runs it with ASan + LeakSanitizer against
# libnstyle.so. Fails on a failed check, on any ASan error, and on any leak not suppressed by
# tests/c/lsan.supp (which holds third-party internals only); a report whose stack runs through
# libnstyle is called out as ours.
#
# Usage: tests/c/run-sanitized.sh [LIBDIR]   (default: target/release)
# Env:   CC (default cc), NSTYLE_C_BUILD (build/log folder, default target/c),
#        NSTYLE_ASAN_SLOW_UNWIND=1 for full stacks through libtorch (DWARF unwinding on every
#        malloc: ~10x slower, ~70 s instead of ~8 s; use it to read a report, not in CI).
#
# What libnstyle.so is checked for: it is not itself instrumented (Rust code built without
# -Zsanitizer), so ASan sees its heap use through the malloc/free/new/delete interceptors (leaks,
# double or invalid frees, alloc/dealloc mismatches) and its memcpy/memset/strlen calls (range
# checks), and sees test_abi's own accesses fully (e.g. a caller buffer the library under-sizes).
#
# ASAN_OPTIONS, and why:
#   detect_leaks=1                 LSan on (the default on x86_64 Linux; explicit for clarity).
#   detect_stack_use_after_return=1, check_initialization_order=1, strict_init_order=1,
#   strict_string_checks=1         stricter checks of the instrumented test; all pass with libtorch.
#   log_path=…                     reports go to files we scan, test output stays on the terminal.
#   protect_shadow_gap=0           ONLY when a GPU is visible: the CUDA driver maps its fixed
#                                  address range into ASan's shadow gap, so cuInit / the first
#                                  cudaMalloc fails or crashes otherwise (google/sanitizers#629).
# Not needed with torch 2.11 (tried): detect_odr_violation=0 (ODR checks cover instrumented globals
# only, and only the test is instrumented), alloc_dealloc_mismatch=0 (libtorch pairs its
# new/delete and malloc/free correctly), LD_PRELOAD of libasan (the executable links it).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
libdir=$(cd "${1:-$root/target/release}" && pwd)
build=${NSTYLE_C_BUILD:-$root/target/c}
cc=${CC:-cc}
exe=$build/test_abi_asan
logs=$build/asan-logs

if [[ ! -f $libdir/libnstyle.so ]]; then
    echo "run-sanitized: $libdir/libnstyle.so not found (run make build)" >&2
    exit 2
fi
mkdir -p "$build"
rm -rf "$logs"
mkdir -p "$logs"

echo "run-sanitized: building $exe with -fsanitize=address"
if ! $cc -std=c11 -Wall -Wextra -Werror -pthread -O1 -g -fsanitize=address \
    -fno-omit-frame-pointer -I"$root/include" "$root/tests/c/test_abi.c" \
    -L"$libdir" -lnstyle -Wl,-rpath,"$libdir" -lm -o "$exe"; then
    echo "run-sanitized: FAIL: could not build with AddressSanitizer (is libasan installed?)" >&2
    exit 2
fi

asan="detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1"
asan+=":strict_init_order=1:strict_string_checks=1:log_path=$logs/asan"
if [[ -e /dev/nvidia0 ]] || nvidia-smi -L >/dev/null 2>&1; then
    asan+=":protect_shadow_gap=0"
    echo "run-sanitized: GPU visible: protect_shadow_gap=0"
fi
if [[ ${NSTYLE_ASAN_SLOW_UNWIND:-0} == 1 ]]; then
    asan+=":fast_unwind_on_malloc=0"
fi
export ASAN_OPTIONS="$asan${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$root/tests/c/lsan.supp:print_suppressions=1${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

echo "run-sanitized: ASAN_OPTIONS=$ASAN_OPTIONS"
echo "run-sanitized: LSAN_OPTIONS=$LSAN_OPTIONS"
"$exe"
rc=$?

status=0
if ((rc != 0)); then
    echo "run-sanitized: test_abi under ASan exited with $rc" >&2
    status=1
fi
shopt -s nullglob
reports=("$logs"/asan.*)
for report in "${reports[@]}"; do
    if grep -q "ERROR: \(AddressSanitizer\|LeakSanitizer\)" "$report"; then
        status=1
        cat "$report" >&2
        if grep -Eq "libnstyle\.so|nstyle_|nstyle::" "$report"; then
            echo "run-sanitized: FAIL: a sanitizer report runs through libnstyle (our code)" >&2
        else
            echo "run-sanitized: FAIL: a sanitizer report outside libnstyle; if it is a" \
                "libtorch/OpenMP internal, add a narrow, commented suppression to lsan.supp" >&2
        fi
    elif [[ -s $report ]]; then
        cat "$report" # e.g. the table of suppressions used
    fi
done

if ((status == 0)); then
    echo "run-sanitized: PASS (ASan+LSan: no error, no unsuppressed leak; ${#reports[@]} report file(s))"
else
    echo "run-sanitized: FAIL" >&2
fi
exit $status
