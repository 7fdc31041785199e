// The engine's one piece of arithmetic: summing the gradients that reach a tensor along
// several paths. Summing runs an op (a CPU loop or a CUDA kernel), and ops sit one layer
// above autograd (they record nodes on the tape), so the engine only declares the two
// functions it needs; src/ops/gradient_sum.cpp defines them with the add op. The same seam
// as Tensor::to, declared in core's tensor.h and defined in src/ops/cast.cpp.
#pragma once
#include "tv3s/tensor.h"

namespace tv3s::autograd {

Tensor sum_gradients(const Tensor& a, const Tensor& b);  // a + b, a new tensor
void accumulate_gradient(Tensor& total, const Tensor& g);  // total += g, in place

}  // namespace tv3s::autograd
