// The SegFormer all-MLP head as TV3S uses it (model-spec §3), channels-last:
//   e_k = linear_c_k(c_k)                       [N, H_k, W_k, E]
//   e_2..e_4 resized bilinearly to the c1 size (h, w)
//   fused = ReLU(BN(linear_fuse([e4, e3, e2, e1])))   1×1 conv without bias, BN eps 1e-5
//   logits = linear_pred(Dropout2d(fused))      [N, h, w, K]   (Dropout2d: training only)
// The fused feature is also the input of the TV3S decoder. fuse() computes the same
// function with linear_c_k folded into linear_fuse (see segformer_head.cpp): 15× fewer FLOPs.
#pragma once
#include <array>

#include "src/models/config.h"
#include "src/nn/dropout.h"
#include "src/nn/layers.h"

namespace tv3s {

class SegformerHead {
 public:
  explicit SegformerHead(const Weights& weights);

  // training: BatchNorm on the batch's statistics, running statistics updated in place.
  Tensor fuse(const std::array<Tensor, 4>& features, bool training = false) const;  // [N, h, w, E]
  // noise (training): Dropout2d per (frame, channel) before linear_pred.
  Tensor predict(const Tensor& fused, const nn::TrainNoise* noise = nullptr) const;  // [N, h, w, K]

 private:
  std::array<nn::Linear, 4> linear_c_;
  nn::Linear linear_fuse_;  // the 1×1 conv [E, 4E, 1, 1] as a Linear, no bias
  nn::BatchNorm bn_;
  nn::Linear linear_pred_;
};

}  // namespace tv3s
