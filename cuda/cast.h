// CUDA launchers of the convert family (kernels in cuda/cast.cu).
#pragma once
#include "tv3s/tensor.h"

namespace tv3s::cuda {
void cast(const Tensor& x, Tensor& out);       // same shape, any dtypes
void fill(Tensor& x, double value);
void copy(Tensor& dst, const Tensor& src);     // any device pair, one of them CUDA
}  // namespace tv3s::cuda
