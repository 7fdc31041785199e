# Thin wrapper over CMake: the commands the README names.
#   make            build library, `tv3s` command and tests (Release)
#   make test       build, then run the whole test suite and the install test
#   make test-install  only the install test: `cmake --install` to a temporary prefix,
#                   then examples/ built against it with find_package(tv3s) and run
#   make bench      build, then run the op micro-benchmarks
# Variables: BUILD (build dir), CMAKE_ARGS (e.g. -DTV3S_CUDA_ARCHS=80), JOBS.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: all configure test test-install bench clean

all: configure
	cmake --build $(BUILD) -j $(JOBS)

configure:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS) > /dev/null

test: all
	./$(BUILD)/tv3s_tests
	./tests/install_test.sh $(BUILD)

test-install: all
	./tests/install_test.sh $(BUILD)

bench: all
	./$(BUILD)/tv3s bench ops

clean:
	rm -rf $(BUILD)
