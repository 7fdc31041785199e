// CUDA launchers of the row gather behind the window partitions (kernels in
// cuda/gather_rows.cu; the CPU reference and the op in src/ops/gather_rows.cpp).
//
//   gather_rows:   y[i, :] = x[index[i], :]       x [R, C], index i32 [M], y [M, C]
//   scatter_rows:  y[index[i], :] = x[i, :]       x [M, C], index i32 [M], y [R, C]
//
// Both move bits only (any dtype). Precondition, not checked on the device: the entries
// of index are distinct and in [0, R) (the maps of make_window_partition are); index
// lives on the GPU. scatter_rows writes only the rows index names: the caller zeroes y
// first when M < R.
#pragma once
#include "tv3s/tensor.h"

namespace tv3s::cuda {
void gather_rows(const Tensor& x, const Tensor& index, Tensor& y);
void scatter_rows(const Tensor& x, const Tensor& index, Tensor& y);
}  // namespace tv3s::cuda
