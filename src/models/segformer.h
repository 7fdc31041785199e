// The per-frame SegFormer model: backbone (MiT or Swin) + all-MLP head (the TV3S checkpoint's
// SegFormer path alone, or an mmseg/HF SegFormer). One frame in, logits out; one forward
// for inference and training (forward_options.h).
#pragma once
#include <array>
#include <string>

#include "src/models/forward_options.h"
#include "src/models/backbone.h"
#include "src/models/segformer_head.h"
#include "src/nn/weights.h"

namespace tv3s {

struct SegformerOutput {
  std::array<Tensor, 4> features;  // c1..c4 [N, H_k, W_k, C_k]
  Tensor fused;                    // [N, h, w, E]: linear_fuse's output, the TV3S decoder's input
  Tensor logits;                   // [N, h, w, K]: linear_pred, at the c1 size (h, w)
};

class Segformer {
 public:
  // From a model file of model "segformer" or "tv3s" (the decoder tensors are checked by
  // the loader and not used here).
  static Segformer load(const std::string& path, Device device = Device::CPU);
  Segformer(const ModelConfig& config, Weights weights);

  // image [N, H, W, 3], normalised RGB (pipeline/preprocess.h). options: inference by
  // default; training switches BatchNorm and the stochastic layers on.
  SegformerOutput forward(const Tensor& image, const ForwardOptions& options = {}) const;
  // Logits at the input resolution [N, H, W, K]: the 1/4-resolution logits resized
  // bilinearly to the input size, what the official EncoderDecoder returns before argmax.
  Tensor logits(const Tensor& image) const;

  const ModelConfig& config() const { return config_; }
  const Weights& weights() const { return weights_; }

 private:
  ModelConfig config_;
  Weights weights_;
  Backbone backbone_;
  SegformerHead head_;
};

}  // namespace tv3s
