// Matrix products. CPU: a cache-blocked, packed, OpenMP-parallel GEMM (src/ops/cpu/gemm.cpp;
// its plain-loop reference in src/ops/matmul.cpp); CUDA: cuBLAS with f32 accumulation
// (cuda/matmul.cu).
#pragma once
#include <cstdint>

#include "tv3s/tensor.h"

namespace tv3s {

// Batched C = op(A)·op(B). A is [..., M, K] ([..., K, M] when trans_a), B is [..., K, N]
// ([..., N, K] when trans_b). The batch dims of A and B are equal, or one side is 2-D
// and is shared by every batch entry. Result [..., M, N].
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);

// y = x·Wᵀ + b over the last dim: x [..., in], weight [out, in], bias [out] or undefined.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// Row-major single GEMM on the host: C = alpha·op(A)·op(B) + beta·C (the CPU kernel
// behind matmul, exposed for the benchmark). lda/ldb/ldc are row strides in elements.
template <class T>
void gemm_cpu(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
              const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

}  // namespace tv3s
