// LayerNorm over the last dim: (x − μ)/sqrt(σ² + eps)·γ + β, biased variance (PyTorch).
// Math and CPU reference: src/ops/layernorm.cpp; CUDA: cuda/layernorm.cu.
#pragma once
#include "tv3s/tensor.h"

namespace tv3s {

// x [..., C]; weight γ and bias β are [C] or undefined (then 1 and 0).
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps = 1e-5);

}  // namespace tv3s
