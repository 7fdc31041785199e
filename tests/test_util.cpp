#include "tests/test_util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "src/io/video_reader.h"

namespace tv3s::test {

bool gpu_available() { return cuda_available(); }

static std::vector<std::string>& skipped_list() {
  static std::vector<std::string> names;
  return names;
}

bool register_cuda_test(const char* name) {
  if (gpu_available()) return true;
  skipped_list().push_back(std::string(name) + " (no CUDA GPU)");
  return false;
}

bool register_ffmpeg_test(const char* name) {
  static const std::string missing = [] {
    if (!io::ffmpeg_available()) return std::string("tv3s built without FFmpeg");
    if (std::system("command -v ffmpeg > /dev/null 2>&1 && command -v ffprobe > /dev/null 2>&1") != 0)
      return std::string("no ffmpeg/ffprobe command");
    return std::string();
  }();
  if (missing.empty()) return true;
  skipped_list().push_back(std::string(name) + " (" + missing + ")");
  return false;
}

const std::vector<std::string>& skipped_tests() { return skipped_list(); }

bool long_tests() { return std::getenv("TV3S_LONG_TESTS") != nullptr; }

bool runs_whole_on(Device device) {
#ifdef TV3S_CUDA_EMULATOR
  return device != Device::CUDA || long_tests();
#else
  (void)device;
  return true;
#endif
}

Diff compare(const Tensor& got, const Tensor& ref) {
  REQUIRE_MESSAGE(got.shape() == ref.shape(), "shape ", got.desc(), " vs reference ", ref.desc());
  const std::vector<double> g = got.to_vector_f64(), r = ref.to_vector_f64();
  Diff d;
  double err2 = 0, ref2 = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const bool gf = std::isfinite(g[i]), rf = std::isfinite(r[i]);
    if (gf != rf || (!gf && !rf && !(std::isnan(g[i]) && std::isnan(r[i])) && g[i] != r[i])) {
      d.nonfinite++;
      continue;
    }
    if (!gf) continue;  // both NaN, or equal infinities
    const double e = std::fabs(g[i] - r[i]);
    d.max_abs = std::max(d.max_abs, e);
    d.max_ref = std::max(d.max_ref, std::fabs(r[i]));
    err2 += e * e;
    ref2 += r[i] * r[i];
  }
  d.rel = d.max_abs / std::max(d.max_ref, 1e-30);
  d.nmse = ref2 > 0 ? err2 / ref2 : err2;
  return d;
}

std::string to_string(const Diff& d) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "max_abs=%.3g max_ref=%.3g rel=%.3g nmse=%.3g nonfinite=%lld",
                d.max_abs, d.max_ref, d.rel, d.nmse, (long long)d.nonfinite);
  return buf;
}

void check_close(const Tensor& got, const Tensor& ref, double tol, const std::string& what) {
  const Diff d = compare(got, ref);
  INFO(what, ": ", to_string(d), " (tol ", tol, ")");
  CHECK(d.nonfinite == 0);
  // max_ref == 0: compare absolutely (every element must be within tol of zero)
  const double error = d.max_ref > 0 ? d.rel : d.max_abs;
  CHECK(error <= tol);
}

CommandResult run_command(const std::string& command_line, bool merge_stderr) {
  const std::string cmd = command_line + (merge_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

CommandResult run_tv3s(const std::string& args, bool merge_stderr) {
  return run_command(std::string(TV3S_CLI_PATH) + " " + args, merge_stderr);
}

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  path_ = std::filesystem::temp_directory_path() / str("tv3s_test_", getpid(), "_", counter++);
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::vector<std::string> TempDir::entries() const {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(path_))
    names.push_back(e.path().filename().string());
  return names;
}

Tensor random(const Shape& shape, uint64_t seed, double lo, double hi, bool requires_grad,
              DType dtype) {
  Rng rng(seed);
  Tensor t = Tensor::uniform(shape, rng, lo, hi, dtype);
  if (requires_grad) t.requires_grad_();
  return t;
}

// Σ out ⊙ w — the scalar whose gradient tests differentiate.
static Tensor weighted_sum(const Tensor& out, const Tensor& w) { return sum_all(mul(out, w)); }

void gradcheck(const OpFn& f, std::vector<Tensor> inputs, double eps, double atol, double rtol,
               int64_t max_elements) {
  for (const Tensor& x : inputs)
    REQUIRE_MESSAGE(((x.dtype() == DType::f64 && !x.is_cuda()) || !is_floating(x.dtype())),
                    "gradcheck needs f64 CPU inputs, got ", x.desc());
  Tensor out = f(inputs);
  REQUIRE(out.requires_grad());
  Rng rng(1234);
  const Tensor w = Tensor::uniform(out.shape(), rng, 0.5, 1.5, DType::f64);
  for (Tensor& x : inputs) x.zero_grad();
  weighted_sum(out, w).backward();

  NoGradGuard no_grad;
  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor& x = inputs[k];
    if (!x.requires_grad()) continue;
    const Tensor grad = x.grad();
    REQUIRE_MESSAGE(grad.defined(), "input ", k, " got no gradient");
    const std::vector<double> analytic = grad.to_vector_f64();
    double* p = x.data<double>();
    const int64_t n = x.numel();
    const int64_t step = std::max<int64_t>(1, n / max_elements);
    for (int64_t i = 0; i < n; i += step) {
      const double saved = p[i];
      p[i] = saved + eps;
      const double up = weighted_sum(f(inputs), w).item();
      p[i] = saved - eps;
      const double down = weighted_sum(f(inputs), w).item();
      p[i] = saved;
      const double numeric = (up - down) / (2 * eps);
      INFO("input ", k, " ", x.desc(), " element ", i, ": analytic ", analytic[size_t(i)],
           " numeric ", numeric);
      const double error = std::fabs(analytic[size_t(i)] - numeric);
      CHECK(error <= atol + rtol * std::fabs(numeric));
    }
  }
}

void check_backends(const OpFn& f, const std::vector<Tensor>& inputs, double tol, DType cuda_dtype,
                    bool check_grads) {
  REQUIRE(gpu_available());
  std::vector<Tensor> on_cpu, on_gpu;
  for (const Tensor& x : inputs) {
    const bool leaf = check_grads && x.requires_grad();
    Tensor c = x.detach().clone();
    Tensor g = is_floating(x.dtype()) ? x.detach().to(cuda_dtype).cuda() : x.detach().cuda();
    if (leaf) {
      c.requires_grad_();
      g.requires_grad_();
    }
    on_cpu.push_back(c);
    on_gpu.push_back(g);
  }
  const Tensor out_cpu = f(on_cpu);
  const Tensor out_gpu = f(on_gpu);
  check_close(out_gpu, out_cpu, tol, "forward, CUDA vs CPU");
  if (!check_grads || !out_cpu.requires_grad()) return;
  Rng rng(99);
  const Tensor w = Tensor::uniform(out_cpu.shape(), rng, 0.5, 1.5);
  weighted_sum(out_cpu, w).backward();
  weighted_sum(out_gpu, w.to(out_gpu.dtype()).cuda()).backward();
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (!on_cpu[k].requires_grad()) continue;
    REQUIRE(on_cpu[k].grad().defined());
    REQUIRE(on_gpu[k].grad().defined());
    check_close(on_gpu[k].grad(), on_cpu[k].grad(), tol,
                str("gradient of input ", k, ", CUDA vs CPU"));
  }
}

}  // namespace tv3s::test
