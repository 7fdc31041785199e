// The backbone of the per-frame path: MiT (src/models/mit.h) or Swin (src/models/swin.h),
// as the model configuration says. Both map an image [N, H, W, 3] to four channels-last
// feature maps at 1/4, 1/8, 1/16 and 1/32 resolution (⌈·⌉ per halving), which the
// SegFormer head fuses.
#pragma once
#include <array>
#include <string>
#include <variant>

#include "src/models/mit.h"
#include "src/models/swin.h"

namespace tv3s {

class Backbone {
 public:
  // Binds the backbone's parameters under `prefix` ("backbone." in a model file).
  Backbone(const ModelConfig& config, const Weights& weights, const std::string& prefix);

  // image [N, H, W, 3] normalised RGB → c1..c4 [N, H_k, W_k, C_k]. noise (training):
  // DropPath, rate linspace(0, noise->drop_path, Σdepths)[block].
  std::array<Tensor, 4> operator()(const Tensor& image, const nn::TrainNoise* noise = nullptr) const;

 private:
  std::variant<Mit, Swin> net_;
};

}  // namespace tv3s
