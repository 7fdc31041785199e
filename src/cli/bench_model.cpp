// `tv3s bench model`: per-frame latency, FPS and memory of the SegFormer path (backbone + the
// all-MLP head + the resize of the logits to the input size fused with the argmax), on random weights
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
#include "src/models/precision.h"
#include "src/models/random_weights.h"
#include "src/pipeline/segmenter.h"
#include "tv3s/tv3s.hpp"

namespace tv3s::cli {
namespace {

const char* kUsage =
    "usage: tv3s bench model [--arch mit_b1] [--mode frame|stream|clip] [--size 480x853]\n"
    "                        [--classes 124] [--model FILE] [--device cpu|cuda] [--threads N]\n"
    "                        [--precision fp32|fp16|bf16] [--videos 1] [--reps 10] [--warmup 2]\n"
    "                        [--memory] [--json]\n"
    "  Times one frame through a Segmenter: backbone + SegFormer head (frame), + the TV3S decoder\n"
    "  with carried state (stream) or on the official 4-frame clip (clip), then the resize\n"
    "  to the input size fused with the argmax (as tv3s segment). Random weights of --arch\n"
    "  (mit_b0 ... mit_b5, swin_t, swin_s, swin_b, swin_l; TV3S: the official decoder, E 256,\n"
    "  window 20, shift 10) unless --model gives a file. Median and min over --reps.\n"
    "  --videos N: N videos side by side (one batch, a frame of each per step).\n"
    "  --memory: what the run needs, from the device allocator's counters after the warm-up:\n"
    "  weights, peak activations of a step, state carried per video, scratch (CPU kernels'\n"
    "  per-thread buffers), and their total. --precision fp16 on the CPU is emulated in f32\n"
    "  storage: its memory is measured on CUDA (or the emulator build's CUDA device).\n";

}  // namespace

int run_bench_model(int argc, char** argv) {
  Args args(argc, argv);
  std::string arch = "mit_b1", model_path, mode_name = "frame";
  Device device = Device::CPU;
  long long H = 480, W = 853, classes = 124, reps = 10, warmup = 2, videos = 1;
  DType precision = DType::f32;
  bool json = false, memory = false;
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
      } else if (a == "--precision") {
        precision = args.precision(a);
      } else if (a == "--videos") {
        videos = args.integer(a, 1, 1024);
      } else if (a == "--memory") {
        memory = true;
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
    if (!model_path.empty()) {
      SegmenterOptions options;
      options.mode = mode, options.device = device, options.videos = videos, options.precision = precision;
      return Segmenter::load(model_path, options);
    }
    const Weights weights =
        weights_in_precision(random_weights(model_parameters(config), 1, device), precision);
    if (mode == SegmentMode::frame)
      return Segmenter(std::make_shared<const Segformer>(config, weights), videos, precision);
    return Segmenter(std::make_shared<const Tv3s>(config, weights), mode, videos, precision);
  }();
  const ModelConfig& model = segmenter.config();
  const int64_t parameters = segmenter.weights().numel();
  size_t weight_bytes = 0;
  for (const auto& [name, t] : segmenter.weights().all()) weight_bytes += t.nbytes();
  Rng rng(7);
  const Tensor image = Tensor::uniform(Shape{videos, H, W, 3}, rng, -2, 2, DType::f32, device);
  auto frame = [&] {  // as Segmenter::segment: the last resize and the argmax fused
    Tensor labels = resize_bilinear_argmax(segmenter.push(image, false), H, W);
    if (device == Device::CUDA) cuda_synchronize();
    return labels;
  };
  for (long long i = 0; i < warmup; ++i) frame();
  reset_peak_memory(device);
  const size_t resident = memory_stats(device).current_bytes;  // weights, state, index tables
  std::vector<double> times;  // ms
  for (long long i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    frame();
    times.push_back(1e3 * seconds_since(t0));
  }
  const double median = cli::median(times), best = *std::min_element(times.begin(), times.end());
  const MemoryStats mem = memory_stats(device);
  const double params_m = double(parameters) / 1e6;
  // The budget: what stays between steps, what a step adds at its peak, CPU scratch.
  const size_t state = segmenter.state_bytes();
  const size_t activations = mem.peak_bytes - std::min(mem.peak_bytes, resident);
  const size_t other = resident - std::min(resident, weight_bytes + state);
  const size_t total = mem.peak_bytes + mem.scratch_bytes;
  const double max_rss = double(max_rss_bytes());  // the whole process, as the OS sees it
  if (json) {
    nlohmann::json j = {{"model", model_kind_name(model.kind)}, {"backbone", model.backbone},
                        {"classes", model.num_classes}, {"height", H}, {"width", W},
                        {"device", device_name}, {"threads", threads}, {"reps", reps},
                        {"median_ms", median}, {"min_ms", best}, {"fps", 1000.0 / median},
                        {"peak_bytes", mem.peak_bytes}, {"reserved_bytes", mem.reserved_bytes},
                        {"max_rss_bytes", max_rss}, {"parameters", parameters},
                        {"mode", mode_name}, {"state_bytes", state},
                        {"precision", precision_name(precision)}, {"videos", videos},
                        {"weight_bytes", weight_bytes}, {"activation_peak_bytes", activations},
                        {"state_bytes_per_video", state / size_t(videos)},
                        {"other_resident_bytes", other}, {"scratch_bytes", mem.scratch_bytes},
                        {"total_bytes", total}};
    std::puts(j.dump().c_str());
  } else {
    std::printf("tv3s %s %s %s (%lld classes, %.2fM parameters), --mode %s, %lldx%lld, %s%s, %s%s\n",
                model_kind_name(model.kind), model.backbone.c_str(),
                model_path.empty() ? "random weights" : model_path.c_str(),
                (long long)model.num_classes, params_m, mode_name.c_str(), H, W, device_name.c_str(),
                device == Device::CPU ? (", " + std::to_string(threads) + " threads").c_str() : "",
                precision_name(precision),
                videos > 1 ? (", " + std::to_string(videos) + " videos").c_str() : "");
    std::printf("  per frame: median %s, min %s, %s (%lld reps)\n", ms(median).c_str(), ms(best).c_str(),
                fps(1000.0 / median).c_str(), reps);
    std::printf("  peak tensor memory during a frame: %s (weights + activations; reserved %s)\n",
                mib(double(mem.peak_bytes)).c_str(), mib(double(mem.reserved_bytes)).c_str());
    std::printf("  process max RSS: %s\n", mib(max_rss).c_str());
    if (mode != SegmentMode::frame)
      std::printf("  carried between frames: %s (%s)\n", mib(double(state), 2).c_str(),
                  mode == SegmentMode::stream ? "Mamba conv + SSM state, constant" : "the last 10 frames' grid features");
    if (memory) {
      std::printf("  memory budget (%s allocator, measured after %lld warm-up steps):\n", device_name.c_str(), warmup);
      std::printf("    weights            %12s\n", mib(double(weight_bytes)).c_str());
      std::printf("    activations (peak) %12s\n", mib(double(activations)).c_str());
      std::printf("    state per video    %12s  (x %lld videos)\n", mib(double(state) / double(videos), 2).c_str(), videos);
      std::printf("    other resident     %12s  (partition index tables, cached views)\n", mib(double(other)).c_str());
      std::printf("    CPU scratch        %12s  (per-thread kernel buffers, outside the allocator)\n",
                  mib(double(mem.scratch_bytes)).c_str());
      std::printf("    total              %12s  (allocator peak + scratch; the CUDA context and cuBLAS/\n"
                  "                                     cuDNN workspaces are not in it)\n", mib(double(total)).c_str());
      if (device == Device::CPU && precision != DType::f32)
        std::printf("    (%s is emulated on the CPU in f32 storage: these are f32 figures)\n", precision_name(precision));
    }
  }
  return 0;
}

}  // namespace tv3s::cli
