# GIMP plug-in (plugins/gimp/): Filters ▸ Artistic ▸ Neural Style…, procedure plug-in-nstyle.
# Included by the top Makefile, which defines `build` (target/release/libnstyle.so), `weights`,
# `lite-weights`, `venv`, WEIGHTS and LITE_WEIGHTS.
#
#   make gimp-plugin    build target/gimp/2.10/nstyle/ (libgimp-2.0) and, where libgimp-3.0's
#                       development files are installed, target/gimp/3.0/nstyle/: each folder holds
#                       the binary `nstyle` (rpath $ORIGIN), libnstyle.so and both weights files
#   make install-gimp   install what was built into the user's GIMP profile(s):
#                       $GIMP2_DIRECTORY (default ~/.config/GIMP/2.10)/plug-ins/nstyle/ and
#                       $GIMP3_DIRECTORY (default ~/.config/GIMP/3.0)/plug-ins/nstyle/
#   make gimp-test      the plug-in inside real GIMP 2.10 and 3.0, headless
#                       (plugins/gimp/test/run-tests.sh: installs GIMP 2.10 with apt-get when it is
#                       missing; GIMP 3.0 runs in a cached Debian 13 chroot)

.PHONY: gimp-plugin install-gimp gimp-test

GIMP_BUILD := target/gimp
GIMP_LIB := target/release/libnstyle.so

gimp-plugin: build weights lite-weights fast-weights
	@built=; \
	if pkg-config --exists gimp-2.0 gimpui-2.0 gegl-0.4; then \
		plugins/gimp/build.sh 2 $(GIMP_BUILD)/2.10/nstyle $(GIMP_LIB) $(WEIGHTS) $(LITE_WEIGHTS) $(FAST_WEIGHTS) || exit 1; built=1; \
	else echo "gimp-plugin: no libgimp-2.0 development files (apt-get install libgimp2.0-dev): GIMP 2.10 plug-in not built"; fi; \
	if pkg-config --exists gimp-3.0 gimpui-3.0 gegl-0.4; then \
		plugins/gimp/build.sh 3 $(GIMP_BUILD)/3.0/nstyle $(GIMP_LIB) $(WEIGHTS) $(LITE_WEIGHTS) $(FAST_WEIGHTS) || exit 1; built=1; \
	else echo "gimp-plugin: no libgimp-3.0 development files: GIMP 3.0 plug-in not built"; fi; \
	test -n "$$built" || { echo "gimp-plugin: neither libgimp-2.0 nor libgimp-3.0 is installed" >&2; exit 1; }

install-gimp: gimp-plugin
	@if [ -x $(GIMP_BUILD)/2.10/nstyle/nstyle ]; then plugins/gimp/install.sh 2.10 $(GIMP_BUILD)/2.10/nstyle; fi
	@if [ -x $(GIMP_BUILD)/3.0/nstyle/nstyle ]; then plugins/gimp/install.sh 3.0 $(GIMP_BUILD)/3.0/nstyle; fi

gimp-test: build weights lite-weights fast-weights venv
	plugins/gimp/test/run-tests.sh
