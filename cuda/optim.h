// CUDA launchers of the optimizer family (kernels in cuda/optim.cu), and the f32 scalars
// of one AdamW update that the CPU reference (src/ops/optim.cpp) and the kernel share.
#pragma once
#include "tv3s/ops/optim.h"

namespace tv3s {

// AdamWStep's scalars as they enter the f32 arithmetic (each computed in double, then
// rounded once, as PyTorch does with Python floats).
struct AdamWScalars {
  float grad_scale, decay;                  // decay = 1 − lr·wd
  float lerp_weight, lerp_weight_minus_one; // 1 − β1, and that − 1
  bool lerp_small;                          // |1 − β1| < 0.5: lerp from m's end
  float beta2, one_minus_beta2;
  float bias_correction2_sqrt;              // sqrt(1 − β2^step)
  float eps;
  float neg_step_size;                      // −lr / (1 − β1^step)
};
AdamWScalars adamw_scalars(const AdamWStep& s);

}  // namespace tv3s

namespace tv3s::cuda {
// grad may be f32, f16 or bf16; param, m, v f32; all checked by the caller.
void adamw_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWScalars& k);
int64_t count_nonfinite(const Tensor& x);
int64_t count_nonfinite(const std::vector<Tensor>& xs);  // all CUDA, floating, checked by the caller
}  // namespace tv3s::cuda
