// The one primitive behind every movement op (permute, slice, concat, pad, roll), and its
// CUDA launcher (kernels in cuda/movement.cu; CPU twin and the ops in src/ops/movement.cpp).
//
// A StridedCopy moves a box of elements between two strided layouts:
//   for every index (i_0, ..., i_{ndim-1}) < shape:
//     dst[Σ i_k · dst_stride[k]] = src[Σ i_k · src_stride[k]]      (strides in elements)
// e.g. permute reads the input with permuted strides and writes the output densely;
// concat writes each input into a window of the output.
#pragma once
#include <cstddef>
#include <cstdint>

#include "tv3s/shape.h"

namespace tv3s {

struct StridedCopy {
  int ndim = 0;  // 0: a single element
  int64_t shape[kMaxDims] = {};
  int64_t src_stride[kMaxDims] = {};
  int64_t dst_stride[kMaxDims] = {};

  int64_t numel() const {
    int64_t n = 1;
    for (int k = 0; k < ndim; ++k) n *= shape[k];
    return n;
  }
};

namespace cuda {

// Runs `copy` on the GPU. src/dst point at element 0 of the box (device memory);
// element_size is 1, 2, 4 or 8 bytes — the kernels only move bits, so every dtype works.
void strided_copy(const StridedCopy& copy, const void* src, void* dst, size_t element_size);

}  // namespace cuda
}  // namespace tv3s
