// Every check of the emulator, by planting its fault (faults/faults.cu) in a child
// process: the emulator must stop it (abort: a non-zero status) with a message that
// names the fault and, inside a kernel, the kernel, block and thread.
#include <doctest/doctest.h>

#include <string>

#include "tests/test_util.h"

namespace {

struct Expected {
  const char* scenario;
  const char* message;   // must appear in the output
  bool names_thread;     // a fault inside a kernel names kernel, block and thread
};

const Expected kFaults[] = {
    {"out-of-bounds-read", "out-of-bounds global memory access: 0 bytes past the end of the 4096-byte", true},
    {"write-past-end-in-rounding", "a kernel wrote byte 4000 of this 4000-byte device allocation, past its end", false},
    {"use-after-free", "use of freed device memory", true},
    {"host-pointer-argument", "argument 0 is 0x", false},
    {"barrier-after-exit", "barrier divergence", true},
    {"different-barriers", "barrier divergence: this thread waits at __syncthreads() at", true},
    {"shuffle-missing-lanes", "the mask names lanes that do not exist", true},
    {"shuffle-mask-without-caller", "the mask does not name the calling lane", true},
    {"shuffle-exited-lane", "exited", true},
    {"static-shared-over-48k", "more than the 48 KiB a GPU allows", true},
    {"cublas-bad-leading-dimension", "cublasGemmEx", false},
};

}  // namespace

TEST_SUITE_BEGIN("emulator");

TEST_CASE("emulator: every planted fault stops the program with a message naming it") {
  for (const Expected& e : kFaults) {
    const std::string scenario = e.scenario;
    CAPTURE(scenario);
    const tv3s::test::CommandResult r =
        tv3s::test::run_command(std::string(TV3S_EMULATOR_FAULTS_PATH) + " " + e.scenario);
    CAPTURE(r.output);
    CHECK(r.exit_code != 0);
    CHECK(r.output.find("tv3s CUDA emulator: ") != std::string::npos);
    CHECK(r.output.find(e.message) != std::string::npos);
    if (e.names_thread) {
      CHECK(r.output.find("(in kernel ") != std::string::npos);
      CHECK(r.output.find(", block (") != std::string::npos);
      CHECK(r.output.find(", thread (") != std::string::npos);
    }
    CHECK(r.output.find("no fault was reported") == std::string::npos);
  }
}

TEST_SUITE_END();
