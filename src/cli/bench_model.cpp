// `tv3s bench model`: per-frame latency, FPS and memory of the SegFormer path (MiT + the
// all-MLP head + the resize of the logits to the input size + argmax), on random weights
// of the chosen variant or on a model file. The same work as `tv3s segment` minus image
// decoding and file writing. bench/segformer_vs_pytorch.sh runs it beside PyTorch.
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/cli/args.h"
#include "src/cli/commands.h"
#include "src/models/parameters.h"
#include "src/models/random_weights.h"
#include "src/pipeline/segmenter.h"
#include "tv3s/tv3s.hpp"

namespace tv3s::cli {
namespace {

const char* kUsage =
    "usage: tv3s bench model [--arch mit_b1] [--mode frame|stream|clip] [--size 480x853]\n"
    "                        [--classes 124] [--model FILE] [--device cpu|cuda] [--threads N]\n"
    "                        [--reps 10] [--warmup 2] [--json]\n"
    "  Times one frame through a Segmenter: MiT + SegFormer head (frame), + the TV3S decoder\n"
    "  with carried state (stream) or on the official 4-frame clip (clip), then the resize\n"
    "  to the input size and argmax. Random weights of --arch (TV3S: the official decoder,\n"
    "  E 256, window 20, shift 10) unless --model gives a file. Median and min over --reps.\n";

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int run_bench_model(int argc, char** argv) {
  Args args(argc, argv);
  std::string arch = "mit_b1", model_path, device_name = "cpu", mode_name = "frame";
  long long H = 480, W = 853, classes = 124, reps = 10, warmup = 2;
  bool json = false;
  int threads = omp_get_max_threads();
  try {
    while (!args.done()) {
      const std::string a = args.next();
      if (a == "--help" || a == "-h") {
        std::fputs(kUsage, stdout);
        return 0;
      } else if (a == "--arch") {
        arch = args.value(a);
      } else if (a == "--mode") {
        mode_name = args.value(a);
        if (mode_name != "frame" && mode_name != "stream" && mode_name != "clip")
          throw UsageError{"unknown --mode '" + mode_name + "' (frame, stream or clip)"};
      } else if (a == "--size") {
        const std::string s = args.value(a);
        if (std::sscanf(s.c_str(), "%lldx%lld", &H, &W) != 2 || H < 29 || W < 29 || H > 8192 || W > 8192)
          throw UsageError{"--size needs HxW with 29 ≤ H, W ≤ 8192, got '" + s + "'"};
      } else if (a == "--classes") {
        classes = args.integer(a, 1, 65536);
      } else if (a == "--model") {
        model_path = args.value(a);
      } else if (a == "--device") {
        device_name = args.value(a);
      } else if (a == "--threads") {
        threads = int(args.integer(a, 1, 1024));
      } else if (a == "--reps") {
        reps = args.integer(a, 1, 100000);
      } else if (a == "--warmup") {
        warmup = args.integer(a, 0, 100000);
      } else if (a == "--json") {
        json = true;
      } else {
        throw UsageError{"unknown argument '" + a + "'"};
      }
    }
    if (device_name != "cpu" && device_name != "cuda")
      throw UsageError{"unknown --device '" + device_name + "' (cpu or cuda)"};
  } catch (const UsageError& e) {
    std::fprintf(stderr, "tv3s bench model: %s (see tv3s bench model --help)\n", e.message.c_str());
    return 2;
  }
  const Device device = device_name == "cuda" ? Device::CUDA : Device::CPU;
  TV3S_CHECK(device == Device::CPU || cuda_available(), "--device cuda: no usable CUDA GPU");
  omp_set_num_threads(threads);
  NoGradGuard no_grad;

  const SegmentMode mode = parse_segment_mode(mode_name);
  ModelConfig config;
  config.model = mode == SegmentMode::frame ? "segformer" : "tv3s";
  config.backbone = arch;
  config.num_classes = classes;
  Segmenter segmenter = [&] {
    if (!model_path.empty()) return Segmenter::load(model_path, {mode, device});
    Weights weights = random_weights(model_parameters(config), 1, device);
    if (mode == SegmentMode::frame)
      return Segmenter(std::make_shared<const Segformer>(config, std::move(weights)));
    return Segmenter(std::make_shared<const Tv3s>(config, std::move(weights)), mode);
  }();
  const ModelConfig& model = segmenter.config();
  const int64_t parameters = segmenter.weights().numel();
  Rng rng(7);
  const Tensor image = Tensor::uniform(Shape{1, H, W, 3}, rng, -2, 2, DType::f32, device);
  auto frame = [&] {
    Tensor labels = argmax(segmenter.push(image), -1);
    if (device == Device::CUDA) cuda_synchronize();
    return labels;
  };
  for (long long i = 0; i < warmup; ++i) frame();
  reset_peak_memory(device);
  std::vector<double> ms;
  for (long long i = 0; i < reps; ++i) {
    const double t0 = now_ms();
    frame();
    ms.push_back(now_ms() - t0);
  }
  std::sort(ms.begin(), ms.end());
  const double median = ms[ms.size() / 2], best = ms.front();
  const MemoryStats mem = memory_stats(device);
  const double params_m = double(parameters) / 1e6;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double max_rss = double(usage.ru_maxrss) * 1024;  // the whole process, as the OS sees it
  if (json) {
    nlohmann::json j = {{"model", model.model}, {"backbone", model.backbone},
                        {"classes", model.num_classes}, {"height", H}, {"width", W},
                        {"device", device_name}, {"threads", threads}, {"reps", reps},
                        {"median_ms", median}, {"min_ms", best}, {"fps", 1000.0 / median},
                        {"peak_bytes", mem.peak_bytes}, {"reserved_bytes", mem.reserved_bytes},
                        {"max_rss_bytes", max_rss}, {"parameters", parameters},
                        {"mode", mode_name}, {"state_bytes", segmenter.state_bytes()}};
    std::puts(j.dump().c_str());
  } else {
    std::printf("tv3s %s %s %s (%lld classes, %.2fM parameters), --mode %s, %lldx%lld, %s%s\n",
                model.model.c_str(), model.backbone.c_str(),
                model_path.empty() ? "random weights" : model_path.c_str(),
                (long long)model.num_classes, params_m, mode_name.c_str(), H, W, device_name.c_str(),
                device == Device::CPU ? (", " + std::to_string(threads) + " threads").c_str() : "");
    std::printf("  per frame: median %.1f ms, min %.1f ms, %.2f FPS (%lld reps)\n", median, best,
                1000.0 / median, reps);
    std::printf("  peak tensor memory during a frame: %.1f MiB (weights + activations; reserved %.1f MiB)\n",
                double(mem.peak_bytes) / 1048576.0, double(mem.reserved_bytes) / 1048576.0);
    std::printf("  process max RSS: %.1f MiB\n", max_rss / 1048576.0);
    if (mode != SegmentMode::frame)
      std::printf("  carried between frames: %.2f MiB (%s)\n", double(segmenter.state_bytes()) / 1048576.0,
                  mode == SegmentMode::stream ? "Mamba conv + SSM state, constant" : "the last 10 frames' grid features");
  }
  return 0;
}

}  // namespace tv3s::cli
