// The plain-loop CPU reference of the matrix product (src/ops/matmul.cpp), for the tests
// of the fast GEMM (src/ops/cpu/gemm.cpp) and of the ops. Same arguments as gemm_cpu
// (tv3s/ops/matmul.h): row-major, lda/ldb/ldc are row strides in elements.
#pragma once
#include <cstdint>

namespace tv3s {

// C = alpha·op(A)·op(B) + beta·C (beta == 0: C is not read). f32 and f64.
template <class T>
void gemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                    const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

}  // namespace tv3s
