#!/usr/bin/env bash
# Fuzzing and thread-stress driver (used by mk/fuzz.mk; runnable by hand from the repo root).
#
#   tests/fuzz/run.sh setup            install clang-19, libclang-rt-19-dev, llvm-19 (apt-get,
#                                      only when missing: a no-op once installed)
#   tests/fuzz/run.sh build            build target/fuzz/fuzz_abi (clang, fuzzer+ASan+UBSan, over
#                                      the uninstrumented target/release/libnstyle.so) and the
#                                      Rust image harness (~/.cache/nstyle/fuzz-rust-target-v1/.../fuzz_image)
#   tests/fuzz/run.sh fuzz SECONDS     both harnesses side by side for SECONDS each (one core
#                                      each, nice 19), corpus in target/fuzz/work/{abi,images}
#                                      seeded from tests/fuzz/corpus/, findings in
#                                      target/fuzz/artifacts/, logs target/fuzz/{abi,images}.log;
#                                      exits non-zero on a finding
#   tests/fuzz/run.sh tsan             tests/c/test_threads.c under ThreadSanitizer
#   tests/fuzz/run.sh replay           the ABI harness's committed corpus and findings replayed
#                                      once, built with the system cc and ASan + UBSan (no
#                                      libFuzzer, nothing from apt), then findings/check.sh
#
# Env: FUZZ_SEED (default 1: a fixed seed, so a bounded run is repeatable up to timing),
#      FUZZ_ONLY=abi|images (one harness), FUZZ_FLAGS (extra libFuzzer flags),
#      FUZZ_JOBS (parallel processes per harness for `fuzz`, default 1),
#      FUZZ_FRESH=1 (start from the committed seeds only: what `make fuzz-test` does),
#      FUZZ_STATE (folder for work/, artifacts/ and logs; default target/fuzz, `make fuzz-test`
#      uses target/fuzz/test so it never touches a campaign's corpus),
#      FUZZ_KEEP_GOING=1 (fork mode: findings saved, fuzzing goes on; `make fuzz` sets it),
#      FUZZ_STRICT=1 (tolerate none of the open findings listed in tests/fuzz/known-issues).
# Needs target/release/libnstyle.so and the weights (make build weights).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
out=target/fuzz
state=${FUZZ_STATE:-$out} # corpus (work/), findings (artifacts/) and logs of `fuzz`
rust_target=x86_64-unknown-linux-gnu
# The harness's own cargo target dir lives in the per-user cache, like the venv and the weights:
# its dependencies (torch-sys among them, minutes to build) are built once per machine, not once
# per clone; only nstyle itself is rebuilt for a new checkout.
rust_target_dir=${NSTYLE_FUZZ_RUST_TARGET:-${XDG_CACHE_HOME:-$HOME/.cache}/nstyle/fuzz-rust-target-v1}
image_bin=$rust_target_dir/$rust_target/release/fuzz_image
CC_FUZZ=${CC_FUZZ:-clang-19}
LLVM_BIN=/usr/lib/llvm-19/bin

log() { echo "fuzz: $*"; }

# Ids of open findings (tests/fuzz/known-issues) the harnesses tolerate; FUZZ_STRICT=1: none.
known_ids() {
    [[ ${FUZZ_STRICT:-0} == 1 ]] && return
    sed -e 's/#.*//' tests/fuzz/known-issues | awk 'NF { print $1 }' | paste -sd, -
}

setup() {
    local missing=()
    command -v "$CC_FUZZ" >/dev/null || missing+=(clang-19)
    [[ -f /usr/lib/llvm-19/lib/clang/19/lib/linux/libclang_rt.fuzzer-x86_64.a ]] ||
        missing+=(libclang-rt-19-dev)
    [[ -x $LLVM_BIN/llvm-symbolizer ]] || missing+=(llvm-19)
    command -v setarch >/dev/null || missing+=(util-linux)
    if ((${#missing[@]})); then
        log "installing ${missing[*]} (apt-get)"
        mkdir -p "$out"
        (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}") \
            >"$out/apt.log" 2>&1 || { echo "fuzz: apt-get failed, see $out/apt.log" >&2; exit 2; }
    fi
}

build_abi() {
    mkdir -p "$out"
    local exe=$out/fuzz_abi
    if [[ ! $exe -nt tests/fuzz/fuzz_abi.c || ! $exe -nt target/release/libnstyle.so ||
          ! $exe -nt include/nstyle.h ]]; then
        log "building $exe"
        "$CC_FUZZ" -std=c11 -g -O1 -Wall -Wextra -Werror -fno-omit-frame-pointer \
            -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
            -Iinclude tests/fuzz/fuzz_abi.c -Ltarget/release -lnstyle \
            -Wl,-rpath,"$root/target/release" -lm -o "$exe"
    fi
}

torch_lib() {
    local python=${PYTHON:-python3}
    "$python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' \
        2>/dev/null
}

build_image() {
    # rustc's SanitizerCoverage on stable (what cargo-fuzz passes, minus -Zsanitizer): inline
    # 8-bit counters and a PC table for libFuzzer's coverage, comparison tracing for its
    # value-guided mutations. --target keeps RUSTFLAGS off build scripts and proc macros.
    local flags="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=3"
    flags+=" -Cllvm-args=-sanitizer-coverage-inline-8bit-counters"
    flags+=" -Cllvm-args=-sanitizer-coverage-pc-table"
    flags+=" -Cllvm-args=-sanitizer-coverage-trace-compares"
    flags+=" --cfg fuzzing -Cforce-frame-pointers=yes"
    # The binary links libtorch through nstyle; the rpath nstyle's build script sets applies to
    # nstyle's own targets only.
    flags+=" -Clink-arg=-Wl,-rpath,$(torch_lib)"
    log "building $image_bin (minutes the first time on a machine)"
    CARGO_TARGET_DIR=$rust_target_dir RUSTFLAGS="$flags" \
        cargo build --release --quiet --target "$rust_target" \
        --manifest-path tests/fuzz/rust/Cargo.toml --bin fuzz_image
}

# run_fuzzer NAME EXE SECONDS TIMEOUT RSS-MB EXTRA-FLAGS...
run_fuzzer() {
    local name=$1 exe=$2 seconds=$3 timeout=$4 rss=$5
    shift 5
    local work=$state/work/$name artifacts=$state/artifacts/$name/ logf=$state/$name.log
    if [[ ${FUZZ_FRESH:-0} == 1 ]]; then rm -rf "$work"; fi
    mkdir -p "$work" "$artifacts"
    log "$name: ${seconds}s, seed ${FUZZ_SEED:-1}, corpus $work + tests/fuzz/corpus/$name, log $logf"
    # Past findings are seeds too (tolerated while listed in tests/fuzz/known-issues).
    local findings=()
    if [[ -d tests/fuzz/findings/$name ]]; then findings=("tests/fuzz/findings/$name"); fi
    local jobs=()
    if ((${FUZZ_JOBS:-1} > 1)); then jobs=(-jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS"); fi
    # FUZZ_KEEP_GOING=1 (make fuzz): fork mode, a finding is saved and fuzzing goes on.
    if [[ ${FUZZ_KEEP_GOING:-0} == 1 ]]; then
        jobs+=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
    fi
    # -timeout (wall clock; FUZZ_TIMEOUT overrides): an input over it is a hang; -rss_limit_mb:
    # over it is an out-of-memory finding.
    # -print_final_stats: the numbers the report quotes. One core each (OMP_NUM_THREADS=1).
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nice -n 19 "$exe" -seed="${FUZZ_SEED:-1}" \
        -max_total_time="$seconds" -timeout="${FUZZ_TIMEOUT:-$timeout}" -rss_limit_mb="$rss" -print_final_stats=1 \
        -artifact_prefix="$artifacts" "${jobs[@]}" "$@" ${FUZZ_FLAGS:-} \
        "$work" "tests/fuzz/corpus/$name" "${findings[@]}" >"$logf" 2>&1
}

summarise() {
    local name=$1 logf=$state/$1.log
    local last execs rate
    last=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE|cov:)' "$logf" | tail -n 1 || true)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logf" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logf" | tail -n 1)
    if [[ -z $execs && $last =~ ^#([0-9]+):.*\ time:\ ([0-9]+)s ]]; then # fork mode
        execs=${BASH_REMATCH[1]}
        rate=$((execs / (BASH_REMATCH[2] > 0 ? BASH_REMATCH[2] : 1)))
    fi
    log "$name: ${execs:-?} executions, ${rate:-?} exec/s; last status: ${last:-none}"
}

fuzz() {
    local seconds=${1:-60}
    build_abi
    build_image
    export ASAN_OPTIONS="detect_leaks=1:symbolize=1:external_symbolizer_path=$LLVM_BIN/llvm-symbolizer${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    export NSTYLE_FUZZ_KNOWN=${NSTYLE_FUZZ_KNOWN-$(known_ids)}
    log "tolerated open findings (tests/fuzz/known-issues): ${NSTYLE_FUZZ_KNOWN:-none}"
    if [[ -e /dev/nvidia0 ]]; then ASAN_OPTIONS+=":protect_shadow_gap=0"; fi
    local pids=() names=() status=0
    if [[ ${FUZZ_ONLY:-abi} == abi ]]; then
        # 60 s: an input makes at most one weights load and two iterations (~1 s), but a niced
        # process on a loaded 2-core machine gets a fraction of a core, and the clock is wall time.
        # 4 GB: libtorch under ASan takes ~1.5 GB.
        run_fuzzer abi "$out/fuzz_abi" "$seconds" 60 4096 -max_len=4096 -dict=tests/fuzz/abi.dict &
        pids+=($!) names+=(abi)
    fi
    if [[ ${FUZZ_ONLY:-images} == images ]]; then
        # 10 s: the contract's hang limit (inputs take well under a millisecond); 2 GB (libtorch
        # loaded: ~0.2 GB): a file of a few KB must not make the loader allocate more.
        run_fuzzer images "$image_bin" "$seconds" 10 2048 -max_len=16384 \
            -dict=tests/fuzz/images.dict &
        pids+=($!) names+=(images)
    fi
    for i in "${!pids[@]}"; do
        if ! wait "${pids[$i]}"; then
            status=1
            echo "fuzz: ${names[$i]}: FINDING (see $state/${names[$i]}.log and $state/artifacts/${names[$i]}/)" >&2
            grep -E 'CONTRACT|ERROR:|panicked|SUMMARY|Test unit written' "$state/${names[$i]}.log" >&2 || true
        fi
        summarise "${names[$i]}"
    done
    return $status
}

tsan() {
    mkdir -p "$out"
    local exe=$out/test_threads_tsan
    if [[ ! $exe -nt tests/c/test_threads.c || ! $exe -nt target/release/libnstyle.so ]]; then
        log "building $exe (-fsanitize=thread)"
        "$CC_FUZZ" -std=c11 -g -O1 -Wall -Wextra -Werror -fsanitize=thread -pthread -Iinclude \
            tests/c/test_threads.c -Ltarget/release -lnstyle -Wl,-rpath,"$root/target/release" \
            -o "$exe"
    fi
    # suppressions: tests/c/tsan.supp (one entry, explained there). exitcode=66 on any report.
    # setarch -R (no ASLR): TSan's fixed shadow layout fails with "unexpected memory mapping" on
    # kernels with high vm.mmap_rnd_bits (>= 30); harmless elsewhere.
    export TSAN_OPTIONS="suppressions=$root/tests/c/tsan.supp:print_suppressions=1:exitcode=66:halt_on_error=0:second_deadlock_stack=1:external_symbolizer_path=$LLVM_BIN/llvm-symbolizer${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
    # One OpenMP thread: libgomp is not instrumented, so TSan cannot see the barriers of
    # libtorch's parallel regions and reports every large op (e.g. the bf16 probe's 0.5 M-element
    # tensors) as a race on the calling thread's stack. The threads under test are the test's own.
    export OMP_NUM_THREADS=1
    log "tsan: $exe (TSAN_OPTIONS=$TSAN_OPTIONS, OMP_NUM_THREADS=1)"
    local runner=()
    if command -v setarch >/dev/null; then runner=(setarch "$(uname -m)" -R); fi
    if "${runner[@]}" "$exe" 3 3; then
        log "tsan: PASS"
    else
        local rc=$?
        echo "fuzz: tsan: FAIL (exit $rc: 66 = a ThreadSanitizer report, else failed checks)" >&2
        return 1
    fi
}

# The committed inputs of the ABI harness through tests/fuzz/replay_main.c: `make check`'s fuzz
# part on a machine without clang. Leaks are the sanitized C ABI test's job (lsan.supp there).
replay() {
    mkdir -p "$out"
    local exe=$out/fuzz_abi_replay
    if [[ ! $exe -nt tests/fuzz/fuzz_abi.c || ! $exe -nt tests/fuzz/replay_main.c ||
          ! $exe -nt target/release/libnstyle.so || ! $exe -nt include/nstyle.h ]]; then
        log "building $exe"
        "${CC:-cc}" -std=c11 -g -O1 -Wall -Wextra -Werror -fno-omit-frame-pointer \
            -fsanitize=address,undefined -fno-sanitize-recover=undefined \
            -Iinclude tests/fuzz/fuzz_abi.c tests/fuzz/replay_main.c -Ltarget/release -lnstyle \
            -Wl,-rpath,"$root/target/release" -lm -o "$exe"
    fi
    local inputs=(tests/fuzz/corpus/abi)
    [[ -d tests/fuzz/findings/abi ]] && inputs+=(tests/fuzz/findings/abi)
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 timeout 900 "$exe" "${inputs[@]}"
    tests/fuzz/findings/check.sh
}

main() {
    case ${1:-} in
    replay) replay ;;
    setup) setup ;;
    build) setup; build_abi; build_image ;;
    fuzz) setup; fuzz "${2:-60}" ;;
    tsan) setup; tsan ;;
    *) echo "usage: $0 setup|build|fuzz SECONDS|tsan|replay" >&2; exit 2 ;;
    esac
}

# Everything above is only definitions, so editing this file during a long run is harmless.
main "$@"
exit
