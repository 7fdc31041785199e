// im2col and col2im on the GPU (the math is in src/ops/conv2d.cpp; the GEMM that
// follows im2col is cuBLAS, through `linear`).
//  - im2col: one thread per element of cols [N, Ho, Wo, kh·kw·C], with c fastest, so a
//    warp writes consecutive addresses and reads a run of x that is contiguous within
//    one kernel row (channels-last).
//  - col2im: one thread per element of dx [N, H, W, C], c fastest. Each thread gathers
//    the (at most ⌈kh/sh⌉·⌈kw/sw⌉) patch entries that copied its element and writes once:
//    no atomics, and the same bits on every run.
// Storage f32/f16/bf16; col2im adds in f32.
#include "cuda/common.cuh"
#include "cuda/conv2d.h"

namespace tv3s::cuda {
namespace {

template <class T>
__global__ void im2col_kernel(const T* x, Im2colGeometry g, T* cols) {
  const int64_t total = g.N * g.Ho * g.Wo * g.patch_size();
  TV3S_GRID_STRIDE(i, total) {
    // i = ((((n·Ho + oy)·Wo + ox)·kh + ky)·kw + kx)·C + c
    const int64_t c = i % g.C;
    int64_t rest = i / g.C;
    const int64_t kx = rest % g.kw;
    rest /= g.kw;
    const int64_t ky = rest % g.kh;
    rest /= g.kh;
    const int64_t ox = rest % g.Wo;
    rest /= g.Wo;
    const int64_t oy = rest % g.Ho;
    const int64_t n = rest / g.Ho;
    const int64_t iy = oy * g.stride_h - g.pad_h + ky;
    const int64_t ix = ox * g.stride_w - g.pad_w + kx;
    const bool inside = iy >= 0 && iy < g.H && ix >= 0 && ix < g.W;
    cols[i] = inside ? x[((n * g.H + iy) * g.W + ix) * g.C + c] : from_f32<T>(0.f);
  }
}

template <class T>
__global__ void col2im_kernel(const T* dcols, Im2colGeometry g, T* dx) {
  const int64_t total = g.N * g.H * g.W * g.C;
  const int64_t K = g.patch_size();
  TV3S_GRID_STRIDE(i, total) {
    // i = ((n·H + iy)·W + ix)·C + c
    const int64_t c = i % g.C;
    int64_t rest = i / g.C;
    const int64_t ix = rest % g.W;
    rest /= g.W;
    const int64_t iy = rest % g.H;
    const int64_t n = rest / g.H;
    float sum = 0.f;
    // Kernel rows with ky ≡ iy + ph (mod sh) and ky ≤ iy + ph put iy into patch row oy.
    for (int64_t ky = (iy + g.pad_h) % g.stride_h; ky < g.kh && ky <= iy + g.pad_h;
         ky += g.stride_h) {
      const int64_t oy = (iy + g.pad_h - ky) / g.stride_h;
      if (oy >= g.Ho) continue;
      for (int64_t kx = (ix + g.pad_w) % g.stride_w; kx < g.kw && kx <= ix + g.pad_w;
           kx += g.stride_w) {
        const int64_t ox = (ix + g.pad_w - kx) / g.stride_w;
        if (ox >= g.Wo) continue;
        sum += to_f32(dcols[((n * g.Ho + oy) * g.Wo + ox) * K + (ky * g.kw + kx) * g.C + c]);
      }
    }
    dx[i] = from_f32<T>(sum);
  }
}

}  // namespace

void im2col(const Tensor& x, const Im2colGeometry& g, Tensor& cols) {
  const int64_t total = cols.numel();
  if (total == 0) return;
  dispatch_float("im2col", x, [&](auto tag) {
    using T = decltype(tag);
    launch<im2col_kernel<T>>(blocks_for(total), kThreads, 0, stream(), ptr<T>(x), g, ptr<T>(cols));
  });
  check_launch("im2col");
}

void col2im(const Tensor& dcols, const Im2colGeometry& g, Tensor& dx) {
  const int64_t total = dx.numel();
  if (total == 0) return;
  dispatch_float("col2im", dcols, [&](auto tag) {
    using T = decltype(tag);
    launch<col2im_kernel<T>>(blocks_for(total), kThreads, 0, stream(), ptr<T>(dcols), g,
                             ptr<T>(dx));
  });
  check_launch("col2im");
}

}  // namespace tv3s::cuda
