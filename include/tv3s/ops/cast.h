// Dtype conversion and fills. (Device transfer and cast are also Tensor::to(...).)
// CPU reference: src/ops/cast.cpp; CUDA: cuda/cast.cu.
#pragma once
#include "tv3s/tensor.h"

namespace tv3s {

Tensor cast(const Tensor& x, DType dtype);   // differentiable between float dtypes
void fill_(Tensor& x, double value);         // in place, not recorded
void copy_(Tensor& dst, const Tensor& src);  // in place; any devices, same shape & dtype

}  // namespace tv3s
