// `tv3s bench ops`: how fast the kernels are, on this machine.
//
//   1. The CPU's f32 peak, measured: every thread runs a loop of independent 8-wide
//      FMAs (x86 with AVX2+FMA; elsewhere the peak is reported as unknown). The peak is
//      threads × clock × 2 FMA units × 8 lanes × 2 flops; the implied clock is printed.
//   2. GEMM GFLOP/s: gemm_cpu<float> on the CPU (and % of that peak); matmul on the
//      GPU in f32 (cuBLAS, no TF32) and f16 when a GPU is present.
//   3. Throughput of memory-bound ops (add with broadcast, gelu, softmax, layer_norm,
//      sum over an axis, permute; the TV3S decoder's gather_rows with a window
//      partition, causal_conv1d, rms_norm and add_rms_norm at its shapes) in GB/s of
//      compulsory traffic (each input read once, each output written once), CPU and GPU
//      side by side.
//   4. The selective scan (Mamba) at TV3S shapes: milliseconds per forward call.
// Every number is the median of several timed repetitions after a warm-up; a repetition
// repeats the op enough times to last a few ms, with cuda_synchronize() around it on
// the GPU. Runs under NoGradGuard: inference cost, no tape.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#if TV3S_WITH_CUDA
#include <cuda_runtime.h>
#endif

#include "src/cli/args.h"
#include "src/cli/commands.h"
#include "src/models/window_partition.h"
#include "tv3s/tv3s.hpp"

namespace tv3s::cli {
namespace {

const char* kUsage =
    "usage: tv3s bench ops [--threads N] [--quick] [--json] [--help]\n"
    "  GEMM GFLOP/s (CPU, with the measured f32 peak and % of it; GPU f32/f16 if present)\n"
    "  and throughput of add (broadcast), gelu, softmax, layer_norm, sum, permute,\n"
    "  gather_rows, causal_conv1d, rms_norm, add_rms_norm (the TV3S decoder's shapes);\n"
    "  the selective scan at TV3S shapes (ms per call).\n"
    "  --threads N   OpenMP threads for the CPU (default: OMP_NUM_THREADS or all cores)\n"
    "  --quick       small sizes, a few repetitions (seconds; used by the tests)\n"
    "  --json        machine-readable output on stdout instead of the table\n";

// Median seconds per call of `fn`. One warm-up call, then a calibration call that sets
// how many calls make one repetition (≥ min_rep_seconds), then `reps` repetitions.
double median_seconds(const std::function<void()>& fn, bool on_gpu, int reps, double min_rep_seconds) {
  auto sync = [on_gpu] {
    if (on_gpu) cuda_synchronize();
  };
  fn();
  sync();
  auto t0 = std::chrono::steady_clock::now();
  fn();
  sync();
  const double one = std::max(seconds_since(t0), 1e-7);
  const int calls = int(std::clamp(min_rep_seconds / one, 1.0, 10000.0));
  std::vector<double> samples;
  for (int r = 0; r < reps; ++r) {
    sync();
    t0 = std::chrono::steady_clock::now();
    for (int c = 0; c < calls; ++c) fn();
    sync();
    samples.push_back(seconds_since(t0) / calls);
  }
  return median(samples);
}

// ---- the CPU peak -------------------------------------------------------------------------

#if defined(__x86_64__) || defined(__i386__)
// Ten independent accumulators hide the 4–5 cycle FMA latency behind 2 FMA units.
__attribute__((target("avx2,fma"))) float fma_loop(int64_t iterations) {
  __m256 acc[10];
  for (int i = 0; i < 10; ++i) acc[i] = _mm256_set1_ps(0.001f * float(i));
  const __m256 scale = _mm256_set1_ps(0.99999f), shift = _mm256_set1_ps(1e-5f);
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 10
    for (int i = 0; i < 10; ++i) acc[i] = _mm256_fmadd_ps(acc[i], scale, shift);
  }
  __m256 total = acc[0];
  for (int i = 1; i < 10; ++i) total = _mm256_add_ps(total, acc[i]);
  float lanes[8];
  _mm256_storeu_ps(lanes, total);
  return lanes[0];
}
#endif

// f32 GFLOP/s of FMAs on `threads` threads (best of 3), or 0 where it cannot be measured.
double measure_cpu_peak(int threads, bool quick) {
#if defined(__x86_64__) || defined(__i386__)
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0;
  const int64_t iterations = quick ? 2000000 : 20000000;  // ×10 FMAs ×16 flops per thread
  double best = 0;
  for (int round = 0; round < 3; ++round) {
    float sink = 0;
    const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    sink += fma_loop(iterations);
    const double t = seconds_since(t0);
    if (sink == 12345.f) std::fputs("", stderr);  // keep the loop alive
    best = std::max(best, double(threads) * double(iterations) * 10 * 16 / t / 1e9);
  }
  return best;
#else
  (void)threads;
  (void)quick;
  return 0;
#endif
}

// ---- GEMM ---------------------------------------------------------------------------------

struct GemmRow {
  std::string label;
  int64_t M, N, K;
  double cpu_gflops = 0, gpu_f32_gflops = 0, gpu_f16_gflops = 0;  // 0: not measured
};

void bench_gemm(GemmRow& row, bool gpu, int reps, double rep_seconds) {
  const double flops = 2.0 * double(row.M) * double(row.N) * double(row.K);
  Rng rng(1);
  const Tensor a = Tensor::uniform(Shape{row.M, row.K}, rng);
  const Tensor b = Tensor::uniform(Shape{row.K, row.N}, rng);
  Tensor c = Tensor::empty(Shape{row.M, row.N});
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  float* pc = c.data<float>();
  row.cpu_gflops = flops / median_seconds([&] {
                     gemm_cpu<float>(false, false, row.M, row.N, row.K, 1.f, pa, row.K, pb, row.N, 0.f, pc, row.N);
                   }, false, reps, rep_seconds) / 1e9;
  if (!gpu) return;
  for (DType dtype : {DType::f32, DType::f16}) {
    const Tensor ga = a.to(dtype).cuda(), gb = b.to(dtype).cuda();
    const double s = median_seconds([&] { matmul(ga, gb); }, true, reps, rep_seconds);
    (dtype == DType::f32 ? row.gpu_f32_gflops : row.gpu_f16_gflops) = flops / s / 1e9;
  }
}

// ---- memory-bound ops ----------------------------------------------------------------------

struct OpRow {
  std::string op, shape;
  double bytes = 0;                 // compulsory traffic per call (f32)
  double cpu_gbps = 0, gpu_gbps = 0;  // 0: not measured
  std::function<Tensor(const std::vector<Tensor>&)> run;
  std::vector<Tensor> inputs;       // CPU f32
};

// The TV3S decoder's per-token ops at the shapes of a 480×853 clip (60×120 grid, T = 4
// frames): 18 windows of 20×20×4 = 1600 tokens through the Mamba conv (d_inner = 512), and
// 28 800 tokens of C = 256 through the norms. Traffic: x read and y written (add_rms_norm
// also reads the residual and writes residual_out); the conv's weight and state are noise.
void add_decoder_rows(std::vector<OpRow>& r, bool quick) {
  Rng rng(3);
  const double f32 = 4;
  const Shape conv_x = quick ? Shape{2, 100, 512} : Shape{18, 1600, 512};
  const Tensor x = Tensor::uniform(conv_x, rng);
  const Tensor conv_w = Tensor::uniform(Shape{512, 1, 4}, rng), conv_b = Tensor::uniform(Shape{512}, rng);
  r.push_back({"causal_conv1d (SiLU)", conv_x.str() + " K=4", 2 * double(conv_x.numel()) * f32, 0, 0,
               [](const std::vector<Tensor>& in) {
                 return causal_conv1d(in[0], in[1], in[2], Tensor(), true).y;
               },
               {x, conv_w, conv_b}});
  const Shape tokens = quick ? Shape{1024, 256} : Shape{28800, 256};
  const double n = double(tokens.numel());
  const Tensor h = Tensor::uniform(tokens, rng), residual = Tensor::uniform(tokens, rng);
  const Tensor norm_w = Tensor::uniform(Shape{256}, rng, 0.5, 1.5);
  r.push_back({"rms_norm", tokens.str(), 2 * n * f32, 0, 0,
               [](const std::vector<Tensor>& in) { return rms_norm(in[0], in[1]); }, {h, norm_w}});
  r.push_back({"add_rms_norm", tokens.str(), 4 * n * f32, 0, 0,
               [](const std::vector<Tensor>& in) { return add_rms_norm(in[0], in[1], in[2]).y; },
               {h, residual, norm_w}});
}

std::vector<OpRow> make_op_rows(bool quick) {
  Rng rng(2);
  const int64_t rows = quick ? 256 : 8192, cols = quick ? 256 : 1024;  // 64 Ki / 8 Mi elements
  const double n = double(rows * cols), f32 = 4;
  const std::string mat = str("[", rows, ", ", cols, "]");
  const Tensor x = Tensor::uniform(Shape{rows, cols}, rng);
  const Tensor row_vec = Tensor::uniform(Shape{cols}, rng);
  const Tensor gamma = Tensor::uniform(Shape{cols}, rng, 0.5, 1.5), beta = Tensor::uniform(Shape{cols}, rng);
  // NCHW → NHWC, the layout change between conv-style and token-style stages.
  const Shape nchw = quick ? Shape{2, 16, 32, 64} : Shape{8, 64, 128, 128};
  const Tensor image = Tensor::uniform(nchw, rng);
  std::vector<OpRow> r;
  r.push_back({"add (broadcast)", mat + " + [" + std::to_string(cols) + "]", 2 * n * f32, 0, 0,
               [](const std::vector<Tensor>& in) { return add(in[0], in[1]); }, {x, row_vec}});
  r.push_back({"gelu", mat, 2 * n * f32, 0, 0, [](const std::vector<Tensor>& in) { return gelu(in[0]); }, {x}});
  r.push_back({"softmax (last dim)", mat, 2 * n * f32, 0, 0,
               [](const std::vector<Tensor>& in) { return softmax(in[0], -1); }, {x}});
  r.push_back({"layer_norm (last dim)", mat, 2 * n * f32, 0, 0,
               [](const std::vector<Tensor>& in) { return layer_norm(in[0], in[1], in[2]); }, {x, gamma, beta}});
  r.push_back({"sum (axis -1)", mat, (n + double(rows)) * f32, 0, 0,
               [](const std::vector<Tensor>& in) { return sum(in[0], -1); }, {x}});
  r.push_back({"sum (axis 0)", mat, (n + double(cols)) * f32, 0, 0,
               [](const std::vector<Tensor>& in) { return sum(in[0], 0); }, {x}});
  r.push_back({"permute NCHW->NHWC", nchw.str(), 2 * double(nchw.numel()) * f32, 0, 0,
               [](const std::vector<Tensor>& in) { return permute(in[0], {0, 2, 3, 1}); }, {image}});
  // The decoder's token shuffle around every Mamba layer: one 4-frame clip on the TV3S
  // grid (60×120, 256 channels) into the shifted partition's sequences.
  const WindowPartition part = quick ? make_window_partition(1, 1, 40, 40, 20, 10)
                                     : make_window_partition(1, 4, 60, 120, 20, 10);
  const int64_t tokens = int64_t(part.forward.size()), width = 256;
  const Tensor token_rows = Tensor::uniform(Shape{tokens, width}, rng);
  const Tensor partition = Tensor::from_vector_i32(part.forward, Shape{tokens});
  r.push_back({"gather_rows (window)", str("[", tokens, ", ", width, "] by [", tokens, "]"),
               (2 * double(tokens * width) + double(tokens)) * f32, 0, 0,
               [](const std::vector<Tensor>& in) { return gather_rows(in[0], in[1]); },
               {token_rows, partition}});
  add_decoder_rows(r, quick);
  return r;
}

void bench_op(OpRow& row, bool gpu, int reps, double rep_seconds) {
  const std::vector<Tensor>& in = row.inputs;
  row.cpu_gbps = row.bytes / median_seconds([&] { row.run(in); }, false, reps, rep_seconds) / 1e9;
  if (!gpu) return;
  std::vector<Tensor> on_gpu;
  for (const Tensor& t : in) on_gpu.push_back(t.cuda());
  row.gpu_gbps = row.bytes / median_seconds([&] { row.run(on_gpu); }, true, reps, rep_seconds) / 1e9;
}

// ---- selective scan --------------------------------------------------------------------------

// The Mamba scan at TV3S shapes (D = 512 inner channels, N = 16 states, every optional
// input given, initial state carried): milliseconds per call, f32.
struct ScanRow {
  std::string label;
  int64_t B, L, D, N;
  double cpu_ms = 0, gpu_ms = 0;  // 0: not measured
};

void bench_scan(ScanRow& row, bool gpu, int reps, double rep_seconds) {
  Rng rng(3);
  const Shape tokens{row.B, row.L, row.D}, per_token{row.B, row.L, row.N};
  // Δ = softplus(delta + bias) ≈ 0.01–0.1 and A = −e^{A_log}, as a trained layer has.
  const std::vector<Tensor> in = {
      Tensor::uniform(tokens, rng),            Tensor::uniform(tokens, rng, -1, 1),
      -exp(Tensor::uniform(Shape{row.D, row.N}, rng, 0, 2.8)),
      Tensor::uniform(per_token, rng),         Tensor::uniform(per_token, rng),
      Tensor::uniform(Shape{row.D}, rng),      Tensor::uniform(tokens, rng),
      Tensor::uniform(Shape{row.D}, rng, -4.5, -2.5),
      Tensor::uniform(Shape{row.B, row.D, row.N}, rng)};
  auto run = [](const std::vector<Tensor>& x) {
    selective_scan(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], x[8], true);
  };
  row.cpu_ms = 1e3 * median_seconds([&] { run(in); }, false, reps, rep_seconds);
  if (!gpu) return;
  std::vector<Tensor> on_gpu;
  for (const Tensor& t : in) on_gpu.push_back(t.cuda());
  row.gpu_ms = 1e3 * median_seconds([&] { run(on_gpu); }, true, reps, rep_seconds);
}

// ---- output ---------------------------------------------------------------------------------

std::string gpu_name() {
#if TV3S_WITH_CUDA
  if (cuda_available()) {
    int device = 0;
    cudaDeviceProp prop{};
    if (cudaGetDevice(&device) == cudaSuccess && cudaGetDeviceProperties(&prop, device) == cudaSuccess)
      return prop.name;
  }
#endif
  return "";
}

using Json = nlohmann::ordered_json;

Json number_or_null(double v) { return v > 0 ? Json(v) : Json(nullptr); }

std::string cell(double v, const char* format) {
  if (v <= 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

}  // namespace

int run_bench_ops(int argc, char** argv) {
  int threads = omp_get_max_threads();
  bool quick = false, json = false;
  Args args(argc, argv);
  try {
    while (!args.done()) {
      const std::string arg = args.next();
      if (arg == "--help" || arg == "-h") {
        std::fputs(kUsage, stdout);
        return 0;
      } else if (arg == "--quick") {
        quick = true;
      } else if (arg == "--json") {
        json = true;
      } else if (arg == "--threads") {
        threads = args.threads(arg);
      } else {
        throw UsageError{"unknown option '" + arg + "'"};
      }
    }
  } catch (const UsageError& e) {
    std::fprintf(stderr, "tv3s bench ops: %s (see tv3s bench ops --help)\n", e.message.c_str());
    return 2;
  }
  omp_set_num_threads(threads);
  NoGradGuard no_grad;
  const bool gpu = cuda_available();
  const int reps = quick ? 3 : 7;
  const double rep_seconds = quick ? 0.002 : 0.05;

  const double peak = measure_cpu_peak(threads, quick);
  std::vector<GemmRow> gemms;
  if (quick) {
    gemms = {{"square", 64, 64, 64}, {"square", 128, 128, 128}, {"skinny", 1000, 256, 64}};
  } else {
    gemms = {{"square", 256, 256, 256},     {"square", 512, 512, 512},  {"square", 1024, 1024, 1024},
             {"square", 2048, 2048, 2048},  {"skinny", 10000, 256, 64},  // M = tokens, small K
             {"MiT FFN", 16384, 1024, 256}};                           // 128×128 tokens, C=256 → 4C
  }
  for (GemmRow& g : gemms) bench_gemm(g, gpu, reps, rep_seconds);
  std::vector<OpRow> ops = make_op_rows(quick);
  for (OpRow& o : ops) bench_op(o, gpu, reps, rep_seconds);
  std::vector<ScanRow> scans;
  if (quick) scans = {{"small", 2, 100, 64, 16}};
  else scans = {{"frame, 18 windows", 18, 400, 512, 16},
                {"frame, 28 windows", 28, 400, 512, 16},
                {"4-frame clip", 18, 1600, 512, 16}};
  for (ScanRow& r : scans) bench_scan(r, gpu, reps, rep_seconds);

  const std::string device = gpu_name();
  if (json) {
    Json j;
    j["threads"] = threads;
    j["quick"] = quick;
    j["cpu_peak_gflops"] = number_or_null(peak);
    j["cpu_peak_method"] = "measured: independent 8-wide f32 FMAs on every thread";
    j["cpu_clock_ghz_implied"] = number_or_null(peak / (double(threads) * 32));
    j["gpu"] = gpu ? Json(device) : Json(nullptr);
    j["gemm"] = Json::array();
    for (const GemmRow& g : gemms)
      j["gemm"].push_back({{"label", g.label}, {"M", g.M}, {"N", g.N}, {"K", g.K},
                           {"cpu_gflops", g.cpu_gflops},
                           {"cpu_percent_of_peak", number_or_null(peak > 0 ? 100 * g.cpu_gflops / peak : 0)},
                           {"gpu_f32_gflops", number_or_null(g.gpu_f32_gflops)},
                           {"gpu_f16_gflops", number_or_null(g.gpu_f16_gflops)}});
    j["ops"] = Json::array();
    for (const OpRow& o : ops)
      j["ops"].push_back({{"op", o.op}, {"shape", o.shape}, {"bytes", o.bytes}, {"cpu_gbps", o.cpu_gbps},
                          {"gpu_gbps", number_or_null(o.gpu_gbps)}});
    j["selective_scan"] = Json::array();
    for (const ScanRow& r : scans)
      j["selective_scan"].push_back({{"label", r.label}, {"B", r.B}, {"L", r.L}, {"D", r.D},
                                     {"N", r.N}, {"cpu_ms", r.cpu_ms},
                                     {"gpu_ms", number_or_null(r.gpu_ms)}});
    std::puts(j.dump(2).c_str());
    return 0;
  }

  std::printf("tv3s bench ops%s: CPU %d threads; GPU %s (median of %d reps)\n", quick ? " --quick" : "",
              threads, gpu ? device.c_str() : "none", reps);
  if (peak > 0)
    std::printf("CPU f32 peak %.1f GFLOP/s, measured (= %d threads x %.2f GHz x 2 FMA units x 8 lanes x 2 flops)\n\n",
                peak, threads, peak / (double(threads) * 32));
  else
    std::puts("CPU f32 peak: unknown (no AVX2+FMA to measure it with)\n");

  std::printf("GEMM C = A.B (row-major)     %12s %8s %12s %12s\n", "CPU GFLOP/s", "% peak", "GPU f32", "GPU f16");
  for (const GemmRow& g : gemms) {
    const std::string size = str(g.M, " x ", g.N, " x ", g.K);
    std::printf("  %-9s %-17s %12.1f %8s %12s %12s\n", g.label.c_str(), size.c_str(), g.cpu_gflops,
                cell(peak > 0 ? 100 * g.cpu_gflops / peak : 0, "%.0f%%").c_str(),
                cell(g.gpu_f32_gflops, "%.1f").c_str(), cell(g.gpu_f16_gflops, "%.1f").c_str());
  }
  std::printf("  (M x N x K; GPU columns: matmul through cuBLAS, f32 without TF32)\n\n");

  std::printf("op (f32)                 %-26s %10s %10s\n", "shape", "CPU GB/s", "GPU GB/s");
  for (const OpRow& o : ops)
    std::printf("  %-22s %-26s %10.2f %10s\n", o.op.c_str(), o.shape.c_str(), o.cpu_gbps,
                cell(o.gpu_gbps, "%.1f").c_str());
  std::printf("  (GB/s of compulsory traffic: inputs read once, output written once)\n\n");

  std::printf("selective_scan (f32)     %-26s %10s %10s\n", "B x L x D x N", "CPU ms", "GPU ms");
  for (const ScanRow& r : scans)
    std::printf("  %-22s %-26s %10.2f %10s\n", r.label.c_str(),
                str(r.B, " x ", r.L, " x ", r.D, " x ", r.N).c_str(), r.cpu_ms,
                cell(r.gpu_ms, "%.3f").c_str());
  std::printf("  (forward with z, D, delta_bias and an initial state: a TV3S Mamba layer's scan)\n");
  return 0;
}

}  // namespace tv3s::cli
