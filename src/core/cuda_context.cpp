#include "src/core/cuda_context.h"

#include "tv3s/device.h"

namespace tv3s::cuda {

#if TV3S_WITH_CUDA

void check(cudaError_t status, const char* what, const char* file, int line) {
  if (status != cudaSuccess)
    fail(str("CUDA error: ", cudaGetErrorString(status), " in ", what, " (", file, ":", line, ")"));
}

void check_cublas(cublasStatus_t status, const char* what, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS)
    fail(str("cuBLAS error: ", cublasGetStatusString(status), " in ", what, " (", file, ":",
             line, ")"));
}

bool available() {
  static const bool present = [] {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
      cudaGetLastError();  // clear the sticky "no device" error
      return false;
    }
    return count > 0;
  }();
  return present;
}

void require(const char* op) {
  TV3S_CHECK(available(), op, ": no CUDA GPU is available");
}

cudaStream_t stream() {
  static cudaStream_t s = [] {
    require("cuda::stream");
    cudaStream_t created;
    TV3S_CUDA_CHECK(cudaStreamCreateWithFlags(&created, cudaStreamNonBlocking));
    return created;
  }();
  return s;
}

cublasHandle_t cublas() {
  static cublasHandle_t handle = [] {
    cublasHandle_t created;
    TV3S_CUBLAS_CHECK(cublasCreate(&created));
    TV3S_CUBLAS_CHECK(cublasSetStream(created, stream()));
    return created;
  }();
  return handle;
}

void synchronize() {
  if (available()) TV3S_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

#else

bool available() { return false; }
void require(const char* op) { fail(str(op, ": tv3s was built without CUDA")); }
void synchronize() {}

#endif

}  // namespace tv3s::cuda

namespace tv3s {
bool cuda_available() { return cuda::available(); }
void cuda_synchronize() { cuda::synchronize(); }
}  // namespace tv3s
