// CUDA launchers of the softmax family (kernels in cuda/softmax.cu). Tensors are viewed
// as [outer, n, inner] and the (log-)softmax runs over n; `log` picks log_softmax.
#pragma once
#include "tv3s/tensor.h"

namespace tv3s::cuda {
void softmax_forward(const Tensor& x, Tensor& y, int64_t outer, int64_t n, int64_t inner,
                     bool log);
// dx from the forward output y and the incoming gradient dy (all of y's dtype).
void softmax_backward(const Tensor& y, const Tensor& dy, Tensor& dx, int64_t outer, int64_t n,
                      int64_t inner, bool log);
}  // namespace tv3s::cuda
