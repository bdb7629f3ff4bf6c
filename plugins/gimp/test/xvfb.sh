# An X display for the interactive tests (interactive.sh, interactive3.sh), which source this.
#
#   xvfb_start OUT_DIR FIRST SCREEN   installs Xvfb, xdotool and ImageMagick's import when one is
#                                     missing (apt-get; log in OUT_DIR/apt.log), starts Xvfb with
#                                     SCREEN (e.g. 1024x768x24) on the first free display from
#                                     :FIRST on (other tests may hold X servers at the same time),
#                                     waits until it answers, exports DISPLAY and sets $display and
#                                     $xvfb (its pid); returns 1 when no server came up
xvfb_start() {
  local out=$1 first=$2 screen=$3 tool n
  for tool in Xvfb xdotool import; do
    if ! command -v $tool >/dev/null; then
      (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q xvfb xdotool imagemagick) \
        >"$out/apt.log" 2>&1
      break
    fi
  done
  for ((n = first; n < first + 10; n++)); do
    [ -e "/tmp/.X$n-lock" ] || [ -e "/tmp/.X11-unix/X$n" ] && continue
    display=:$n
    Xvfb "$display" -screen 0 "$screen" -nolisten tcp >"$out/xvfb.log" 2>&1 &
    xvfb=$!
    local _
    for _ in $(seq 1 50); do
      kill -0 "$xvfb" 2>/dev/null || break # lost the display to another server: next one
      if DISPLAY=$display xdotool getdisplaygeometry >/dev/null 2>&1; then
        export DISPLAY=$display
        return 0
      fi
      sleep 0.2
    done
    kill "$xvfb" 2>/dev/null
  done
  echo "xvfb_start: no X server from :$first on (see $out/xvfb.log)" >&2
  return 1
}
