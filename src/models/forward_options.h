// The switches of a model's forward pass. Each model has one forward (Segformer::forward,
// Tv3s::forward) for inference and training alike; the default options are inference.
// Training (training-spec §5) sets `training` and `noise`, which switch on, in the order
// their masks are drawn from noise.rng (so a run is reproducible from its seed):
//   MiT DropPath      per image, rate linspace(0, drop_path, Σdepths)[block]   (model-spec §2.4)
//   Dropout2d         per (frame, channel) before linear_pred
//   Mamba DropPath    per sequence of each layer's partition; layer ℓ's rate applies to
//                     layer ℓ−1's output; DropPath_f on the last layer's output (§5.4)
//   Dropout2d         per (clip, channel) before linear_pred2
// Dropout2d keeps channels scaled by 1/(1 − p). `training` alone switches BatchNorm to the
// batch's statistics (over all frames) and updates its running statistics in place.
#pragma once
#include "src/nn/dropout.h"

namespace tv3s {

struct ForwardOptions {
  bool training = false;  // BatchNorm: batch statistics, running statistics updated
  nn::TrainNoise noise;   // the stochastic layers' rates and Rng; a null rng: all off

  // What the modules take: the stochastic layers, or null when they are off.
  const nn::TrainNoise* stochastic() const { return noise.rng ? &noise : nullptr; }
};

}  // namespace tv3s
