// Numerically stable softmax and log-softmax over one axis (max subtracted first).
// Math and CPU reference: src/ops/softmax.cpp; CUDA: cuda/softmax.cu.
#pragma once
#include "tv3s/tensor.h"

namespace tv3s {

Tensor softmax(const Tensor& x, int axis = -1);
Tensor log_softmax(const Tensor& x, int axis = -1);

}  // namespace tv3s
