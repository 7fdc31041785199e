#include "src/train/loss_scale.h"

#include <algorithm>
#include <cmath>

#include "tv3s/error.h"

namespace tv3s::train {

LossScaler::LossScaler(bool enabled, double initial_scale) : enabled_(enabled), scale_(enabled ? initial_scale : 1.0) {
  TV3S_CHECK(std::isfinite(initial_scale) && initial_scale >= 1, "the initial loss scale must be ≥ 1, got ",
             initial_scale);
}

bool LossScaler::update(bool gradients_finite) {
  if (!enabled_) return true;
  if (!gradients_finite) {
    // 2^-24 is f16's smallest subnormal: below it every gradient would flush to zero.
    scale_ = std::max(scale_ * 0.5, std::ldexp(1.0, -24));
    good_steps_ = 0;
    return false;
  }
  if (++good_steps_ == kGrowthInterval) {
    scale_ = std::min(scale_ * 2.0, std::ldexp(1.0, 64));
    good_steps_ = 0;
  }
  return true;
}

void LossScaler::restore(double scale, int64_t good_steps) {
  TV3S_CHECK(std::isfinite(scale) && scale > 0 && good_steps >= 0 && good_steps < kGrowthInterval,
             "loss scale state (", scale, ", ", good_steps, ") is out of range");
  TV3S_CHECK(enabled_ || scale == 1.0, "loss scale ", scale, " for a run without loss scaling");
  scale_ = scale;
  good_steps_ = good_steps;
}

}  // namespace tv3s::train
