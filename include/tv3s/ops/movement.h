// Movement ops: they move elements, never change them. reshape and slicing along the
// outermost dim are views (Tensor::reshape, Tensor::slice_outer); the rest copy into a
// new contiguous tensor. Every one is differentiable.
// CPU reference: src/ops/movement.cpp; CUDA: cuda/movement.cu.
#pragma once
#include <cstdint>
#include <vector>

#include "tv3s/tensor.h"

namespace tv3s {

inline Tensor reshape(const Tensor& x, const Shape& shape) { return x.reshape(shape); }

// out.shape[i] = x.shape[dims[i]]; dims is a permutation of 0..ndim-1.
Tensor permute(const Tensor& x, const std::vector<int>& dims);
Tensor transpose(const Tensor& x, int axis0, int axis1);

// Elements [begin, end) along `axis` (negative begin/end count from the end, as in
// Python; end is clamped). A view when it is free (all dims before `axis` are 1).
Tensor slice(const Tensor& x, int axis, int64_t begin, int64_t end);

// Joins tensors of equal shape except along `axis`.
Tensor concat(const std::vector<Tensor>& xs, int axis);

// Constant padding: `before[i]`/`after[i]` elements added on dim i (both sized ndim,
// entries ≥ 0).
Tensor pad(const Tensor& x, const std::vector<int64_t>& before,
           const std::vector<int64_t>& after, double value = 0.0);

// torch.roll: out[(i + shift) mod n] = x[i] along each listed axis.
Tensor roll(const Tensor& x, const std::vector<int64_t>& shifts, const std::vector<int>& axes);

}  // namespace tv3s
