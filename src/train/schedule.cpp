// Poly learning-rate decay with linear warm-up, as mmcv 1.3.0 computes it
// (PolyLrUpdaterHook.get_lr, LrUpdaterHook.get_warmup_lr for warmup='linear'): note that
// the warm-up scales the already decayed poly value, not lr0. Compiled with
// -ffp-contract=off (CMakeLists.txt) so each product is rounded as in Python.
#include "src/train/schedule.h"

#include <cmath>

#include "tv3s/error.h"

namespace tv3s::train {

double PolySchedule::lr(int64_t iter, double lr0) const {
  TV3S_CHECK(max_iters > 0, "PolySchedule: max_iters must be positive, got ", max_iters);
  TV3S_CHECK(iter >= 0 && iter <= max_iters, "PolySchedule: iteration ", iter, " is outside [0, ",
             max_iters, "]");
  TV3S_CHECK(warmup_iters >= 0, "PolySchedule: warmup_iters must not be negative, got ", warmup_iters);
  const double coeff = std::pow(1.0 - double(iter) / double(max_iters), power);
  const double regular = (lr0 - min_lr) * coeff + min_lr;
  if (iter >= warmup_iters) return regular;
  const double k = (1.0 - double(iter) / double(warmup_iters)) * (1.0 - warmup_ratio);
  return regular * (1.0 - k);
}

double PolySchedule::factor(int64_t iter) const {
  TV3S_CHECK(min_lr == 0, "PolySchedule::factor: with min_lr = ", min_lr,
             " the ratio lr/lr0 differs between parameter groups; use lr(iter, lr0)");
  return lr(iter, 1.0);
}

}  // namespace tv3s::train
