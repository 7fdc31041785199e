// Depthwise convolution (stride 1) on the GPU, forward and backward (the math is in
// src/ops/depthwise_conv2d.cpp). Maps are channels-last, so channels are the coalesced
// dimension everywhere: a block is 32 consecutive channels × 8 pixel lanes.
//  - forward, and dx (the same kernel over dy with the kernel rotated by 180°): grid
//    (pixel blocks, channel tiles). The block first copies its channels' kh·kw weights
//    to shared memory, tap-major ([tap][channel], conflict-free reads), then each thread
//    computes one output element per pixel it visits in a grid-stride loop (the grid
//    gives each thread about 4 pixels, so one tile load serves 32 pixels), reading x
//    coalesced.
//  - dweight, dbias (sums over the N·Ho·Wo pixels, per channel and tap): deterministic
//    two-pass reduction, no atomics, as in layernorm. Pass 1: grid (channel tiles, pixel
//    chunks, taps + 1), the last z slice being the bias; each thread sums its channel and
//    tap over every 8th pixel of the chunk, in order, then the 8 lanes are added in order
//    in shared memory: one partial per (chunk, tap, channel). Pass 2: one thread per
//    (tap, channel) adds the chunk partials in order. The chunking depends only on the
//    shape, so the result is the same bits on every run.
// Storage f32/f16/bf16; arithmetic in f32.
#include <algorithm>

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

// Pass 1. Slice z of the grid is tap first_tap + z; tap == taps is the bias (Σ dy).
template <class T>
__global__ void depthwise_param_partials(const T* x, const T* dy, DepthwiseGeometry g,
                                         int first_tap, int64_t pixels_per_chunk, float* partial) {
  TV3S_SHARED(float, lane_sum, [kPixelLanes][kChannelTile]);
  const int taps = int(g.taps());
  const int tap = first_tap + int(blockIdx.z);
  const int64_t ky = tap / g.kw, kx = tap % g.kw;  // unused for the bias slice
  const int64_t c = int64_t(blockIdx.x) * kChannelTile + threadIdx.x;
  const int64_t pixels = g.N * g.Ho * g.Wo;
  const int64_t begin = int64_t(blockIdx.y) * pixels_per_chunk;
  const int64_t end = std::min(pixels, begin + pixels_per_chunk);
  float sum = 0.f;
  if (c < g.C) {
    for (int64_t p = begin + threadIdx.y; p < end; p += kPixelLanes) {
      const float d = to_f32(dy[p * g.C + c]);
      if (tap == taps) {
        sum += d;
        continue;
      }
      const int64_t ox = p % g.Wo, out_row = p / g.Wo;
      const int64_t oy = out_row % g.Ho, n = out_row / g.Ho;
      const int64_t iy = oy - g.pad_h + ky, ix = ox - g.pad_w + kx;
      if (iy >= 0 && iy < g.H && ix >= 0 && ix < g.W)
        sum += d * to_f32(x[((n * g.H + iy) * g.W + ix) * g.C + c]);
    }
  }
  lane_sum[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && c < g.C) {
    float total = 0.f;
    for (int lane = 0; lane < kPixelLanes; ++lane) total += lane_sum[lane][threadIdx.x];
    partial[(int64_t(blockIdx.y) * (taps + 1) + tap) * g.C + c] = total;
  }
}

// Pass 2: one thread per (tap, channel) of the computed taps adds the chunk partials in order.
template <class T>
__global__ void depthwise_param_finish(const float* partial, int64_t chunks, int taps,
                                       int first_tap, int tap_count, int64_t C, T* dweight,
                                       T* dbias) {
  TV3S_GRID_STRIDE(i, int64_t(tap_count) * C) {
    const int tap = first_tap + int(i / C);
    const int64_t c = i % C;
    float total = 0.f;
    for (int64_t k = 0; k < chunks; ++k) total += partial[(k * (taps + 1) + tap) * C + c];
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
  // z slices: the taps when dweight is wanted, then the bias slice when dbias is.
  const int first_tap = dweight.defined() ? 0 : taps;
  const int tap_count = (dbias.defined() ? taps + 1 : taps) - first_tap;
  if (tap_count <= 0 || g.C == 0) return;
  TV3S_CHECK(tap_count <= 65535, "depthwise_conv2d backward: kh·kw must be < 65535 on CUDA, got ",
             taps);
  const int64_t pixels = g.N * g.Ho * g.Wo;
  // Chunks of ≥ 256 pixels (32 per lane), at most 256 of them.
  const int64_t chunks = std::clamp<int64_t>((pixels + 255) / 256, 1, 256);
  const int64_t pixels_per_chunk = std::max<int64_t>(1, (pixels + chunks - 1) / chunks);
  Tensor partial = Tensor::empty(Shape{chunks, taps + 1, g.C}, DType::f32, Device::CUDA);
  const dim3 grid(channel_tiles("depthwise_conv2d backward", g.C), unsigned(chunks),
                  unsigned(tap_count));
  const dim3 block(kChannelTile, kPixelLanes);
  dispatch_float("depthwise_conv2d backward", dy, [&](auto tag) {
    using T = decltype(tag);
    launch<depthwise_param_partials<T>>(grid, block, 0, stream(), ptr_or_null<T>(x), ptr<T>(dy), g,
                                        first_tap, pixels_per_chunk, ptr<float>(partial));
    check_launch("depthwise_conv2d backward (partials)");
    launch<depthwise_param_finish<T>>(blocks_for(int64_t(tap_count) * g.C), kThreads, 0, stream(),
                                      ptr<float>(partial), chunks, taps, first_tap, tap_count, g.C,
                                      ptr_or_null<T>(dweight), ptr_or_null<T>(dbias));
    check_launch("depthwise_conv2d backward (finish)");
  });
}

}  // namespace tv3s::cuda
