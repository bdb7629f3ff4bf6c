#!/bin/bash
# The interactive dialog of the GIMP 3.0 plug-in: full gimp-3.0 (not gimp-console) in the
# Debian 13 chroot (gimp3-chroot.sh) on an Xvfb display of this machine, a fresh profile with
# the built 3.0 plug-in, a small image opened in a display, plug-in-nstyle called with
# RUN-INTERACTIVE from a Script-Fu batch; when the "Neural Style" dialog appears it is
# screenshotted and cancelled (Escape), then GIMP quits and the chroot is unmounted.
#
# The screen is a laptop's, 1366 x 768 (issue 26): the dialog's window, measured with xwininfo,
# must fit it with NS_SCREEN_MARGIN px of its height left for a desktop's panel and the window's
# title bar (there is no window manager here to add them); the test prints the size.
#
#   plugins/gimp/test/interactive3.sh [OUT_DIR [PLUGIN_DIR]]   (as root; default
#                                   target/gimp-test/interactive3 and target/gimp/3.0/nstyle)
#
# Screenshot: target/gimp-test/screenshots/dialog-gimp3.0.png. Prints "PASS/FAIL interactive ..."
# lines and exits 1 on a FAIL. The plug-in folder is target/gimp/3.0/nstyle (built in the chroot
# with build.sh when missing: Debian 12 has no libgimp-3.0-dev, so `make gimp-plugin` cannot build
# it here). Xvfb, xdotool and ImageMagick's import run on this machine (apt-get installs them when
# missing); the chroot's GIMP reaches the display through X's abstract socket.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=${1:-$root/target/gimp-test/interactive3}
mkdir -p "$out" && out=$(cd "$out" && pwd)
shots=$root/target/gimp-test/screenshots
shot=$shots/dialog-gimp3.0.png
device_shot=$shots/device-choice-gimp3.0.png
mkdir -p "$shots"
lib=$root/target/release/libnstyle.so
weights=${NSTYLE_WEIGHTS:-${XDG_CACHE_HOME:-$HOME/.cache}/nstyle/vgg19-caffe-q8-v1.safetensors}
lite=${NSTYLE_LITE_WEIGHTS:-${XDG_CACHE_HOME:-$HOME/.cache}/nstyle/efficientnet-lite0-v1.safetensors}
python=${NSTYLE_TEST_PYTHON:-$root/.venv/bin/python}
built=${2:-$root/target/gimp/3.0/nstyle}

. "$here/gimp3-chroot.sh"
gimp3_chroot_ensure >"$out/chroot.log" 2>&1 || { echo "FAIL interactive 3.0 chroot (see $out/chroot.log)"; exit 1; }

# The plug-in folder: `make gimp-plugin` first (library, weights, and 3.0 where libgimp-3.0-dev
# is installed), then the 3.0 front end built in the chroot, as run-tests.sh does.
if [ ! -x "$built/nstyle" ] || [ ! -e "$built/$(basename "$weights")" ] || [ ! -e "$built/$(basename "$lite")" ]; then
  [ -e "$lib" ] && [ -e "$weights" ] || (cd "$root" && nice make gimp-plugin) >"$out/make.log" 2>&1
  # (build.sh runs in the chroot, where the weights' cache folder is not mounted: copied after.)
  [ -x "$built/nstyle" ] || gimp3_chroot_run nice "$here/../build.sh" 3 "$built" "$lib" >"$out/build.log" 2>&1
  [ -x "$built/nstyle" ] && cp "$weights" "$lite" "$built/"
fi
[ -x "$built/nstyle" ] || { echo "FAIL interactive 3.0 plug-in built (see $out/build.log)"; exit 1; }

# A fresh profile with the plug-in, remembered values (a style file) for the dialog, and no
# first-run welcome dialog.
rm -rf "$out/profile" "$out/home" "$out/preview"
mkdir -p "$out/preview"
mkdir -p "$out/profile/gradients" "$out/profile/plug-in-settings" "$out/home"
GIMP3_DIRECTORY="$out/profile" "$here/../install.sh" 3.0 "$built" >/dev/null || exit 1
printf '%s\n' '(show-welcome-dialog no)' '(show-tips no)' >"$out/profile/gimprc"
"$python" "$here/make-images.py" "$out"
# A second style for the preview test: large red and cream squares.
"$python" -c 'import sys
from PIL import Image
im = Image.new("RGB", (40, 40))
im.putdata([(200, 20, 40) if (x // 12 + y // 12) % 2 else (250, 250, 210) for y in range(40) for x in range(40)])
im.save(sys.argv[1])' "$out/style2.png"
printf '%s\n' "(style-file \"$out/style.png\")" '(size 0)' '(iterations 200)' '(content-weight 5)' \
  '(style-weight 100)' '(tv-weight 0.01)' '(preserve-colors 0)' \
  >"$out/profile/plug-in-settings/GimpProcedureConfigRun-plug-in-nstyle.last"

. "$here/xvfb.sh"
screen_w=1366 screen_h=768
NS_SCREEN_MARGIN=${NS_SCREEN_MARGIN:-80}
xvfb_start "$out" 80 ${screen_w}x${screen_h}x24 || { echo "FAIL interactive: Xvfb did not start"; exit 1; }
gimp=
descendants() { # descendants PID: the pids of its process tree, children first
  local c
  for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do descendants "$c"; echo "$c"; done
}
cleanup() {
  if [ -n "$gimp" ]; then # GIMP and its plug-ins, which run under chroot: stop what is left
    kill $(descendants "$gimp") "$gimp" 2>/dev/null
    sleep 2
  fi
  _gimp3_umount "$GIMP3_CHROOT"
  kill "$xvfb" 2>/dev/null
}
trap cleanup EXIT

# content.png (48 x 48) scaled to 256 x 192, shown in a display; the dialog call blocks the batch
# until the dialog is closed.
scm="(let* ((img (car (gimp-file-load RUN-NONINTERACTIVE \"$out/content.png\")))
        (lay (vector-ref (car (gimp-image-get-layers img)) 0)))
   (gimp-image-scale img 256 192)
   (gimp-item-set-name lay \"photo\")
   (gimp-image-clean-all img)
   (gimp-display-new img)
   (gimp-displays-flush)
   (gimp-message \"NSFACT interactive-dialog\")
   (let ((r (catch 'error (plug-in-nstyle #:run-mode RUN-INTERACTIVE #:image img #:drawables (vector lay)))))
     (gimp-message (string-append \"NSFACT interactive-result \" (if (eq? r 'error) \"error\" \"returned\"))))
   (gimp-message (string-append \"NSFACT interactive-after \"
     (number->string (vector-length (car (gimp-image-get-layers img))))
     (let ((v (car (gimp-image-is-dirty img))))
       (if (or (eq? v #t) (and (number? v) (= v 1))) \" 1\" \" 0\"))))
   (gimp-image-clean-all img))"
(cd "$out" && gimp3_chroot_run env DISPLAY="$display" HOME="$out/home" GIMP3_DIRECTORY="$out/profile" \
  NSTYLE_DEVICE=cpu NSTYLE_OPTIONS="precision=fp32" NO_AT_BRIDGE=1 \
  NSTYLE_GIMP_PREVIEW_TEST="$out/preview" NSTYLE_GIMP_PREVIEW_TEST_STYLE2="$out/style2.png" \
  timeout 300 nice gimp-3.0 --no-splash -d -f --console-messages --batch-interpreter=plug-in-script-fu-eval \
  -b "$scm" -b '(gimp-quit 1)') >"$out/gimp.log" 2>&1 &
gimp=$!

failed=0
result() { if [ "$2" = 0 ]; then echo "PASS interactive $1"; else echo "FAIL interactive $1"; failed=1; fi; }

# dialog_size WINDOW: "WIDTH HEIGHT" of the window as X has it (its whole window: there is no
# window manager to add a frame).
dialog_size() {
  xwininfo -id "$1" 2>/dev/null | awk '/^ *Width:/ { w = $2 } /^ *Height:/ { h = $2 } END { print w + 0, h + 0 }'
}

win=
for _ in $(seq 1 240); do
  win=$(xdotool search --name '^Neural Style$' 2>/dev/null | head -n 1)
  [ -n "$win" ] && break
  kill -0 "$gimp" 2>/dev/null || break
  sleep 0.5
done
result "3.0 dialog opens" "$([ -n "$win" ]; echo $?)"
rm -f "$shot" "$device_shot"
if [ -n "$win" ]; then
  # The dialog drives its preview itself (NSTYLE_GIMP_PREVIEW_TEST, see nstyle-ui.h): wait for
  # the first preview to finish before the screenshot.
  for _ in $(seq 1 120); do
    grep -q 'NSFACT preview-final 1 ' "$out/gimp.log" && break
    sleep 0.5
  done
  # No window manager: every window sits at its own position, so move the dialog to the
  # screen's right edge (over the image window where it must), and hide GIMP's first-run
  # welcome dialog (a fresh profile shows it).
  for w in $(xdotool search --name '^Welcome to GIMP' 2>/dev/null); do xdotool windowunmap "$w"; done
  size=$(dialog_size "$win")
  xdotool windowmove --sync "$win" $((screen_w - ${size% *} > 0 ? screen_w - ${size% *} : 0)) 0 2>/dev/null
  # The pointer off the dialog: no tooltip in the screenshot.
  xdotool mousemove 0 $((screen_h - 1)) 2>/dev/null
  sleep 1
  import -window root "$shot"
  import -window "$win" "$out/dialog-only.png"
  # The device choice, opened (a click on the combo box, where the dialog reported it), then
  # closed by a click on the row it opened on (the active one: nothing changes).
  combo=$(grep -o 'NSFACT device-combo .*' "$out/gimp.log" | tail -n 1 | cut -d' ' -f3-)
  if [ -n "$combo" ]; then
    read -r cx cy cw ch <<<"$combo"
    xdotool mousemove --window "$win" $((cx + cw / 2)) $((cy + ch / 2)) click 1 2>/dev/null
    sleep 1.5
    import -window root "$device_shot"
    xdotool mousemove --window "$win" $((cx + cw / 2)) $((cy + ch / 2)) click 1 2>/dev/null
    sleep 0.5
    xdotool mousemove 0 $((screen_h - 1)) 2>/dev/null
  fi
  xdotool search --onlyvisible --name . 2>/dev/null | while read -r w; do
    echo "window $w: $(xdotool getwindowname "$w" 2>/dev/null) $(xdotool getwindowgeometry "$w" 2>/dev/null | tr '\n' ' ')"
  done >"$out/windows.txt"
  # Then the test's user changes strength and style and cancels the dialog itself; Escape
  # only if it has not closed in time. The dialog's size is taken while that goes on: its
  # labels change with the previews, and the largest size seen counts.
  sizes=("$size")
  for _ in $(seq 1 180); do
    grep -q 'NSFACT preview-freed' "$out/gimp.log" && break
    s=$(dialog_size "$win")
    [ "$s" != "0 0" ] && sizes+=("$s")
    sleep 0.5
  done
  max_w=0 max_h=0
  for s in "${sizes[@]}"; do
    [ "${s% *}" -gt "$max_w" ] && max_w=${s% *}
    [ "${s#* }" -gt "$max_h" ] && max_h=${s#* }
  done
  if ! grep -q 'NSFACT preview-freed' "$out/gimp.log"; then
    # No window manager: focus the dialog and cancel it through XTEST.
    xdotool windowfocus --sync "$win" 2>/dev/null
    xdotool key Escape
  fi
else
  import -window root "$out/no-dialog.png"
fi
for _ in $(seq 1 60); do
  kill -0 "$gimp" 2>/dev/null || break
  sleep 0.5
done
kill -0 "$gimp" 2>/dev/null && { echo "gimp still running after the cancel: stopping it"; kill $(descendants "$gimp") "$gimp"; }
wait "$gimp"
gimp=
grep -o 'NSFACT .*' "$out/gimp.log"
result "3.0 screenshot $shot" "$([ -s "$shot" ]; echo $?)"
if [ -n "$win" ]; then
  echo "NSFACT dialog-size 3.0 $max_w x $max_h on a $screen_w x $screen_h screen (first shown: ${sizes[0]/ / x })"
  result "3.0 dialog fits a $screen_w x $screen_h screen: $max_w x $max_h, at most $screen_w x $((screen_h - NS_SCREEN_MARGIN)) (${NS_SCREEN_MARGIN} px left for a panel and the title bar)" "$(
    [ "$max_w" -gt 0 ] && [ "$max_w" -le "$screen_w" ] && [ "$max_h" -le $((screen_h - NS_SCREEN_MARGIN)) ]; echo $?)"
fi
# The device choice: "Auto", then the library's devices (nstyle.devices(), by the Python
# binding on the same library) in its order, by name, an unusable one with its reason.
want=$(NSTYLE_LIBRARY=$lib "$python" -c 'import nstyle
for i, d in enumerate(nstyle.devices(), 1):
    print(i, d.id, int(d.reason is None), d.name if d.reason is None else "%s — cannot be used: %s" % (d.name, d.reason))' 2>&1)
got=$(grep -o 'NSFACT device-row .*' "$out/gimp.log" | cut -d' ' -f3- | head -n "$(wc -l <<<"$want")")
echo "NSFACT device-choice 3.0: Auto; $(cut -d' ' -f2- <<<"$got" | tr '\n' ';')"
result "3.0 device choice: Auto, then the library's devices by name ($(wc -l <<<"$want") here), screenshot $device_shot" "$(
  [ -n "$got" ] && [ "$got" = "$want" ] && [ -s "$device_shot" ]; echo $?)"
result "3.0 cancel: the call returns, no layer added" "$(grep -q 'NSFACT interactive-after 1' "$out/gimp.log"; echo $?)"
. "$here/preview-checks.sh"
preview_checks 3.0 "$out/gimp.log" "$out/preview" 256 192
result "3.0 preview never touches the image: one layer, not dirty" "$(grep -q 'NSFACT interactive-after 1 0' "$out/gimp.log"; echo $?)"
exit $failed
