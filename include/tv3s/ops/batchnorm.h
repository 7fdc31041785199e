// BatchNorm over the channel (last) dim of a channels-last tensor x [..., C], as
// PyTorch's BatchNorm2d on the same data in NCHW.
// Math and CPU reference: src/ops/batchnorm.cpp; CUDA: cuda/batchnorm.cu.
#pragma once
#include "tv3s/tensor.h"

namespace tv3s {

// Inference (training = false): y = (x − running_mean) / sqrt(running_var + eps) · γ + β.
// Training: mean μ and biased variance σ² of each channel over all other dims normalise
// x; the running statistics are updated in place (not recorded by autograd):
//   running_mean ← (1 − momentum)·running_mean + momentum·μ
//   running_var  ← (1 − momentum)·running_var  + momentum·σ²·n/(n − 1)   (unbiased, n = x.numel()/C)
// weight γ / bias β [C] may be undefined (1 / 0). running_mean/var are [C] and must be
// defined for inference; in training they may be undefined (then nothing is updated).
// Training needs more than one value per channel (n ≥ 2), as PyTorch.
// Dtypes: x is f32/f64 on the CPU and f32/f16/bf16 on CUDA. γ, β and the running
// statistics are f32 — also when x is f16/bf16 — or f64 when x is f64; the statistics are
// computed in f64 on the CPU and f32 on CUDA. Gradients: x, γ and β (both modes); the
// running statistics are buffers, never differentiated.
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  double momentum = 0.1, double eps = 1e-5);

}  // namespace tv3s
