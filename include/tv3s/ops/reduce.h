// Reductions over one axis, and the broadcast-undo reduction sum_to.
// Math and CPU reference: src/ops/reduce.cpp; CUDA: cuda/reduce.cu.
// Sums run in a fixed order (no atomics), so results are deterministic run to run on
// both devices. The CPU reference accumulates in f64; CUDA in f32.
#pragma once
#include "tv3s/tensor.h"

namespace tv3s {

Tensor sum(const Tensor& x, int axis, bool keepdim = false);
Tensor mean(const Tensor& x, int axis, bool keepdim = false);
Tensor max(const Tensor& x, int axis, bool keepdim = false);     // values; grad to the first max
Tensor argmax(const Tensor& x, int axis, bool keepdim = false);  // i32, first max wins
Tensor sum_all(const Tensor& x);   // shape [] (one element)
Tensor mean_all(const Tensor& x);  // shape []

// Sum `x` down to `shape`, which must broadcast to x.shape(): the gradient of a
// broadcast. Leading dims missing from `shape` and dims where it has 1 are summed.
Tensor sum_to(const Tensor& x, const Shape& shape);

}  // namespace tv3s
