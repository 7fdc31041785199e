// CUDA launchers of the reduce family (kernels in cuda/reduce.cu).
#pragma once
#include "src/core/reduce_index.h"
#include "tv3s/tensor.h"

namespace tv3s::cuda {
void sum_to(const Tensor& x, Tensor& out, const ReduceIndex& ri);
// values and/or indices (either may be null), x viewed as [outer, n, inner].
void max_over_axis(const Tensor& x, Tensor* values, Tensor* indices, int64_t outer, int64_t n,
                   int64_t inner);
void max_backward(const Tensor& g, const Tensor& indices, Tensor& dx, int64_t outer, int64_t n,
                  int64_t inner);
}  // namespace tv3s::cuda
