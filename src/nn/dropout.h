// The training-only stochastic layers, as masks multiplied into the data (so their
// backward is the product rule of `mul`, nothing new to differentiate):
//   dropout2d   zero whole channels: one draw per (row of dim 0, channel), kept channels
//               scaled by 1/(1 − p) — PyTorch's Dropout2d on NCHW data, here channels-last
//   drop_path   stochastic depth: one draw per row of dim 0, mask floor(keep + U[0,1))/keep
//               (timm's DropPath) — a dropped row's residual branch contributes nothing
// Masks come from the caller's Rng (tv3s::Rng, not PyTorch's generator: the same
// distributions, not the same numbers). p = 0 returns x itself and draws nothing.
#pragma once
#include <vector>

#include "tv3s/rng.h"
#include "tv3s/tensor.h"

namespace tv3s::nn {

// What the training forward switches on. A null rng means all of it is off.
struct TrainNoise {
  Rng* rng = nullptr;
  double dropout = 0;            // Dropout2d rate
  double drop_path = 0;          // MiT: the last block's stochastic-depth rate
  double decoder_drop_path = 0;  // TV3S: DropPath_f's rate (layer rates below it)
};

// x [N, ..., C] → x · mask, mask [N, 1, …, 1, C].
Tensor dropout2d(const Tensor& x, double p, Rng& rng);
// x [N, ...] → x · mask, mask [N, 1, …, 1].
Tensor drop_path(const Tensor& x, double p, Rng& rng);
// n draws of floor(keep + U)/keep: the per-row factors drop_path uses.
std::vector<float> drop_path_factors(int64_t n, double p, Rng& rng);

}  // namespace tv3s::nn
