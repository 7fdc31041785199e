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
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  double momentum = 0.1, double eps = 1e-5);

}  // namespace tv3s
