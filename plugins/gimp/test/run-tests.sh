#!/bin/bash
# Tests of the nstyle GIMP plug-in inside real GIMP, headless: GIMP 2.10 on this machine
# (installed with apt-get when gimp-console-2.10 is missing) and GIMP 3.0 in a cached Debian 13
# chroot (plugins/gimp/test/gimp3-chroot.sh). One PASS/FAIL line per check; exit 1 on any FAIL.
#
#   plugins/gimp/test/run-tests.sh [2.10] [3.0]      (default: both)
#
# Needs target/release/libnstyle.so and the nstyle CLI (make build), the weights (make weights)
# and the project venv's Python with Pillow (make venv). Engine runs are tiny and on the CPU in
# fp32. Environment: NSTYLE_GIMP3=0 skips GIMP 3.0.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
work=$root/target/gimp-test
lib=$root/target/release/libnstyle.so
cli=$root/target/release/nstyle
cache=${XDG_CACHE_HOME:-$HOME/.cache}/nstyle
weights=${NSTYLE_WEIGHTS:-$cache/vgg19-caffe-q8-v1.safetensors}
lite=${NSTYLE_LITE_WEIGHTS:-$cache/efficientnet-lite0-v1.safetensors}
fast=${NSTYLE_FAST_WEIGHTS:-$cache/magenta-arbitrary-v1.safetensors}
python=${NSTYLE_TEST_PYTHON:-$root/.venv/bin/python}
versions=${*:-2.10 3.0}
[ "${NSTYLE_GIMP3:-1}" = 0 ] && versions=${versions//3.0/}

export NSTYLE_DEVICE=cpu NSTYLE_OPTIONS="precision=fp32"
# The plug-in finds the Lite0 and fast weights installed beside it (the GIMP 3.0 chroot cannot see
# the cache's paths): the variables only tell this script which files to install.
unset NSTYLE_LITE_WEIGHTS NSTYLE_FAST_WEIGHTS

passed=0 failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1${2:+ ($2)}"; failed=$((failed + 1)); }
# Counts the PASS/FAIL lines another test script prints.
relay_results() {
  local line
  while read -r line; do
    case $line in
    PASS*) pass "${line#PASS }" ;;
    FAIL*) fail "${line#FAIL }" ;;
    *preview-latency* | *"estimate shown"* | *dialog-size* | *device-choice*) echo "$line" ;;
    esac
  done
}
check() { # check NAME COMMAND...: PASS when the command succeeds
  local name=$1
  shift
  if "$@" >"$work/last-check.log" 2>&1; then pass "$name"; else fail "$name" "$(tail -n 2 "$work/last-check.log" | tr '\n' ' ')"; fi
}
img() { "$python" "$here/imgcheck.py" "$@"; }
# The library's option table (options.py): what the registered defaults and ranges must be.
opt() { "$python" "$here/options.py" "$lib" "$@"; }

for f in "$lib" "$cli" "$weights" "$lite" "$fast" "$python"; do
  if [ ! -e "$f" ]; then
    echo "run-tests.sh: $f is missing: run 'make build weights lite-weights venv' first" >&2
    exit 2
  fi
done
mkdir -p "$work"

# fact LOG KEY: the values of the first "NSFACT KEY ..." message in the log.
fact() { grep -o "NSFACT $2\( .*\)\?\$" "$1" | head -n 1 | cut -d' ' -f3-; }
has_fact() { grep -q "NSFACT $2\( \|\$\)" "$1"; }

style_distance() { # style_distance OUTPUT CONTENT STYLE
  "$cli" eval --device cpu --output "$1" --content "$2" --style "$3" --json |
    "$python" -c 'import json,sys; print(json.load(sys.stdin)["style_distance"])'
}
lower() { "$python" -c 'import sys; a,b=map(float,sys.argv[1:]); print(a,"<",b); sys.exit(0 if a < b else 1)' "$@"; }
# times A B K [MIN]: A > K times B, and A > MIN (default 0)
times() { "$python" -c 'import sys; a,b,k=map(float,sys.argv[1:4]); m=float((sys.argv[4:] or [0])[0]); print(a,">",k,"x",b); sys.exit(0 if a > k * b and a > m else 1)' "$@"; }
# near A B TOLERANCE: |A - B| <= TOLERANCE * B
near() { "$python" -c 'import sys; a,b,t=map(float,sys.argv[1:]); print(a,"~",b); sys.exit(0 if a > 0 and abs(a - b) <= t * b else 1)' "$@"; }

# The procedure arguments after run-mode, image and drawable(s), and the engine options they set.
arg_names=(style-file size iterations content-weight style-weight tv-weight preserve-colors)
arg_options=(- size iterations content_weight style_weight tv_weight preserve_colors)

# help_from_library HELP...: the arguments' help texts, in argument order (style-file first);
# each numeric argument's must name what the library's option accepts and its default.
help_from_library() {
  local helps=("$@") i help ok=0 default
  for ((i = 1; i < ${#arg_names[@]}; i++)); do
    help=${helps[i]}
    # Size defaults to 0 in the plug-in (the layer's own size), not the library's 512.
    default=$(opt get "${arg_options[i]}" default_value)
    [ "${arg_options[i]}" = size ] && default=0
    if [[ $help != *"$(opt get "${arg_options[i]}" accepts)"* ||
      $help != *"(default $default)"* ]]; then
      echo "${arg_names[i]}: '$help'"
      ok=1
    fi
  done
  return $ok
}

# soft_mask LOG: with a feathered selection, the new layer's mask is the selection (same partly
# selected pixel count, same mean), soft edges included (some partly selected pixels).
soft_mask() {
  local mask sel
  mask=$(fact "$1" soft-mask) sel=$(fact "$1" soft-selection)
  echo "mask: $mask; selection: $sel; has mask: $(fact "$1" soft-has-mask)"
  [ "$(fact "$1" soft-has-mask)" = 1 ] && [ -n "$mask" ] && [ "$mask" = "$sel" ] && lower 0 "${mask%% *}"
}

# The checks shared by both versions, on the PNGs and facts of one run. $1: tag, $2: dir, $3: log.
common_checks() {
  local v=$1 d=$2 log=$3
  check "$v registered: plug-in-nstyle in the PDB" test "$(fact "$log" reg-exists)" = 1

  # One run: exactly one new layer, above the source, named after the style, same geometry.
  check "$v run adds exactly one layer" test "$(fact "$log" basic-layers-before) -> $(fact "$log" basic-layers-after)" = "1 -> 2"
  check "$v new layer is returned and sits right above the source" \
    test "$(fact "$log" basic-returned-is-top) $(fact "$log" basic-source-second)" = "1 1"
  check "$v new layer is named after the style file" test "$(fact "$log" basic-name)" = style.png
  check "$v new layer has the drawable's size and offsets" \
    test "$(fact "$log" basic-size) $(fact "$log" basic-offsets)" = "40 32 5 3"
  check "$v no selection: the whole layer, no mask" test "$(fact "$log" basic-has-mask)" = 0
  check "$v new layer's pixels differ from the source" img differ "$d/basic-new.png" "$d/basic-src-before.png" 2
  check "$v source layer is bit-identical after the run" cmp "$d/basic-src-before.png" "$d/basic-src-after.png"
  check "$v alpha survives" img alpha-same "$d/basic-new.png" "$d/basic-src-before.png"

  # Full resolution: size 0 is the layer's own size, sharper than a small result stretched.
  check "$v size 0: the layer's own size (128 x 96), as is size 32 (stretched)" \
    test "$(fact "$log" full-size) $(fact "$log" small-size)" = "128 96 128 96"
  check "$v size 0 is not a stretched small result: more high-frequency detail than size 32's" \
    img sharper "$d/full-new.png" "$d/small-new.png" 1.5

  # Style distance to the style image: lower for the result than for the source.
  local ds dn
  ds=$(style_distance "$d/style-src.png" "$d/style-src.png" "$d/style.png" 2>"$work/eval.log")
  dn=$(style_distance "$d/style-new.png" "$d/style-src.png" "$d/style.png" 2>>"$work/eval.log")
  check "$v style distance of the result ($dn) is lower than the source's ($ds)" lower "${dn:-inf}" "${ds:-0}"

  # A selection confines the change.
  check "$v selection: the new layer gets a mask" test "$(fact "$log" sel-has-mask) $(fact "$log" sel-size)" = "1 48 40"
  check "$v selection: unchanged outside the selection" img region-same "$d/sel-composite.png" "$d/sel-src.png" 24 0 48 40
  check "$v selection: changed inside the selection" img region-differ "$d/sel-composite.png" "$d/sel-src.png" 0 0 24 40
  check "$v selection: source bit-identical" cmp "$d/sel-src.png" "$d/sel-src-after.png"
  check "$v feathered selection: the mask is the selection, soft edges kept" soft_mask "$log"

  # A missing style file: an execution error with the message, and the image as it was.
  check "$v missing style file: the call fails" test "$(fact "$log" missing-result)" = failed
  check "$v missing style file: the error says why" grep -q "no-such-style.png' does not exist" "$log"
  check "$v missing style file: one layer, image clean, source identical" \
    test "$(fact "$log" missing-layers-after) $(fact "$log" missing-dirty) $(cmp -s "$d/missing-src-before.png" "$d/missing-src-after.png" && echo same)" = "1 0 same"

  # Indexed images are refused with a message.
  check "$v indexed image: refused with a message" bash -c "
    test '$(fact "$log" indexed-result)' = failed && grep -q 'convert this indexed image' '$log'"
  check "$v indexed image: still one layer" test "$(fact "$log" indexed-layers-after)" = 1

  # High bit depth and grayscale.
  check "$v 16-bit image: one new layer, 16-bit, changed" bash -c "
    test '$(fact "$log" u16-layers-after)' = 2 &&
    '$python' '$here/imgcheck.py' depth '$d/u16-new.png' 16 &&
    '$python' '$here/imgcheck.py' differ '$d/u16-new.png' '$d/u16-src.png' 1 &&
    cmp '$d/u16-src.png' '$d/u16-src-after.png'"
  check "$v 32-bit float image: one new layer, changed" bash -c "
    test '$(fact "$log" f32-layers-after)' = 2 &&
    '$python' '$here/imgcheck.py' differ '$d/f32-new.png' '$d/f32-src.png' 1 &&
    cmp '$d/f32-src.png' '$d/f32-src-after.png'"
  check "$v grayscale image: a gray new layer, changed" bash -c "
    test '$(fact "$log" gray-layers-after) $(fact "$log" gray-is-gray)' = '2 1' &&
    '$python' '$here/imgcheck.py' gray '$d/gray-new.png' &&
    '$python' '$here/imgcheck.py' differ '$d/gray-new.png' '$d/gray-src.png' 1"

  # (GIMP makes the second layer's name unique: "style.png #1")
  check "$v last-values mode: runs with no dialog" \
    bash -c "test '$(fact "$log" lastvals-layers-after)' = 3 && [[ '$(fact "$log" lastvals-name)' == style.png* ]]"

  # Strength and the lite backbone reach the library (read back with nstyle_get_option), and
  # the lite backbone runs inside GIMP; the bundle holds its weights.
  check "$v lite backbone and strength 0.9: one new layer, changed" bash -c "
    test '$(fact "$log" lite-layers-after)' = 2 &&
    '$python' '$here/imgcheck.py' differ '$d/lite-new.png' '$d/lite-src.png' 1"
  check "$v strength and backbone reach the library (read back: strength=0.9 backbone=lite)" \
    grep -q 'nstyle: strength=0.9 backbone=lite' "$log"
  check "$v the installed bundle holds the three weights (VGG-19, Lite0, the fast network)" \
    test -f "$d/profile/plug-ins/nstyle/$(basename "$weights")" -a -f "$d/profile/plug-ins/nstyle/$(basename "$lite")" \
      -a -f "$d/profile/plug-ins/nstyle/$(basename "$fast")"

  # Weights not found (a GIMP started with NSTYLE_WEIGHTS naming a missing file).
  check "$v weights not found: execution error with the engine's message, image unchanged" bash -c "
    test '$(fact "$d/noweights.log" noweights-result) $(fact "$d/noweights.log" noweights-layers-after)' = 'failed 1' &&
    grep -q 'Neural Style could not start: .*no-such-weights.safetensors' '$d/noweights.log'"
  region_checks "$v" "$d" "$log"
}

# The device argument (issue 27): LOG is the main batch's (NSTYLE_DEVICE=cpu, which overrides
# the argument: a device that does not exist still runs, on the CPU), DLOG a run without
# NSTYLE_DEVICE and with NSTYLE_GIMP_DEBUG (the device the model was asked for, the progress
# line): "cpu" runs there and the progress names it, "cuda:63" fails with the library's word.
device_checks() {
  local v=$1 log=$2 dlog=$3
  check "$v device: NSTYLE_DEVICE=cpu overrides the argument (device cuda:63 runs, on the CPU)" \
    test "$(fact "$log" device-override-result) $(fact "$log" device-override-layers-after)" = "success 2"
  check "$v device cpu without NSTYLE_DEVICE: the model is made on cpu, the progress line names it" bash -c "
    test '$(fact "$dlog" device-cpu-result) $(fact "$dlog" device-cpu-layers-after)' = 'success 2' &&
    grep -q 'nstyle: device=cpu\$' '$dlog' && grep -q 'Neural Style on cpu: iteration [0-9]* of [0-9]*' '$dlog'"
  check "$v device cuda:63 without NSTYLE_DEVICE: refused with the library's reason, no layer" bash -c "
    test '$(fact "$dlog" device-bad-result) $(fact "$dlog" device-bad-layers-after)' = 'failed 1' &&
    grep -q 'nstyle: device=cuda:63\$' '$dlog' && grep -q \"Neural Style could not start: .*'cuda:63'\" '$dlog'"
}

# Region mode (issue 19), on the PNGs of common-tests.scm's region tests: a 96 x 64 layer, its
# left half the style's region. Mean |change| against the photo per side: inside (x < 36, well
# inside the region) and outside (x >= 72, the far right quarter).
region_checks() {
  local v=$1 d=$2 log=$3 inside outside inside_b outside_b inside_c outside_c
  inside=$(img change "$d/region-new.png" "$d/region-src.png" 0 36 2>/dev/null)
  outside=$(img change "$d/region-new.png" "$d/region-src.png" 72 96 2>/dev/null)
  inside_b=$(img change "$d/region-outside-new.png" "$d/region-src.png" 0 36 2>/dev/null)
  outside_b=$(img change "$d/region-outside-new.png" "$d/region-src.png" 72 96 2>/dev/null)
  inside_c=$(img change "$d/region-channel-new.png" "$d/region-src.png" 0 36 2>/dev/null)
  outside_c=$(img change "$d/region-channel-new.png" "$d/region-src.png" 72 96 2>/dev/null)
  echo "REGION $v mean |change| inside/outside: keep photo $inside/$outside; second style outside $inside_b/$outside_b; channel $inside_c/$outside_c"
  check "$v region mode: one new layer on top covering the whole layer (96 x 64 at 0,0), no mask" \
    test "$(fact "$log" region-layers-after) $(fact "$log" region-returned-is-top) $(fact "$log" region-geometry) $(fact "$log" region-has-mask)" = "2 1 96 64 0 0 0"
  check "$v region mode: the style paints inside the selection ($inside), the photo stays outside ($outside)" \
    times "${inside:-0}" "${outside:-inf}" 3 8
  check "$v region mode: the source layer is bit-identical" cmp "$d/region-src.png" "$d/region-src-after.png"
  check "$v region mode, second style outside: a second new layer" test "$(fact "$log" region-outside-layers-after)" = 3
  check "$v region mode, second style outside: the right changes too ($outside_b vs $outside)" \
    times "${outside_b:-0}" "${outside:-inf}" 3
  check "$v region mode, a channel as the region: one new layer" test "$(fact "$log" region-channel-layers-after)" = 2
  check "$v region mode, a channel as the region: inside ($inside_c) >> outside ($outside_c)" \
    times "${inside_c:-0}" "${outside_c:-inf}" 3 8
  check "$v region mode, nothing selected / an empty channel / a layer as region: errors that say why" bash -c "
    test '$(fact "$log" region-none-result) $(fact "$log" region-empty-result) $(fact "$log" region-layer-result)' = 'failed failed failed' &&
    grep -q 'Nothing is selected' '$log' && grep -q 'is empty over the layer' '$log' &&
    grep -q 'The region must be a channel or a layer mask' '$log'"
  check "$v region mode errors: no new layer, image clean, source identical" \
    test "$(fact "$log" region-errors-layers-after) $(fact "$log" region-errors-dirty) $(cmp -s "$d/region-src.png" "$d/region-errors-src-after.png" && echo same)" = "1 0 same"
  # A feathered selection stays soft: the region handed to the library (its debug line) has
  # partly selected pixels, and its mass (mean x 48 x 40) is the selection's (the sum of its
  # values, from GIMP's histogram, which weighs by the selection).
  local partial mass
  partial=$(sed -n 's/^.*nstyle: region 48 x 40, partly selected \([0-9]*\),.*$/\1/p' "$log" | head -n 1)
  mass=$(sed -n 's/^.*nstyle: region 48 x 40, partly selected [0-9]*, mean \([0-9.]*\)$/\1/p' "$log" | head -n 1)
  mass=$("$python" -c 'import sys; print(float(sys.argv[1]) * 48 * 40)' "${mass:-0}")
  check "$v region mode, feathered selection: a new layer with no mask" test "$(fact "$log" region-soft-has-mask)" = 0
  check "$v region mode, feathered selection: the region keeps the soft edge (${partial:-?} partly selected pixels)" \
    test "${partial:-0}" -gt 100
  check "$v region mode, feathered selection: the region is the selection (mass $mass vs $(fact "$log" region-soft-selection))" \
    near "$mass" "$(fact "$log" region-soft-selection)" 0.02
  # Time of the region run against the same run without regions (printed, not asserted).
  local tr tp
  tr=$(sed -n 's/^.*nstyle: optimised 96 x 64 in \([0-9.]*\) s (regions 1)$/\1/p' "$log" | head -n 1)
  tp=$(sed -n 's/^.*nstyle: optimised 96 x 64 in \([0-9.]*\) s (regions 0)$/\1/p' "$log" | head -n 1)
  echo "REGION $v time: region run ${tr:-?} s, same run without regions ${tp:-?} s, ratio $("$python" -c "import sys; print(round(float(sys.argv[1])/float(sys.argv[2]),2))" "${tr:-0}" "${tp:-1}" 2>/dev/null)"
}

# --------------------------------------------------------------------------------------------
# GIMP 2.10

test_gimp2() {
  if ! command -v gimp-console-2.10 >/dev/null || ! pkg-config --exists gimp-2.0 gimpui-2.0; then
    echo "installing GIMP 2.10 (apt-get install gimp libgimp2.0-dev)"
    (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q gimp libgimp2.0-dev) \
      >"$work/apt-gimp2.log" 2>&1 || { fail "2.10 install GIMP" "see $work/apt-gimp2.log"; return; }
  fi
  local built=$work/build-2.10/nstyle
  check "2.10 plug-in builds" "$root/plugins/gimp/build.sh" 2 "$built" "$lib" "$weights" "$lite" "$fast"
  [ -x "$built/nstyle" ] || return

  local d=$work/2.10
  rm -rf "$d"
  mkdir -p "$d/profile/gradients"
  "$python" "$here/make-images.py" "$d" # style2.png (style.png is drawn by GIMP below)
  check "2.10 install into GIMP2_DIRECTORY" env GIMP2_DIRECTORY="$d/profile" "$root/plugins/gimp/install.sh" 2.10 "$built"
  check "2.10 installed plug-in: rpath \$ORIGIN, library beside it" bash -c "
    readelf -d '$d/profile/plug-ins/nstyle/nstyle' | grep -q 'R.*PATH.*\\\$ORIGIN' &&
    test -f '$d/profile/plug-ins/nstyle/libnstyle.so' &&
    ldd '$d/profile/plug-ins/nstyle/nstyle' | grep -q \"libnstyle.so => $d/profile/plug-ins/nstyle/libnstyle.so\" &&
    ! ldd '$d/profile/plug-ins/nstyle/nstyle' | grep -q 'not found'"

  local log=$d/gimp.log
  local scm=$here/gimp2-tests.scm
  local pre="(load \"$here/common-tests.scm\") (load \"$scm\") (set! ns-dir \"$d\") (set! ns-style \"$d/style.png\")"
  local batch=() t
  for t in '(ns-make-style)' '(ns-test-registered)' '(ns-test-basic)' '(ns-test-style)' \
    '(ns-test-selection)' '(ns-test-soft-selection)' '(ns-test-missing)' '(ns-test-indexed)' \
    '(ns-test-depth "u16" PRECISION-U16-GAMMA)' '(ns-test-depth "f32" PRECISION-FLOAT-LINEAR)' \
    '(ns-test-gray)' '(ns-test-last-vals)' '(ns-test-out-of-range)' '(ns-test-lite)' '(ns-test-full-res)' \
    '(ns-test-region)' '(ns-test-region-peer)' '(ns-test-region-channel)' '(ns-test-region-errors)' '(ns-test-region-soft)' \
    '(ns-test-device "device-override" "cuda:63")'; do
    batch+=(-b "(begin $pre $t)")
  done
  (cd "$d" && env -u DISPLAY GIMP2_DIRECTORY="$d/profile" NSTYLE_GIMP_DEBUG=1 timeout 600 gimp-console-2.10 -i -d -f \
    "${batch[@]}" -b '(gimp-quit 0)') >"$log" 2>&1
  local rc=$?
  (cd "$d" && env -u DISPLAY GIMP2_DIRECTORY="$d/profile" NSTYLE_WEIGHTS="$d/no-such-weights.safetensors" \
    timeout 300 gimp-console-2.10 -i -d -f -b "(begin $pre (ns-test-no-weights))" -b '(gimp-quit 0)') \
    >"$d/noweights.log" 2>&1
  (cd "$d" && env -u DISPLAY -u NSTYLE_DEVICE GIMP2_DIRECTORY="$d/profile" NSTYLE_GIMP_DEBUG=1 \
    timeout 300 gimp-console-2.10 -i -d -f -b "(begin $pre (ns-test-device \"device-cpu\" \"cpu\"))" \
    -b "(begin $pre (ns-test-device \"device-bad\" \"cuda:63\"))" -b '(gimp-quit 0)') >"$d/device.log" 2>&1
  check "2.10 gimp-console ran (rc $rc, log $log)" test $rc = 0
  # gimp-console 2.10 exits 0 even when a batch command fails: count the failures.
  check "2.10 no batch command failed" bash -c "! grep -q 'batch command experienced an execution error' '$log'"

  local args
  args=$(for i in 0 1 2 3 4 5 6 7 8 9; do fact "$log" "reg-arg $i" | cut -d' ' -f2-; done | tr '\n' ' ')
  check "2.10 registered: arguments in order" test "$args" = "0 run-mode 13 image 16 drawable 4 style-file 0 size 0 iterations 3 content-weight 3 style-weight 3 tv-weight 0 preserve-colors "
  check "2.10 registered: returns the new layer" test "$(fact "$log" reg-val)" = "0 14 layer"
  args=$(for i in 0 1 2 3 4 5 6 7 8 9 10 11; do fact "$log" "reg2-arg $i" | cut -d' ' -f2-; done | tr '\n' ' ')
  check "2.10 registered: plug-in-nstyle2 takes strength and backbone too" test "$args" = "0 run-mode 13 image 16 drawable 4 style-file 0 size 0 iterations 3 content-weight 3 style-weight 3 tv-weight 0 preserve-colors 3 strength 4 backbone "
  args=$(for i in $(seq 0 14); do fact "$log" "reg3-arg $i" | cut -d' ' -f2-; done | tr '\n' ' ')
  check "2.10 registered: plug-in-nstyle3 takes the regions too (as it always did)" test "$args" = "0 run-mode 13 image 16 drawable 4 style-file 0 size 0 iterations 3 content-weight 3 style-weight 3 tv-weight 0 preserve-colors 3 strength 4 backbone 0 region-mode 16 region-drawable 4 outside-style-file "
  args=$(for i in $(seq 0 15); do fact "$log" "reg4-arg $i" | cut -d' ' -f2-; done | tr '\n' ' ')
  check "2.10 registered: plug-in-nstyle4 takes every argument (the device too)" test "$args" = "0 run-mode 13 image 16 drawable 4 style-file 0 size 0 iterations 3 content-weight 3 style-weight 3 tv-weight 0 preserve-colors 3 strength 4 backbone 0 region-mode 16 region-drawable 4 outside-style-file 4 device "
  check "2.10 registered: device's help names auto, cpu, cuda:N and the NSTYLE_DEVICE override" bash -c '
    echo "$1"; [[ $1 == *auto*cpu*cuda:N*NSTYLE_DEVICE*"(default auto)"* ]]' _ "$(fact "$log" reg4-desc-15)"
  check "2.10 registered: strength and backbone help give the library's accepted values and defaults" bash -c "
    [[ '$(fact "$log" reg2-desc-10)' == *'$(opt get strength accepts)'*'(default $(opt get strength default_value))'* ]] &&
    [[ '$(fact "$log" reg2-desc-11)' == *'$(opt get backbone accepts)'*'(default $(opt get backbone default_value))'* ]]"
  # GIMP 2.10's PDB keeps no ranges or defaults: the argument descriptions carry the library's.
  check "2.10 registered: argument help gives the library's accepted values and defaults" \
    help_from_library "$(fact "$log" reg-desc-3)" "$(fact "$log" reg-desc-4)" "$(fact "$log" reg-desc-5)" \
    "$(fact "$log" reg-desc-6)" "$(fact "$log" reg-desc-7)" "$(fact "$log" reg-desc-8)" "$(fact "$log" reg-desc-9)"
  check "2.10 registered under <Image>/Filters/Artistic for RGB*, GRAY*" bash -c "
    grep -A12 '(proc-def \"plug-in-nstyle\"' '$d/profile/pluginrc' | grep -q '(menu-path \"<Image>/Filters/Artistic\")' &&
    grep -A12 '(proc-def \"plug-in-nstyle\"' '$d/profile/pluginrc' | grep -q '\"RGB\*, GRAY\*\"'"
  check "2.10 iterations out of the engine's range: refused with the engine's message, no layer" bash -c "
    test '$(fact "$log" range-result) $(fact "$log" range-layers-after)' = 'failed 1' &&
    grep -qF \"Invalid iterations 2000000: \" '$log' && grep -qF \"$(opt get iterations accepts)\" '$log'"
  common_checks 2.10 "$d" "$log"
  device_checks 2.10 "$log" "$d/device.log"

  # Interactive: the dialog under Xvfb, OK, then Escape mid-run (xdotool).
  relay_results < <(env -u NSTYLE_GIMP2_BIN "$here/interactive.sh" "$built" "$d/interactive" 2>>"$d/interactive.log")
}

# --------------------------------------------------------------------------------------------
# GIMP 3.0 (Debian 13 chroot)

test_gimp3() {
  . "$here/gimp3-chroot.sh"
  if ! gimp3_chroot_ensure >"$work/gimp3-chroot.log" 2>&1; then
    fail "3.0 Debian 13 chroot with GIMP 3" "see $work/gimp3-chroot.log"
    return
  fi
  local built=$work/build-3.0/nstyle
  check "3.0 plug-in builds (in the chroot)" gimp3_chroot_run "$root/plugins/gimp/build.sh" 3 "$built" "$lib"
  [ -x "$built/nstyle" ] || return
  cp "$weights" "$lite" "$fast" "$built/"

  local d=$work/3.0
  rm -rf "$d"
  mkdir -p "$d/profile/gradients"
  check "3.0 install into GIMP3_DIRECTORY" env GIMP3_DIRECTORY="$d/profile" "$root/plugins/gimp/install.sh" 3.0 "$built"

  "$python" "$here/make-images.py" "$d"
  # GIMP 3 remembers the values of interactive runs only: the last-values test starts from
  # remembered values written here (GIMP's own file for them).
  mkdir -p "$d/profile/plug-in-settings"
  printf '%s\n' "(style-file \"$d/style.png\")" '(size 0)' '(iterations 2)' '(content-weight 5)' \
    '(style-weight 100)' '(tv-weight 0.01)' '(preserve-colors 0)' >"$d/profile/plug-in-settings/GimpProcedureConfigRun-plug-in-nstyle.last"

  local log=$d/gimp.log
  local scm=$here/gimp3-tests.scm
  local pre="(load \"$here/common-tests.scm\") (load \"$scm\") (set! ns-dir \"$d\") (set! ns-style \"$d/style.png\")"
  local batch=() t
  for t in '(ns-test-registered)' '(ns-test-basic)' '(ns-test-style)' \
    '(ns-test-selection)' '(ns-test-soft-selection)' '(ns-test-missing)' '(ns-test-indexed)' \
    '(ns-test-depth "u16" PRECISION-U16-NON-LINEAR)' '(ns-test-depth "f32" PRECISION-FLOAT-LINEAR)' \
    '(ns-test-gray)' '(ns-test-last-vals)' '(ns-test-lite)' '(ns-test-full-res)' \
    '(ns-test-region)' '(ns-test-region-peer)' '(ns-test-region-channel)' '(ns-test-region-errors)' '(ns-test-region-soft)' \
    '(ns-test-device "device-override" "cuda:63")'; do
    batch+=(-b "(begin $pre $t)")
  done
  local g3=(env -u DISPLAY HOME="$d" GIMP3_DIRECTORY="$d/profile" NSTYLE_DEVICE=cpu NSTYLE_GIMP_DEBUG=1
    NSTYLE_OPTIONS="$NSTYLE_OPTIONS" timeout 600 gimp-console-3.0 -i -d -f --quit
    --batch-interpreter=plug-in-script-fu-eval)
  (cd "$d" && gimp3_chroot_run "${g3[@]}" "${batch[@]}") >"$log" 2>&1
  local rc=$?
  (cd "$d" && gimp3_chroot_run "${g3[@]/#NSTYLE_DEVICE=cpu/NSTYLE_WEIGHTS=$d/no-such-weights.safetensors}" \
    -b "(begin $pre (ns-test-no-weights))") >"$d/noweights.log" 2>&1
  # (run-tests.sh exports NSTYLE_DEVICE, which the chroot inherits: unset first.)
  (cd "$d" && gimp3_chroot_run env -u NSTYLE_DEVICE "${g3[@]/#NSTYLE_DEVICE=cpu/NSTYLE_GIMP_DEBUG=1}" \
    -b "(begin $pre (ns-test-device \"device-cpu\" \"cpu\"))" \
    -b "(begin $pre (ns-test-device \"device-bad\" \"cuda:63\"))") >"$d/device.log" 2>&1
  # GIMP 3 exits 70 when a batch command failed, and stops there.
  check "3.0 gimp-console ran, no batch command failed (rc $rc, log $log)" bash -c "
    test $rc = 0 && ! grep -q 'batch command experienced an execution error' '$log'"

  # Registration, as GIMP 3 recorded it in the profile's pluginrc.
  local def=$d/procdef.txt
  awk '/\(proc-def "plug-in-nstyle"/,/\)\)\)/' "$d/profile/pluginrc" >"$def"
  local args
  args=$(grep -o '(proc-arg [0-9]* "[^"]*" "[^"]*" "[^"]*"' "$def" | awk -F'"' '{print $6}' | tr '\n' ' ')
  check "3.0 registered: arguments in order, returns the new layer" \
    test "$args" = "run-mode image drawables style-file size iterations content-weight style-weight tv-weight preserve-colors strength backbone region-mode region-drawable outside-style-file device layer "
  # Each numeric argument's "min max default", as GIMP recorded the param spec, against the
  # library's option table; size also takes 0 (the layer's own size).
  local ranges=() i spec
  for ((i = 1; i < ${#arg_names[@]}; i++)); do
    spec=$(sed -n "s/.*(proc-arg [0-9]* \"[^\"]*\" \"[^\"]*\" \"${arg_names[i]}\" .*\" [0-9]* \(.*\))\$/\1/p" "$def")
    ranges+=("${arg_options[i]}" ${spec:-none none none})
  done
  check "3.0 registered: size takes 0 (the layer's own size) and defaults to it" \
    test "${ranges[1]} ${ranges[3]}" = "0 0"
  ranges[1]=-
  ranges[3]=-
  spec=$(sed -n "s/.*(proc-arg [0-9]* \"[^\"]*\" \"[^\"]*\" \"strength\" .*\" [0-9]* \(.*\))\$/\1/p" "$def")
  ranges+=(strength ${spec:-none none none})
  check "3.0 registered: ranges and defaults are the library's (strength too)" opt same "${ranges[@]}"
  local helps=() arg
  for arg in "${arg_names[@]}"; do
    helps+=("$(grep -o "(proc-arg [0-9]* \"[^\"]*\" \"[^\"]*\" \"$arg\" \"[^\"]*\" \"[^\"]*\"" "$def" | awk -F'"' '{print $10}')")
  done
  check "3.0 registered: argument help gives the library's accepted values and defaults" help_from_library "${helps[@]}"
  check "3.0 registered under <Image>/Filters/Artistic for RGB*, GRAY*" bash -c "
    grep -q '(menu-path \"<Image>/Filters/Artistic\")' '$def' && grep -q '\"RGB\*, GRAY\*\"' '$def' &&
    grep -q ' 16 1\$' '$def'"  # (16 arguments, 1 return value)
  common_checks 3.0 "$d" "$log"
  device_checks 3.0 "$log" "$d/device.log"

  # Interactive: the dialog in full gimp-3.0 under Xvfb, screenshotted, then cancelled (Escape).
  relay_results < <("$here/interactive3.sh" "$d/interactive" "$built" 2>>"$d/interactive.log")
}

for v in $versions; do
  case $v in
  2.10) test_gimp2 ;;
  3.0) test_gimp3 ;;
  *) echo "unknown GIMP version $v" >&2; exit 2 ;;
  esac
done

echo "gimp plug-in tests: $passed passed, $failed failed"
[ "$failed" = 0 ]
