# Fuzzing and thread stress (tests/fuzz/, tests/c/test_threads.c). Included by the top Makefile,
# which defines `build` (target/release/libnstyle.so), `weights`, `venv` and PYTHON.
#
#   make fuzz-test    bounded, part of `make test` (~2 min once built): both libFuzzer harnesses
#                     side by side for FUZZ_TEST_SECONDS (60) each from the committed seeds with a
#                     fixed seed, tests/c/test_threads.c under ThreadSanitizer, and the plain
#                     reproductions of past findings (tests/fuzz/findings/check.sh)
#   make fuzz         the long campaign: FUZZ_SECONDS (1800) per harness, niced, keeping the
#                     grown corpus in target/fuzz/work/ between runs
#   make fuzz-tsan    only the ThreadSanitizer stress
#
# Harnesses: tests/fuzz/fuzz_abi.c (C ABI call sequences; clang -fsanitize=fuzzer,address,
# undefined over the uninstrumented libnstyle.so) and tests/fuzz/rust/ (the CLI's image loading,
# libfuzzer-sys with rustc's SanitizerCoverage on stable; own cargo package and target dir
# ~/.cache/nstyle/fuzz-rust-target-v1, shared by clones, minutes to build the first time). clang-19, libclang-rt-19-dev and llvm-19 are
# installed with apt-get when missing (tests/fuzz/run.sh setup). A finding fails the target and
# leaves the input in target/fuzz/artifacts/<harness>/; see tests/fuzz/README.md.

.PHONY: fuzz-test fuzz fuzz-tsan fuzz-build fuzz-replay

FUZZ_SECONDS ?= 1800
FUZZ_TEST_SECONDS ?= 60
FUZZ_ENV := PYTHON=$(PYTHON)

# The committed corpus and findings replayed once with the system cc (no apt): part of `make check`.
fuzz-replay: build weights
	$(FUZZ_ENV) tests/fuzz/run.sh replay

fuzz-build: build weights
	$(FUZZ_ENV) tests/fuzz/run.sh build

fuzz-test: build weights
	$(FUZZ_ENV) FUZZ_FRESH=1 FUZZ_STATE=target/fuzz/test tests/fuzz/run.sh fuzz $(FUZZ_TEST_SECONDS)
	$(FUZZ_ENV) tests/fuzz/run.sh tsan
	tests/fuzz/findings/check.sh

fuzz: build weights
	$(FUZZ_ENV) FUZZ_KEEP_GOING=1 tests/fuzz/run.sh fuzz $(FUZZ_SECONDS)

fuzz-tsan: build weights
	$(FUZZ_ENV) tests/fuzz/run.sh tsan
