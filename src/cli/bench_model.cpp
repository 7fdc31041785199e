// `tv3s bench model`: per-frame latency, FPS and memory of the SegFormer path (backbone + the
// all-MLP head + the resize of the logits to the input size + argmax), on random weights
// of the chosen variant or on a model file. The same work as `tv3s segment` minus image
// decoding and file writing. bench/segformer_vs_pytorch.sh runs it beside PyTorch.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <tuple>
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
    "  Times one frame through a Segmenter: backbone + SegFormer head (frame), + the TV3S decoder\n"
    "  with carried state (stream) or on the official 4-frame clip (clip), then the resize\n"
    "  to the input size and argmax. Random weights of --arch (mit_b0 ... mit_b5, swin_t,\n"
    "  swin_s, swin_b, swin_l; TV3S: the official decoder, E 256, window 20, shift 10)\n"
    "  unless --model gives a file. Median and min over --reps.\n";

}  // namespace

int run_bench_model(int argc, char** argv) {
  Args args(argc, argv);
  std::string arch = "mit_b1", model_path, mode_name = "frame";
  Device device = Device::CPU;
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
        try {
          ModelConfig().set_backbone(arch);  // a known name, or the error listing them
        } catch (const Error& e) {
          throw UsageError{"--arch: " + std::string(e.what())};
        }
      } else if (a == "--mode") {
        mode_name = args.value(a);
        if (mode_name != "frame" && mode_name != "stream" && mode_name != "clip")
          throw UsageError{"unknown --mode '" + mode_name + "' (frame, stream or clip)"};
      } else if (a == "--size") {
        std::tie(H, W) = args.size(a, 29, 8192);
      } else if (a == "--classes") {
        classes = args.integer(a, 1, 65536);
      } else if (a == "--model") {
        model_path = args.value(a);
      } else if (a == "--device") {
        device = args.device(a);
      } else if (a == "--threads") {
        threads = args.threads(a);
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
  } catch (const UsageError& e) {
    std::fprintf(stderr, "tv3s bench model: %s (see tv3s bench model --help)\n", e.message.c_str());
    return 2;
  }
  const std::string device_name = tv3s::device_name(device);
  TV3S_CHECK(device == Device::CPU || cuda_available(), "--device cuda: no usable CUDA GPU");
  omp_set_num_threads(threads);
  NoGradGuard no_grad;

  const SegmentMode mode = parse_segment_mode(mode_name);
  ModelConfig config;
  config.kind = mode == SegmentMode::frame ? ModelKind::segformer : ModelKind::tv3s;
  config.set_backbone(arch);
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
  std::vector<double> times;  // ms
  for (long long i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    frame();
    times.push_back(1e3 * seconds_since(t0));
  }
  const double median = cli::median(times), best = *std::min_element(times.begin(), times.end());
  const MemoryStats mem = memory_stats(device);
  const double params_m = double(parameters) / 1e6;
  const double max_rss = double(max_rss_bytes());  // the whole process, as the OS sees it
  if (json) {
    nlohmann::json j = {{"model", model_kind_name(model.kind)}, {"backbone", model.backbone},
                        {"classes", model.num_classes}, {"height", H}, {"width", W},
                        {"device", device_name}, {"threads", threads}, {"reps", reps},
                        {"median_ms", median}, {"min_ms", best}, {"fps", 1000.0 / median},
                        {"peak_bytes", mem.peak_bytes}, {"reserved_bytes", mem.reserved_bytes},
                        {"max_rss_bytes", max_rss}, {"parameters", parameters},
                        {"mode", mode_name}, {"state_bytes", segmenter.state_bytes()}};
    std::puts(j.dump().c_str());
  } else {
    std::printf("tv3s %s %s %s (%lld classes, %.2fM parameters), --mode %s, %lldx%lld, %s%s\n",
                model_kind_name(model.kind), model.backbone.c_str(),
                model_path.empty() ? "random weights" : model_path.c_str(),
                (long long)model.num_classes, params_m, mode_name.c_str(), H, W, device_name.c_str(),
                device == Device::CPU ? (", " + std::to_string(threads) + " threads").c_str() : "");
    std::printf("  per frame: median %s, min %s, %s (%lld reps)\n", ms(median).c_str(), ms(best).c_str(),
                fps(1000.0 / median).c_str(), reps);
    std::printf("  peak tensor memory during a frame: %s (weights + activations; reserved %s)\n",
                mib(double(mem.peak_bytes)).c_str(), mib(double(mem.reserved_bytes)).c_str());
    std::printf("  process max RSS: %s\n", mib(max_rss).c_str());
    if (mode != SegmentMode::frame)
      std::printf("  carried between frames: %s (%s)\n", mib(double(segmenter.state_bytes()), 2).c_str(),
                  mode == SegmentMode::stream ? "Mamba conv + SSM state, constant" : "the last 10 frames' grid features");
  }
  return 0;
}

}  // namespace tv3s::cli
