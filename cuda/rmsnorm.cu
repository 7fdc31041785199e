// RMSNorm and the fused residual add + RMSNorm on the GPU, forward and backward (the math
// is in src/ops/rmsnorm.cpp). x is [rows, C] with C small to moderate (256 in the TV3S
// decoder) and rows many (tens of thousands of tokens), so, as layer_norm:
//  - forward and dv: one warp per row, 8 rows per block. Lanes stride over the row
//    (coalesced); the row sums are warp shuffles. The forward makes two passes over the
//    row: (1) v = x [+ residual] in f32, residual_out = v stored, Σ v²; (2) v again (the
//    inputs re-read from cache), y = v · rstd · w. The whole add + norm is one kernel.
//  - dw (a sum over all rows, per column): the deterministic two-pass column sum of
//    column_reduce.cuh.
// Storage: x, y, w, dy, dx in f32/f16/bf16; the residual stream, rstd and all arithmetic f32.
#include <algorithm>

#include "cuda/column_reduce.cuh"
#include "cuda/common.cuh"
#include "cuda/rmsnorm.h"
#include "cuda/row_reduce.cuh"

namespace tv3s::cuda {
namespace {

constexpr int kRowsPerBlock = 8;  // warps per block in the row kernels

unsigned blocks_for_warp_rows(int64_t rows) {
  const int64_t blocks = (rows + kRowsPerBlock - 1) / kRowsPerBlock;
  return unsigned(std::max<int64_t>(1, std::min<int64_t>(blocks, 65535 * 32)));  // kernels loop
}

// The row loop of the warp-per-row kernels (lane = this thread's lane).
#define TV3S_WARP_ROW_LOOP(row, rows)                                                      \
  for (int64_t row = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarpSize;        \
       row < (rows); row += int64_t(gridDim.x) * kRowsPerBlock)

// residual_out null: v = x (rms_norm). Else v = x + residual (residual may be null), stored.
template <class T>
__global__ void rms_norm_forward_kernel(const T* x, const float* residual, const T* weight,
                                        float eps, int64_t rows, int64_t C, T* y,
                                        float* residual_out, float* rstd) {
  const int lane = threadIdx.x % kWarpSize;
  TV3S_WARP_ROW_LOOP(row, rows) {
    const T* xr = x + row * C;
    const float* res = residual ? residual + row * C : nullptr;
    float squares = 0.f;
    for (int64_t c = lane; c < C; c += kWarpSize) {
      const float v = res ? to_f32(xr[c]) + res[c] : to_f32(xr[c]);
      if (residual_out) residual_out[row * C + c] = v;
      squares += v * v;
    }
    const float rs = rsqrtf(warp_sum(squares) / float(C) + eps);
    T* yr = y + row * C;
    for (int64_t c = lane; c < C; c += kWarpSize) {
      const float v = res ? to_f32(xr[c]) + res[c] : to_f32(xr[c]);
      yr[c] = from_f32<T>(v * rs * to_f32(weight[c]));
    }
    if (lane == 0) rstd[row] = rs;
  }
}

// One warp per row: dv = rstd · (g − x̂ · mean(g · x̂)), g = dy · w, x̂ = v · rstd; written
// to dx (T) and/or dresidual (f32). V: v's storage, T or f32.
template <class T, class V>
__global__ void rms_norm_dv_kernel(const V* v, const T* weight, const float* rstd, const T* dy,
                                   int64_t rows, int64_t C, T* dx, float* dresidual) {
  const int lane = threadIdx.x % kWarpSize;
  TV3S_WARP_ROW_LOOP(row, rows) {
    const V* vr = v + row * C;
    const T* dyr = dy + row * C;
    const float rs = rstd[row];
    float sum_g_xhat = 0.f;
    for (int64_t c = lane; c < C; c += kWarpSize)
      sum_g_xhat += to_f32(dyr[c]) * to_f32(weight[c]) * to_f32(vr[c]) * rs;
    const float mean_g_xhat = warp_sum(sum_g_xhat) / float(C);
    for (int64_t c = lane; c < C; c += kWarpSize) {
      const float g = to_f32(dyr[c]) * to_f32(weight[c]);
      const float dv = rs * (g - to_f32(vr[c]) * rs * mean_g_xhat);
      if (dx) dx[row * C + c] = from_f32<T>(dv);
      if (dresidual) dresidual[row * C + c] = dv;
    }
  }
}

// dw: per column, Σ dy·x̂ over all rows (column_reduce.cuh). V: v's storage, T or f32.
template <class T, class V>
struct DweightTerm {
  using Sum = float;
  const V* v;
  const float* rstd;
  const T* dy;
  int64_t C;
  __device__ void operator()(int64_t r, int64_t c, float& sum) const {
    sum += to_f32(dy[r * C + c]) * to_f32(v[r * C + c]) * rstd[r];
  }
};

template <class T>
__global__ void rms_norm_dweight_finish(const float* partials, int64_t chunks, int64_t C,
                                        T* dweight) {
  TV3S_GRID_STRIDE(c, C) dweight[c] = from_f32<T>(sum_chunks(partials, chunks, C, c));
}

template <class T, class V>
void launch_backward(const Tensor& v, const Tensor& weight, const Tensor& rstd, const Tensor& dy,
                     Tensor& dx, Tensor& dresidual, Tensor& dweight) {
  const int64_t C = v.size(-1), rows = v.numel() / C;
  if ((dx.defined() || dresidual.defined()) && rows > 0) {
    launch<rms_norm_dv_kernel<T, V>>(blocks_for_warp_rows(rows), kRowsPerBlock * kWarpSize, 0,
                                     stream(), ptr<V>(v), ptr<T>(weight), ptr<float>(rstd),
                                     ptr<T>(dy), rows, C, ptr_or_null<T>(dx),
                                     ptr_or_null<float>(dresidual));
    check_launch("rms_norm backward (dv)");
  }
  if (dweight.defined()) {
    const ColumnPartials partials =
        column_partials(DweightTerm<T, V>{ptr<V>(v), ptr<float>(rstd), ptr<T>(dy), C}, rows, C);
    check_launch("rms_norm backward (dweight partials)");
    launch<rms_norm_dweight_finish<T>>(blocks_for(C), kThreads, 0, stream(),
                                       ptr<float>(partials.data), partials.chunks, C,
                                       ptr<T>(dweight));
    check_launch("rms_norm backward (dweight)");
  }
}

}  // namespace

void rms_norm_forward(const Tensor& x, const Tensor& residual, const Tensor& weight, double eps,
                      Tensor& y, Tensor& residual_out, Tensor& rstd) {
  const int64_t C = x.size(-1), rows = x.numel() / C;
  if (rows == 0) return;
  dispatch_float("rms_norm", x, [&](auto tag) {
    using T = decltype(tag);
    launch<rms_norm_forward_kernel<T>>(blocks_for_warp_rows(rows), kRowsPerBlock * kWarpSize, 0,
                                       stream(), ptr<T>(x), ptr_or_null<float>(residual),
                                       ptr<T>(weight), float(eps), rows, C, ptr<T>(y),
                                       ptr_or_null<float>(residual_out), ptr<float>(rstd));
  });
  check_launch("rms_norm");
}

void rms_norm_backward(const Tensor& v, const Tensor& weight, const Tensor& rstd,
                       const Tensor& dy, Tensor& dx, Tensor& dresidual, Tensor& dweight) {
  dispatch_float("rms_norm backward", dy, [&](auto tag) {
    using T = decltype(tag);
    // v is x itself (rms_norm) or the f32 residual stream (add_rms_norm).
    if (v.dtype() == DType::f32) launch_backward<T, float>(v, weight, rstd, dy, dx, dresidual, dweight);
    else launch_backward<T, T>(v, weight, rstd, dy, dx, dresidual, dweight);
  });
}

}  // namespace tv3s::cuda
