#!/usr/bin/env bash
# Tests of the Krita plug-in inside Krita 5 (Debian 12's krita), in scratch Krita settings and
# resources under target/krita-test, or $NSTYLE_KRITA_TEST_OUT (the user's own Krita is never
# touched). krita52-chroot.sh runs this script again inside Krita 5.2.
#
#   plugins/krita/test/run-tests.sh LIBNSTYLE_SO WEIGHTS [LITE_WEIGHTS [FAST_WEIGHTS]]
#
# 1. kritarunner (QT_QPA_PLATFORM=offscreen, no X server) runs krita_checks.py: the plug-in's
#    processing path from this checkout (the binding finds the library via $NSTYLE_LIBRARY).
# 2. install.sh installs the plug-in, the binding, the library and the weights into the scratch
#    resources and enables it, with the test-only nstyle_selftest plug-in beside it; the full
#    GUI runs under xvfb-run and the self-test drives Tools > Scripts > Neural Style… and quits.
#    Nothing points at this checkout there: the installed layout must work on its own.
# Prints PASS/FAIL per check and "N passed, M failed"; exits non-zero on any failure.
# Installs krita, python3-pyqt5, xvfb and xauth with apt-get when missing (needs root).
# NSTYLE_KRITA_BUNDLE=DIR (an unpacked release bundle): step 2 only, installed by DIR/install.sh
# --krita (the plug-in with its own library, libtorch and weights in nstyle_krita/vendor/).
set -uo pipefail

if [ $# -lt 2 ] || [ $# -gt 4 ]; then
    sed -n '2,16p' "$0" >&2
    exit 2
fi
lib=$(realpath "$1")
weights=$(realpath "$2")
lite=${3:+$(realpath "$3")}
fast=${4:+$(realpath "$4")}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=${NSTYLE_KRITA_TEST_OUT:-$root/target/krita-test}

# -- dependencies
missing=()
command -v kritarunner >/dev/null || missing+=(krita)
command -v xvfb-run >/dev/null || missing+=(xvfb)
command -v xauth >/dev/null || missing+=(xauth)
/usr/bin/python3 -c 'import PyQt5.QtWidgets' 2>/dev/null || missing+=(python3-pyqt5)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} (apt-get)"
    if [ "$(id -u)" -ne 0 ]; then
        echo "FAIL krita_dependencies: need root to apt-get install ${missing[*]}"
        echo "0 passed, 1 failed"
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 install -y -q krita python3-pyqt5 xvfb xauth \
        >"$out.apt.log" 2>&1 ||
        { apt-get -o DPkg::Lock::Timeout=600 update -q >>"$out.apt.log" 2>&1 &&
          apt-get -o DPkg::Lock::Timeout=600 install -y -q krita python3-pyqt5 xvfb xauth \
            >>"$out.apt.log" 2>&1; } ||
        { tail -n 20 "$out.apt.log"; echo "FAIL krita_dependencies: apt-get failed";
          echo "0 passed, 1 failed"; exit 1; }
fi

# -- scratch Krita: settings and resources kept between runs (the resource database takes ~10 s
#    to build the first time), installed plug-ins and results made anew.
mkdir -p "$out/config" "$out/data" "$out/cache" "$out/runtime"
chmod 700 "$out/runtime"
rm -f "$out"/*.txt
export XDG_CONFIG_HOME=$out/config XDG_DATA_HOME=$out/data XDG_CACHE_HOME=$out/cache
export XDG_RUNTIME_DIR=$out/runtime
unset PYTHONHOME NSTYLE_LIBRARY NSTYLE_WEIGHTS NSTYLE_LITE_WEIGHTS NSTYLE_KRITA_SELFTEST VIRTUAL_ENV
# Krita embeds the system Python, which adopts any venv whose bin/ comes first in PATH (the top
# Makefile puts the torch venv there) and then cannot import PyKrita: drop venvs from PATH.
PATH=$(tr ':' '\n' <<<"$PATH" | while IFS= read -r d; do
    [ -n "$d" ] && [ ! -e "$d/../pyvenv.cfg" ] && printf '%s:' "$d"; done)
export PATH=${PATH%:}
status=0

# 1. the processing path under kritarunner (not for a release bundle: that is step 2's)
if [ -z "${NSTYLE_KRITA_BUNDLE:-}" ]; then
echo "== kritarunner: the processing path"
QT_QPA_PLATFORM=offscreen NSTYLE_LIBRARY=$lib NSTYLE_WEIGHTS=$weights \
    PYTHONPATH=$root/plugins/python:$root/plugins/krita:$here \
    ${lite:+env NSTYLE_LITE_WEIGHTS=$lite} timeout 600 kritarunner -s krita_checks -f main "$out/runner-results.txt" "$out/runner-work" \
    >"$out/runner.log" 2>&1
rc=$?
grep -E '^  ' "$out/runner.log" || true
if [ $rc -ne 0 ] || ! grep -qx END "$out/runner-results.txt" 2>/dev/null; then
    echo "FAIL kritarunner_completed: exit status $rc; the end of $out/runner.log:"
    grep -v '^krita\.' "$out/runner.log" | tail -n 30
    status=1
fi
fi

# 2. the installed plug-in in the GUI under Xvfb
echo "== krita under xvfb-run: the installed plug-in"
rm -rf "$out/data/krita/pykrita"
rm -f "$out/config/kritarc"
if [ -n "${NSTYLE_KRITA_BUNDLE:-}" ]; then
    # The release bundle's installer: the same files Krita's importer takes from its zip.
    rm -f "$out/runner-results.txt"
    KRITA_DATA=$out/data/krita KRITA_RC=$out/config/kritarc "$NSTYLE_KRITA_BUNDLE/install.sh" --krita \
        >"$out/install.log" 2>&1 || { cat "$out/install.log"; status=1; }
    cat "$out/install.log"
else
    bash "$root/plugins/krita/install.sh" "$out/data/krita" "$out/config/kritarc" "$lib" "$weights" $lite $fast \
        >"$out/install.log" 2>&1 || { cat "$out/install.log"; status=1; }
fi
cp -r "$here/nstyle_selftest" "$out/data/krita/pykrita/"
sed -e 's/^X-KDE-Library=.*/X-KDE-Library=nstyle_selftest/' \
    -e 's/^Name=.*/Name=Neural Style self-test/' \
    "$root/plugins/krita/nstyle.desktop" >"$out/data/krita/pykrita/nstyle_selftest.desktop"
printf '[python]\nenable_nstyle_selftest=true\n' >>"$out/config/kritarc"
# Krita's OpenGL canvas crashes on Xvfb's software GL when a second view opens: a plain canvas.
printf '[General]\nOpenGLRenderer=none\n' >"$out/config/kritadisplayrc"
# A plug-in that does not import leaves Krita idle until the timeout: compile them first.
/usr/bin/python3 -m py_compile "$out"/data/krita/pykrita/*/*.py || status=1
NSTYLE_KRITA_SELFTEST=$out/gui-results.txt timeout 240 \
    xvfb-run -a -s '-screen 0 1280x1024x24' krita --nosplash >"$out/gui.log" 2>&1
rc=$?
grep -E '^  ' "$out/gui.log" || true
if ! grep -qx END "$out/gui-results.txt" 2>/dev/null; then
    echo "FAIL krita_gui_completed: exit status $rc; the end of $out/gui.log:"
    grep -v '^krita\.' "$out/gui.log" | tail -n 30
    status=1
fi

cat "$out/runner-results.txt" "$out/gui-results.txt" 2>/dev/null | grep -E '^(PASS|FAIL) '
passed=$(cat "$out"/runner-results.txt "$out"/gui-results.txt 2>/dev/null | grep -c '^PASS ')
failed=$(cat "$out"/runner-results.txt "$out"/gui-results.txt 2>/dev/null | grep -c '^FAIL ')
[ "$status" -ne 0 ] && failed=$((failed + 1))
echo "krita: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
