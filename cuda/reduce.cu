// Reductions on the GPU, deterministic (fixed summation order, no atomics).
//  sum_to, short reductions (≤ 64 elements per output): one thread per output, serial.
//  sum_to, long reductions: one 256-thread block per output; each thread sums a strided
//      share, then a shared-memory tree combines the 256 partial sums.
//  max/argmax over an axis: one thread per (outer, inner) pair, serial over the axis.
#include "cuda/common.cuh"
#include "cuda/reduce.h"

namespace tv3s::cuda {
namespace {

constexpr int64_t kSerialLimit = 64;

template <class T>
__global__ void sum_to_serial(const T* x, T* out, ReduceIndex ri) {
  TV3S_GRID_STRIDE(o, ri.out_count) {
    const int64_t base = offset_of(o, ri.kept_ndim, ri.kept_dims, ri.kept_strides);
    float acc = 0.f;
    for (int64_t r = 0; r < ri.reduced_count; ++r)
      acc += to_f32(x[base + offset_of(r, ri.reduced_ndim, ri.reduced_dims, ri.reduced_strides)]);
    out[o] = from_f32<T>(acc);
  }
}

template <class T>
__global__ void sum_to_block(const T* x, T* out, ReduceIndex ri) {
  TV3S_SHARED(float, partial, [kThreads]);
  for (int64_t o = blockIdx.x; o < ri.out_count; o += gridDim.x) {
    const int64_t base = offset_of(o, ri.kept_ndim, ri.kept_dims, ri.kept_strides);
    float acc = 0.f;
    for (int64_t r = threadIdx.x; r < ri.reduced_count; r += blockDim.x)
      acc += to_f32(x[base + offset_of(r, ri.reduced_ndim, ri.reduced_dims, ri.reduced_strides)]);
    partial[threadIdx.x] = acc;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half /= 2) {
      if (int(threadIdx.x) < half) partial[threadIdx.x] += partial[threadIdx.x + half];
      __syncthreads();
    }
    if (threadIdx.x == 0) out[o] = from_f32<T>(partial[0]);
    __syncthreads();  // partial[] is reused by the next output
  }
}

template <class T>
__global__ void max_kernel(const T* x, T* values, int32_t* indices, int64_t outer, int64_t n,
                           int64_t inner) {
  TV3S_GRID_STRIDE(i, outer * inner) {
    const int64_t o = i / inner, in = i % inner;
    const T* row = x + o * n * inner + in;
    int64_t best = 0;
    float best_value = to_f32(row[0]);
    for (int64_t k = 1; k < n; ++k) {
      const float v = to_f32(row[k * inner]);
      if (v > best_value) {  // strict: the first max wins, NaN never wins (as on CPU)
        best_value = v;
        best = k;
      }
    }
    if (values) values[i] = row[best * inner];
    if (indices) indices[i] = int32_t(best);
  }
}

template <class T>
__global__ void max_backward_kernel(const T* g, const int32_t* indices, T* dx, int64_t outer,
                                    int64_t n, int64_t inner) {
  TV3S_GRID_STRIDE(i, outer * inner) {
    const int64_t o = i / inner, in = i % inner;
    dx[(o * n + indices[i]) * inner + in] = g[i];
  }
}

}  // namespace

void sum_to(const Tensor& x, Tensor& out, const ReduceIndex& ri) {
  dispatch_float("sum_to", x, [&](auto tag) {
    using T = decltype(tag);
    if (ri.reduced_count <= kSerialLimit)
      launch<sum_to_serial<T>>(blocks_for(ri.out_count), kThreads, 0, stream(), ptr<T>(x),
                               ptr<T>(out), ri);
    else
      launch<sum_to_block<T>>(unsigned(ri.out_count < 65535 ? ri.out_count : 65535), kThreads, 0,
                              stream(), ptr<T>(x), ptr<T>(out), ri);
  });
  check_launch("sum_to");
}

void max_over_axis(const Tensor& x, Tensor* values, Tensor* indices, int64_t outer, int64_t n,
                   int64_t inner) {
  dispatch_float("max", x, [&](auto tag) {
    using T = decltype(tag);
    launch<max_kernel<T>>(blocks_for(outer * inner), kThreads, 0, stream(), ptr<T>(x),
                          values ? ptr<T>(*values) : nullptr,
                          indices ? ptr<int32_t>(*indices) : nullptr, outer, n, inner);
  });
  check_launch("max");
}

void max_backward(const Tensor& g, const Tensor& indices, Tensor& dx, int64_t outer, int64_t n,
                  int64_t inner) {
  dispatch_float("max backward", g, [&](auto tag) {
    using T = decltype(tag);
    launch<max_backward_kernel<T>>(blocks_for(outer * inner), kThreads, 0, stream(), ptr<T>(g),
                                   ptr<int32_t>(indices), ptr<T>(dx), outer, n, inner);
  });
  check_launch("max backward");
}

}  // namespace tv3s::cuda
