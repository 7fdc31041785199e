// Softmax and log-softmax over one axis on the GPU, forward and backward (the math is
// in src/ops/softmax.cpp). The tensor is viewed as [outer, n, inner]; two layouts:
//  - inner == 1 (the last axis, e.g. attention scores): every row is contiguous. One
//    block per row; its threads stride over the row and the max and the sum are block
//    reductions (warp shuffles, then across warps). The block size follows n (32..256).
//  - inner > 1 (e.g. classes on axis 1 of [N, C, H, W]): a row's values lie `inner`
//    apart, but rows (o, i) and (o, i+1) are neighbours. One thread per row, so at each
//    step of the loop over n a warp reads 32 consecutive addresses.
// Storage f32/f16/bf16; arithmetic in f32. The row is read three times (max, sum, write);
// after the first read it comes from cache.
#include <algorithm>

#include "cuda/common.cuh"
#include "cuda/row_reduce.cuh"
#include "cuda/softmax.h"

namespace tv3s::cuda {
namespace {

// Enough warps to cover a row of n, at most 256 threads.
int threads_for_row(int64_t n) {
  int threads = kWarpSize;
  while (threads < n && threads < 256) threads *= 2;
  return threads;
}

// One block per row; the kernels loop when there are more rows than blocks.
unsigned blocks_for_rows(int64_t rows) {
  return unsigned(std::max<int64_t>(1, std::min<int64_t>(rows, 65535 * 32)));
}

// --- contiguous rows: a block per row --------------------------------------------------

template <class T, bool kLog>
__global__ void softmax_rows_forward(const T* x, T* y, int64_t rows, int64_t n) {
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* xr = x + row * n;
    T* yr = y + row * n;
    float m = -INFINITY;
    for (int64_t k = threadIdx.x; k < n; k += blockDim.x) m = fmaxf(m, to_f32(xr[k]));
    m = block_max(m);
    float s = 0.f;
    for (int64_t k = threadIdx.x; k < n; k += blockDim.x) s += expf(to_f32(xr[k]) - m);
    s = block_sum(s);
    if constexpr (kLog) {
      const float log_sum = m + logf(s);
      for (int64_t k = threadIdx.x; k < n; k += blockDim.x)
        yr[k] = from_f32<T>(to_f32(xr[k]) - log_sum);
    } else {
      const float inv_sum = 1.f / s;
      for (int64_t k = threadIdx.x; k < n; k += blockDim.x)
        yr[k] = from_f32<T>(expf(to_f32(xr[k]) - m) * inv_sum);
    }
  }
}

// softmax: dx = y·(dy − Σ dy·y);  log_softmax: dx = dy − exp(y)·Σ dy.
template <class T, bool kLog>
__global__ void softmax_rows_backward(const T* y, const T* dy, T* dx, int64_t rows, int64_t n) {
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* yr = y + row * n;
    const T* dyr = dy + row * n;
    T* dxr = dx + row * n;
    float dot = 0.f;
    for (int64_t k = threadIdx.x; k < n; k += blockDim.x)
      dot += kLog ? to_f32(dyr[k]) : to_f32(dyr[k]) * to_f32(yr[k]);
    dot = block_sum(dot);
    for (int64_t k = threadIdx.x; k < n; k += blockDim.x) {
      const float yk = to_f32(yr[k]), dyk = to_f32(dyr[k]);
      dxr[k] = from_f32<T>(kLog ? dyk - expf(yk) * dot : yk * (dyk - dot));
    }
  }
}

// --- strided rows: a thread per row ----------------------------------------------------

template <class T, bool kLog>
__global__ void softmax_strided_forward(const T* x, T* y, int64_t outer, int64_t n, int64_t inner) {
  TV3S_GRID_STRIDE(row, outer * inner) {
    const int64_t first = (row / inner) * n * inner + row % inner;  // element k = 0
    float m = -INFINITY;
    for (int64_t k = 0; k < n; ++k) m = fmaxf(m, to_f32(x[first + k * inner]));
    float s = 0.f;
    for (int64_t k = 0; k < n; ++k) s += expf(to_f32(x[first + k * inner]) - m);
    if constexpr (kLog) {
      const float log_sum = m + logf(s);
      for (int64_t k = 0; k < n; ++k)
        y[first + k * inner] = from_f32<T>(to_f32(x[first + k * inner]) - log_sum);
    } else {
      const float inv_sum = 1.f / s;
      for (int64_t k = 0; k < n; ++k)
        y[first + k * inner] = from_f32<T>(expf(to_f32(x[first + k * inner]) - m) * inv_sum);
    }
  }
}

template <class T, bool kLog>
__global__ void softmax_strided_backward(const T* y, const T* dy, T* dx, int64_t outer, int64_t n,
                                         int64_t inner) {
  TV3S_GRID_STRIDE(row, outer * inner) {
    const int64_t first = (row / inner) * n * inner + row % inner;
    float dot = 0.f;
    for (int64_t k = 0; k < n; ++k) {
      const int64_t at = first + k * inner;
      dot += kLog ? to_f32(dy[at]) : to_f32(dy[at]) * to_f32(y[at]);
    }
    for (int64_t k = 0; k < n; ++k) {
      const int64_t at = first + k * inner;
      const float yk = to_f32(y[at]), dyk = to_f32(dy[at]);
      dx[at] = from_f32<T>(kLog ? dyk - expf(yk) * dot : yk * (dyk - dot));
    }
  }
}

template <class T, bool kLog>
void launch_forward(const Tensor& x, Tensor& y, int64_t outer, int64_t n, int64_t inner) {
  if (inner == 1) {
    launch<softmax_rows_forward<T, kLog>>(blocks_for_rows(outer), threads_for_row(n), 0, stream(),
                                          ptr<T>(x), ptr<T>(y), outer, n);
  } else {
    launch<softmax_strided_forward<T, kLog>>(blocks_for(outer * inner), kThreads, 0, stream(),
                                             ptr<T>(x), ptr<T>(y), outer, n, inner);
  }
}

template <class T, bool kLog>
void launch_backward(const Tensor& y, const Tensor& dy, Tensor& dx, int64_t outer, int64_t n,
                     int64_t inner) {
  if (inner == 1) {
    launch<softmax_rows_backward<T, kLog>>(blocks_for_rows(outer), threads_for_row(n), 0, stream(),
                                           ptr<T>(y), ptr<T>(dy), ptr<T>(dx), outer, n);
  } else {
    launch<softmax_strided_backward<T, kLog>>(blocks_for(outer * inner), kThreads, 0, stream(),
                                              ptr<T>(y), ptr<T>(dy), ptr<T>(dx), outer, n, inner);
  }
}

}  // namespace

void softmax_forward(const Tensor& x, Tensor& y, int64_t outer, int64_t n, int64_t inner, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  dispatch_float(op, x, [&](auto tag) {
    using T = decltype(tag);
    if (log) launch_forward<T, true>(x, y, outer, n, inner);
    else launch_forward<T, false>(x, y, outer, n, inner);
  });
  check_launch(op);
}

void softmax_backward(const Tensor& y, const Tensor& dy, Tensor& dx, int64_t outer, int64_t n,
                      int64_t inner, bool log) {
  const char* op = log ? "log_softmax backward" : "softmax backward";
  dispatch_float(op, y, [&](auto tag) {
    using T = decltype(tag);
    if (log) launch_backward<T, true>(y, dy, dx, outer, n, inner);
    else launch_backward<T, false>(y, dy, dx, outer, n, inner);
  });
  check_launch(op);
}

}  // namespace tv3s::cuda
