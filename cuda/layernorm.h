// CUDA launchers of the layer_norm family (kernels in cuda/layernorm.cu). x is [rows, C]
// (its last dim is C); weight/bias [C] may be undefined (γ = 1, β = 0). mean and rstd
// are f32 [rows], written by the forward and read by the backward.
#pragma once
#include "tv3s/tensor.h"

namespace tv3s::cuda {
void layer_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps,
                        Tensor& y, Tensor& mean, Tensor& rstd);
// dy has x's dtype. Each of dx, dweight, dbias is computed only when defined.
void layer_norm_backward(const Tensor& x, const Tensor& weight, const Tensor& mean,
                         const Tensor& rstd, const Tensor& dy, Tensor& dx, Tensor& dweight,
                         Tensor& dbias);
}  // namespace tv3s::cuda
