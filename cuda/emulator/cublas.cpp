// cuBLAS for the CUDA emulator: the cuBLAS entry points tv3s calls, computed on the host
// CPU, so that cuda/matmul.cu runs (and is tested) where there is no GPU and no libcublas.
//
// The meaning is cuBLAS's, argument for argument, so that a wrong m, lda or op in a
// caller gives the same wrong result or error status here as on a GPU:
//
//   C = alpha·op(A)·op(B) + beta·C, every matrix column-major: element (r, c) of a matrix
//   X with leading dimension ldx is X[r + c·ldx]. op(A) is m×k, op(B) is k×n, C is m×n.
//   The stored A is m×k for CUBLAS_OP_N and k×m for OP_T (OP_C is OP_T for real types),
//   the stored B k×n or n×k; lda/ldb/ldc must be at least the stored row count.
//   beta == 0: C is not read (NaN there does not leak). alpha == 0 or k == 0: A and B
//   are not read, C = beta·C.
//
// Storage f32, f16 or bf16 (one type for A, B and C), alpha/beta host floats. Every
// output element is summed in f32 in the order p = 0..k−1, whatever the thread count,
// so the bits are the same on every run; the result is rounded once to the storage type
// (nearest even). A matrix reaching outside its device allocation is the illegal-address
// fault the GPU would raise inside cuBLAS's kernel. The work runs when called.
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>
#include <new>
#include <string>
#include <vector>

#include "cuda/emulator/fault.h"
#include "cuda/emulator/memory.h"

// The object behind cublasHandle_t (the header declares it and leaves it opaque).
struct cublasContext {
  cudaStream_t stream = nullptr;
  cublasMath_t math = CUBLAS_DEFAULT_MATH;
};

namespace tv3s::emu {
namespace {

float to_f32(float x) { return x; }
float to_f32(__half x) { return __half2float(x); }
float to_f32(__nv_bfloat16 x) { return __bfloat162float(x); }
void store(float v, float* out) { *out = v; }
void store(float v, __half* out) { *out = __float2half_rn(v); }
void store(float v, __nv_bfloat16* out) { *out = __float2bfloat16_rn(v); }

// C is computed in tiles of kTileRows × kTileCols: the f32 accumulators (2 KiB) stay in L1.
constexpr int64_t kTileRows = 64, kTileCols = 8;

// Panel columns [c0, c0 + kPackCols) of op(X) in f32: panel[r + c·rows] = op(X)(r, c), for
// op(X) rows×cols and X stored with leading dimension ld.
constexpr int64_t kPackCols = 16;
template <class T>
void pack(const T* x, bool trans, int64_t ld, int64_t rows, int64_t cols, int64_t c0,
          float* panel) {
  const int64_t c1 = std::min(c0 + kPackCols, cols);
  if (!trans) {
    for (int64_t c = c0; c < c1; ++c)
      for (int64_t r = 0; r < rows; ++r) panel[r + c * rows] = to_f32(x[r + c * ld]);
  } else {  // op(X)(r, c) = x[c + r·ld]: along c, so each cache line read is used whole
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = c0; c < c1; ++c) panel[r + c * rows] = to_f32(x[c + r * ld]);
  }
}

// One tile of C: rows [i0, i0 + mb), columns [j0, j0 + nb). a is the op(A) panel (m×k),
// b the op(B) panel (k×n). The p loop is outermost, so each element's sum runs in order.
template <class T>
void tile(const float* a, const float* b, int64_t m, int64_t k, int64_t i0, int64_t mb, int64_t j0,
          int64_t nb, float alpha, float beta, T* c, int64_t ldc) {
  float acc[kTileCols][kTileRows] = {};
  for (int64_t p = 0; p < k; ++p) {
    const float* ap = a + i0 + p * m;
    for (int64_t jj = 0; jj < nb; ++jj) {
      const float bp = b[p + (j0 + jj) * k];
#pragma omp simd
      for (int64_t ii = 0; ii < mb; ++ii) acc[jj][ii] += ap[ii] * bp;
    }
  }
  for (int64_t jj = 0; jj < nb; ++jj) {
    T* cj = c + i0 + (j0 + jj) * ldc;
    if (beta == 0.0f)  // C is not read: NaN or garbage there must not leak
      for (int64_t ii = 0; ii < mb; ++ii) store(alpha * acc[jj][ii], cj + ii);
    else
      for (int64_t ii = 0; ii < mb; ++ii)
        store(alpha * acc[jj][ii] + beta * to_f32(cj[ii]), cj + ii);
  }
}

struct Gemm {
  bool ta, tb;
  int64_t m, n, k, lda, ldb, ldc, batch;
  long long stride_a, stride_b, stride_c;
  float alpha = 1, beta = 0;
};

// The whole call in one parallel region with two barriers, however many batches: every
// batch's op(A) and op(B) are converted to f32 panels first (a matrix shared by all
// batches, stride 0, once), then the tiles of every batch's C are shared out.
template <class T>
void run(const Gemm& g, const T* A, const T* B, T* C) {
  const bool product = g.alpha != 0.0f && g.k > 0;  // else A and B are not read
  if (!product && g.beta == 1.0f) return;           // C = 1·C
  const int64_t a_count = g.stride_a == 0 ? 1 : g.batch, b_count = g.stride_b == 0 ? 1 : g.batch;
  const int64_t a_size = g.m * g.k, b_size = g.k * g.n;
  std::vector<float> a_panel(product ? a_count * a_size : 0),
      b_panel(product ? b_count * b_size : 0);
  const int64_t a_chunks = (g.k + kPackCols - 1) / kPackCols,
                b_chunks = (g.n + kPackCols - 1) / kPackCols;
  const int64_t row_tiles = (g.m + kTileRows - 1) / kTileRows;
  const int64_t col_tiles = (g.n + kTileCols - 1) / kTileCols, tiles = row_tiles * col_tiles;
  // Small calls stay on the calling thread: waking the team would cost more than the work.
  const bool big = g.batch * g.m * g.n * std::max<int64_t>(g.k, 1) >= (int64_t(1) << 15);
#pragma omp parallel if (big)
  {
    if (!product) {  // C = beta·C, one column at a time
#pragma omp for schedule(static)
      for (int64_t t = 0; t < g.batch * g.n; ++t) {
        T* c = C + t / g.n * g.stride_c + t % g.n * g.ldc;
        for (int64_t r = 0; r < g.m; ++r)
          store(g.beta == 0.0f ? 0.0f : g.beta * to_f32(c[r]), c + r);
      }
    } else {
#pragma omp for schedule(static) nowait
      for (int64_t t = 0; t < a_count * a_chunks; ++t) {
        const int64_t q = t / a_chunks;
        pack(A + q * g.stride_a, g.ta, g.lda, g.m, g.k, t % a_chunks * kPackCols,
             &a_panel[q * a_size]);
      }
#pragma omp for schedule(static)
      for (int64_t t = 0; t < b_count * b_chunks; ++t) {
        const int64_t q = t / b_chunks;
        pack(B + q * g.stride_b, g.tb, g.ldb, g.k, g.n, t % b_chunks * kPackCols,
             &b_panel[q * b_size]);
      }
#pragma omp for schedule(static)
      for (int64_t t = 0; t < g.batch * tiles; ++t) {
        const int64_t q = t / tiles, i0 = t % tiles / col_tiles * kTileRows,
                      j0 = t % col_tiles * kTileCols;
        tile(&a_panel[(g.stride_a == 0 ? 0 : q) * a_size],
             &b_panel[(g.stride_b == 0 ? 0 : q) * b_size], g.m, g.k, i0,
             std::min(kTileRows, g.m - i0), j0, std::min(kTileCols, g.n - j0), g.alpha, g.beta,
             C + q * g.stride_c, g.ldc);
      }
    }
  }
}

size_t element_bytes(cudaDataType t) { return t == CUDA_R_32F ? 4 : 2; }

// Empty when every element of a stored matrix that the call touches, in every batch,
// lies in one live device allocation, else why not. Those elements run from the first
// batch's first to the last batch's last, (rows−1) + (cols−1)·ld further on.
std::string range_problem(const void* data, int64_t rows, int64_t cols, int64_t ld,
                          long long stride, int64_t batch, size_t elem) {
  const __int128 span = (rows - 1) + __int128(cols - 1) * ld + 1;
  const __int128 shift = __int128(batch - 1) * stride;  // where the last batch starts
  const __int128 lo = std::min<__int128>(0, shift), hi = std::max<__int128>(0, shift) + span;
  if ((hi - lo) * elem > INT64_MAX) return "it spans more than 2^63 bytes";
  return device_range_problem(static_cast<const char*>(data) + int64_t(lo) * int64_t(elem),
                              size_t((hi - lo) * elem));
}

bool valid_op(cublasOperation_t op) {
  return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C;
}

// What cuBLAS supports of these, restricted to what tv3s uses: one storage type for A, B
// and C, f32 accumulation. FAST_TF32 is for f32 storage only (as in cuBLAS); it may round
// inputs to TF32 but need not, and here it does not.
bool supported(cudaDataType a, cudaDataType b, cudaDataType c, cublasComputeType_t compute,
               cublasGemmAlgo_t algo) {
  if (a != b || a != c) return false;
  if (a != CUDA_R_32F && a != CUDA_R_16F && a != CUDA_R_16BF) return false;
  const bool algo_ok =
      (algo >= CUBLAS_GEMM_DEFAULT && algo <= CUBLAS_GEMM_ALGO23) ||
      (algo >= CUBLAS_GEMM_DEFAULT_TENSOR_OP && algo <= CUBLAS_GEMM_ALGO15_TENSOR_OP);
  if (!algo_ok) return false;
  return compute == CUBLAS_COMPUTE_32F || compute == CUBLAS_COMPUTE_32F_PEDANTIC ||
         (compute == CUBLAS_COMPUTE_32F_FAST_TF32 && a == CUDA_R_32F);
}

// Both GEMMs: cublasGemmEx is the batch of one.
cublasStatus_t gemm(const char* fn, bool batched, cublasHandle_t handle, cublasOperation_t transa,
                    cublasOperation_t transb, int m, int n, int k, const void* alpha, const void* A,
                    cudaDataType Atype, int lda, long long strideA, const void* B,
                    cudaDataType Btype, int ldb, long long strideB, const void* beta, void* C,
                    cudaDataType Ctype, int ldc, long long strideC, int batch,
                    cublasComputeType_t compute, cublasGemmAlgo_t algo) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!valid_op(transa) || !valid_op(transb) || m < 0 || n < 0 || k < 0 || batch < 0)
    return CUBLAS_STATUS_INVALID_VALUE;
  const bool ta = transa != CUBLAS_OP_N, tb = transb != CUBLAS_OP_N;
  const int a_rows = ta ? k : m, b_rows = tb ? n : k;  // rows of the stored matrices
  if (lda < std::max(1, a_rows) || ldb < std::max(1, b_rows) || ldc < std::max(1, m))
    return CUBLAS_STATUS_INVALID_VALUE;
  if (!alpha || !beta) return CUBLAS_STATUS_INVALID_VALUE;
  if (!supported(Atype, Btype, Ctype, compute, algo)) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (m == 0 || n == 0 || batch == 0) return CUBLAS_STATUS_SUCCESS;

  Gemm g{ta, tb, m, n, k, lda, ldb, ldc, batch, strideA, strideB, strideC};
  g.alpha = *static_cast<const float*>(alpha);
  g.beta = *static_cast<const float*>(beta);

  // A matrix outside its allocation: the fault names it as the caller wrote it, e.g.
  // "B (k=5, n=3, ldb=7)": r and c are the stored rows and columns.
  const size_t elem = element_bytes(Ctype);
  const auto check = [&](char x, const void* data, const char* rows, int r, const char* cols, int c,
                         int ld, long long stride) {
    const std::string problem = range_problem(data, r, c, ld, stride, batch, elem);
    if (problem.empty()) return;
    const std::string name(1, x);
    std::string what = name + " (" + rows + "=" + std::to_string(r) + ", " + cols + "=" +
                       std::to_string(c) + ", ld" + char(x - 'A' + 'a') + "=" + std::to_string(ld);
    if (batched)
      what += ", stride" + name + "=" + std::to_string(stride) +
              ", batchCount=" + std::to_string(batch);
    fault(std::string(fn) + ": " + what + ") is not inside one device allocation: " + problem);
  };
  if (g.alpha != 0.0f && k > 0) {  // else A and B are not read
    ta ? check('A', A, "k", k, "m", m, lda, strideA) : check('A', A, "m", m, "k", k, lda, strideA);
    tb ? check('B', B, "n", n, "k", k, ldb, strideB) : check('B', B, "k", k, "n", n, ldb, strideB);
  }
  check('C', C, "m", m, "n", n, ldc, strideC);

  switch (Ctype) {
    case CUDA_R_32F:
      run(g, static_cast<const float*>(A), static_cast<const float*>(B), static_cast<float*>(C));
      break;
    case CUDA_R_16F:
      run(g, static_cast<const __half*>(A), static_cast<const __half*>(B), static_cast<__half*>(C));
      break;
    default:
      run(g, static_cast<const __nv_bfloat16*>(A), static_cast<const __nv_bfloat16*>(B),
          static_cast<__nv_bfloat16*>(C));
  }
  return CUBLAS_STATUS_SUCCESS;
}

}  // namespace
}  // namespace tv3s::emu

extern "C" {

cublasStatus_t cublasCreate_v2(cublasHandle_t* handle) {
  if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
  *handle = new (std::nothrow) cublasContext;
  return *handle ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_ALLOC_FAILED;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t stream) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetStream_v2(cublasHandle_t handle, cudaStream_t* stream) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!stream) return CUBLAS_STATUS_INVALID_VALUE;
  *stream = handle->stream;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->math = mode;  // recorded only: the compute type alone decides the arithmetic here
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetMathMode(cublasHandle_t handle, cublasMath_t* mode) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!mode) return CUBLAS_STATUS_INVALID_VALUE;
  *mode = handle->math;
  return CUBLAS_STATUS_SUCCESS;
}

// The version of the toolkit headers the emulator was compiled against.
cublasStatus_t cublasGetProperty(libraryPropertyType type, int* value) {
  if (!value) return CUBLAS_STATUS_INVALID_VALUE;
  switch (type) {
    case MAJOR_VERSION: *value = CUBLAS_VER_MAJOR; return CUBLAS_STATUS_SUCCESS;
    case MINOR_VERSION: *value = CUBLAS_VER_MINOR; return CUBLAS_STATUS_SUCCESS;
    case PATCH_LEVEL: *value = CUBLAS_VER_PATCH; return CUBLAS_STATUS_SUCCESS;
    default: return CUBLAS_STATUS_INVALID_VALUE;
  }
}

const char* cublasGetStatusName(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}

const char* cublasGetStatusString(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "the operation completed successfully";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "the resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "an invalid numeric value was used as an argument";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "an absent device architectural feature is required";
    case CUBLAS_STATUS_MAPPING_ERROR: return "an access to GPU memory space failed";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "the GPU program failed to execute";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "an internal operation failed";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "the functionality requested is not supported";
    case CUBLAS_STATUS_LICENSE_ERROR: return "the functionality requested requires some license";
  }
  return "unknown cuBLAS status";
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa,
                            cublasOperation_t transb, int m, int n, int k, const void* alpha,
                            const void* A, cudaDataType Atype, int lda, const void* B,
                            cudaDataType Btype, int ldb, const void* beta, void* C,
                            cudaDataType Ctype, int ldc, cublasComputeType_t computeType,
                            cublasGemmAlgo_t algo) {
  return tv3s::emu::gemm("cublasGemmEx", false, handle, transa, transb, m, n, k, alpha, A, Atype,
                         lda, 0, B, Btype, ldb, 0, beta, C, Ctype, ldc, 0, 1, computeType, algo);
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t transa,
                                          cublasOperation_t transb, int m, int n, int k,
                                          const void* alpha, const void* A, cudaDataType Atype,
                                          int lda, long long int strideA, const void* B,
                                          cudaDataType Btype, int ldb, long long int strideB,
                                          const void* beta, void* C, cudaDataType Ctype, int ldc,
                                          long long int strideC, int batchCount,
                                          cublasComputeType_t computeType, cublasGemmAlgo_t algo) {
  return tv3s::emu::gemm("cublasGemmStridedBatchedEx", true, handle, transa, transb, m, n, k, alpha,
                         A, Atype, lda, strideA, B, Btype, ldb, strideB, beta, C, Ctype, ldc,
                         strideC, batchCount, computeType, algo);
}

}  // extern "C"
