// Matrix products on the GPU: cuBLAS GEMMs, strided-batched for batches.
//
// cuBLAS is column-major. A row-major matrix X is the column-major Xᵀ, so the row-major
// C = op(A)·op(B) is computed as the column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: B is passed first,
// the operation flags are passed unchanged, and m/n swap (m = N, n = M).
//
// Precision: f32 uses CUBLAS_COMPUTE_32F_PEDANTIC, which never uses TF32 whatever the
// handle's math mode or NVIDIA_TF32_OVERRIDE say, so results match the CPU to f32
// rounding. f16/bf16 use CUBLAS_COMPUTE_32F: tensor cores with f32 accumulation.
//
// Bias (linear): C is first filled with the bias broadcast over rows by a small kernel,
// then the GEMM runs with beta = 1 and adds the product onto it.
#include <climits>

#include "cuda/common.cuh"
#include "cuda/matmul.h"

namespace tv3s::cuda {
namespace {

cudaDataType_t cublas_type(DType d) {
  switch (d) {
    case DType::f32: return CUDA_R_32F;
    case DType::f16: return CUDA_R_16F;
    case DType::bf16: return CUDA_R_16BF;
    default: fail(str("matmul: unsupported dtype ", dtype_name(d), " on CUDA"));
  }
}

// out[r][c] = bias[c] for r < rows: one thread per element (grid-stride).
template <class T>
__global__ void broadcast_rows_kernel(const T* __restrict__ bias, T* __restrict__ out, int64_t rows,
                                      int64_t cols) {
  TV3S_GRID_STRIDE(i, rows * cols) out[i] = bias[i % cols];
}

void check_int(int64_t v, const char* what, const Tensor& a, const Tensor& b) {
  TV3S_CHECK(v <= INT_MAX, "matmul: ", what, " = ", v, " exceeds cuBLAS's int range (a ", a.desc(),
             ", b ", b.desc(), ")");
}

}  // namespace

void matmul(const Tensor& a, const Tensor& b, const Tensor& bias, Tensor& out, bool trans_a,
            bool trans_b, int64_t batch, int64_t M, int64_t N, int64_t K, int64_t a_batch_stride,
            int64_t b_batch_stride) {
  if (batch == 0 || M == 0 || N == 0) return;
  const int64_t rows = batch * M;
  if (bias.defined()) {
    dispatch_float("linear", out, [&](auto tag) {
      using T = decltype(tag);
      launch<broadcast_rows_kernel<T>>(blocks_for(rows * N), kThreads, 0, stream(), ptr<T>(bias),
                                       ptr<T>(out), rows, N);
    });
    check_launch("linear (bias)");
  }
  if (K == 0) {  // empty sum: C is the bias, or zero
    if (!bias.defined()) TV3S_CUDA_CHECK(cudaMemsetAsync(out.raw(), 0, out.nbytes(), stream()));
    return;
  }
  check_int(M, "M", a, b);
  check_int(N, "N", a, b);
  check_int(K, "K", a, b);
  check_int(batch, "batch", a, b);

  const cudaDataType_t type = cublas_type(out.dtype());
  const cublasComputeType_t compute =
      out.dtype() == DType::f32 ? CUBLAS_COMPUTE_32F_PEDANTIC : CUBLAS_COMPUTE_32F;
  const float alpha = 1.0f, beta = bias.defined() ? 1.0f : 0.0f;  // f32 for COMPUTE_32F*
  const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  // Row strides of the stored (row-major) matrices = their column-major leading dims.
  const int lda = int(trans_a ? M : K), ldb = int(trans_b ? K : N), ldc = int(N);
  cublasHandle_t handle = cublas();
  if (batch == 1) {
    TV3S_CUBLAS_CHECK(cublasGemmEx(handle, op_b, op_a, int(N), int(M), int(K), &alpha, b.raw(), type,
                                   ldb, a.raw(), type, lda, &beta, out.raw(), type, ldc, compute,
                                   CUBLAS_GEMM_DEFAULT));
  } else {
    TV3S_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
        handle, op_b, op_a, int(N), int(M), int(K), &alpha, b.raw(), type, ldb, b_batch_stride,
        a.raw(), type, lda, a_batch_stride, &beta, out.raw(), type, ldc, M * N, int(batch), compute,
        CUBLAS_GEMM_DEFAULT));
  }
}

}  // namespace tv3s::cuda
