# The checks on the dialog's preview, shared by interactive.sh (2.10) and interactive3.sh (3.0),
# which source this. The dialog drove itself (NSTYLE_GIMP_PREVIEW_TEST, nstyle-ui.h): preview 1
# with the remembered style, 2 with strength at its maximum, 3 with a second style, 4 with
# strength at its minimum, cancelled while it ran.
#
#   preview_checks TAG LOG DIR W H   the log with the NSFACT lines, the folder of preview-N.png,
#                                    the size the previews must have; prints PASS/FAIL lines
#                                    (through the caller's `result NAME STATUS`) and the latency
#   (needs $here, the test folder; Python: $NSTYLE_TEST_PYTHON or the project's .venv)
preview_checks() {
  local tag=$1 log=$2 dir=$3 w=$4 h=$5 f1 f3 freed
  local python=${NSTYLE_TEST_PYTHON:-$(cd "$here/../../.." && pwd)/.venv/bin/python}
  pfact() { grep -o "NSFACT $1 .*" "$log" | head -n 1 | cut -d' ' -f3-; }
  img() { "$python" "$here/imgcheck.py" "$@" 2>/dev/null; }
  f1=$(pfact "preview-final 1") f3=$(pfact "preview-final 3") freed=$(pfact preview-freed)
  # "JOB W H SECONDS FIRST_SECONDS": seconds from the style being chosen (the dialog opening
  # with it, or the change) to the finished preview and to the first one shown.
  echo "NSFACT $tag preview-latency first frame ${f1##* } s, finished $(cut -d' ' -f4 <<<"$f1") s after the dialog opened with a style; after a style change: first ${f3##* } s, finished $(cut -d' ' -f4 <<<"$f3") s"
  result "$tag preview appears: $w x $h, not flat" "$(
    [ "$(cut -d' ' -f2-3 <<<"$f1")" = "$w $h" ] && img size "$dir/preview-1.png" "$w" "$h" &&
      img varied "$dir/preview-1.png"; echo $?)"
  # ABI 6: the status under the preview lists the loss terms by name (nstyle_progress_term).
  result "$tag preview status lists the loss terms by name" "$(
    grep -q 'NSFACT preview-terms 1 content [-0-9.e+]* [^ ]* style [-0-9.e+]* [^ ]* tv [-0-9.e+]*$' "$log"; echo $?)"
  # The library's driver shows the feed-forward network's quick picture first (its weights are
  # installed beside the plug-in), then refines it.
  result "$tag preview: the quick picture comes first, then the refinement" "$(
    grep -o 'NSFACT preview-frame 1 .*' "$log" | head -n 1 | grep -q ' quick$' &&
      grep -q 'NSFACT preview-frame 1 .* refined$' "$log"; echo $?)"
  result "$tag preview changes when strength changes" "$(img differ "$dir/preview-1.png" "$dir/preview-2.png" 1; echo $?)"
  result "$tag preview changes when the style changes" "$(img differ "$dir/preview-2.png" "$dir/preview-3.png" 1; echo $?)"
  # How soon the first frame comes is a figure (the NSFACT latency line above), not a check: on a
  # machine shared with other work it says more about the load than about the plug-in.
  # The full run's estimate under the preview ("JOB SECONDS W H REGION_W REGION_H TEXT"): the
  # library's nstyle_estimate_seconds for the dialog's settings at the layer's size.
  local est
  est=$(pfact "estimate 1")
  echo "NSFACT $tag estimate shown: $(cut -d' ' -f7- <<<"$est")"
  result "$tag estimate shown under the preview: positive, for the $w x $h layer, in words" "$(
    "$python" -c 'import sys; sys.exit(0 if float(sys.argv[1]) > 0 else 1)' "$(cut -d' ' -f2 <<<"$est")" 2>/dev/null &&
      [ "$(cut -d' ' -f5-6 <<<"$est")" = "$w $h" ] && [[ $est == *"on this machine"* ]]; echo $?)"
  result "$tag preview: closing the dialog mid-preview stops it (worker joined, model freed: ${freed:-never} s)" "$(
    grep -q 'NSFACT preview-frame 4 ' "$log" && ! grep -q 'NSFACT preview-final 4 ' "$log" &&
      "$python" -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 5 else 1)' "$freed" 2>/dev/null; echo $?)"
}
