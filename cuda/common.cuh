// Shared pieces of the CUDA kernels: launch geometry, the f32/f16/bf16 dispatch, and
// load/store helpers that do all arithmetic in f32 whatever the storage type.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "cuda/device.cuh"
#include "src/core/cuda_context.h"
#include "tv3s/tensor.h"

namespace tv3s::cuda {

constexpr int kThreads = 256;

inline unsigned blocks_for(int64_t n, int threads = kThreads) {
  const int64_t b = (n + threads - 1) / threads;
  return unsigned(b < 1 ? 1 : (b > 65535 * 32 ? 65535 * 32 : b));  // grid-stride loops cover the rest
}

// Every elementwise kernel walks with a grid-stride loop so any n fits any grid.
#define TV3S_GRID_STRIDE(i, n)                                                        \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n);          \
       i += int64_t(blockDim.x) * gridDim.x)

__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }
template <class T> __device__ __forceinline__ T from_f32(float v);
template <> __device__ __forceinline__ float from_f32<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_f32<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

// Calls f(T{}) with T = float, __half or __nv_bfloat16 matching t's dtype.
template <class F>
void dispatch_float(const char* op, const Tensor& t, F&& f) {
  check_compute_dtype(op, t);
  switch (t.dtype()) {
    case DType::f32: f(float{}); break;
    case DType::f16: f(__half{}); break;
    case DType::bf16: f(__nv_bfloat16{}); break;
    default: fail(str(op, ": unsupported dtype ", t.desc()));
  }
}

template <class T>
T* ptr(const Tensor& t) { return static_cast<T*>(t.raw()); }
// The data of an optional tensor, or nullptr when it is undefined.
template <class T>
T* ptr_or_null(const Tensor& t) { return t.defined() ? ptr<T>(t) : nullptr; }

// Raise launch errors at the op that caused them, not at some later sync.
inline void check_launch(const char* op) {
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) fail(str(op, ": CUDA kernel launch failed: ", cudaGetErrorString(status)));
}

}  // namespace tv3s::cuda
