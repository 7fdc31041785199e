// The row gather that applies the TV3S window partitions (src/models/window_partition.h)
// to a token map: y[i, :] = x[index[i], :].
// CPU reference: src/ops/gather_rows.cpp; CUDA: cuda/gather_rows.cu.
#pragma once
#include "tv3s/tensor.h"

namespace tv3s {

// y[i, :] = x[index[i], :]. x [R, C]; index i32 [M] with distinct entries in [0, R)
// (a partial permutation, so the backward is a plain scatter: rows of dx that no index
// names are zero). Differentiable in x. index lives on x's device; M = 0 is allowed.
// Rows are moved byte for byte, so every dtype works (gradients for the float ones).
// The CPU path checks the index (range and distinctness); the CUDA path trusts it — an
// index outside [0, R) there is an out-of-bounds read — so on the GPU pass maps built by
// the window partition (uploaded once: they depend only on the sizes).
Tensor gather_rows(const Tensor& x, const Tensor& index);

}  // namespace tv3s
