// Depthwise convolution (stride 1) on the GPU, forward and backward (the math is in
// src/ops/depthwise_conv2d.cpp). Maps are channels-last, so channels are the coalesced
// dimension everywhere: a block is 32 consecutive channels × 8 pixel lanes.
//  - forward, and dx (the same kernel over dy with the kernel rotated by 180°): grid
//    (pixel blocks, channel tiles). The block first copies its channels' kh·kw weights
//    to shared memory, tap-major ([tap][channel], conflict-free reads), then each thread
//    computes one output element per pixel it visits in a grid-stride loop (the grid
//    gives each thread about 4 pixels, so one tile load serves 32 pixels), reading x
//    coalesced.
//  - dweight, dbias (sums over the N·Ho·Wo pixels, per tap and channel): the deterministic
//    two-pass column sum of column_reduce.cuh, a column per (tap, channel) and one more
//    tap for the bias.
// Storage f32/f16/bf16; arithmetic in f32.
#include <algorithm>

#include "cuda/column_reduce.cuh"
#include "cuda/common.cuh"
#include "cuda/depthwise_conv2d.h"

namespace tv3s::cuda {
namespace {

constexpr int kChannelTile = 32;  // threadIdx.x: consecutive channels (one warp)
constexpr int kPixelLanes = 8;    // threadIdx.y
constexpr int kPixelsPerLane = 4;  // forward: pixels per thread the grid is sized for

template <class T>
__global__ void depthwise_forward_kernel(const T* x, const T* weight, const T* bias,
                                         DepthwiseGeometry g, bool flip_kernel, T* y) {
  float* tile_weight = dynamic_shared<float>();  // [tap][kChannelTile]
  const int taps = int(g.taps());
  const int64_t tile_c0 = int64_t(blockIdx.y) * kChannelTile;
  for (int i = threadIdx.y * kChannelTile + threadIdx.x; i < taps * kChannelTile;
       i += kChannelTile * kPixelLanes) {
    const int t = i / kChannelTile;
    const int64_t c = tile_c0 + i % kChannelTile;
    tile_weight[i] = c < g.C ? to_f32(weight[c * taps + (flip_kernel ? taps - 1 - t : t)]) : 0.f;
  }
  __syncthreads();
  const int64_t c = tile_c0 + threadIdx.x;
  if (c >= g.C) return;  // after the barrier: every thread helped fill the tile
  const float b = bias ? to_f32(bias[c]) : 0.f;
  const int64_t pixels = g.N * g.Ho * g.Wo;
  for (int64_t p = int64_t(blockIdx.x) * kPixelLanes + threadIdx.y; p < pixels;
       p += int64_t(gridDim.x) * kPixelLanes) {
    const int64_t ox = p % g.Wo, out_row = p / g.Wo;
    const int64_t oy = out_row % g.Ho, n = out_row / g.Ho;
    float sum = b;
    for (int64_t ky = 0; ky < g.kh; ++ky) {
      const int64_t iy = oy - g.pad_h + ky;
      if (iy < 0 || iy >= g.H) continue;
      const T* x_row = x + (n * g.H + iy) * g.W * g.C + c;
      const float* w_row = tile_weight + ky * g.kw * kChannelTile + threadIdx.x;
      for (int64_t kx = 0; kx < g.kw; ++kx) {
        const int64_t ix = ox - g.pad_w + kx;
        if (ix < 0 || ix >= g.W) continue;
        sum += to_f32(x_row[ix * g.C]) * w_row[kx * kChannelTile];
      }
    }
    y[p * g.C + c] = from_f32<T>(sum);
  }
}

// dweight, dbias: per column (tap, c), a sum over the output pixels p (column_reduce.cuh).
// The columns are the computed taps first_tap.. (tap-major, C channels each); tap == taps
// is the bias, Σ dy.
template <class T>
struct ParamGradTerm {
  using Sum = float;
  const T *x, *dy;
  DepthwiseGeometry g;
  int first_tap;
  __device__ void operator()(int64_t p, int64_t column, float& sum) const {
    // The column's (tap, c, ky, kx) first and unconditionally: the same for every row, so
    // the compiler computes them once per thread, out of the row loop.
    const int tap = first_tap + int(column / g.C);
    const int64_t c = column % g.C, ky = tap / g.kw, kx = tap % g.kw;  // ky, kx: not the bias
    const float d = to_f32(dy[p * g.C + c]);
    if (tap == g.taps()) {
      sum += d;
      return;
    }
    const int64_t ox = p % g.Wo, out_row = p / g.Wo;
    const int64_t oy = out_row % g.Ho, n = out_row / g.Ho;
    const int64_t iy = oy - g.pad_h + ky, ix = ox - g.pad_w + kx;
    if (iy >= 0 && iy < g.H && ix >= 0 && ix < g.W)
      sum += d * to_f32(x[((n * g.H + iy) * g.W + ix) * g.C + c]);
  }
};

template <class T>
__global__ void depthwise_param_finish(const float* partials, int64_t chunks, int taps,
                                       int first_tap, int64_t columns, int64_t C, T* dweight,
                                       T* dbias) {
  TV3S_GRID_STRIDE(column, columns) {
    const int tap = first_tap + int(column / C);
    const int64_t c = column % C;
    const float total = sum_chunks(partials, chunks, columns, column);
    if (tap < taps) dweight[c * taps + tap] = from_f32<T>(total);
    else dbias[c] = from_f32<T>(total);
  }
}

unsigned channel_tiles(const char* op, int64_t C) {
  const int64_t tiles = (C + kChannelTile - 1) / kChannelTile;
  TV3S_CHECK(tiles <= 65535, op, ": at most ", 65535 * kChannelTile, " channels on CUDA, got ", C);
  return unsigned(tiles);
}

}  // namespace

void depthwise_conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                              const DepthwiseGeometry& g, bool flip_kernel, Tensor& y) {
  const int64_t pixels = g.N * g.Ho * g.Wo;
  if (pixels == 0 || g.C == 0) return;
  TV3S_CHECK(g.taps() <= kDepthwiseMaxTaps, "depthwise_conv2d: the CUDA kernel takes kh·kw ≤ ",
             kDepthwiseMaxTaps, ", got weight ", weight.desc());
  const int64_t pixels_per_block = int64_t(kPixelLanes) * kPixelsPerLane;
  const int64_t pixel_blocks = std::clamp<int64_t>(
      (pixels + pixels_per_block - 1) / pixels_per_block, 1, 65535 * 32);  // the kernel loops
  const dim3 grid(unsigned(pixel_blocks), channel_tiles("depthwise_conv2d", g.C));
  const dim3 block(kChannelTile, kPixelLanes);
  const size_t shared_bytes = size_t(g.taps()) * kChannelTile * sizeof(float);
  dispatch_float("depthwise_conv2d", x, [&](auto tag) {
    using T = decltype(tag);
    launch<depthwise_forward_kernel<T>>(grid, block, shared_bytes, stream(), ptr<T>(x),
                                        ptr<T>(weight), ptr_or_null<T>(bias), g, flip_kernel,
                                        ptr<T>(y));
  });
  check_launch("depthwise_conv2d");
}

void depthwise_conv2d_param_grads(const Tensor& x, const Tensor& dy, const DepthwiseGeometry& g,
                                  Tensor& dweight, Tensor& dbias) {
  const int taps = int(g.taps());
  // The columns: the taps when dweight is wanted, then the bias when dbias is.
  const int first_tap = dweight.defined() ? 0 : taps;
  const int tap_count = (dbias.defined() ? taps + 1 : taps) - first_tap;
  if (tap_count <= 0 || g.C == 0) return;
  const int64_t pixels = g.N * g.Ho * g.Wo, columns = int64_t(tap_count) * g.C;
  dispatch_float("depthwise_conv2d backward", dy, [&](auto tag) {
    using T = decltype(tag);
    // Chunks of ≥ 32 pixels per lane (256).
    const ColumnPartials partials = column_partials(
        ParamGradTerm<T>{ptr_or_null<T>(x), ptr<T>(dy), g, first_tap}, pixels, columns, 32);
    check_launch("depthwise_conv2d backward (partials)");
    launch<depthwise_param_finish<T>>(blocks_for(columns), kThreads, 0, stream(),
                                      ptr<float>(partials.data), partials.chunks, taps, first_tap,
                                      columns, g.C, ptr_or_null<T>(dweight), ptr_or_null<T>(dbias));
    check_launch("depthwise_conv2d backward (finish)");
  });
}

}  // namespace tv3s::cuda
