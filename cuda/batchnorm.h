// CUDA launchers of the batch_norm family (kernels in cuda/batchnorm.cu). x is [rows, C]
// (its last dim is C) in f32/f16/bf16; weight/bias (may be undefined: γ = 1, β = 0), the
// running statistics and the saved mean/rstd are f32 [C].
#pragma once
#include "tv3s/tensor.h"

namespace tv3s::cuda {
// Training: mean μ and rstd = 1/sqrt(σ² + eps) of each channel (σ² biased), written to
// mean/rstd; running_mean/running_var are updated in place when defined (the handles are
// const, their data is written).
void batch_norm_batch_stats(const Tensor& x, double momentum, double eps, Tensor& mean,
                            Tensor& rstd, const Tensor& running_mean, const Tensor& running_var);
// Inference: mean = running_mean, rstd = 1/sqrt(running_var + eps).
void batch_norm_running_stats(const Tensor& running_mean, const Tensor& running_var, double eps,
                              Tensor& mean, Tensor& rstd);
// y = (x − mean)·rstd·γ + β.
void batch_norm_apply(const Tensor& x, const Tensor& mean, const Tensor& rstd,
                      const Tensor& weight, const Tensor& bias, Tensor& y);
// dy has x's dtype. Each of dx, dweight, dbias (f32) is computed only when defined;
// `training` selects the dx rule (through the batch statistics or not).
void batch_norm_backward(const Tensor& x, const Tensor& weight, const Tensor& mean,
                         const Tensor& rstd, const Tensor& dy, bool training, Tensor& dx,
                         Tensor& dweight, Tensor& dbias);
}  // namespace tv3s::cuda
