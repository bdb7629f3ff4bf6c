# Batch and video (plugins/python/nstyle/batch.py, video.py; `python -m nstyle batch|video`).
# Included by the top Makefile, which defines `build` (target/release/libnstyle.so), `weights`,
# `lite-weights`, VENV, PYTHON, WEIGHTS and LITE_WEIGHTS.
#
#   make batch-extras   ray (workers), opencv-python-headless (optical flow, image I/O) and
#                       imageio-ffmpeg (video I/O: its wheel carries an ffmpeg binary) into the
#                       set-up venv under a stamp of their own; 219 MB download (ray 79 MB,
#                       opencv 61 MB, imageio-ffmpeg 68 MB, numpy 17 MB, the rest 14 MB), part of `setup`
#   make batch-test     pytest of batch and video (48–64 px, a few iterations, the fast network's
#                       video; a local Ray on loopback started and stopped by the tests), part of
#                       `make test`
#
# `make setup` installs the package editable into this clone's .venv (scripts/dev-venv.sh, a small
# venv layered over the shared one, which serves every clone and so never points at one), so
# `.venv/bin/python -m nstyle batch|video …` runs this checkout's package; from the source tree
# it finds target/release/libnstyle.so itself. batch-test runs under that python, without
# PYTHONPATH, so it tests the installed package too.

.PHONY: batch-extras batch-test

RAY_VERSION := 2.60.0
OPENCV_VERSION := 5.0.0.93
IMAGEIO_FFMPEG_VERSION := 0.8.1
BATCH_NUMPY_VERSION := 2.4.6
BATCH_PYTEST_VERSION := 8.3.5
BATCH_STAMP := $(VENV)/.batch-complete-ray-$(RAY_VERSION)

batch-extras: $(BATCH_STAMP)

# The stamp is written last: an interrupted install is redone.
$(BATCH_STAMP): $(VENV)/.complete
	$(PYTHON) -m pip install --quiet --disable-pip-version-check \
		ray==$(RAY_VERSION) opencv-python-headless==$(OPENCV_VERSION) \
		imageio-ffmpeg==$(IMAGEIO_FFMPEG_VERSION) numpy==$(BATCH_NUMPY_VERSION) \
		pytest==$(BATCH_PYTEST_VERSION)
	touch $@

batch-test: build weights lite-weights fast-weights venv $(BATCH_STAMP)
	NSTYLE_LIBRARY=$(CURDIR)/target/release/libnstyle.so NSTYLE_WEIGHTS=$(WEIGHTS) \
		RAY_USAGE_STATS_ENABLED=0 \
		timeout 1200 env -u PYTHONPATH .venv/bin/python -m pytest -v -p no:cacheprovider \
		plugins/python/test_batch.py
