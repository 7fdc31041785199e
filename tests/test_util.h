// Shared test machinery, in the spirit of ggml's test-backend-ops:
//  - TV3S_CUDA_TEST_CASE: a test case that runs only with a GPU; without one it is
//    skipped, counted by doctest and listed by name at the end of the run.
//  - TV3S_FFMPEG_TEST_CASE: the same for video tests, which need a build with FFmpeg's
//    libraries and the `ffmpeg` command (to make test videos and reference pixels).
//  - compare(): the error metric every cross-device test states its tolerance in.
//  - gradcheck(): analytic gradients against central finite differences, in f64 on CPU.
//  - check_backends(): an op on CPU and on CUDA from the same random inputs; outputs and
//    input gradients compared.
#pragma once
#include <doctest/doctest.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "tv3s/tv3s.hpp"

namespace tv3s::test {

bool gpu_available();
// Records `name` as a CUDA test; returns whether it can run.
bool register_cuda_test(const char* name);
// Records `name` as a video test; returns whether it can run (FFmpeg built in and the
// `ffmpeg` and `ffprobe` commands on the PATH).
bool register_ffmpeg_test(const char* name);
// The skipped tests, each as "<name> (<why>)".
const std::vector<std::string>& skipped_tests();
// TV3S_LONG_TESTS is set: the few whole-model cases that check less by default, to keep
// CI within its time (each says what it leaves out), check everything.
bool long_tests();
// Whether a whole-model case runs whole on `device`: not on CUDA in the device emulator
// build (-DTV3S_CUDA_EMULATOR=ON, where a "GPU" frame takes seconds) unless long_tests().
bool runs_whole_on(Device device);

// (All of them form the test suite "cuda": `tv3s_tests --test-suite=cuda` runs just them.)
#define TV3S_CUDA_TEST_CASE(name) \
  TEST_CASE(name * doctest::test_suite("cuda") *                                      \
            doctest::skip(!::tv3s::test::register_cuda_test(name)))
// (Suite "ffmpeg".)
#define TV3S_FFMPEG_TEST_CASE(name) \
  TEST_CASE(name * doctest::test_suite("ffmpeg") *                                    \
            doctest::skip(!::tv3s::test::register_ffmpeg_test(name)))

// Error of `got` against `ref` (same shape; any devices/dtypes), computed in f64.
struct Diff {
  double max_abs = 0;  // max |got − ref|
  double max_ref = 0;  // max |ref|
  double rel = 0;      // max_abs / max(max_ref, 1e-30): the metric tolerances are stated in
  double nmse = 0;     // Σ(got − ref)² / Σ ref²  (ggml's metric, reported alongside)
  int64_t nonfinite = 0;  // elements where exactly one of got/ref is NaN/Inf
};
Diff compare(const Tensor& got, const Tensor& ref);
std::string to_string(const Diff& d);

// CHECKs that got ≈ ref: same shape, no non-finite mismatch, rel ≤ tol.
void check_close(const Tensor& got, const Tensor& ref, double tol, const std::string& what = "");

using OpFn = std::function<Tensor(const std::vector<Tensor>&)>;

// f64 CPU gradient check. `inputs` are f64 CPU tensors; those that should be checked
// must require grad. The scalar checked is Σ f(inputs) ⊙ W with a fixed random W, so
// every output element's gradient path is exercised. Each checked element must satisfy
// |analytic − numeric| ≤ atol + rtol·|numeric|. At most `max_elements` per input are
// probed (spread evenly), so large inputs stay fast.
void gradcheck(const OpFn& f, std::vector<Tensor> inputs, double eps = 1e-6, double atol = 1e-6,
               double rtol = 1e-5, int64_t max_elements = 64);

// Runs f on CPU (f32) and on CUDA (inputs cast to `cuda_dtype`) from the same inputs
// (f32 CPU tensors; floating inputs that require grad get gradients compared too).
// Output and gradients must agree within `tol` (rel metric). Must be called from a
// TV3S_CUDA_TEST_CASE.
void check_backends(const OpFn& f, const std::vector<Tensor>& inputs, double tol,
                    DType cuda_dtype = DType::f32, bool check_grads = true);

// Runs the built `tv3s` command with `args` (a shell fragment) and collects its output:
// stdout only, or stdout and stderr merged.
struct CommandResult {
  int exit_code;
  std::string output;
};
CommandResult run_tv3s(const std::string& args, bool merge_stderr = true);
// Any shell command line, the same way.
CommandResult run_command(const std::string& command_line, bool merge_stderr = true);

// A fresh empty folder under the system temp dir, removed with everything in it when the
// scope ends.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string path() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  // Every name in the folder, to check that a failed write left nothing behind.
  std::vector<std::string> entries() const;

 private:
  std::filesystem::path path_;
};

// Random f32 CPU tensor, uniform in [lo, hi), optionally a leaf requiring grad.
Tensor random(const Shape& shape, uint64_t seed, double lo = -1, double hi = 1,
              bool requires_grad = false, DType dtype = DType::f32);

}  // namespace tv3s::test
