// The fast CPU attention (src/ops/cpu/attention.cpp): the same arguments and results as
// the plain-loop reference (src/ops/attention.h) and the CUDA launchers
// (cuda/attention.h). f32 and f64 (lse in the inputs' dtype); needs L ≥ 1 and S ≥ 1.
#pragma once
#include <cstdint>

#include "tv3s/tensor.h"

namespace tv3s::cpu {

void attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads,
                       double scale, Tensor& o, Tensor& lse);
// dout has q's dtype; dq, dk, dv are written in full.
void attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& o,
                        const Tensor& lse, const Tensor& dout, int64_t heads, double scale,
                        Tensor& dq, Tensor& dk, Tensor& dv);

}  // namespace tv3s::cpu
