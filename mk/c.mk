# C / C++ side of nstyle: ABI tests, examples, install. Included by the top Makefile, which
# defines `build` (target/release/libnstyle.so), `weights` and WEIGHTS.
#
#   make c-test          ABI test (plain and under ASan+LSan), the C++ example, the C CLI
#   make install         PREFIX ?= /usr/local (DESTDIR honoured): lib, headers, pkg-config, weights
#   make install-check   install into a scratch PREFIX, build a program with pkg-config, run it
#                        with no NSTYLE_WEIGHTS and an empty HOME (so the installed weights are used);
#                        then the GIMP plug-in's installers into a simulated Flathub GIMP profile
#                        (plugins/gimp/test/flatpak-install.sh; needs libgimp2.0-dev)

.PHONY: c-test c-test-abi c-test-sanitized c-test-cpp c-test-cli install install-check

PREFIX ?= /usr/local
DESTDIR ?=
C_BUILD := target/c
C_LIBDIR := target/release
C_LIB := $(C_LIBDIR)/libnstyle.so
C_WEIGHTS_NAME := vgg19-caffe-q8-v1.safetensors
C_LITE_WEIGHTS_NAME := efficientnet-lite0-v1.safetensors
C_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
C_PYTHON := $(or $(PYTHON),python3)
CC ?= cc
CXX ?= g++
C_CFLAGS := -std=c11 -O2 -Wall -Wextra -Werror -pthread -Iinclude
C_CXXFLAGS := -std=c++17 -O2 -Wall -Wextra -Werror -Iinclude
C_LDFLAGS := -L$(C_LIBDIR) -lnstyle -Wl,-rpath,$(CURDIR)/$(C_LIBDIR)

c-test: c-test-abi c-test-sanitized c-test-cpp c-test-cli

$(C_BUILD)/test_abi: tests/c/test_abi.c include/nstyle.h $(C_LIB) | $(C_BUILD)
	$(CC) $(C_CFLAGS) $< $(C_LDFLAGS) -lm -o $@

$(C_BUILD)/example: plugins/cpp/example.cpp include/nstyle.hpp include/nstyle.h $(C_LIB) | $(C_BUILD)
	$(CXX) $(C_CXXFLAGS) $< $(C_LDFLAGS) -o $@

$(C_BUILD)/nstyle_cli: plugins/c/nstyle_cli.c include/nstyle.h $(C_LIB) | $(C_BUILD)
	$(CC) $(C_CFLAGS) -pedantic $< $(C_LDFLAGS) -o $@

$(C_BUILD):
	mkdir -p $@

# The library comes from cargo (`build`); order-only, so that `make -j` links after it.
$(C_LIB): | build

c-test-abi: build weights $(C_BUILD)/test_abi
	$(C_BUILD)/test_abi

c-test-sanitized: build weights
	tests/c/run-sanitized.sh $(C_LIBDIR)

c-test-cpp: build weights $(C_BUILD)/example
	$(C_BUILD)/example 32 4 cpu

# Tiny Netpbm inputs: an RGB content (P6), an RGBA content (P7, alpha ramp), an RGB style (P6).
C_FIXTURES := $(C_BUILD)/fixtures
$(C_FIXTURES)/.made:
	mkdir -p $(C_FIXTURES)
	$(C_PYTHON) -c 'import sys; w,h=24,20; open(sys.argv[1],"wb").write(b"P6\n%d %d\n255\n"%(w,h)+bytes(v for y in range(h) for x in range(w) for v in (x*10,y*12,128)))' $(C_FIXTURES)/content.ppm
	$(C_PYTHON) -c 'import sys; w,h=24,20; open(sys.argv[1],"wb").write(b"P7\nWIDTH %d\nHEIGHT %d\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_ALPHA\nENDHDR\n"%(w,h)+bytes(v for y in range(h) for x in range(w) for v in (x*10,y*12,128,x*255//(w-1))))' $(C_FIXTURES)/content.pam
	$(C_PYTHON) -c 'import sys; w,h=20,20; open(sys.argv[1],"wb").write(b"P6\n%d %d\n255\n"%(w,h)+bytes(v for y in range(h) for x in range(w) for v in ((240,170,30) if (x+y)//4%2 else (20,60,200))))' $(C_FIXTURES)/style.ppm
	touch $@

c-test-cli: build weights $(C_BUILD)/nstyle_cli $(C_FIXTURES)/.made
	rm -f $(C_BUILD)/cli-out.ppm $(C_BUILD)/cli-out.pam
	NSTYLE_DEVICE=cpu $(C_BUILD)/nstyle_cli $(C_FIXTURES)/content.ppm $(C_FIXTURES)/style.ppm $(C_BUILD)/cli-out.ppm 24 4
	head -c 2 $(C_BUILD)/cli-out.ppm | grep -q P6
	NSTYLE_DEVICE=cpu $(C_BUILD)/nstyle_cli $(C_FIXTURES)/content.pam $(C_FIXTURES)/style.ppm $(C_BUILD)/cli-out.pam 24 2
	head -n 7 $(C_BUILD)/cli-out.pam | grep -q '^TUPLTYPE RGB_ALPHA$$'
	! $(C_BUILD)/nstyle_cli $(C_BUILD)/no-such-file.ppm $(C_FIXTURES)/style.ppm $(C_BUILD)/cli-bad.ppm 24 1 2>/dev/null
	test ! -e $(C_BUILD)/cli-bad.ppm
	@echo "c-test-cli: ok"

# $(1): the directory to install into, $(2): the prefix the installed files name (pkg-config).
# The library keeps the RUNPATH cargo gave it (libtorch in the build's venv): install(1) copies
# the file as is. The weights go where the library looks first: <libdir>/../share/nstyle/.
define c_install
	install -d $(1)/lib/pkgconfig $(1)/include $(1)/share/nstyle
	install -m 755 $(C_LIB) $(1)/lib/libnstyle.so
	install -m 644 include/nstyle.h include/nstyle.hpp $(1)/include/
	install -m 644 $(WEIGHTS) $(1)/share/nstyle/$(C_WEIGHTS_NAME)
	install -m 644 $(LITE_WEIGHTS) $(1)/share/nstyle/$(C_LITE_WEIGHTS_NAME)
	printf '%s\n' 'prefix=$(2)' 'exec_prefix=$${prefix}' 'libdir=$${exec_prefix}/lib' \
		'includedir=$${prefix}/include' '' 'Name: nstyle' \
		'Description: Neural style transfer (Gatys et al.) on libtorch, C ABI' \
		'Version: $(C_VERSION)' 'Cflags: -I$${includedir}' \
		'Libs: -L$${libdir} -lnstyle -Wl,-rpath,$${libdir}' > $(1)/lib/pkgconfig/nstyle.pc
	readelf -d $(1)/lib/libnstyle.so | grep -E 'RUNPATH|RPATH'
endef

install: build weights lite-weights
	$(call c_install,$(DESTDIR)$(PREFIX),$(PREFIX))

C_ICHECK := $(CURDIR)/$(C_BUILD)/install-check
install-check: build weights lite-weights $(C_FIXTURES)/.made
	rm -rf $(C_ICHECK)
	mkdir -p $(C_ICHECK)/home
	$(call c_install,$(C_ICHECK)/prefix,$(C_ICHECK)/prefix)
	cp plugins/c/nstyle_cli.c $(C_ICHECK)/app.c
	cd $(C_ICHECK) && PKG_CONFIG_PATH=$(C_ICHECK)/prefix/lib/pkgconfig \
		sh -c 'cc app.c $$(pkg-config --cflags --libs nstyle) -o app'
	readelf -d $(C_ICHECK)/app | grep -q 'R.*PATH.*$(C_ICHECK)/prefix/lib'
	cd $(C_ICHECK) && env -u NSTYLE_WEIGHTS -u XDG_CACHE_HOME HOME=$(C_ICHECK)/home NSTYLE_DEVICE=cpu \
		./app $(CURDIR)/$(C_FIXTURES)/content.ppm $(CURDIR)/$(C_FIXTURES)/style.ppm out.ppm 24 2
	test -s $(C_ICHECK)/out.ppm
# Nothing in the home but, on a CPU with bf16, the one small file that keeps the CPU's bf16
# decision (src/engine/device/precision.rs): no weights copied or fetched there.
	test -z "$$(cd $(C_ICHECK)/home && find . -type f ! -path './.cache/nstyle/cpu-bf16/*')"
# Without the installed weights the same run must fail: they, not some other copy, were used.
	mv $(C_ICHECK)/prefix/share/nstyle/$(C_WEIGHTS_NAME) $(C_ICHECK)/weights.moved
	cd $(C_ICHECK) && ! env -u NSTYLE_WEIGHTS -u XDG_CACHE_HOME HOME=$(C_ICHECK)/home NSTYLE_DEVICE=cpu \
		./app $(CURDIR)/$(C_FIXTURES)/content.ppm $(CURDIR)/$(C_FIXTURES)/style.ppm out2.ppm 24 2
	mv $(C_ICHECK)/weights.moved $(C_ICHECK)/prefix/share/nstyle/$(C_WEIGHTS_NAME)
	plugins/gimp/test/flatpak-install.sh $(C_ICHECK)/flatpak $(CURDIR)/target/release/libnstyle.so
	@echo "install-check: ok (installed into $(C_ICHECK)/prefix; weights found next to the library; GIMP's installers into a simulated Flatpak profile)"
