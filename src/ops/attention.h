// The plain-loop CPU reference of attention (the math is at the top of
// src/ops/attention.cpp), for the tests of the fast CPU path (src/ops/cpu/) and of the op.
// Same arguments as cpu::attention_forward/_backward and the CUDA launchers
// (cuda/attention.h): q [N, L, H·D], k, v [N, S, H·D], lse [N, H, L]; f32 and f64 (lse in
// the inputs' dtype).
#pragma once
#include <cstdint>

#include "tv3s/tensor.h"

namespace tv3s {

void attention_reference_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                                 int64_t heads, double scale, Tensor& o, Tensor& lse);
// dq, dk, dv are written in full.
void attention_reference_backward(const Tensor& q, const Tensor& k, const Tensor& v,
                                  const Tensor& o, const Tensor& lse, const Tensor& dout,
                                  int64_t heads, double scale, Tensor& dq, Tensor& dk, Tensor& dv);

}  // namespace tv3s
