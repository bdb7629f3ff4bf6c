#!/usr/bin/env bash
# The release artifacts on a lent GPU machine (one call, no network), after `make
# gpu-release-bundle` filled .gpu-release/ (carry it):
#
#   bash scripts/gpu-release-check.sh
#
# 1. the CUDA tests (tests/cuda.rs, --ignored) against the device's libtorch;
# 2. the CPU bundle's CLI on a machine with an NVIDIA driver: its bin/nstyle and lib/libnstyle.so
#    with the same libtorch_cpu.so, libc10.so, libgomp.so.1, libcudart.so.13 and libcupti.so.13
#    the bundle vendors, taken from the device's torch 2.11 (the bundle's own are stripped copies
#    of these; 340 MB does not fit the carry): its loader (src/cuda_loader.rs) finds the CUDA half
#    beside that libtorch_cpu.so (same build ID), doctor names it, the driver and the GPU, `auto`
#    picks the GPU, and NSTYLE_CUDA_DIR at a folder of another build is refused (CPU, reason);
# 3. the wheel installed into the device's torch 2.11 environment (no dependencies: torch is
#    there): its library finds that torch's libtorch through $ORIGIN/../torch/lib, and a CUDA run.
# Each step prints PASS or FAIL; the exit status is 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
b=$PWD/.gpu-release
python=${PYTHON:-python3}
out=${OUT:-/tmp/gpu-release-check}
mkdir -p "$out"
failed=0
step() { # step NAME COMMAND...
  local name=$1 rc
  shift
  echo "===== $name"
  timeout 240 "$@"
  rc=$?
  if [ $rc = 0 ]; then echo "PASS $name"; else echo "FAIL $name (exit $rc)"; failed=1; fi
}

torch_lib=$("$python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
echo "torch: $("$python" -c 'import torch; print(torch.__version__, torch.cuda.is_available())') at $torch_lib"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader

# The CPU bundle's layout, its lib/ filled from the device's torch; the weights from the wheel.
bundle=/tmp/nstyle-cpu-bundle
rm -rf "$bundle"
mkdir -p "$bundle/bin" "$bundle/lib" "$bundle/share/nstyle"
"$python" -c 'import os, sys, zipfile
z = zipfile.ZipFile(sys.argv[2])
for name in z.namelist():
    if name.endswith((".safetensors", "SHA256SUMS")):
        open(os.path.join(sys.argv[1], os.path.basename(name)), "wb").write(z.read(name))' \
  "$bundle/share/nstyle" "$b"/nstyle-*.whl

step "CUDA tests" env LD_LIBRARY_PATH="$torch_lib" \
  NSTYLE_WEIGHTS="$bundle/share/nstyle/vgg19-caffe-q8-v1.safetensors" \
  NSTYLE_LITE_WEIGHTS="$bundle/share/nstyle/efficientnet-lite0-v1.safetensors" \
  "$b/cuda-tests" --ignored --test-threads 1
[ ! -x "$b/cpu/nstyle" ] || cp "$b/cpu/nstyle" "$b/cpu/libnstyle.so" "$bundle/bin/"
[ ! -e "$bundle/bin/libnstyle.so" ] || mv "$bundle/bin/libnstyle.so" "$bundle/lib/"
for lib in libtorch_cpu.so libc10.so libgomp.so.1; do ln -s "$torch_lib/$lib" "$bundle/lib/$lib"; done
for lib in libcudart.so.13 libcupti.so.13; do
  found=$(find "$torch_lib/../.." /usr/local/cuda* -name "$lib" 2>/dev/null | head -n 1)
  [ -n "$found" ] && ln -s "$found" "$bundle/lib/$lib"
done
if [ -x "$b/cpu/nstyle" ]; then
step "bundle: doctor on a machine with a GPU loads the CUDA half at run time" bash -c "set -o pipefail; env -u LD_LIBRARY_PATH '$bundle/bin/nstyle' doctor | tee '$out/doctor-bundle.txt' &&
  grep -q 'CUDA add-on  *loaded from' '$out/doctor-bundle.txt' && grep -q 'NVIDIA driver  *[0-9]' '$out/doctor-bundle.txt' &&
  grep -q 'device  *Cuda(0)' '$out/doctor-bundle.txt'"
step "bundle: a run on the GPU (device auto)" env -u LD_LIBRARY_PATH "$bundle/bin/nstyle" run \
  --content "$b/content.jpg" --style "$b/style.jpg" --output "$out/bundle-auto.png" --size 96 --iterations 10
step "bundle: an add-on of another build is refused: CPU, --device cuda an error with the reason" bash -c "
  mkdir -p '$out/other/torch/lib' && ln -sf '$torch_lib/libtorch_cuda.so' '$torch_lib/libc10_cuda.so' '$out/other/torch/lib/' &&
  printf 'torch 2.11.0\nlibtorch_cpu-build-id 00\nfile 1 0 torch/lib/libc10_cuda.so\n' >'$out/other/BUILD' &&
  env -u LD_LIBRARY_PATH NSTYLE_CUDA_DIR='$out/other' '$bundle/bin/nstyle' doctor >'$out/doctor-other.txt';
  cat '$out/doctor-other.txt'; grep -q 'device  *Cpu' '$out/doctor-other.txt' &&
  ! env -u LD_LIBRARY_PATH NSTYLE_CUDA_DIR='$out/other' '$bundle/bin/nstyle' run --content '$b/content.jpg' --style '$b/style.jpg' \
    --output '$out/never.png' --size 64 --iterations 2 --device cuda 2>'$out/cuda-refused.txt' &&
  cat '$out/cuda-refused.txt' && grep -q 'CUDA cannot be used' '$out/cuda-refused.txt' && [ ! -e '$out/never.png' ]"
fi

if [ -n "${GPU_RELEASE_CHECK_SKIP_WHEEL:-}" ]; then # a smoke test of the script without a GPU
  [ $failed = 0 ] && echo "gpu-release-check: ok (wheel skipped)" || echo "gpu-release-check: FAILED"
  exit $failed
fi
step "wheel: pip install (no deps: the device's torch 2.11)" bash -c "
  '$python' -m pip install --no-deps --no-index --force-reinstall '$b'/nstyle-*.whl ||
  '$python' -m pip install --no-deps --no-index --force-reinstall --break-system-packages '$b'/nstyle-*.whl"
step "wheel: import, diagnostics, a 512 px CUDA run" env -u LD_LIBRARY_PATH "$python" - "$b" "$out" <<'EOF'
import os, sys, time
import nstyle
b, out = sys.argv[1], sys.argv[2]
print(nstyle.library_path())
report = nstyle.diagnostics()
print(report)
assert "status: ok" in report and "matches SHA256SUMS" in report
assert "Cuda(0)" in report, "auto did not pick the GPU"
w, h = 512, 384
content = bytes(v for y in range(h) for x in range(w) for v in (x % 256, y % 256, (x * y) % 256, 255))
style = bytes(v for y in range(256) for x in range(256)
              for v in (((240, 170, 30, 255) if (x + y) // 8 % 2 else (20, 60, 200, 255))))
started = time.time()
with nstyle.Model(device="cuda") as m:
    m.set_content(content, w, h)
    m.add_style(style, 256, 256)
    m.set_options(size=512)
    p = m.run()
    result = m.fetch(w, h)
print("wheel on CUDA: 512x384, %d iterations in %.1f s" % (p.iteration, time.time() - started))
assert result != content
# The temporal term on CUDA: a grey target with weight 1 everywhere pulls the result towards it.
grey = bytes([128, 128, 128, 255]) * (w * h)
def distance_to_grey(temporal):
    with nstyle.Model(device="cuda") as m:
        m.set_content(content, w, h)
        m.add_style(style, 256, 256)
        m.set_options(size=512, iterations=60, scales=1)
        if temporal:
            m.set_temporal(grey, w, h, weight=3e6)
        m.run()
        out = m.fetch(w, h)
    return sum(abs(out[i] - 128) for i in range(0, len(out), 4 * 97)) / len(range(0, len(out), 4 * 97))
plain, pulled = distance_to_grey(False), distance_to_grey(True)
print("temporal on CUDA: mean |red - 128| %.1f without the term, %.1f with it" % (plain, pulled))
assert pulled < 0.5 * plain
EOF
# The source build on CUDA (when bundled): style regions from the command line, scored per region.
if [ -x "$b/cuda/nstyle" ]; then
  "$python" - "$out" <<'EOF'
import struct, sys, zlib
def grey_png(path, w, h, value):
    rows = b"".join(b"\x00" + bytes(value(x, y) for x in range(w)) for y in range(h))
    chunk = lambda k, d: struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d) & 0xFFFFFFFF)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                           + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
grey_png(sys.argv[1] + "/left.png", 64, 48, lambda x, y: 255 if x < 32 else 0)
grey_png(sys.argv[1] + "/right.png", 64, 48, lambda x, y: 0 if x < 32 else 255)
EOF
  step "CUDA CLI: two styles by region (left, right), 512 px" env LD_LIBRARY_PATH="$torch_lib" \
    NSTYLE_WEIGHTS="$bundle/share/nstyle/vgg19-caffe-q8-v1.safetensors" "$b/cuda/nstyle" run --device cuda \
    --content "$b/content.jpg" --style "$b/style.jpg" --style-mask "$out/left.png" \
    --style "$b/style2.jpg" --style-mask "$out/right.png" --output "$out/regions.png" --size 512
  for side in left right; do
    style=$b/style.jpg; [ $side = right ] && style=$b/style2.jpg
    for against in style.jpg style2.jpg; do
      echo "eval of the $side half against $against:"
      env LD_LIBRARY_PATH="$torch_lib" NSTYLE_WEIGHTS="$bundle/share/nstyle/vgg19-caffe-q8-v1.safetensors" \
        "$b/cuda/nstyle" eval --device cuda --output "$out/regions.png" --content "$b/content.jpg" \
        --style "$b/$against" --mask "$out/$side.png" 2>&1 | grep -i -E "style distance|ssim" | head -n 2
    done
  done
fi

[ $failed = 0 ] && echo "gpu-release-check: ok" || echo "gpu-release-check: FAILED"
exit $failed
