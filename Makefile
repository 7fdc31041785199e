# Thin wrapper over CMake: the commands the README names.
#   make            build library, `tv3s` command and tests (Release)
#   make test       build, then run the whole test suite and the install test
#   make test-install  only the install test: `cmake --install` to a temporary prefix,
#                   then examples/ built against it with find_package(tv3s) and run
#   make test-emu   build with the CUDA device emulator (-DTV3S_CUDA_EMULATOR=ON, in
#                   $(EMU_BUILD)) and run every CUDA test case, and the emulator's own
#                   tests, on the CPU
#   make bench      build, then run the op micro-benchmarks
#   make demo       build, write a short synthetic video (one never seen in training),
#                   segment it with the shipped model (weights/) in streaming mode and
#                   write colour overlays, and demo.mp4 of them when FFmpeg is built in;
#                   prints where they are
#   make test-sanitize  the CPU build with AddressSanitizer + UndefinedBehaviorSanitizer (in
#                   $(SANITIZE_BUILD); every finding aborts), then the test suite but for
#                   eight whole-model cases (SANITIZE_EXCLUDE)
#   make test-aarch64  cross-build for 64-bit ARM (cmake/aarch64-linux-gnu.cmake: Debian's
#                   cross toolchain and :arm64 libraries, CPU backend, no -march=native) in
#                   $(AARCH64_BUILD) and run the whole test suite under qemu-aarch64 with
#                   Debian's arm64 runtime (README, On a Jetson);
#                   AARCH64_TESTS='--source-file=*tests/ops/*' narrows it (doctest filters)
#   make test-aarch64-smoke  what CI runs of it: the cross-built `tv3s` command alone, under
#                   qemu, against the native build's logits (tests/aarch64_smoke.sh)
#   make fuzz       build the libFuzzer targets of tests/fuzz with clang (in $(FUZZ_BUILD))
#   make fuzz-smoke build them, then run each for $(FUZZ_SECONDS) s (default 30) on its seeds
#                   and committed regression inputs (tests/fuzz/run.sh: longer runs)
#   make test-python  build the Python module (nanobind, -DTV3S_PYTHON=ON, in $(PY_BUILD):
#                   the package lands in $(PY_BUILD)/python/tv3s) and the `tv3s` command,
#                   then run tests/python with pytest: the module against the command, bit
#                   for bit, on the shipped model (needs nanobind, numpy, pytest for $(PYTHON);
#                   `pip install .` installs the module instead: pyproject.toml)
# Variables: BUILD (build dir), CMAKE_ARGS (e.g. -DTV3S_CUDA_ARCHS=80), JOBS, PYTHON.
BUILD ?= build
EMU_BUILD ?= build-emu
JOBS ?= $(shell nproc)
CMAKE_ARGS ?=

DEMO ?= $(BUILD)/demo
DEMO_MODEL ?= weights/tv3s_synth_b0.safetensors

AARCH64_BUILD ?= build-aarch64
AARCH64_TESTS ?=
SANITIZE_BUILD ?= build-sanitize
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 30
FUZZ_JOBS ?= $(JOBS)

PY_BUILD ?= build-py
PYTHON ?= python3

.PHONY: all configure test test-emu test-aarch64 test-aarch64-smoke test-install test-sanitize test-python fuzz fuzz-smoke bench demo clean

all: configure
	cmake --build $(BUILD) -j $(JOBS)

configure:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS) > /dev/null

test: all
	./$(BUILD)/tv3s_tests
	./tests/install_test.sh $(BUILD)

# The caching allocator's own test with caching on; then everything else with every CUDA
# tensor in an allocation of its own size, so the guard pages see each tensor's bounds.
# Only the test files with CUDA cases are built (TV3S_TESTS_CUDA_ONLY): the rest is make test's.
test-emu:
	@cmake -S . -B $(EMU_BUILD) -DCMAKE_BUILD_TYPE=Release -DTV3S_CUDA_EMULATOR=ON \
	    -DTV3S_TESTS_CUDA_ONLY=ON $(CMAKE_ARGS) > /dev/null
	cmake --build $(EMU_BUILD) -j $(JOBS)
	./$(EMU_BUILD)/tv3s_tests --test-case='*CUDA caching allocator*'
	TV3S_CUDA_NO_CACHE=1 ./$(EMU_BUILD)/tv3s_tests --test-suite=cuda,emulator \
	    --test-case-exclude='*CUDA caching allocator*'

# The library -O1 -g1 (line tables: reports with file and line), the test sources -O0 (a
# third of -O1's compile time under the sanitizers; their work is in the library). CUDA off
# (its tests skip without a GPU anyway); detect_leaks: a test that leaks fails.
# Left out: the cases that run a whole TV3S-B1 / Swin-T over 10 frames at fixture size, or
# TV3S-B1 in 16 bits (490 of the suite's 560 s under the sanitizers when there were three,
# measured), two that repeat a whole model in 16 bits (the shipped model's fp16/bf16
# labels, 19 s; the bf16 trainer, 11 s): pure arithmetic through kernels the small parity
# and precision cases (tiny TV3S, a Swin of its own, MiT-B0/B1 in fp16 and bf16) run here
# too; and the two longest runs of paths other cases take here (the trainer's N = N/2 +
# resume + N/2, 22 s; tv3s eval on the tiny VSPW model with --save-pred, 17 s).
# SANITIZE_EXCLUDE= runs everything.
SANITIZE_EXCLUDE ?= *TV3S-B1 at 320*,*Swin-T TV3S at 168*,*_city-head model answers class 0*,*shipped model: fp16 and bf16*,*trainer: bf16 tracks fp32*,*trainer: N iterations equal*,*cli eval: the tiny TV3S model on VSPW*
test-sanitize:
	@cmake -S . -B $(SANITIZE_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTV3S_SANITIZE=ON \
	    -DTV3S_CUDA=OFF -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DTV3S_TEST_CXX_FLAGS=-O0 \
	    $(CMAKE_ARGS) > /dev/null
	cmake --build $(SANITIZE_BUILD) -j $(JOBS) --target tv3s_tests
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    ./$(SANITIZE_BUILD)/tv3s_tests --test-case-exclude='$(SANITIZE_EXCLUDE)'

test-aarch64:
	@cmake -S . -B $(AARCH64_BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
	    -DTV3S_CUDA=OFF -DTV3S_NATIVE=OFF $(CMAKE_ARGS) > /dev/null
	cmake --build $(AARCH64_BUILD) -j $(JOBS)
	qemu-aarch64 ./$(AARCH64_BUILD)/tv3s_tests $(AARCH64_TESTS)

test-aarch64-smoke: all
	@cmake -S . -B $(AARCH64_BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
	    -DTV3S_CUDA=OFF -DTV3S_NATIVE=OFF $(CMAKE_ARGS) > /dev/null
	cmake --build $(AARCH64_BUILD) -j $(JOBS) --target tv3s_cli
	./tests/aarch64_smoke.sh $(BUILD) $(AARCH64_BUILD)

fuzz:
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DTV3S_FUZZ=ON \
	    -DTV3S_CUDA=OFF -DTV3S_BUILD_TESTS=OFF -DTV3S_BUILD_EXAMPLES=OFF $(CMAKE_ARGS) > /dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target tv3s_fuzz

fuzz-smoke: fuzz
	./tests/fuzz/run.sh --build $(FUZZ_BUILD) --seconds $(FUZZ_SECONDS) --jobs $(FUZZ_JOBS)

# The module is built for the interpreter that runs the tests (Python_EXECUTABLE). Only
# the module and the command are built, so PY_BUILD may be a build of make test's that
# was configured with -DTV3S_PYTHON=ON (as CI does: one build of the library, not two).
test-python:
	@cmake -S . -B $(PY_BUILD) -DCMAKE_BUILD_TYPE=Release -DTV3S_PYTHON=ON \
	    -DPython_EXECUTABLE="$$(command -v $(PYTHON))" $(CMAKE_ARGS) > /dev/null
	cmake --build $(PY_BUILD) -j $(JOBS) --target _tv3s tv3s_cli
	TV3S_CLI="$(CURDIR)/$(PY_BUILD)/tv3s" PYTHONPATH="$(CURDIR)/$(PY_BUILD)/python" \
	    $(PYTHON) -m pytest -p no:cacheprovider tests/python

test-install: all
	./tests/install_test.sh $(BUILD)

bench: all
	./$(BUILD)/tv3s bench ops

demo: all
	./$(BUILD)/tv3s synth --out $(DEMO)/video --videos 0 --val 1 --test 0 --frames 48 --size 192x192 --seed 7 --force --quiet
	@video=""; if ./$(BUILD)/tv3s info --json | grep -q '"ffmpeg": "libav'; then video="--video-out $(DEMO)/demo.mp4"; fi; \
	set -x; ./$(BUILD)/tv3s segment $(DEMO_MODEL) $(DEMO)/video/data/000_synth/origin --mode stream \
	    --overlay $(DEMO)/overlays -o $(DEMO)/labels $$video
	@echo "overlays: $(DEMO)/overlays/ (label maps: $(DEMO)/labels/, frames: $(DEMO)/video/data/000_synth/origin/)"
	@if [ -f $(DEMO)/demo.mp4 ]; then echo "video: $(DEMO)/demo.mp4 (the overlays at 25 fps, H.264)"; \
	else echo "(no demo.mp4: tv3s was built without FFmpeg; apt-get install libavformat-dev libavcodec-dev libswscale-dev libavutil-dev)"; fi

clean:
	rm -rf $(BUILD) $(EMU_BUILD) $(SANITIZE_BUILD) $(FUZZ_BUILD) $(PY_BUILD)
