// CUDA launcher of the matmul family (cuBLAS calls in cuda/matmul.cu).
#pragma once
#include <cstdint>

#include "tv3s/tensor.h"

namespace tv3s::cuda {

// Row-major out[i] = op(a[i])·op(b[i]) (+ bias broadcast over the rows, when defined)
// for i < batch; out[i] is M×N, op(a[i]) M×K, op(b[i]) K×N. a_batch_stride and
// b_batch_stride (elements) are 0 for a 2-D side shared by every entry. f32 inputs are
// multiplied in full f32 (never TF32); f16/bf16 inputs accumulate in f32.
void matmul(const Tensor& a, const Tensor& b, const Tensor& bias, Tensor& out, bool trans_a,
            bool trans_b, int64_t batch, int64_t M, int64_t N, int64_t K, int64_t a_batch_stride,
            int64_t b_batch_stride);

}  // namespace tv3s::cuda
