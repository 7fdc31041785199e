// Elementwise binary arithmetic with NumPy/PyTorch broadcasting.
// Math and CPU reference: src/ops/binary.cpp; CUDA: cuda/binary.cu.
#pragma once
#include "tv3s/tensor.h"

namespace tv3s {

// The broadcast result of two shapes (right-aligned; a dim of 1 stretches). Throws
// naming `op` and both shapes when they are incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

enum class BinaryOp { add, sub, mul, div };

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);

// y = x * scale + shift with scalars (covers x + c, x * c, c - x, ...).
Tensor affine(const Tensor& x, double scale, double shift);

// dst += src, in place, same shape/dtype/device, never recorded by autograd.
// Used for gradient accumulation and optimizer updates.
void accumulate_(Tensor& dst, const Tensor& src);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator+(const Tensor& a, double c) { return affine(a, 1.0, c); }
inline Tensor operator-(const Tensor& a, double c) { return affine(a, 1.0, -c); }
inline Tensor operator*(const Tensor& a, double c) { return affine(a, c, 0.0); }
inline Tensor operator*(double c, const Tensor& a) { return affine(a, c, 0.0); }
inline Tensor operator-(const Tensor& a) { return affine(a, -1.0, 0.0); }

}  // namespace tv3s
