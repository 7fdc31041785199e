// The fast CPU GEMM (src/ops/cpu/gemm.cpp): packed, cache-blocked, OpenMP-parallel. The
// single product is gemm_cpu in tv3s/ops/matmul.h (public, for the benchmark); its
// plain-loop reference is gemm_reference (src/ops/matmul.h).
#pragma once
#include <cstdint>

namespace tv3s::cpu {

// C[e] = op(A[e])·op(B[e]) + beta·C[e] for the entries e < batch of a batched product:
// A[e] at A + e·a_stride (M×K, K×M when trans_a), B[e] at B + e·b_stride (K×N, N×K when
// trans_b), C[e] at C + e·M·N, all rows dense. A stride of 0 shares one operand.
template <class T>
void gemm_batched(bool trans_a, bool trans_b, int64_t batch, int64_t M, int64_t N, int64_t K,
                  const T* A, int64_t a_stride, const T* B, int64_t b_stride, T beta, T* C);

}  // namespace tv3s::cpu
