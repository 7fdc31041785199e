// `tv3s bench train`: the speed of one training iteration — the training forward of a
// TV3S (or per-frame SegFormer) on B clips of 4 frames, the official loss, the backward
// pass and the AdamW update — in clips/s, with the peak tensor memory and the process's
// max RSS. Random weights and data: speed does not depend on the values.
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
#include "src/train/loss.h"
#include "src/train/optimizer.h"
#include "src/train/train_forward.h"
#include "tv3s/tv3s.hpp"

namespace tv3s::cli {

namespace {

const char* kUsage =
    "usage: tv3s bench train [--model tv3s|segformer] [--arch mit_b1] [--crop HxW] [--batch N]\n"
    "                        [--embed-dim E] [--window W] [--classes K] [--device cpu|cuda]\n"
    "                        [--threads N] [--reps N] [--warmup N] [--json]\n"
    "Times full training iterations (forward, loss, backward, AdamW) of random models on\n"
    "random clips of 4 frames. Defaults: TV3S-B1, 480x480, batch 2, 124 classes (the\n"
    "official VSPW recipe).\n";

}  // namespace

int run_bench_train(int argc, char** argv) {
  Args args(argc, argv);
  ModelConfig config;
  config.kind = ModelKind::tv3s, config.backbone = "mit_b1", config.num_classes = 124;
  long long H = 480, W = 480, batch = 2, reps = 5, warmup = 1;
  Device device = Device::CPU;
  int threads = omp_get_max_threads();
  bool json = false;
  try {
    while (!args.done()) {
      const std::string a = args.next();
      if (a == "--help" || a == "-h") {
        std::fputs(kUsage, stdout);
        return 0;
      } else if (a == "--model") {
        const std::string kind = args.value(a);
        const std::optional<ModelKind> found = find_model_kind(kind);
        if (!found || *found == ModelKind::backbone)
          throw UsageError{"unknown --model '" + kind + "' (tv3s or segformer)"};
        config.kind = *found;
      } else if (a == "--arch") {
        const std::string arch = args.value(a);
        try {
          config.set_backbone(arch);
        } catch (const Error& e) {
          throw UsageError{"--arch: " + std::string(e.what())};
        }
      } else if (a == "--crop") {
        std::tie(H, W) = args.size(a, 32, 4096);
      } else if (a == "--batch") {
        batch = args.integer(a, 1, 1024);
      } else if (a == "--embed-dim") {
        config.embed_dim = args.integer(a, 1, 4096);
      } else if (a == "--window") {
        config.window = args.integer(a, 2, 1024);
        config.shift = config.window / 2;
      } else if (a == "--classes") {
        config.num_classes = args.integer(a, 1, 254);
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
    std::fprintf(stderr, "tv3s bench train: %s (see tv3s bench train --help)\n", e.message.c_str());
    return 2;
  }
  const std::string device_name = tv3s::device_name(device);
  TV3S_CHECK(device == Device::CPU || cuda_available(), "--device cuda: no usable CUDA GPU");
  omp_set_num_threads(threads);

  constexpr int64_t T = 4;
  Weights weights = random_weights(model_parameters(config), 1, device);
  const std::vector<std::string> trainable = train::trainable_parameters(weights);
  weights.requires_grad(trainable);
  std::vector<std::pair<std::string, Tensor>> params;
  for (const std::string& name : trainable) params.emplace_back(name, weights.get(name));
  train::AdamW optimizer(params, train::AdamWConfig{});
  Rng rng(5);
  const Tensor images = Tensor::uniform(Shape{batch * T, H, W, 3}, rng, -2, 2, DType::f32, device);
  std::vector<int32_t> label_values(size_t(batch * T * H * W));
  for (int32_t& v : label_values) v = rng.uniform() < 0.05 ? 255 : int32_t(rng.uniform_int(config.num_classes));
  const Tensor labels = Tensor::from_vector_i32(label_values, Shape{batch * T, H, W}, device);
  const train::LossKind loss_kind = config.kind == ModelKind::tv3s ? train::LossKind::vspw : train::LossKind::per_frame;

  auto iteration = [&] {
    const train::TrainOutputs out = train::forward_train(config, weights, images, T, train::Stochastic{}, rng);
    autograd::backward(train::compute_loss(out, labels, T, loss_kind).total);
    optimizer.step(1.0);
    optimizer.zero_grad();
    if (device == Device::CUDA) cuda_synchronize();
  };
  for (long long i = 0; i < warmup; ++i) iteration();
  reset_peak_memory(device);
  std::vector<double> seconds;
  for (long long i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    iteration();
    seconds.push_back(seconds_since(t0));
  }
  const double median = cli::median(seconds);
  const MemoryStats mem = memory_stats(device);
  const double max_rss = double(max_rss_bytes());
  if (json) {
    nlohmann::json j = {{"model", model_kind_name(config.kind)}, {"backbone", config.backbone}, {"embed_dim", config.embed_dim},
                        {"classes", config.num_classes}, {"crop_h", H}, {"crop_w", W}, {"batch", batch},
                        {"frames", T}, {"device", device_name}, {"threads", threads}, {"reps", reps},
                        {"median_s", median}, {"clips_per_s", double(batch) / median},
                        {"peak_bytes", mem.peak_bytes}, {"max_rss_bytes", max_rss},
                        {"parameters", weights.numel()}};
    std::puts(j.dump().c_str());
  } else {
    std::printf("tv3s bench train: %s %s (E = %lld, %lld classes, %.2fM parameters), %lldx%lld crops, "
                "batch %lld clips x %lld frames, %s%s\n",
                model_kind_name(config.kind), config.backbone.c_str(), (long long)config.embed_dim,
                (long long)config.num_classes, double(weights.numel()) / 1e6, H, W, batch, (long long)T,
                device_name.c_str(), device == Device::CPU ? (", " + std::to_string(threads) + " threads").c_str() : "");
    std::printf("  iteration (forward + loss + backward + AdamW): median %.3f s, %.3f clips/s (%lld reps)\n",
                median, double(batch) / median, reps);
    std::printf("  peak tensor memory: %s; process max RSS: %s\n", mib(double(mem.peak_bytes)).c_str(),
                mib(max_rss).c_str());
  }
  return 0;
}

}  // namespace tv3s::cli
