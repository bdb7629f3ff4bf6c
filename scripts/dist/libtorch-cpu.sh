#!/usr/bin/env bash
# Makes a CPU-only view of the venv's libtorch for the relocatable build:
#
#   scripts/dist/libtorch-cpu.sh PYTHON OUTDIR
#
# OUTDIR/include links to torch's headers; OUTDIR/lib holds links to libtorch_cpu.so, libc10.so and
# libgomp.so.1 of the PyPI torch (the CUDA 13 build, which also runs on the CPU) and an empty
# libtorch.so. Without libtorch_cuda.so in that directory torch-sys links no CUDA library, and the
# empty libtorch.so answers torch-sys's -ltorch without the wheel's libtorch.so, whose only job is
# to pull in libtorch_cuda.so (the linker's --as-needed then drops it: nothing refers to it).
set -euo pipefail
python=$1 out=$2
torch_dir=$("$python" -c 'import os, torch; print(os.path.dirname(torch.__file__))')
version=$("$python" -c 'import torch; print(torch.__version__.split("+")[0])')
rm -rf "$out.tmp"
mkdir -p "$out.tmp/lib"
ln -s "$torch_dir/include" "$out.tmp/include"
for name in libtorch_cpu.so libc10.so libgomp.so.1; do
  ln -s "$torch_dir/lib/$name" "$out.tmp/lib/$name"
done
# libtorch_cpu.so of this wheel names the CUDA runtime and CUPTI as NEEDED (the profiler's), so the
# linker must see them too; they are small (0.7 and 4 MB) and never initialise a GPU on their own.
for name in libcudart.so.13 libcupti.so.13; do
  ln -s "$torch_dir/../nvidia/cu13/lib/$name" "$out.tmp/lib/$name"
done
# torch-sys links -lgomp: the unversioned name must resolve to the same library.
ln -s libgomp.so.1 "$out.tmp/lib/libgomp.so"
${CC:-cc} -shared -o "$out.tmp/lib/libtorch.so" -x c /dev/null
# torch-sys checks this against the libtorch version it was written for.
printf '%s\n' "$version" >"$out.tmp/build-version"
rm -rf "$out"
mv "$out.tmp" "$out"
echo "CPU libtorch $version view in $out (from $torch_dir)"
