// Optimizer kernels: the AdamW update of one parameter tensor, and a count of non-finite
// values (the divergence check and dynamic loss scaling need it).
// Math and CPU reference: src/ops/optim.cpp; CUDA: cuda/optim.cu.
#pragma once
#include <cstdint>
#include <vector>

#include "tv3s/tensor.h"

namespace tv3s {

// The scalars of one AdamW update. `step` is the parameter's own update count, 1-based
// (the bias corrections use it). Gradients are multiplied by `grad_scale` before anything
// else (1/loss_scale under mixed precision; 1 otherwise, which is exact).
struct AdamWStep {
  double lr = 0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  int64_t step = 1;
  double grad_scale = 1;
};

// One AdamW update in place (PyTorch 2.2 single-tensor order, formula in optim.cpp):
// param, m (first moment), v (second moment) are f32; grad is f32 (on CUDA also f16 or
// bf16); all the same shape and device. Not recorded by autograd.
void adamw_step_(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWStep& s);

// How many elements of x are NaN or ±Inf (any floating dtype, CPU or CUDA).
int64_t count_nonfinite(const Tensor& x);

// The same count over every tensor of a list (all on one device; dtypes may differ). On
// CUDA the kernels add into one device counter that is read back once, so the trainer's
// per-step gradient check costs one device-to-host sync, not one per parameter.
int64_t count_nonfinite(const std::vector<Tensor>& xs);

}  // namespace tv3s
