# Python binding (plugins/python/nstyle/) and Krita plug-in (plugins/krita/): Tools ▸ Scripts ▸
# Neural Style…. Included by the top Makefile, which defines `build` (target/release/libnstyle.so),
# `weights`, WEIGHTS and CACHE.
#
#   make python-test    pytest of the binding against the real library, in a venv of its own
#                       ($(CACHE)/venv-pytest-…, keyed by version: pytest, numpy)
#   make install-krita  install into the user's Krita resources and enable it:
#                       $KRITA_DATA (default ~/.local/share/krita)/pykrita/ gets nstyle.desktop,
#                       nstyle_krita/, the binding nstyle/, libnstyle.so and both weights; $KRITA_RC
#                       (default ~/.config/kritarc) gets [python] enable_nstyle_krita=true.
#                       Restart Krita afterwards.
#   make krita-test     the plug-in inside Krita 5 (kritarunner, then the GUI under xvfb-run),
#                       in scratch settings under target/krita-test (plugins/krita/test/run-tests.sh:
#                       installs krita, python3-pyqt5, xvfb, xauth with apt-get when missing)
#   make krita52-test   the same tests in Krita 5.2 (a Debian 13 chroot, made once and cached in
#                       $(CACHE)/krita52-trixie-v1; needs root), where a selection's result is
#                       shown through a transparency mask (Debian 12's Krita 5.1 has no API for it)

.PHONY: python-test install-krita uninstall-krita krita-test krita52-test

PYTEST_VERSION := 8.3.5
PYTEST_NUMPY_VERSION := 2.2.6
PYTEST_VENV := $(CACHE)/venv-pytest-$(PYTEST_VERSION)-numpy-$(PYTEST_NUMPY_VERSION)
PY_LIB := target/release/libnstyle.so
KRITA_DATA ?= $(or $(XDG_DATA_HOME),$(HOME)/.local/share)/krita
KRITA_RC ?= $(or $(XDG_CONFIG_HOME),$(HOME)/.config)/kritarc

# The stamp is written last: an interrupted install is redone from scratch.
$(PYTEST_VENV)/.complete:
	rm -rf $(PYTEST_VENV)
	mkdir -p $(CACHE)
	python3 -m venv $(PYTEST_VENV)
	$(PYTEST_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		pytest==$(PYTEST_VERSION) numpy==$(PYTEST_NUMPY_VERSION)
	touch $@

python-test: build weights lite-weights $(PYTEST_VENV)/.complete
	NSTYLE_LIBRARY=$(CURDIR)/$(PY_LIB) NSTYLE_WEIGHTS=$(WEIGHTS) PYTHONPATH=$(CURDIR)/plugins/python \
		timeout 900 $(PYTEST_VENV)/bin/python -m pytest -v -p no:cacheprovider \
		plugins/python/test_nstyle.py

install-krita: build weights lite-weights fast-weights
	bash plugins/krita/install.sh $(KRITA_DATA) $(KRITA_RC) $(PY_LIB) $(WEIGHTS) $(LITE_WEIGHTS) \
		$(FAST_WEIGHTS)

uninstall-krita:
	rm -rf $(KRITA_DATA)/pykrita/nstyle_krita $(KRITA_DATA)/pykrita/nstyle \
		$(KRITA_DATA)/pykrita/nstyle.desktop $(KRITA_DATA)/pykrita/libnstyle.so \
		$(KRITA_DATA)/pykrita/$(notdir $(WEIGHTS)) $(KRITA_DATA)/pykrita/$(notdir $(LITE_WEIGHTS)) \
		$(KRITA_DATA)/pykrita/$(notdir $(FAST_WEIGHTS))

krita-test: build weights lite-weights fast-weights
	plugins/krita/test/run-tests.sh $(PY_LIB) $(WEIGHTS) $(LITE_WEIGHTS) $(FAST_WEIGHTS)

krita52-test: build weights lite-weights
	NSTYLE_KRITA52_CHROOT=$${NSTYLE_KRITA52_CHROOT:-$(CACHE)/krita52-trixie-v1} \
		plugins/krita/test/krita52-chroot.sh $(PY_LIB) $(WEIGHTS) $(LITE_WEIGHTS)
