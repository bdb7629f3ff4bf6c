#!/bin/bash
# Runs inside a clean root (scripts/dist/clean-system-test.sh copies it there with the tarball,
# the C example and the test images): what a user does with the release, one PASS/FAIL line each.
#
#   bash inside-clean-system.sh 2.10|3.0
set -uo pipefail
gimp=$1
cd "$(dirname "$0")"
here=$PWD
failed=0
check() { # check NAME COMMAND...: PASS or FAIL with the command's last output lines
  local name=$1
  shift
  if "$@" >"$here/check.log" 2>&1; then
    echo "PASS $name"
  else
    echo "FAIL $name"
    tail -n 25 "$here/check.log" | sed 's/^/    /'
    failed=1
  fi
}
seconds_since() { awk -v s="$1" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }'; }

echo "system: $(. /etc/os-release && echo "$PRETTY_NAME"), glibc $(ldd --version | head -n 1 | awk '{print $NF}')"
check "a clean system: no cargo, rustc, torch or nstyle cache; HOME empty" bash -c '
  ! command -v cargo && ! command -v rustc && [ ! -e "$HOME/.cache/nstyle" ] &&
  [ -z "$(ls -A "$HOME")" ] && ! find / -xdev -name "libtorch_cpu.so" -not -path "/scratch-nstyle/*" 2>/dev/null | grep -q .'

started=$(date +%s.%N)
tar -xf nstyle-*-linux-x86_64.tar.xz
bundle=$(echo "$here"/nstyle-*-linux-x86_64)
echo "unpacked in $(seconds_since "$started") s: $(du -sm "$bundle" | cut -f1) MiB"

elfs=$(find "$bundle" -type f -exec sh -c 'head -c 4 "$1" | grep -q ELF' _ {} \; -print)
# The other GIMP's plug-in needs that GIMP's libraries, which this system does not have.
other_gimp=$bundle/plugins/gimp-$([ "$gimp" = 2.10 ] && echo 3.0 || echo 2.10)/
runnable=$(grep -v "^$other_gimp" <<<"$elfs")
check "ldd: every shipped ELF (but the other GIMP's plug-in) resolves inside the bundle or to the base system" bash -c '
  bad=0
  for elf in $0; do
    ldd "$elf" | grep -q "not found" && { echo "$elf:"; ldd "$elf" | grep "not found"; bad=1; }
    # Anything resolved outside the bundle must be the base system (libc, libstdc++, GIMP libs).
    ldd "$elf" | awk "/=> \\// {print \$3}" | grep -v "^$1/" | grep -v -E "^/(usr/)?lib/" &&
      { echo "$elf resolves outside the bundle and the base system"; bad=1; }
  done
  exit $bad' "$runnable" "$bundle"
check "readelf: no absolute RUNPATH or RPATH in any shipped ELF" bash -c '
  for elf in $0; do
    readelf -d "$elf" | grep -E "R(UN)?PATH" | grep -v "\[\$ORIGIN" && { echo "in $elf"; exit 1; }
  done; exit 0' "$elfs"

check "bin/nstyle doctor: status ok, libtorch from the bundle, weights match SHA256SUMS" bash -c "
  '$bundle/bin/nstyle' doctor | tee doctor.txt &&
  grep -q 'status: ok' doctor.txt && grep -q 'libtorch  *$bundle/lib/libtorch_cpu.so' doctor.txt &&
  [ \$(grep -c 'matches SHA256SUMS' doctor.txt) = 2 ]"
cat doctor.txt 2>/dev/null | sed 's/^/    /'

started=$(date +%s.%N)
check "bin/nstyle run on a small photo" bash -c "
  '$bundle/bin/nstyle' run --content content.png --style style.png --output run.png --size 64 \
    --iterations 6 --device cpu && [ -s run.png ] && ! cmp -s run.png content.png"
echo "    nstyle run: $(seconds_since "$started") s"

check "the C example, built with pkg-config against the unpacked include/ and lib/" bash -c "
  cc -std=c11 -O2 -Wall nstyle_cli.c \$(PKG_CONFIG_PATH='$bundle/lib/pkgconfig' pkg-config --cflags --libs nstyle) -o app &&
  ./app content.ppm style.ppm app.ppm 24 2 && head -c 2 app.ppm | grep -q P6"

check "install.sh --prefix, a program built against it, --uninstall removes it all" bash -c "
  '$bundle/install.sh' --prefix '$here/prefix' &&
  cc -std=c11 nstyle_cli.c \$(PKG_CONFIG_PATH='$here/prefix/lib/pkgconfig' pkg-config --cflags --libs nstyle) -o app2 &&
  ./app2 content.ppm style.ppm app2.ppm 24 2 &&
  '$bundle/install.sh' --prefix '$here/prefix' && # again: idempotent
  '$bundle/install.sh' --uninstall --prefix '$here/prefix' && [ ! -e '$here/prefix/lib' ]"

# GIMP: install.sh finds it from the gimp command (no profile yet), then the filter in gimp-console.
if [ "$gimp" = 2.10 ]; then
  profile=$HOME/.config/GIMP/2.10
  console=(gimp-console-2.10 -i -d -f)
  call='(let* ((img (car (gimp-file-load RUN-NONINTERACTIVE "content.png" "content.png")))
               (lay (car (gimp-image-get-active-layer img))))
          (plug-in-nstyle RUN-NONINTERACTIVE img lay "style.png" 0 4 5.0 100.0 0.01 0)
          (gimp-message (string-append "NSLAYERS " (number->string (car (gimp-image-get-layers img)))))
          (file-png-save2 RUN-NONINTERACTIVE img (car (gimp-image-get-active-layer img))
                          "gimp.png" "gimp.png" 0 9 0 0 0 0 0 0 0))'
  batch=(-b "$call" -b '(gimp-quit 0)')
else
  profile=$HOME/.config/GIMP/3.0
  console=(gimp-console-3.0 -i -d -f --quit --batch-interpreter=plug-in-script-fu-eval)
  call='(let* ((img (car (gimp-file-load RUN-NONINTERACTIVE "content.png")))
               (lay (vector-ref (car (gimp-image-get-layers img)) 0)))
          (plug-in-nstyle #:run-mode RUN-NONINTERACTIVE #:image img #:drawables (vector lay)
                          #:style-file "style.png" #:size 0 #:iterations 4 #:content-weight 5.0
                          #:style-weight 100.0 #:tv-weight 0.01 #:preserve-colors 0)
          (gimp-message (string-append "NSLAYERS " (number->string (vector-length (car (gimp-image-get-layers img))))))
          (file-png-export #:run-mode RUN-NONINTERACTIVE #:image img #:file "gimp.png"
                           #:interlaced FALSE #:compression 9 #:bkgd FALSE #:offs FALSE #:phys FALSE
                           #:time FALSE #:save-transparent FALSE #:include-exif FALSE
                           #:include-iptc FALSE #:include-xmp FALSE #:include-color-profile FALSE
                           #:include-thumbnail FALSE #:include-comment FALSE))'
  batch=(-b "$call")
fi
started=$(date +%s.%N)
check "install.sh --gimp finds GIMP $gimp and installs the plug-in" bash -c "
  '$bundle/install.sh' --gimp | tee install.txt && [ -x '$profile/plug-ins/nstyle/nstyle' ] &&
  [ -e '$profile/plug-ins/nstyle/libtorch_cpu.so' ] && [ ! -L '$profile/plug-ins/nstyle/libtorch_cpu.so' ]"
check "GIMP $gimp: the filter inside gimp-console adds a stylised layer" bash -c '
  "$@" >gimp.log 2>&1; rc=$?
  cat gimp.log | tail -n 15
  [ $rc = 0 ] && ! grep -q "execution error" gimp.log && grep -q "NSLAYERS 2" gimp.log &&
  [ -s gimp.png ] && ! cmp -s gimp.png content.png' _ "${console[@]}" "${batch[@]}"
echo "    from unpacking to a stylised layer in GIMP: install $(seconds_since "$started") s in all (this step and the one above)"
check "install.sh --gimp again replaces it; --uninstall removes exactly it" bash -c "
  mkdir -p '$profile/plug-ins/other' && touch '$profile/plug-ins/other/keep' &&
  '$bundle/install.sh' --gimp && '$bundle/install.sh' --uninstall --gimp &&
  [ ! -e '$profile/plug-ins/nstyle' ] && [ -e '$profile/plug-ins/other/keep' ] &&
  [ -z \"\$(ls -A '$profile/plug-ins' | grep -v '^other\$')\" ]"

check "install.sh --krita where there is no Krita: a clear message, nothing made" bash -c "
  ! '$bundle/install.sh' --krita 2>nokrita.txt && grep -q 'Krita not found' nokrita.txt &&
  [ ! -e '$HOME/.local/share/krita' ]"

# The GPU add-on from an installed torch 2.11.0 (clean-system-test.sh put one in torch-site/ when
# asked): installed, found and loaded by the bundle's library, and on this machine without a
# driver the CPU, with the reason; --device cuda refused with it; --uninstall --gpu removes it.
if [ -d torch-site ]; then
  addon=$bundle/lib/cuda-2.11.0
  started=$(date +%s.%N)
  check "install.sh --gpu --torch: the add-on from an installed torch 2.11.0, in lib/cuda-2.11.0" bash -c "
    '$bundle/install.sh' --gpu --torch '$here/torch-site' | tee gpu-install.txt &&
    [ -e '$addon/BUILD' ] && [ -e '$addon/torch/lib/libtorch_cuda.so' ] && [ -d '$addon/nvidia/cudnn/lib' ] &&
    [ ! -e '$bundle/lib/.cuda-2.11.0.installing' ] && [ ! -e '$bundle/lib/.cuda-2.11.0.downloads' ] &&
    grep -q 'GPU add-on: installed' gpu-install.txt"
  echo "    install.sh --gpu --torch: $(seconds_since "$started") s"
  check "doctor: the add-on loaded from the bundle; no driver here, so the CPU, with the reason" bash -c "
    '$bundle/bin/nstyle' doctor | tee doctor-gpu.txt && grep -q 'status: ok' doctor-gpu.txt &&
    grep -q 'CUDA add-on  *loaded from $addon/torch/lib (the bundle' doctor-gpu.txt &&
    grep -q 'NVIDIA driver  *no NVIDIA driver' doctor-gpu.txt &&
    grep -q 'CUDA  *not used: no NVIDIA driver' doctor-gpu.txt && grep -q 'device  *Cpu (asked: auto)' doctor-gpu.txt"
  grep -E '^(CUDA|NVIDIA|GPU|device)' doctor-gpu.txt 2>/dev/null | sed 's/^/    /'
  check "bin/nstyle run with the add-on loaded: on the CPU" bash -c "
    '$bundle/bin/nstyle' run --content content.png --style style.png --output gpu-auto.png --size 32 \
      --iterations 2 && [ -s gpu-auto.png ]"
  check "bin/nstyle run --device cuda: refused with the reason, nothing written" bash -c "
    ! '$bundle/bin/nstyle' run --content content.png --style style.png --output cuda.png --size 32 \
      --iterations 1 --device cuda 2>cuda.txt && grep -q 'CUDA cannot be used: no NVIDIA driver' cuda.txt &&
    [ ! -e cuda.png ] && cat cuda.txt"
  check "install.sh --uninstall --gpu removes exactly the add-on" bash -c "
    '$bundle/install.sh' --uninstall --gpu && [ ! -e '$addon' ] && [ -e '$bundle/lib/libtorch_cpu.so' ] &&
    '$bundle/bin/nstyle' doctor >doctor-nogpu.txt && ! grep -q 'loaded from $addon' doctor-nogpu.txt"
fi

# Damage: a weights file with one byte changed, then a bundle without libtorch.
weights=$bundle/share/nstyle/vgg19-caffe-q8-v1.safetensors
cp "$weights" weights.orig
printf '\377' | dd of="$weights" bs=1 seek=1000000 conv=notrunc status=none
check "a damaged weights file: doctor and run name it, nothing is written" bash -c "
  ! '$bundle/bin/nstyle' doctor >damaged.txt 2>&1 && grep -q 'DAMAGED' damaged.txt &&
  grep -q 'vgg19-caffe-q8-v1.safetensors is damaged' damaged.txt &&
  ! '$bundle/bin/nstyle' run --content content.png --style style.png --output damaged.png --size 32 --iterations 1 2>run-damaged.txt &&
  grep -q 'damaged' run-damaged.txt && [ ! -e damaged.png ] && cat run-damaged.txt"
check "install.sh refuses a damaged bundle before touching anything" bash -c "
  ! '$bundle/install.sh' --gimp 2>refused.txt && grep -q 'does not match SHA256SUMS' refused.txt &&
  [ ! -e '$profile/plug-ins/nstyle' ]"
cat weights.orig >"$weights"
mv "$bundle/lib/libtorch_cpu.so" libtorch_cpu.so.aside
check "without lib/libtorch_cpu.so: the CLI names the missing library, install.sh refuses" bash -c "
  '$bundle/bin/nstyle' doctor >missing.txt 2>&1; [ \$? != 0 ] && grep -q 'libtorch_cpu.so' missing.txt &&
  ! '$bundle/install.sh' --gimp 2>refused2.txt && grep -q 'libtorch_cpu.so is missing' refused2.txt"
mv libtorch_cpu.so.aside "$bundle/lib/libtorch_cpu.so"

[ $failed = 0 ] && echo "inside-clean-system ($gimp): ok" || echo "inside-clean-system ($gimp): FAILED"
exit $failed
