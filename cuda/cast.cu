// Casts, fills and copies on the GPU.
// cast_kernel: one thread per element (grid-stride), each value goes through double
// only when an f64 or i32 is involved (exact), otherwise through float.
#include "cuda/common.cuh"
#include "cuda/cast.h"

namespace tv3s::cuda {
namespace {

template <class T> __device__ __forceinline__ double load_d(const T* p, int64_t i) { return double(p[i]); }
template <> __device__ __forceinline__ double load_d<__half>(const __half* p, int64_t i) { return __half2float(p[i]); }
template <> __device__ __forceinline__ double load_d<__nv_bfloat16>(const __nv_bfloat16* p, int64_t i) { return __bfloat162float(p[i]); }

template <class T> __device__ __forceinline__ T store_d(double v) { return T(v); }
template <> __device__ __forceinline__ __half store_d<__half>(double v) { return __float2half_rn(float(v)); }
template <> __device__ __forceinline__ __nv_bfloat16 store_d<__nv_bfloat16>(double v) { return __float2bfloat16_rn(float(v)); }
template <> __device__ __forceinline__ float store_d<float>(double v) { return float(v); }
// Float → int: truncate toward zero, saturate, NaN → 0 (same as the CPU reference).
template <> __device__ __forceinline__ int32_t store_d<int32_t>(double v) {
  if (isnan(v)) return 0;
  v = trunc(v);
  return int32_t(fmin(fmax(v, -2147483648.0), 2147483647.0));
}
template <> __device__ __forceinline__ uint8_t store_d<uint8_t>(double v) {
  if (isnan(v)) return 0;
  return uint8_t(fmin(fmax(trunc(v), 0.0), 255.0));
}

template <class In, class Out>
__global__ void cast_kernel(const In* x, Out* y, int64_t n) {
  TV3S_GRID_STRIDE(i, n) y[i] = store_d<Out>(load_d(x, i));
}

template <class T>
__global__ void fill_kernel(T* x, T value, int64_t n) {
  TV3S_GRID_STRIDE(i, n) x[i] = value;
}

// Calls f(T{}) for any storage dtype.
template <class F>
void dispatch_any(DType d, F&& f) {
  switch (d) {
    case DType::f32: f(float{}); break;
    case DType::f16: f(__half{}); break;
    case DType::bf16: f(__nv_bfloat16{}); break;
    case DType::f64: f(double{}); break;
    case DType::i32: f(int32_t{}); break;
    case DType::u8: f(uint8_t{}); break;
  }
}

}  // namespace

void cast(const Tensor& x, Tensor& out) {
  const int64_t n = x.numel();
  if (n == 0) return;
  dispatch_any(x.dtype(), [&](auto in_tag) {
    using In = decltype(in_tag);
    dispatch_any(out.dtype(), [&](auto out_tag) {
      using Out = decltype(out_tag);
      launch<cast_kernel<In, Out>>(blocks_for(n), kThreads, 0, stream(), ptr<In>(x), ptr<Out>(out),
                                   n);
    });
  });
  check_launch("cast");
}

void fill(Tensor& x, double value) {
  const int64_t n = x.numel();
  if (n == 0) return;
  if (value == 0.0) {
    TV3S_CUDA_CHECK(cudaMemsetAsync(x.raw(), 0, x.nbytes(), stream()));
    return;
  }
  dispatch_any(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    // Convert on the host with the CPU rules, so both devices fill identical bits.
    Tensor one = Tensor::full(Shape{1}, value, x.dtype(), Device::CPU);
    const T v = *static_cast<const T*>(one.raw());
    launch<fill_kernel<T>>(blocks_for(n), kThreads, 0, stream(), ptr<T>(x), v, n);
  });
  check_launch("fill");
}

void copy(Tensor& dst, const Tensor& src) {
  const size_t bytes = dst.nbytes();
  if (bytes == 0) return;
  cudaMemcpyKind kind = cudaMemcpyDeviceToDevice;
  if (src.device() == Device::CPU) kind = cudaMemcpyHostToDevice;
  else if (dst.device() == Device::CPU) kind = cudaMemcpyDeviceToHost;
  TV3S_CUDA_CHECK(cudaMemcpyAsync(dst.raw(), src.raw(), bytes, kind, stream()));
  // The host may read (D2H) or free/overwrite (H2D, pageable) its buffer right away.
  if (kind != cudaMemcpyDeviceToDevice) TV3S_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

}  // namespace tv3s::cuda
