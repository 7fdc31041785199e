// CUDA launchers of the rms_norm family (kernels in cuda/rmsnorm.cu; the math and the CPU
// reference in src/ops/rmsnorm.cpp). x is [rows, C] (its last dim is C), weight [C] in x's
// dtype (f32/f16/bf16); the residual stream and rstd [rows] are f32.
#pragma once
#include "tv3s/tensor.h"

namespace tv3s::cuda {

// Normalises v = x (residual_out undefined: rms_norm) or v = residual + x (add_rms_norm;
// residual may be undefined, then v = x), writing residual_out = v when defined, y and rstd.
void rms_norm_forward(const Tensor& x, const Tensor& residual, const Tensor& weight, double eps,
                      Tensor& y, Tensor& residual_out, Tensor& rstd);

// v: the normalised input (x, or the f32 residual_out); dy: x's dtype. dv = dL/dv is written
// to dx (x's dtype) and to dresidual (f32), each when defined; dweight when defined.
void rms_norm_backward(const Tensor& v, const Tensor& weight, const Tensor& rstd,
                       const Tensor& dy, Tensor& dx, Tensor& dresidual, Tensor& dweight);

}  // namespace tv3s::cuda
