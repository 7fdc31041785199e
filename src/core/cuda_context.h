// The process-wide CUDA context of tv3s: one device, one stream, one cuBLAS handle.
// Every kernel and copy is issued on stream(), so work is ordered without extra
// synchronisation, and the caching allocator can hand a freed block to the next
// allocation at once.
#pragma once
#include "tv3s/error.h"

#if TV3S_WITH_CUDA
#include <cublas_v2.h>
#include <cuda_runtime.h>
#endif

namespace tv3s::cuda {

// True when tv3s was built with CUDA and a usable GPU is present (cached).
bool available();
// Throws a clear error when !available() (naming the op that needed the GPU).
void require(const char* op);
void synchronize();

#if TV3S_WITH_CUDA
cudaStream_t stream();
cublasHandle_t cublas();
void check(cudaError_t status, const char* what, const char* file, int line);
void check_cublas(cublasStatus_t status, const char* what, const char* file, int line);
#endif

}  // namespace tv3s::cuda

#if TV3S_WITH_CUDA
#define TV3S_CUDA_CHECK(expr) ::tv3s::cuda::check((expr), #expr, __FILE__, __LINE__)
#define TV3S_CUBLAS_CHECK(expr) ::tv3s::cuda::check_cublas((expr), #expr, __FILE__, __LINE__)
#endif

// TV3S_ON_CUDA(call): the CUDA branch of an op. In a CPU-only build a CUDA tensor
// cannot exist, so the branch only throws and no CUDA symbol is referenced.
#if TV3S_WITH_CUDA
#define TV3S_ON_CUDA(call) call
#else
#define TV3S_ON_CUDA(call) ::tv3s::fail("tv3s was built without CUDA")
#endif
