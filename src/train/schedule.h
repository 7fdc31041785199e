// The learning-rate schedule of the official recipe (training-spec.md §7): mmcv 1.3.0's
// PolyLrUpdaterHook, iteration based, with linear warm-up.
#pragma once
#include <cstdint>

namespace tv3s::train {

struct PolySchedule {
  double power = 1.0;
  double min_lr = 0;            // absolute, as in mmcv (every released config: 0)
  int64_t max_iters = 0;
  int64_t warmup_iters = 1500;  // 0: no warm-up
  double warmup_ratio = 1e-6;

  // The learning rate of a group whose initial rate is lr0, before iteration `iter`
  // (0-based, 0 ≤ iter ≤ max_iters):
  //   regular = (lr0 − min_lr)·(1 − iter/max_iters)^power + min_lr
  //   lr      = regular·(1 − (1 − iter/warmup_iters)·(1 − warmup_ratio))   iter < warmup_iters
  //           = regular                                                    otherwise
  // computed in double in mmcv's order, so it equals mmcv's value exactly.
  double lr(int64_t iter, double lr0) const;
  // lr(iter) / lr0, the same for every group — which holds only with min_lr = 0, so it
  // throws otherwise (use lr() per group then).
  double factor(int64_t iter) const;
};

}  // namespace tv3s::train
