// LayerNorm over the last dim on the GPU, forward and backward (the math is in
// src/ops/layernorm.cpp). x is [rows, C] with C small to moderate (32..1024 in MiT and
// the TV3S head), so:
//  - forward and dx: one warp per row, 8 rows per block. Lanes stride over the row; the
//    row sums are warp shuffles. The row is read again for each pass (from cache).
//  - dγ, dβ (sums over all rows, per column): the deterministic two-pass column sum of
//    column_reduce.cuh.
// Storage f32/f16/bf16; arithmetic and the saved mean/rstd in f32.
#include <algorithm>

#include "cuda/column_reduce.cuh"
#include "cuda/common.cuh"
#include "cuda/layernorm.h"
#include "cuda/row_reduce.cuh"

namespace tv3s::cuda {
namespace {

constexpr int kRowsPerBlock = 8;  // warps per block in the row kernels

unsigned blocks_for_warp_rows(int64_t rows) {
  const int64_t blocks = (rows + kRowsPerBlock - 1) / kRowsPerBlock;
  return unsigned(std::max<int64_t>(1, std::min<int64_t>(blocks, 65535 * 32)));  // kernels loop
}

template <class T>
__device__ __forceinline__ float param_or(const T* p, int64_t c, float fallback) {
  return p ? to_f32(p[c]) : fallback;
}

// One warp per row: μ, then Σ(x − μ)² (two passes, no cancellation), then y.
template <class T>
__global__ void layer_norm_forward_kernel(const T* x, const T* weight, const T* bias, float eps,
                                          int64_t rows, int64_t C, T* y, float* mean, float* rstd) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t first_row = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarpSize;
  for (int64_t row = first_row; row < rows; row += int64_t(gridDim.x) * kRowsPerBlock) {
    const T* xr = x + row * C;
    T* yr = y + row * C;
    float sum = 0.f;
    for (int64_t c = lane; c < C; c += kWarpSize) sum += to_f32(xr[c]);
    const float mu = warp_sum(sum) / float(C);
    float squares = 0.f;
    for (int64_t c = lane; c < C; c += kWarpSize) {
      const float d = to_f32(xr[c]) - mu;
      squares += d * d;
    }
    const float rs = rsqrtf(warp_sum(squares) / float(C) + eps);
    for (int64_t c = lane; c < C; c += kWarpSize) {
      const float xhat = (to_f32(xr[c]) - mu) * rs;
      yr[c] = from_f32<T>(xhat * param_or(weight, c, 1.f) + param_or(bias, c, 0.f));
    }
    if (lane == 0) {
      mean[row] = mu;
      rstd[row] = rs;
    }
  }
}

// One warp per row: dx = rstd·(g − mean(g) − x̂·mean(g·x̂)), g = dy·γ.
template <class T>
__global__ void layer_norm_dx_kernel(const T* x, const T* weight, const float* mean,
                                     const float* rstd, const T* dy, int64_t rows, int64_t C, T* dx) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t first_row = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarpSize;
  for (int64_t row = first_row; row < rows; row += int64_t(gridDim.x) * kRowsPerBlock) {
    const T* xr = x + row * C;
    const T* dyr = dy + row * C;
    const float mu = mean[row], rs = rstd[row];
    float sum_g = 0.f, sum_g_xhat = 0.f;
    for (int64_t c = lane; c < C; c += kWarpSize) {
      const float g = to_f32(dyr[c]) * param_or(weight, c, 1.f);
      sum_g += g;
      sum_g_xhat += g * (to_f32(xr[c]) - mu) * rs;
    }
    const float mean_g = warp_sum(sum_g) / float(C);
    const float mean_g_xhat = warp_sum(sum_g_xhat) / float(C);
    for (int64_t c = lane; c < C; c += kWarpSize) {
      const float g = to_f32(dyr[c]) * param_or(weight, c, 1.f);
      const float xhat = (to_f32(xr[c]) - mu) * rs;
      dx[row * C + c] = from_f32<T>(rs * (g - mean_g - xhat * mean_g_xhat));
    }
  }
}

// dγ/dβ: per column, (Σ dy·x̂, Σ dy) over all rows (column_reduce.cuh).
template <class T>
struct ParamGradTerms {
  using Sum = float2;  // (Σ dy·x̂, Σ dy)
  const T *x, *dy;
  const float *mean, *rstd;
  int64_t C;
  __device__ void operator()(int64_t r, int64_t c, float2& sum) const {
    const float d = to_f32(dy[r * C + c]);
    sum.x += d * (to_f32(x[r * C + c]) - mean[r]) * rstd[r];
    sum.y += d;
  }
};

template <class T>
__global__ void layer_norm_param_finish(const float2* partials, int64_t chunks, int64_t C,
                                        T* dweight, T* dbias) {
  TV3S_GRID_STRIDE(c, C) {
    const float2 total = sum_chunks(partials, chunks, C, c);
    if (dweight) dweight[c] = from_f32<T>(total.x);
    if (dbias) dbias[c] = from_f32<T>(total.y);
  }
}

}  // namespace

void layer_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps,
                        Tensor& y, Tensor& mean, Tensor& rstd) {
  const int64_t C = x.size(-1), rows = x.numel() / C;
  if (rows == 0) return;
  dispatch_float("layer_norm", x, [&](auto tag) {
    using T = decltype(tag);
    launch<layer_norm_forward_kernel<T>>(blocks_for_warp_rows(rows), kRowsPerBlock * kWarpSize, 0,
                                         stream(), ptr<T>(x), ptr_or_null<T>(weight),
                                         ptr_or_null<T>(bias), float(eps), rows, C, ptr<T>(y),
                                         ptr<float>(mean), ptr<float>(rstd));
  });
  check_launch("layer_norm");
}

void layer_norm_backward(const Tensor& x, const Tensor& weight, const Tensor& mean,
                         const Tensor& rstd, const Tensor& dy, Tensor& dx, Tensor& dweight,
                         Tensor& dbias) {
  const int64_t C = x.size(-1), rows = x.numel() / C;
  dispatch_float("layer_norm backward", x, [&](auto tag) {
    using T = decltype(tag);
    if (dx.defined() && rows > 0) {
      launch<layer_norm_dx_kernel<T>>(blocks_for_warp_rows(rows), kRowsPerBlock * kWarpSize, 0,
                                      stream(), ptr<T>(x), ptr_or_null<T>(weight), ptr<float>(mean),
                                      ptr<float>(rstd), ptr<T>(dy), rows, C, ptr<T>(dx));
    }
    if (dweight.defined() || dbias.defined()) {
      const ColumnPartials partials = column_partials(
          ParamGradTerms<T>{ptr<T>(x), ptr<T>(dy), ptr<float>(mean), ptr<float>(rstd), C}, rows, C);
      launch<layer_norm_param_finish<T>>(blocks_for(C), kThreads, 0, stream(),
                                         ptr<float2>(partials.data), partials.chunks, C,
                                         ptr_or_null<T>(dweight), ptr_or_null<T>(dbias));
    }
  });
  check_launch("layer_norm backward");
}

}  // namespace tv3s::cuda
