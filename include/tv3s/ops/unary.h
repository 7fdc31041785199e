// Elementwise unary math and activations. Every function here has the same shape:
// y = f(x) elementwise, dy/dx known in closed form.
// Math and CPU reference: src/ops/unary.cpp; CUDA: cuda/unary.cu.
#pragma once
#include "tv3s/tensor.h"

namespace tv3s {

enum class UnaryOp {
  neg, exp, log, sqrt, rsqrt, square, tanh,
  relu, gelu, silu, sigmoid, softplus,
};
const char* unary_op_name(UnaryOp op);

Tensor unary(UnaryOp op, const Tensor& x);

inline Tensor neg(const Tensor& x) { return unary(UnaryOp::neg, x); }
inline Tensor exp(const Tensor& x) { return unary(UnaryOp::exp, x); }
inline Tensor log(const Tensor& x) { return unary(UnaryOp::log, x); }
inline Tensor sqrt(const Tensor& x) { return unary(UnaryOp::sqrt, x); }
inline Tensor rsqrt(const Tensor& x) { return unary(UnaryOp::rsqrt, x); }
inline Tensor square(const Tensor& x) { return unary(UnaryOp::square, x); }
inline Tensor tanh(const Tensor& x) { return unary(UnaryOp::tanh, x); }
inline Tensor relu(const Tensor& x) { return unary(UnaryOp::relu, x); }
// Exact GELU: 0.5·x·(1 + erf(x/√2)) (PyTorch's default, as the official MiT uses).
inline Tensor gelu(const Tensor& x) { return unary(UnaryOp::gelu, x); }
inline Tensor silu(const Tensor& x) { return unary(UnaryOp::silu, x); }
inline Tensor sigmoid(const Tensor& x) { return unary(UnaryOp::sigmoid, x); }
// log(1 + eˣ), identity above 20 (PyTorch's threshold, also in the Mamba kernels).
inline Tensor softplus(const Tensor& x) { return unary(UnaryOp::softplus, x); }

}  // namespace tv3s
