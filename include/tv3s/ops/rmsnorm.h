// RMSNorm over the last dim, and Mamba's fused residual add + RMSNorm.
//
//   rms_norm(v) = v · (mean_c(v_c²) + eps)^(−1/2) · weight          (no bias, no centring)
//
// add_rms_norm is mamba_ssm's `layer_norm_fn(x, weight, None, residual=…, prenorm=True,
// residual_in_fp32=True, is_rms_norm=True)` as the official blocks call it:
//   residual_out = residual + x      (residual undefined: residual_out = x)
//   y            = rms_norm(residual_out)
// The residual stream is kept in f32 (f64 when x is f64) whatever x's dtype, so half
// precision activations never round the sum that carries through all layers.
//
// Math and CPU reference: src/ops/rmsnorm.cpp; CUDA: cuda/rmsnorm.cu.
#pragma once
#include "tv3s/tensor.h"

namespace tv3s {

// x [..., C], weight [C] (x's dtype) → [..., C] in x's dtype.
Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps = 1e-5);

struct AddRmsNormResult {
  Tensor y;         // [..., C], x's dtype
  Tensor residual;  // [..., C], f32 (f64 for f64 x)
};

// x [..., C] (f32/f64 on CPU; f32/f16/bf16 on CUDA); residual like x but in the residual
// dtype (f32, or f64 for f64 x), or undefined; weight [C] in x's dtype. Differentiable in
// x, residual and weight; both outputs carry gradients.
AddRmsNormResult add_rms_norm(const Tensor& x, const Tensor& residual, const Tensor& weight,
                              double eps = 1e-5);

}  // namespace tv3s
