// CUDA launchers of the unary family (kernels in cuda/unary.cu). Math: src/ops/unary.cpp.
#pragma once
#include "tv3s/ops/unary.h"
#include "tv3s/tensor.h"

namespace tv3s::cuda {

// out = f(x) elementwise; x and out f32/f16/bf16, same shape and dtype.
void unary_forward(UnaryOp op, const Tensor& x, Tensor& out);

// grad_in = grad_out · f'(·), where f' is written in terms of `saved`: the op's input x
// or its output y, whichever src/ops/unary.cpp saved (unary_saves_output(op)).
void unary_backward(UnaryOp op, const Tensor& saved, const Tensor& grad_out, Tensor& grad_in);

}  // namespace tv3s::cuda
