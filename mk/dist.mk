# Release bundle (docs/release.md). Included by the top Makefile, which defines `venv`, `weights`,
# `lite-weights`, PYTHON, VENV, WEIGHTS, LITE_WEIGHTS and C_VERSION (mk/c.mk), and on
# `fast-weights`, FAST_WEIGHTS and FAST_DIR (mk/fast.mk).
#
#   make dist        dist/nstyle-<version>-linux-x86_64.tar.xz: the ordinary build (target/release:
#                    it links libtorch_cpu only, the CUDA half is loaded at run time) with its own
#                    libtorch (no CUDA libraries but the two small ones libtorch_cpu.so names), the
#                    CLI, headers, pkg-config file, weights, GIMP 2.10/3.0 and Krita plug-ins,
#                    install.sh and the GPU add-on's pin list (install.sh --gpu); relocatable
#                    ($ORIGIN rpaths only, set by patchelf)
#   make dist-test   the bundle on a clean Debian system (scripts/dist/clean-system-test.sh)
#   make gpu-pins    regenerates scripts/dist/gpu-pins.txt from the venv's torch (PyPI's hashes)

.PHONY: dist dist-tools dist-test dist-krita-test gpu-pins

DIST_DIR := dist
DIST_NAME := nstyle-$(C_VERSION)-linux-x86_64
DIST_TARBALL := $(DIST_DIR)/$(DIST_NAME).tar.xz
TORCH_SITE = $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

gpu-pins: venv
	$(PYTHON) scripts/dist/gpu-pins.py $(PYTHON) scripts/dist/gpu-pins.txt

dist-tools:
	@command -v patchelf >/dev/null && pkg-config --exists gimp-2.0 gimpui-2.0 gegl-0.4 || { \
		echo "installing patchelf and GIMP 2.10's development files (apt-get)"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q patchelf libgimp2.0-dev; }

dist: dist-tools build weights lite-weights fast-weights
	NSTYLE_FAST_LICENSE=$(FAST_DIR)/LICENSE scripts/dist/make-dist.sh $(C_VERSION) target/release \
		$(TORCH_SITE) $(DIST_DIR) $(WEIGHTS) $(LITE_WEIGHTS) $(FAST_WEIGHTS)

dist-test: dist
	PYTHON=$(PYTHON) NSTYLE_DIST_TORCH_SITE=$(TORCH_SITE) scripts/dist/clean-system-test.sh $(DIST_TARBALL)
	$(MAKE) --no-print-directory dist-krita-test

# The bundle's Krita plug-in in Krita 5 (the GUI self-test of plugins/krita/test), installed by the
# bundle's install.sh --krita from an unpacked copy, no library or weights of the build around.
dist-krita-test:
	@test -e $(DIST_TARBALL) || { echo "dist-krita-test: no $(DIST_TARBALL) (make dist)" >&2; exit 1; }
	rm -rf target/dist-unpacked && mkdir -p target/dist-unpacked
	tar -C target/dist-unpacked -xf $(DIST_TARBALL)
	NSTYLE_KRITA_BUNDLE=$(CURDIR)/target/dist-unpacked/$(DIST_NAME) NSTYLE_KRITA_TEST_OUT=$(CURDIR)/target/krita-dist-test \
		plugins/krita/test/run-tests.sh target/dist-unpacked/$(DIST_NAME)/lib/libnstyle.so \
		target/dist-unpacked/$(DIST_NAME)/share/nstyle/$(C_WEIGHTS_NAME)

# ---- the wheel: the binding, libnstyle.so (RUNPATH into the PyPI torch) and the weights
.PHONY: wheel wheel-test

wheel: build weights lite-weights fast-weights dist-tools
	rm -f $(DIST_DIR)/nstyle-$(C_VERSION)-*.whl
	$(PYTHON) scripts/dist/make-wheel.py $(C_VERSION) target/release/libnstyle.so plugins/python/nstyle \
		$(DIST_DIR) $(WEIGHTS) $(LITE_WEIGHTS) $(FAST_WEIGHTS)

# A fresh venv each time, torch from the registry (pip's own cache makes that a local copy after
# the first time), an empty HOME (no ~/.cache/nstyle to fall back on), a stylise call.
wheel-test: wheel
	scripts/dist/wheel-test.sh $(DIST_DIR)/nstyle-$(C_VERSION)-*.whl
